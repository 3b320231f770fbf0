// Command officers runs the officers' API on its own: assignments, cases and
// their actions, the live event stream, triage; and the web console.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/services/officers"
	"github.com/xiamen-eeb/nuisance/web/officer"
)

func main() { app.Command("officers", run) }

// run parses the flags and runs the service as a process until ctx ends;
// tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("officers", flag.ContinueOnError)
	fs.SetOutput(stdout)
	cfg := officers.DefaultConfig()
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", cfg.Heartbeat, "interval of the event stream's keep-alive comments")
	fs.DurationVar(&cfg.TokenCacheTTL, "token-cache", cfg.TokenCacheTTL, "how long a token lookup is reused (a disabled token works at most this long)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.TokenCacheTTL < 0 || cfg.TokenCacheTTL > time.Minute {
		return fmt.Errorf("-token-cache %s: want 0 to 1m", cfg.TokenCacheTTL)
	}
	return app.Main(ctx, "officers", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		// Extensions end on working days of the router's calendar.
		cfg.CalendarFile = sys.Cfg.Calendar
		svc, err := officers.New(cfg, sys.Pool, sys.JS, sys.Log.Named("officers"))
		if err != nil {
			return nil, err
		}
		return []app.Part{
			{Name: "officers", Runner: svc, Routes: svc.Routes, OnShutdown: svc.CloseStreams, Publishes: []string{"case.>", "triage.corrected"}},
			{Name: "console", Routes: func(m httpx.Mux) { officer.Routes(m); openapi.Routes(m) }},
		}, nil
	})
}
