package deps

import (
	_ "github.com/go-chi/chi/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/paulmach/orb"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "go.uber.org/zap"
	_ "golang.org/x/time/rate"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/google/uuid"
)
