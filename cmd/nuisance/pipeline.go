package main

import (
	"context"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
	"github.com/xiamen-eeb/nuisance/services/hotspots"
	"github.com/xiamen-eeb/nuisance/services/officers"
	"github.com/xiamen-eeb/nuisance/services/reporter"
	"github.com/xiamen-eeb/nuisance/services/router"
	"github.com/xiamen-eeb/nuisance/web/officer"
)

// pipeline builds every service behind the intake as parts of the
// all-in-one process, with the officers' console and the OpenAPI document.
func pipeline(_ context.Context, sys *app.System) ([]app.Part, error) {
	log := sys.Log
	// The officers service holds the token store; the hotspots API and the
	// reports share its cache.
	ocfg := officers.DefaultConfig()
	ocfg.CalendarFile = sys.Cfg.Calendar // extensions end on working days of the router's calendar
	off, err := officers.New(ocfg, sys.Pool, sys.JS, log.Named("officers"))
	if err != nil {
		return nil, err
	}
	gcfg := geocoder.DefaultConfig()
	gcfg.PriorityFile = sys.Cfg.Priority
	geo, err := geocoder.New(gcfg, sys.Pool, sys.JS, log.Named("geocoder"))
	if err != nil {
		return nil, err
	}
	hcfg := hotspots.DefaultConfig()
	hcfg.Authorize = off.Authorizer()
	hs, err := hotspots.New(hcfg, sys.Pool, sys.JS, log.Named("hotspots"))
	if err != nil {
		return nil, err
	}
	rcfg := router.DefaultConfig()
	rcfg.CalendarFile = sys.Cfg.Calendar
	rt, err := router.New(rcfg, sys.Pool, sys.JS, log.Named("router"))
	if err != nil {
		return nil, err
	}
	cb, err := callbacks.New(callbacks.DefaultConfig(sys.Cfg.CallbackURL, sys.Cfg.HotlineSecret), sys.Pool, sys.JS, log.Named("callbacks"))
	if err != nil {
		return nil, err
	}
	repcfg := reporter.DefaultConfig(reporter.Authorizer(off.Authorizer().Role()))
	repcfg.PriorityFile = sys.Cfg.Priority
	rep, err := reporter.New(repcfg, sys.Pool, log.Named("reporter"))
	if err != nil {
		return nil, err
	}
	return []app.Part{
		{Name: "geocoder", Runner: geo, Watches: geo.Watches()},
		{Name: "hotspots", Runner: hs, Routes: hs.Routes, Watches: hs.Watches()},
		{Name: "router", Runner: rt, Watches: rt.Watches()},
		{Name: "officers", Runner: off, Routes: off.Routes, OnShutdown: off.CloseStreams},
		{Name: "callbacks", Runner: cb, Watches: cb.Watches()},
		{Name: "reporter", Runner: rep, Routes: rep.Routes},
		{Name: "console", Routes: func(m httpx.Mux) { officer.Routes(m); openapi.Routes(m) }},
	}, nil
}
