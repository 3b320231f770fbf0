// Command intake runs the hotline intake on its own: the signed
// POST /v1/hotline/complaints and the status look-up.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.Main(ctx, "intake", os.Getenv, os.Stdout, func(sys *app.System) ([]app.Part, error) {
		if sys.Cfg.HotlineSecret == "" {
			return nil, fmt.Errorf("HOTLINE_SECRET is required")
		}
		in, err := intake.New(intake.DefaultConfig(sys.Cfg.HotlineSecret), sys.Pool, sys.Log.Named("intake"))
		if err != nil {
			return nil, err
		}
		return []app.Part{{Name: "intake", Runner: in, Routes: in.Routes, Publishes: []string{"complaint.received"}}}, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "intake:", err)
		os.Exit(1)
	}
}
