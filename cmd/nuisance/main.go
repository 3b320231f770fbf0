// Command nuisance runs the whole complaint-handling system in one process
// (`nuisance up`) and is the operator's command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `nuisance — Xiamen nuisance complaint handling

Usage:
  nuisance up [--demo]                 run every service in one process
  nuisance replay [--url URL] FILE     post an NDJSON file of hotline work orders, signed
  nuisance replay -history FILE        backfill work orders handled before: counted and clustered, never a case
  nuisance status [--url URL] TICKET   where a work order is, as the hotline's signed lookup answers
  nuisance simulate [flags]            write a realistic NDJSON feed of complaints
  nuisance report [--week 2024-W11] [--format html|csv|json|geojson] [-o FILE]   the weekly hotspot report
  nuisance officers add|list|disable|rotate   officers' tokens (see nuisance officers help)
  nuisance callbacks pending|dead|retry|discard  hotline callbacks waiting, given up, sent again, or discarded
  nuisance deadletters list|retry      events a stage gave up on, and sending them again
  nuisance migrate                     apply this version's database migrations (the services do at their start)
  nuisance calendar [-partial] [FILE]  the holidays deadlines follow, with an added year's file checked
  nuisance priority [FILE]             the yearly priority plans (点题整治), with an operator's file checked
  nuisance streams                     declare the JetStream streams as the operator (after an upgrade)
  nuisance gateway [-routes ROUTES]    the distributed deployment's front door: console and APIs on one address
  nuisance help                        this text

Configuration (environment): NATS_URL, DATABASE_URL, NUISANCE_HTTP_ADDR,
HOTLINE_SECRET, HOTLINE_CALLBACK_URL, NUISANCE_DATA_DIR, NUISANCE_CALENDAR,
NUISANCE_PRIORITY, LOG_LEVEL; the gateway's routes: NUISANCE_GATEWAY_ROUTES.
Every setting, with its default, is in README.md's Configuration table.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "nuisance:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand; tests call it directly. A subcommand's -h
// prints its flags and is no error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := dispatch(ctx, args, getenv, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "up":
		return runUp(ctx, args[1:], getenv, stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], getenv, stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], getenv, stdout, stderr)
	case "simulate":
		return runSimulate(ctx, args[1:], getenv, stdout, stderr)
	case "report":
		return runReport(ctx, args[1:], getenv, stdout, stderr)
	case "officers":
		return runOfficers(ctx, args[1:], getenv, stdout, stderr)
	case "callbacks":
		return runCallbacks(ctx, args[1:], getenv, stdout, stderr)
	case "deadletters":
		return runDeadLetters(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "calendar":
		return runCalendar(ctx, args[1:], getenv, stdout, stderr)
	case "priority":
		return runPriority(ctx, args[1:], getenv, stdout, stderr)
	case "streams":
		return runStreams(ctx, args[1:], getenv, stdout, stderr)
	case "gateway":
		return runGateway(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
