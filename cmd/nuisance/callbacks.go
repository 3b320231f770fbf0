package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

const callbacksUsage = `nuisance callbacks pending [-n N]     deliveries waiting for the hotline
nuisance callbacks dead [-n N]        deliveries given up after 24 hours of retries
nuisance callbacks retry [ID ...]     send dead deliveries again (all when no ID is given)
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
	default:
		fmt.Fprint(stderr, callbacksUsage)
		return fmt.Errorf("callbacks: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("callbacks "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	// -n only shapes a listing: retry does not accept it, so a retry
	// meant for a few is never taken as one for all.
	limit := new(int)
	if args[0] != "retry" {
		fs.IntVar(limit, "n", 50, "how many to list")
	}
	if err := fs.Parse(args[1:]); err != nil {
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
	switch args[0] {
	case "pending", "dead":
		list := callbacks.Pending
		if args[0] == "dead" {
			list = callbacks.Dead
		}
		ds, err := list(ctx, pool, *limit)
		if err != nil {
			return err
		}
		tw := newTable(stdout, "ID", "TICKET", "CASE", "STATUS", "ATTEMPTS", "NEXT", "LAST ERROR")
		for _, d := range ds {
			tw.row(d.ID, d.Body.TicketID, d.Body.CaseID, d.Body.Status, strconv.Itoa(d.Attempts),
				d.NextAt.Format("2006-01-02 15:04:05"), d.LastError)
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
	case "retry":
		ids := slices.Compact(slices.Sorted(slices.Values(fs.Args())))
		n, superseded, err := callbacks.RetryDead(ctx, pool, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d dead deliveries scheduled again\n", n)
		if len(ids) > 0 && int(n+superseded) < len(ids) {
			fmt.Fprintf(stderr, "%d of the IDs given are unknown or not dead\n", len(ids)-int(n+superseded))
		}
		if superseded > 0 {
			fmt.Fprintf(stdout, "%d not sent: the hotline has had a later callback of their work order since\n", superseded)
		}
		return nil
	}
	fmt.Fprint(stderr, callbacksUsage)
	return fmt.Errorf("callbacks: unknown subcommand %q", args[0])
}
