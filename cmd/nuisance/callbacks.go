package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

const callbacksUsage = `nuisance callbacks pending [-n N]     deliveries waiting for the hotline
nuisance callbacks dead [-n N] [-discarded]   deliveries given up after 24 hours of retries (-discarded: those discarded instead)
nuisance callbacks retry [ID ...]     send dead deliveries again (all when no ID is given); exits 1 when an ID
                                      is unknown or not dead, the others sent
nuisance callbacks discard ID ... -reason TEXT [-by NAME]   give up for good on dead deliveries the hotline will never take
                                      (it deleted their work order: 404, 410); kept, counted and retried as dead no more
`

func runCallbacks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, callbacksUsage)
		return fmt.Errorf("callbacks: no subcommand")
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, callbacksUsage)
		return nil
	case "pending", "dead", "retry":
	case "discard":
		return runCallbacksDiscard(ctx, args[1:], getenv, stdout, stderr)
	default:
		fmt.Fprint(stderr, callbacksUsage)
		return fmt.Errorf("callbacks: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("callbacks "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	// -n only shapes a listing: retry does not accept it, so a retry
	// meant for a few is never taken as one for all.
	limit, discarded := new(int), new(bool)
	if args[0] != "retry" {
		fs.IntVar(limit, "n", 50, "how many to list")
	}
	if args[0] == "dead" {
		fs.BoolVar(discarded, "discarded", false, "list the dead deliveries discarded (callbacks discard) instead")
	}
	// retry's IDs may come before a flag typed after them: a flag among
	// them is parsed as one (and -n refused), never taken for an ID.
	var ids []string
	if args[0] == "retry" {
		rest, err := parseInterspersed(fs, args[1:])
		if err != nil {
			return err
		}
		ids = slices.Compact(slices.Sorted(slices.Values(rest)))
	} else if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] != "retry" && fs.NArg() > 0 {
		return fmt.Errorf("callbacks %s: unexpected %q", args[0], fs.Arg(0))
	}
	if *limit < 0 {
		return fmt.Errorf("callbacks %s: -n %d: want 0 or more", args[0], *limit)
	}
	pool, closeDB, err := openDB(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	switch {
	case *discarded:
		return listDiscarded(ctx, pool, *limit, stdout)
	case args[0] == "pending" || args[0] == "dead":
		list := callbacks.Pending
		if args[0] == "dead" {
			list = callbacks.Dead
		}
		ds, err := list(ctx, pool, *limit)
		if err != nil {
			return err
		}
		// A dead callback is tried no more: when it was given up on, not
		// a next attempt that will never come.
		when := "NEXT"
		if args[0] == "dead" {
			when = "DEAD SINCE"
		}
		tw := newTable(stdout, "ID", "TICKET", "CASE", "STATUS", "ATTEMPTS", when, "LAST ERROR")
		for _, d := range ds {
			at := d.NextAt
			if args[0] == "dead" && d.DeadAt != nil {
				at = *d.DeadAt
			}
			tw.row(d.ID, d.Body.TicketID, d.Body.CaseID, d.Body.Status, strconv.Itoa(d.Attempts),
				caseflow.When(at), d.LastError)
		}
		if err := tw.flush(); err != nil {
			return err
		}
		pending, dead, err := callbacks.Counts(ctx, pool)
		if err != nil {
			return err
		}
		total := pending
		if args[0] == "dead" {
			total = dead
		}
		if total > len(ds) {
			fmt.Fprintf(stdout, "%d %s, %d listed (-n)\n", total, args[0], len(ds))
		} else {
			fmt.Fprintf(stdout, "%d %s\n", len(ds), args[0])
		}
		return nil
	case args[0] == "retry":
		// Which of the IDs given are dead, asked before they are revived:
		// the others are named, so that the operator sees which.
		var dead []string
		if len(ids) > 0 {
			if err := pool.QueryRow(ctx, `SELECT COALESCE(array_agg(id), '{}') FROM callbacks
				WHERE id = ANY($1) AND dead_at IS NOT NULL AND delivered_at IS NULL AND discarded_at IS NULL`, ids).Scan(&dead); err != nil {
				return fmt.Errorf("callbacks retry: %w", err)
			}
		}
		n, superseded, err := callbacks.RetryDead(ctx, pool, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d dead deliveries scheduled again\n", n)
		if superseded > 0 {
			fmt.Fprintf(stdout, "%d not sent: the hotline has had a later callback of their work order since\n", superseded)
		}
		for _, id := range ids {
			if !slices.Contains(dead, id) {
				fmt.Fprintf(stderr, "%s: unknown, or not dead (being retried, delivered or discarded)\n", id)
			}
		}
		if len(ids) > 0 && int(n+superseded) < len(ids) {
			// The others are scheduled; a script sees that not all were.
			return fmt.Errorf("callbacks retry: %d of the IDs given are unknown or not dead", len(ids)-int(n+superseded))
		}
		return nil
	}
	fmt.Fprint(stderr, callbacksUsage)
	return fmt.Errorf("callbacks: unknown subcommand %q", args[0])
}

func listDiscarded(ctx context.Context, pool *pgxpool.Pool, limit int, stdout io.Writer) error {
	ds, err := callbacks.Discarded(ctx, pool, limit)
	if err != nil {
		return err
	}
	tw := newTable(stdout, "ID", "TICKET", "CASE", "STATUS", "DISCARDED", "BY", "REASON", "LAST ERROR")
	for _, d := range ds {
		tw.row(d.ID, d.Body.TicketID, d.Body.CaseID, d.Body.Status, caseflow.When(*d.DiscardedAt),
			d.DiscardedBy, d.DiscardReason, d.LastError)
	}
	if err := tw.flush(); err != nil {
		return err
	}
	total, err := callbacks.CountDiscarded(ctx, pool)
	if err != nil {
		return err
	}
	if total > len(ds) {
		fmt.Fprintf(stdout, "%d discarded, %d listed (-n)\n", total, len(ds))
	} else {
		fmt.Fprintf(stdout, "%d discarded\n", len(ds))
	}
	return nil
}

// runCallbacksDiscard gives up for good on the dead callbacks given by ID:
// the hotline will never take them (it deleted their work order), and
// NuisanceCallbacksDead would otherwise stay on. Only by ID and with a
// reason: there is no "all". One ID unknown or not dead (a typo, a
// callback still being retried) discards none of them and fails.
func runCallbacksDiscard(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("callbacks discard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reason := fs.String("reason", "", "why the hotline will never take them (required; kept with each)")
	by := fs.String("by", getenv("USER"), "who discards them (kept with each)")
	args, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	*reason, *by = strings.TrimSpace(*reason), strings.TrimSpace(*by)
	switch {
	case len(args) == 0:
		return fmt.Errorf("callbacks discard: no ID given (see callbacks dead)")
	case *reason == "":
		return fmt.Errorf("callbacks discard: -reason is required: why the hotline will never take them")
	case *by == "":
		return fmt.Errorf("callbacks discard: -by NAME is required where USER is unset: who discards them")
	}
	ids := slices.Compact(slices.Sorted(slices.Values(args)))
	pool, closeDB, err := openDB(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	n, already, refused, err := callbacks.Discard(ctx, pool, ids, *by, *reason)
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		for _, r := range refused {
			fmt.Fprintf(stderr, "%s: %s\n", r.ID, r.Why)
		}
		return fmt.Errorf("callbacks discard: %d of the IDs given are not dead callbacks; none discarded", len(refused))
	}
	noun := "callbacks"
	if n == 1 {
		noun = "callback"
	}
	fmt.Fprintf(stdout, "%d dead %s discarded\n", n, noun)
	for _, d := range already {
		fmt.Fprintf(stdout, "%s already discarded %s by %s: %s\n", d.ID, caseflow.When(*d.DiscardedAt), d.DiscardedBy, d.DiscardReason)
	}
	return nil
}

// parseInterspersed parses fs's flags wherever they stand among args (an
// operator types them after the IDs as often as before) and returns the
// other arguments. The flag package alone stops at the first argument,
// and "ID -reason TEXT" would be taken for three IDs.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
