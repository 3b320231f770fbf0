package main

import (
	"context"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

// TestOpenAPIDescribesEveryRoute mounts every part of the all-in-one
// process on a recording mux: a route the document does not describe, or
// a documented operation no route serves, fails the test.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.HotlineSecret = e2eSecret
	sys := &app.System{Cfg: cfg, Log: testenv.Log(t), Pool: testenv.DB(t), NC: n.NC, JS: n.JS}
	in, err := intake.New(intake.DefaultConfig(cfg.HotlineSecret), sys.Pool, sys.Log)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := pipeline(context.Background(), sys)
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewRecordingMux()
	httpx.Ops(mux)
	in.Routes(mux)
	for _, p := range parts {
		if p.Routes != nil {
			p.Routes(mux)
		}
	}
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := openapi.CheckRoutes(doc.Operations(), mux.Patterns()); err != nil {
		t.Fatal(err)
	}
	if len(mux.Patterns()) < 15 {
		t.Fatalf("only %d routes recorded: %v", len(mux.Patterns()), mux.Patterns())
	}
}
