// Command callbacks runs the hotline callbacks on its own: every work order of a
// case is told when the case is assigned, resolved, returned or closed.
package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

func main() { app.Command("callbacks", run) }

// run parses the flags and runs the service as a process until ctx ends;
// tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("callbacks", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var cfgFlags struct {
		batch, maxDeliver, workers int
		retryFor                   time.Duration
	}
	def := callbacks.DefaultConfig("", "")
	fs.IntVar(&cfgFlags.batch, "batch", def.Batch, "case events handled per transaction")
	fs.IntVar(&cfgFlags.maxDeliver, "max-deliver", def.MaxDeliver, "deliveries before a message is dead-lettered")
	fs.IntVar(&cfgFlags.workers, "workers", def.Workers, "callbacks posted in parallel")
	fs.DurationVar(&cfgFlags.retryFor, "retry-for", def.RetryFor, "how long a callback is retried before it is dead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return app.Main(ctx, "callbacks", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		cfg := callbacks.DefaultConfig(sys.Cfg.CallbackURL, sys.Cfg.HotlineSecret)
		cfg.Batch, cfg.MaxDeliver, cfg.Workers, cfg.RetryFor = cfgFlags.batch, cfgFlags.maxDeliver, cfgFlags.workers, cfgFlags.retryFor
		svc, err := callbacks.New(cfg, sys.Pool, sys.JS, sys.Log.Named("callbacks"))
		if err != nil {
			return nil, err
		}
		// Callbacks write no events: this process relays nothing.
		return []app.Part{{Name: "callbacks", Runner: svc, Watches: svc.Watches(), Publishes: []string{}}}, nil
	})
}
