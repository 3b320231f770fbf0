// Command hotspots runs the hotspot detector on its own, for every district or a
// partition of them (-districts or NUISANCE_HOTSPOT_DISTRICTS), with the
// hotspots API.
package main

import (
	"context"
	"flag"
	"io"
	"strings"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/services/hotspots"
)

func main() { app.Command("hotspots", run) }

// run parses the flags and runs the service as a process until ctx ends;
// tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("hotspots", flag.ContinueOnError)
	fs.SetOutput(stdout)
	cfg := hotspots.DefaultConfig()
	districts := fs.String("districts", getenv("NUISANCE_HOTSPOT_DISTRICTS"), "comma-separated district slugs of this partition (empty: every district)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "complaints handled per transaction")
	fs.IntVar(&cfg.MaxDeliver, "max-deliver", cfg.MaxDeliver, "deliveries before a message is dead-lettered")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *districts != "" {
		cfg.Districts = strings.Split(*districts, ",")
	}
	return app.Main(ctx, "hotspots", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		cfg.Authorize = auth.NewStore(sys.Pool, auth.DefaultCacheTTL).Authorizer()
		svc, err := hotspots.New(cfg, sys.Pool, sys.JS, sys.Log.Named("hotspots"))
		if err != nil {
			return nil, err
		}
		return []app.Part{{Name: "hotspots", Runner: svc, Routes: svc.Routes, Watches: svc.Watches(),
			Publishes: []string{"complaint.clustered.>", "hotspot.>"}}}, nil
	})
}
