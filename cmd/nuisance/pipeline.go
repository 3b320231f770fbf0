package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
	"github.com/xiamen-eeb/nuisance/services/router"
)

// pipeline builds the services behind the intake, mounting their routes on
// mux, and names the consumers the sweeper watches.
func pipeline(_ context.Context, sys *app.System, _ httpx.Mux) ([]namedRunner, []outbox.Watch, error) {
	log := sys.Log
	geo, err := geocoder.New(geocoder.DefaultConfig(), sys.Pool, sys.JS, log.Named("geocoder"))
	if err != nil {
		return nil, nil, err
	}
	rt, err := router.New(router.DefaultConfig(), sys.Pool, sys.JS, log.Named("router"))
	if err != nil {
		return nil, nil, err
	}
	cb, err := callbacks.New(callbacks.DefaultConfig(sys.Cfg.CallbackURL, sys.Cfg.HotlineSecret), sys.Pool, sys.JS, log.Named("callbacks"))
	if err != nil {
		return nil, nil, err
	}
	if sys.Cfg.CallbackURL == "" {
		log.Info("HOTLINE_CALLBACK_URL is unset: callbacks wait in the callbacks table", zap.String("see", "nuisance callbacks pending"))
	}
	runners := []namedRunner{{"geocoder", geo}, {"router", rt}, {"callbacks", cb}}
	var watches []outbox.Watch
	watches = append(watches, geo.Watches()...)
	watches = append(watches, rt.Watches()...)
	watches = append(watches, cb.Watches()...)
	return runners, watches, nil
}
