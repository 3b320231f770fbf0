package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// TestDeadLettersCLI lists a dead letter without its payload, which may
// hold a caller's phone, and asks for it to be sent again.
func TestDeadLettersCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": t.TempDir()}
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runDeadLetters(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	// The first call migrates the database.
	if out, msg, err := cli("list"); err != nil || !strings.Contains(out, "0 dead letters") {
		t.Fatalf("list of none: %q %q %v", out, msg, err)
	}
	pool := pgtest.Pool(t, dsn)
	const phone = "13906001234"
	for _, c := range []string{"router", "geocoder-received"} {
		if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
			VALUES ($1, 'complaint.clustered.siming.noise', 'cmp_1.clustered', $1 || ':7', 8, 'max deliveries reached: route complaint cmp_1: statement timeout', $2)`,
			c, []byte(`{"event_id":"cmp_1.clustered","caller":{"phone":"`+phone+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := cli("list", "-consumer", "router")
	if err != nil || !strings.Contains(out, "router") || strings.Contains(out, "geocoder-received") ||
		!strings.Contains(out, "statement timeout") || !strings.Contains(out, "dead") || !strings.Contains(out, "1 dead letters") {
		t.Fatalf("list -consumer router: %q (%v)", out, err)
	}
	if strings.Contains(out, phone) {
		t.Fatal("the list shows a payload's phone number")
	}
	// A misspelt consumer is no all-clear: the consumers that have dead
	// letters are named.
	if out, msg, err := cli("list", "-consumer", "rooter"); err != nil || !strings.Contains(out, "0 dead letters") || !strings.Contains(msg, "router") {
		t.Errorf("list -consumer rooter: %q %q %v, want none and the consumers that have some named", out, msg, err)
	}
	for _, bad := range [][]string{{"list", "router"}, {"retry", "x"}, {"retry", "-all"}, {"retry", "-n", "3"}, {"resend"}, {}} {
		if _, _, err := cli(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// An unknown ID fails the command (the others given are asked for),
	// as callbacks retry does.
	if out, _, err := cli("retry", "-consumer", "router", "999999"); err == nil || !strings.HasPrefix(out, "0 dead letters") || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("retry of an unknown ID: %q %v, want it to fail naming the IDs unknown", out, err)
	}
	if out, _, err := cli("retry", "-consumer", "router"); err != nil || !strings.HasPrefix(out, "1 dead letters") {
		t.Fatalf("retry: %q %v", out, err)
	}
	var asked, left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE retry_requested_at IS NOT NULL), count(*) FILTER (WHERE retry_requested_at IS NULL)
		FROM dead_letters`).Scan(&asked, &left); err != nil || asked != 1 || left != 1 {
		t.Fatalf("%d asked to retry and %d left (%v), want the router's one and the geocoder's left", asked, left, err)
	}
	if out, _, _ := cli("list", "-consumer", "router"); !strings.Contains(out, "to send again") {
		t.Errorf("list after retry: %q", out)
	}
	// Once sent, it leaves the default list and stays in the full one.
	if _, err := pool.Exec(ctx, `UPDATE dead_letters SET retried_at = now() WHERE retry_requested_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := cli("list", "-consumer", "router"); !strings.Contains(out, "0 dead letters") {
		t.Errorf("list of those not sent again: %q", out)
	}
	if out, _, _ := cli("list", "-consumer", "router", "-all"); !strings.Contains(out, "sent again") || !strings.Contains(out, "1 dead letters") ||
		!strings.Contains(out, " no ") {
		t.Errorf("list -all: %q, want it sent again and not handled", out)
	}
	// The stage has handled it since; asked for by its ID, it goes again.
	if _, err := pool.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ('router', 'cmp_1.clustered')`); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := cli("list", "-consumer", "router", "-all"); !strings.Contains(out, " yes ") {
		t.Errorf("list -all after the stage handled it: %q", out)
	}
	var id string
	if err := pool.QueryRow(ctx, `SELECT id::text FROM dead_letters WHERE consumer = 'router'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if out, _, err := cli("retry", id, id); err != nil || !strings.HasPrefix(out, "1 dead letters") {
		t.Errorf("retry by ID of one sent before: %q %v", out, err)
	}
	if out, _, _ := cli("list", "-consumer", "router"); !strings.Contains(out, "to send again") {
		t.Errorf("list after a second retry: %q", out)
	}
}

// An operator command run without DATABASE_URL and with a data directory
// `nuisance up` never used refuses, instead of creating an empty database
// there (its officers' tokens would open nothing).
func TestCommandsNeverCreateADatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"NUISANCE_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	err := runOfficers(context.Background(), []string{"list"}, getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "nuisance up") {
		t.Errorf("officers list in an unused data directory: %v, want a refusal naming nuisance up", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "pg")); !os.IsNotExist(statErr) {
		t.Errorf("the command created %s/pg (%v)", dir, statErr)
	}
}

// Each command's help is printed on standard output and is no error, with
// no database needed.
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return map[string]string{"NUISANCE_DATA_DIR": t.TempDir()}[k] }
	for _, args := range [][]string{{"help"}, {"officers", "help"}, {"callbacks", "help"}, {"deadletters", "help"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, getenv, &out, &errOut); err != nil || out.Len() == 0 {
			t.Errorf("%v: %v, %d bytes of help", args, err, out.Len())
		}
	}
	// -h prints a subcommand's flags (on standard error, as the flag
	// package does) and is no error either.
	for _, args := range [][]string{{"replay", "-h"}, {"status", "-h"}, {"report", "-h"}, {"simulate", "-h"}, {"up", "-h"}, {"streams", "-h"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, getenv, &out, &errOut); err != nil || out.Len()+errOut.Len() == 0 {
			t.Errorf("%v: %v, %d bytes of help", args, err, out.Len()+errOut.Len())
		}
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"callbacks", "resend"}, getenv, &out, &errOut); err == nil || !strings.Contains(err.Error(), "unknown subcommand") {
		t.Errorf("callbacks resend: %v", err)
	}
}

// A list cut short by -n says how many there are: "2 dead letters" under
// a list of 2 of 3 told the operator there were no more.
func TestDeadLettersListSaysHowManyItLeftOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": t.TempDir()}
	cli := func(args ...string) string {
		var out, errOut bytes.Buffer
		if err := runDeadLetters(ctx, args, func(k string) string { return env[k] }, &out, &errOut); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, errOut.String())
		}
		return out.String()
	}
	cli("list") // migrates the database
	pool := pgtest.Pool(t, dsn)
	for i := range 3 {
		if _, err := pool.Exec(ctx, `INSERT INTO dead_letters (consumer, subject, event_id, msg_id, deliveries, reason, payload)
			VALUES ('router', 'complaint.clustered.siming.noise', 'ev-' || $1::int, 'COMPLAINTS:' || $1::int, 8, 'max deliveries reached', '\x7b7d')`, i); err != nil {
			t.Fatal(err)
		}
	}
	if out := cli("list", "-n", "2"); !strings.Contains(out, "3 dead letters, 2 listed (-n)") {
		t.Errorf("list -n 2 of 3:\n%s", out)
	}
	if out := cli("list", "-n", "3"); !strings.HasSuffix(out, "\n3 dead letters\n") {
		t.Errorf("list -n 3 of 3:\n%s", out)
	}
	if out := cli("list", "-consumer", "geocoder", "-n", "2"); !strings.HasSuffix(out, "\n0 dead letters\n") {
		t.Errorf("list of another consumer:\n%s", out)
	}
}
