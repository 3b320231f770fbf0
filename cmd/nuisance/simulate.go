package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

func runSimulate(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same feed")
	start := fs.String("start", "2024-03-04", "first day (YYYY-MM-DD, Asia/Shanghai)")
	days := fs.Int("days", 7, "number of days")
	count := fs.Int("n", 5000, "number of complaints")
	out := fs.String("o", "-", "output file (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return err
	}
	t0, err := time.ParseInLocation("2006-01-02", *start, loc)
	if err != nil {
		return fmt.Errorf("simulate: --start %q: want YYYY-MM-DD", *start)
	}
	feed, err := simulate.Generate(simulate.Config{Seed: *seed, Start: t0, Days: *days, Count: *count})
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return feed.WriteNDJSON(w)
}

// runDemo replays a generated last week through the signed intake so a
// new user sees data at once.
func runDemo(ctx context.Context, base, secret string, count int, stdout io.Writer) error {
	start, buf, err := demoFeed(time.Now(), count)
	if err != nil {
		return err
	}
	client, err := hotline.New(base, secret)
	if err != nil {
		return err
	}
	sum, err := client.Replay(ctx, buf, hotline.ReplayOptions{Concurrency: 8})
	fmt.Fprintf(stdout, "demo: replayed the week of %s: %s\n", start.Format("2006-01-02"), sum.String())
	return err
}

// demoRefused says why the demo week must not be posted into the
// system: a callback URL is set (the hotline would hear of simulated work
// orders), or the database holds work orders that are not the demo's
// (the hotline's own; the demo's would stand among them in every report).
// "" means post it.
func demoRefused(ctx context.Context, pool *pgxpool.Pool, callbackURL string) (string, error) {
	if callbackURL != "" {
		return "HOTLINE_CALLBACK_URL is set, and the hotline would be called back about simulated work orders", nil
	}
	var real bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM complaints WHERE ticket_id NOT LIKE $1 || '%')`, callbacks.DemoTicketPrefix).Scan(&real); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if real {
		return "the database holds work orders that are not the demo's (the hotline's, or a demo week of a version before DEMO- numbers)", nil
	}
	return "", nil
}

// demoFeed is the demo's simulated week: the last full week before now.
func demoFeed(now time.Time, count int) (time.Time, *bytes.Buffer, error) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.Time{}, nil, err
	}
	now = now.In(loc)
	monday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	for monday.Weekday() != time.Monday {
		monday = monday.AddDate(0, 0, -1)
	}
	start := monday.AddDate(0, 0, -7)
	feed, err := simulate.Generate(simulate.Config{Seed: start.Unix(), Start: start, Days: 7, Count: count})
	if err != nil {
		return time.Time{}, nil, err
	}
	for i := range feed.Complaints {
		feed.Complaints[i].TicketID = callbacks.DemoTicketPrefix + feed.Complaints[i].TicketID
	}
	var buf bytes.Buffer
	if err := feed.WriteNDJSON(&buf); err != nil {
		return time.Time{}, nil, err
	}
	return start, &buf, nil
}
