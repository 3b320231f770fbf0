package main

import (
	"context"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
	"github.com/xiamen-eeb/nuisance/services/router"
)

// pipeline builds the services behind the intake, as parts of the
// all-in-one process.
func pipeline(_ context.Context, sys *app.System) ([]app.Part, error) {
	log := sys.Log
	geo, err := geocoder.New(geocoder.DefaultConfig(), sys.Pool, sys.JS, log.Named("geocoder"))
	if err != nil {
		return nil, err
	}
	rt, err := router.New(router.DefaultConfig(), sys.Pool, sys.JS, log.Named("router"))
	if err != nil {
		return nil, err
	}
	cb, err := callbacks.New(callbacks.DefaultConfig(sys.Cfg.CallbackURL, sys.Cfg.HotlineSecret), sys.Pool, sys.JS, log.Named("callbacks"))
	if err != nil {
		return nil, err
	}
	if sys.Cfg.CallbackURL == "" {
		log.Info("HOTLINE_CALLBACK_URL is unset: callbacks wait in the callbacks table (nuisance callbacks pending)")
	}
	return []app.Part{
		{Name: "geocoder", Runner: geo, Watches: geo.Watches()},
		{Name: "router", Runner: rt, Watches: rt.Watches()},
		{Name: "callbacks", Runner: cb, Watches: cb.Watches()},
	}, nil
}
