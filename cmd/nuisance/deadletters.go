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
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

const deadLettersUsage = `nuisance deadletters list [-consumer C] [-all] [-n N]   events a stage gave up on (not yet sent again; -all: every one)
nuisance deadletters retry [-consumer C] [ID ...]       send them again once the cause is fixed (all not yet asked for when no ID is given)
`

func runDeadLetters(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, deadLettersUsage)
		return nil
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry") {
		fmt.Fprint(stderr, deadLettersUsage)
		if len(args) == 0 {
			return fmt.Errorf("deadletters: no subcommand")
		}
		return fmt.Errorf("deadletters: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("deadletters "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	consumer := fs.String("consumer", "", "only the dead letters of this consumer (durable name)")
	// -all and -n only shape a listing: retry does not accept them, so a
	// retry meant for a few is never taken as one for all.
	all, limit := new(bool), new(int)
	if args[0] == "list" {
		fs.BoolVar(all, "all", false, "list those sent again too")
		fs.IntVar(limit, "n", 50, "how many to list")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "list" && fs.NArg() > 0 {
		return fmt.Errorf("deadletters list: unexpected %q (filter with -consumer)", fs.Arg(0))
	}
	var ids []int64
	for _, a := range fs.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return fmt.Errorf("deadletters retry: %q is not a dead letter's ID", a)
		}
		ids = append(ids, id)
	}
	// One ID given twice is one dead letter.
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	pool, closeDB, err := openDB(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	if args[0] == "retry" {
		n, err := outbox.RequestRetry(ctx, pool, *consumer, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d dead letters to send again; a running process sends each within seconds\n", n)
		if n < len(ids) {
			// The others are asked for; a script sees that not all were.
			return fmt.Errorf("deadletters retry: %d of the IDs given are unknown or of another consumer (see deadletters list -all)", len(ids)-n)
		}
		if n == 0 {
			return noneOf(ctx, pool, *consumer, stderr)
		}
		return nil
	}
	ds, err := outbox.DeadLetters(ctx, pool, *consumer, !*all, *limit)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		if err := noneOf(ctx, pool, *consumer, stderr); err != nil {
			return err
		}
	}
	tw := newTable(stdout, "ID", "CONSUMER", "SUBJECT", "EVENT", "DELIVERIES", "AT", "STATE", "HANDLED", "REASON")
	for _, d := range ds {
		state := "dead"
		switch {
		case d.Retried != nil:
			state = "sent again " + caseflow.When(*d.Retried)
		case d.RetryRequested != nil:
			state = "to send again"
		}
		reason := d.Reason
		if r := []rune(reason); len(r) > 120 {
			reason = string(r[:120]) + "…"
		}
		handled := "no"
		if d.Handled {
			handled = "yes"
		}
		tw.row(strconv.FormatInt(d.ID, 10), d.Consumer, d.Subject, d.EventID, strconv.Itoa(d.Deliveries),
			caseflow.When(d.At), state, handled, reason)
	}
	if err := tw.flush(); err != nil {
		return err
	}
	if len(ds) == *limit {
		// Cut short by -n: say how many there are.
		total, err := outbox.CountDeadLetters(ctx, pool, *consumer, !*all)
		if err != nil {
			return err
		}
		if total > len(ds) {
			fmt.Fprintf(stdout, "%d dead letters, %d listed (-n)\n", total, len(ds))
			return nil
		}
	}
	fmt.Fprintf(stdout, "%d dead letters\n", len(ds))
	return nil
}

// noneOf tells, when -consumer named one that has never had a dead
// letter (a misspelt durable: hotspot for hotspots), which consumers
// have: "0 dead letters" alone would read as all clear.
func noneOf(ctx context.Context, pool *pgxpool.Pool, consumer string, stderr io.Writer) error {
	if consumer == "" {
		return nil
	}
	var known []string
	if err := pool.QueryRow(ctx, `SELECT COALESCE(array_agg(DISTINCT consumer ORDER BY consumer), '{}') FROM dead_letters`).Scan(&known); err != nil {
		return fmt.Errorf("dead letters' consumers: %w", err)
	}
	if slices.Contains(known, consumer) {
		return nil
	}
	if len(known) == 0 {
		fmt.Fprintf(stderr, "no consumer has had a dead letter (-consumer %s)\n", consumer)
		return nil
	}
	fmt.Fprintf(stderr, "%s has never had a dead letter: the consumers that have are %s\n", consumer, strings.Join(known, ", "))
	return nil
}
