// Command reporter runs the weekly hotspot report on its own: generated every
// Monday for the week before, served to supervisors and admins.
package main

import (
	"context"
	"flag"
	"io"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/services/reporter"
)

func main() { app.Command("reporter", run) }

// run parses the flags and runs the service as a process until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reporter", flag.ContinueOnError)
	fs.SetOutput(stdout)
	backfill := fs.Int("backfill", 8, "finished weeks to generate at start when missing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return app.Main(ctx, "reporter", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		tokens := auth.NewStore(sys.Pool, auth.DefaultCacheTTL)
		cfg := reporter.DefaultConfig(tokens.Authorizer().Role())
		cfg.Backfill = *backfill
		cfg.PriorityFile = sys.Cfg.Priority
		svc, err := reporter.New(cfg, sys.Pool, sys.Log.Named("reporter"))
		if err != nil {
			return nil, err
		}
		return []app.Part{{Name: "reporter", Runner: svc, Routes: svc.Routes, Publishes: []string{"report.>"}}}, nil
	})
}
