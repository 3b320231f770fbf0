package main

import (
	"context"
	"net/http"

	"github.com/xiamen-eeb/nuisance/internal/app"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
)

// pipeline builds the services behind the intake, mounting their routes on
// mux, and names the consumers the sweeper watches.
func pipeline(ctx context.Context, sys *app.System, mux *http.ServeMux) ([]namedRunner, []outbox.Watch, error) {
	return nil, nil, nil
}
