// Command geocoder runs the geocoder on its own: every received complaint is
// located in a district and classified, or sent to triage.
package main

import (
	"context"
	"flag"
	"io"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
)

func main() { app.Command("geocoder", run) }

// run parses the flags and runs the service as a process until ctx ends;
// tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("geocoder", flag.ContinueOnError)
	fs.SetOutput(stdout)
	cfg := geocoder.DefaultConfig()
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "complaints handled per transaction")
	fs.IntVar(&cfg.MaxDeliver, "max-deliver", cfg.MaxDeliver, "deliveries before a message is dead-lettered")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return app.Main(ctx, "geocoder", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		cfg.PriorityFile = sys.Cfg.Priority
		svc, err := geocoder.New(cfg, sys.Pool, sys.JS, sys.Log.Named("geocoder"))
		if err != nil {
			return nil, err
		}
		return []app.Part{{Name: "geocoder", Runner: svc, Watches: svc.Watches(),
			Publishes: []string{"complaint.located.>", "complaint.unlocated"}}}, nil
	})
}
