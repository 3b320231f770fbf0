// Command intake runs the hotline intake on its own: the signed
// POST /v1/hotline/complaints and the status look-up.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

func main() { app.Command("intake", run) }

// run runs the intake as a process until ctx ends.
func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	return app.Main(ctx, "intake", getenv, stdout, func(sys *app.System) ([]app.Part, error) {
		if sys.Cfg.HotlineSecret == "" {
			return nil, fmt.Errorf("HOTLINE_SECRET is required")
		}
		in, err := intake.New(intake.DefaultConfig(sys.Cfg.HotlineSecret), sys.Pool, sys.Log.Named("intake"))
		if err != nil {
			return nil, err
		}
		return []app.Part{{Name: "intake", Runner: in, Routes: in.Routes, Wrap: in.RawLookups, Publishes: []string{"complaint.received"}}}, nil
	})
}
