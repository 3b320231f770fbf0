// Command router runs the router on its own: clustered complaints become cases
// assigned to the responsible teams; returned cases are routed again and
// overdue ones escalated.
package main

import (
	"context"
	"flag"
	"io"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/services/router"
)

func main() { app.Command("router", run) }

// run parses the flags and runs the service as a process until ctx ends;
// tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(stdout)
	cfg := router.DefaultConfig()
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "complaints handled per transaction")
	fs.IntVar(&cfg.MaxDeliver, "max-deliver", cfg.MaxDeliver, "deliveries before a message is dead-lettered")
	fs.DurationVar(&cfg.TimerEvery, "timer-every", cfg.TimerEvery, "how often overdue cases are looked for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return app.Main(ctx, "router", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		cfg.CalendarFile = sys.Cfg.Calendar
		svc, err := router.New(cfg, sys.Pool, sys.JS, sys.Log.Named("router"))
		if err != nil {
			return nil, err
		}
		return []app.Part{{Name: "router", Runner: svc, Watches: svc.Watches(), Publishes: []string{"case.>"}}}, nil
	})
}
