package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/gateway"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/logging"
)

const gatewayUsage = `usage: nuisance gateway [-routes ROUTES]

The front door of the distributed deployment: serves on NUISANCE_HTTP_ADDR
and sends each request to the service that serves its path, so that the
officers' console (/officer/) and every API it calls share one address.
ROUTES (or NUISANCE_GATEWAY_ROUTES) lists PREFIX[timeout=DURATION]=URL[,URL...],
separated by semicolons; the longest matching prefix wins, and a route's
URLs are the replicas of its service. A replica's response headers are
waited for 60 s, or the route's timeout (1s to 1h) if it has one, e.g.
  /api/v1/hotspots=http://hotspots:8080; /reports/[timeout=5m]=http://reporter:8080; /=http://officers:8080
The services behind it should trust its address (NUISANCE_TRUSTED_PROXIES)
to count each client, not the gateway, against their rate limits. The
gateway's own NUISANCE_TRUSTED_PROXIES are the load balancers in front of
it, whose X-Forwarded-For it passes on; any other client's it drops.
`

// gatewayGrace is how long a stopping gateway lets the requests in flight
// finish; event streams end at once.
const gatewayGrace = 30 * time.Second

// runGateway runs the reverse proxy until ctx ends.
func runGateway(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		_, err := io.WriteString(stdout, gatewayUsage)
		return err
	}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, gatewayUsage) }
	routesFlag := fs.String("routes", getenv("NUISANCE_GATEWAY_ROUTES"), "PREFIX[timeout=DURATION]=URL[,URL...];... (default NUISANCE_GATEWAY_ROUTES)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gateway: unexpected %q", fs.Arg(0))
	}
	routes, err := gateway.ParseRoutes(*routesFlag)
	if err != nil {
		return fmt.Errorf("gateway: NUISANCE_GATEWAY_ROUTES or -routes: %w", err)
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log = log.With(zap.String("process", "gateway"))
	g, err := gateway.New(gateway.Config{Routes: routes, TrustedProxies: cfg.TrustedProxies, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	for _, r := range routes {
		ups := make([]string, len(r.Upstreams))
		for i, u := range r.Upstreams {
			ups[i] = u.String()
		}
		log.Info("route", zap.String("prefix", r.Prefix), zap.Strings("upstreams", ups),
			zap.Duration("header_timeout", cmp.Or(r.HeaderTimeout, gateway.DefaultHeaderTimeout)))
	}
	log.Info("gateway listening", zap.String("addr", ln.Addr().String()))
	err = httpx.Serve(ctx, gateway.Server(g), ln, gatewayGrace)
	log.Info("stopped")
	return err
}
