package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
)

const officersUsage = `nuisance officers add --team TEAM --name NAME [--role officer|supervisor|admin] [--district D]
                                      create a token holder; prints its token once
nuisance officers list [--json]       every officer, without tokens
nuisance officers disable ID          revoke an officer's token for good
nuisance officers rotate ID           replace an officer's token; prints the new one once
`

// runOfficers manages the bearer tokens of officers, supervisors and
// admins. Tokens are printed once, on stdout, and only their hashes are
// stored; everything else goes to stderr.
func runOfficers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, officersUsage)
		return fmt.Errorf("officers: no subcommand")
	}
	sub := args[0]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(stdout, officersUsage)
		return nil
	}
	fs := flag.NewFlagSet("officers "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var n auth.NewOfficer
	var asJSON bool
	switch sub {
	case "add":
		fs.StringVar(&n.Team, "team", "", "team id from seeds/teams.json, e.g. siming-eco (required for an officer)")
		fs.StringVar(&n.Name, "name", "", "the holder's name, shown in the officer list")
		fs.StringVar(&n.Role, "role", auth.RoleOfficer, "officer, supervisor or admin")
		fs.StringVar(&n.District, "district", "", "district slug of a supervisor without a team, e.g. huli")
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	case "disable", "rotate":
	default:
		fmt.Fprint(stderr, officersUsage)
		return fmt.Errorf("officers: unknown subcommand %q", sub)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var id string
	switch {
	case sub == "disable" || sub == "rotate":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, officersUsage)
			return fmt.Errorf("officers %s: want one officer id", sub)
		}
		id = fs.Arg(0)
	case fs.NArg() != 0:
		return fmt.Errorf("officers %s: unexpected arguments %q", sub, fs.Args())
	}

	pool, closeDB, err := openDB(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	store := auth.NewStore(pool, 0)

	switch sub {
	case "add":
		o, token, err := store.Add(ctx, n)
		if err != nil {
			return fmt.Errorf("officers add: %w", err)
		}
		fmt.Fprintf(stderr, "added %s %s (%s)\n", o.Role, o.ID, scope(o.Principal))
		fmt.Fprintf(stderr, "the token is shown this once; only its hash is stored:\n")
		fmt.Fprintln(stdout, token)
	case "list":
		list, err := store.List(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(list)
		}
		tw := newTable(stdout, "ID", "ROLE", "TEAM", "DISTRICT", "NAME", "CREATED", "STATE")
		for _, o := range list {
			state := "active"
			switch {
			case o.DisabledAt != nil:
				state = "disabled " + caseflow.When(*o.DisabledAt)
			case o.RotatedAt != nil:
				state = "active, rotated " + caseflow.When(*o.RotatedAt)
			}
			tw.row(o.ID, o.Role, dash(o.Team), dash(o.District), o.Name,
				caseflow.When(o.CreatedAt), state)
		}
		if err := tw.flush(); err != nil {
			return err
		}
	case "disable":
		if err := store.Disable(ctx, id); err != nil {
			return fmt.Errorf("officers disable: %w", err)
		}
		fmt.Fprintf(stdout, "disabled %s; its token stops working within %s everywhere\n", id, auth.DefaultCacheTTL)
	case "rotate":
		token, err := store.Rotate(ctx, id)
		if err != nil {
			return fmt.Errorf("officers rotate: %w", err)
		}
		fmt.Fprintf(stderr, "rotated %s; the old token stops working within %s. The new token, shown this once:\n", id, auth.DefaultCacheTTL)
		fmt.Fprintln(stdout, token)
	}
	return nil
}

func scope(p auth.Principal) string {
	switch {
	case p.Team != "":
		return "team " + p.Team + ", district " + p.District
	case p.District != "":
		return "district " + p.District
	}
	return "all districts"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
