// Package devcluster runs the distributed topology of docker-compose.yml
// on loopback without Docker: three clustered nats-server processes with
// JetStream and the deployment's users, PostgreSQL, and every service as
// its own process from cmd/<service>, each logged in as its own NATS user,
// on streams replicated three times, with the gateway (`nuisance gateway`)
// in front of the services that serve HTTP clients, as in
// docker-compose.yml. `make cluster` and the end-to-end cluster tests run
// it; the tests also kill and restart its processes.
package devcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/deploy"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
)

// Nodes is the size of the NATS cluster.
const Nodes = 3

// NATSServerPackage is the nats-server the cluster runs: the version go.mod
// pins, so the cluster runs the server the tests and the embedded mode use.
const NATSServerPackage = "github.com/nats-io/nats-server/v2"

// Config says where the cluster lives and what it runs.
type Config struct {
	// Repo is the module's root directory (holding go.mod and cmd/).
	Repo string
	// Dir holds the NATS configuration and data, the service logs and,
	// without DatabaseURL, the private PostgreSQL cluster.
	Dir string
	// Bin holds the nats-server and service binaries Build makes.
	Bin string
	// DatabaseURL is the PostgreSQL to use; empty: the private cluster
	// under Dir/pg, created and started if needed.
	DatabaseURL string
	// Services to run; empty: every service of the deployment whose
	// command exists in Repo/cmd.
	Services []string
	// Addrs fixes a service's HTTP address (e.g. intake on
	// 127.0.0.1:8080); the others listen on free loopback ports.
	Addrs map[string]string
	// Env is added to every service's environment (HOTLINE_SECRET,
	// NUISANCE_SWEEP_AFTER, LOG_LEVEL, ...).
	Env []string
	// Gateway starts `nuisance gateway` (GatewayCommand, built into
	// Bin) in front of the services, on GatewayAddr (empty: a free
	// loopback port), and has those services trust its address for
	// the client behind it.
	Gateway     bool
	GatewayAddr string
	Log         *zap.Logger
}

// GatewayCommand is the command whose gateway subcommand runs the
// front door; Build builds it like a service's.
const GatewayCommand = "nuisance"

// gatewayRoute is a route of the gateway: its prefix, and options such as
// its own wait for response headers (a week's report generated on the
// fly takes longer than the gateway's default minute).
type gatewayRoute struct{ service, prefix, options string }

// fronted reports whether the gateway sends requests to the service.
func fronted(service string) bool {
	return slices.ContainsFunc(gatewayPrefixes, func(r gatewayRoute) bool { return r.service == service })
}

// gatewayPrefixes are the paths the gateway sends to each service; the
// officers take everything else (the console and /api/v1/).
var gatewayPrefixes = []gatewayRoute{
	{"hotspots", "/api/v1/hotspots", ""},
	{"reporter", "/reports/", "[timeout=5m]"},
	{"intake", "/v1/hotline/", ""},
	{"officers", "/", ""},
}

// gatewayProxies is what the services behind the gateway trust as their
// proxy: the gateway, on loopback like every process of the cluster.
const gatewayProxies = "127.0.0.1"

// Available lists the services of the deployment whose commands exist in
// repo, in the pipeline's order.
func Available(repo string) []string {
	var out []string
	for _, s := range deploy.Services {
		if _, err := os.Stat(filepath.Join(repo, "cmd", s.Name, "main.go")); err == nil {
			out = append(out, s.Name)
		}
	}
	return out
}

// Build compiles nats-server and the given commands (services, and
// GatewayCommand for the gateway) into bin.
func Build(ctx context.Context, repo, bin string, services []string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if _, err := os.Stat(filepath.Join(root, "bin", "go")); err == nil {
			goBin = filepath.Join(root, "bin", "go")
		}
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("build", "-o", filepath.Join(abs, "nats-server"), NATSServerPackage); err != nil {
		return err
	}
	if len(services) == 0 {
		return nil
	}
	args := []string{"build", "-o", abs + string(filepath.Separator)}
	for _, s := range services {
		args = append(args, "./cmd/"+s)
	}
	return run(args...)
}

// Proc is one process of the cluster, restartable with the same
// command, environment and addresses.
type Proc struct {
	Name string
	// Addr is the HTTP address of a service, the client address of a
	// NATS node.
	Addr string

	bin  string
	args []string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *Proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// The processes die with the cluster's owner, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// Pid is the process id of the running process.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() error { return p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop asks the process to shut down gracefully (SIGTERM) and waits, then
// kills it if it has not finished within timeout.
func (p *Proc) Stop(timeout time.Duration) error {
	if err := p.signal(syscall.SIGTERM, timeout); err != nil {
		return p.Kill()
	}
	return nil
}

func (p *Proc) signal(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s still running %s after %s", p.Name, sig, timeout)
	}
}

// Restart starts the process again after it ended.
func (p *Proc) Restart() error {
	if err := p.Stop(30 * time.Second); err != nil {
		return err
	}
	return p.start()
}

// LogFile is where the process writes its output.
func (p *Proc) LogFile() string { return p.log }

// Cluster is the running topology.
type Cluster struct {
	cfg      Config
	NATS     []*Proc
	Services []*Proc
	// Gateway is the front door when Config.Gateway asked for it: the
	// address of the officers' console and every API it calls.
	Gateway   *Proc
	passwords map[string]string
	natsURLs  []string // without credentials
	monitor   []string // NATS monitoring addresses
	dsn       string
	pg        *pgcluster.Cluster
}

// OperatorURLFile holds the NATS URL list with the operator's credentials,
// readable by its owner only, for the nats CLI and troubleshooting.
func (c *Cluster) OperatorURLFile() string { return filepath.Join(c.cfg.Dir, "operator.url") }

// DSN is the PostgreSQL the services use.
func (c *Cluster) DSN() string { return c.dsn }

// NATSURL is the client URL list of the cluster logged in as user.
func (c *Cluster) NATSURL(user string) string {
	out := make([]string, len(c.natsURLs))
	for i, u := range c.natsURLs {
		out[i] = strings.Replace(u, "nats://", "nats://"+user+":"+c.passwords[user]+"@", 1)
	}
	return strings.Join(out, ",")
}

// Service returns the process of the named service.
func (c *Cluster) Service(name string) *Proc {
	i := slices.IndexFunc(c.Services, func(p *Proc) bool { return p.Name == name })
	if i < 0 {
		return nil
	}
	return c.Services[i]
}

// freeAddr is a loopback address free when it is chosen, on a port below
// the kernel's range for the local ports of outgoing connections: the
// clients connecting all the while (and reconnecting to a node stopped
// for a fault) cannot take it before, or while, its process binds it. A
// variable so that a test can hand out a taken one.
var freeAddr = func() (string, error) {
	if lo := ephemeralLow(); lo > minPort+1000 {
		for range 100 {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", minPort+mrand.IntN(lo-minPort)))
			if err != nil {
				continue // taken: try another
			}
			defer ln.Close()
			return ln.Addr().String(), nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// minPort is the lowest port freeAddr chooses, above the well-known and
// the usual services' ports (PostgreSQL's 5432, NATS's 4222, 8080).
const minPort = 10000

// ephemeralLow is the first port of the kernel's range for the local
// ports of outgoing connections; 0 where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}

func password() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withoutKeys drops the variables the cluster sets from env.
func withoutKeys(env []string, keys ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(keys, k)
	})
}

// Start starts NATS, PostgreSQL and the services, and returns once every
// process is ready. On error everything started is stopped.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	if len(cfg.Services) == 0 {
		cfg.Services = Available(cfg.Repo)
	}
	for _, s := range cfg.Services {
		if _, ok := deploy.ServiceNamed(s); !ok {
			return nil, fmt.Errorf("unknown service %q", s)
		}
	}
	c = &Cluster{cfg: cfg, passwords: map[string]string{}}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for _, u := range deploy.Users() {
		c.passwords[u] = password()
	}
	if err := c.startNATS(ctx); err != nil {
		return c, err
	}
	if err := os.WriteFile(c.OperatorURLFile(), []byte(c.NATSURL(deploy.OperatorUser)+"\n"), 0o600); err != nil {
		return c, fmt.Errorf("operator url: %w", err)
	}
	// The streams are declared once before the services start: seven
	// processes creating the same replicated streams at once can leave
	// some requests unanswered until their deadline.
	if err := c.declareStreams(ctx); err != nil {
		return c, err
	}
	if err := c.startDB(ctx); err != nil {
		return c, err
	}
	for _, name := range cfg.Services {
		if err := c.startService(name); err != nil {
			return c, err
		}
	}
	for i := 0; i < len(c.Services); i++ {
		for attempt := 1; ; attempt++ {
			p := c.Services[i]
			err := c.WaitReady(ctx, p, 90*time.Second)
			if err == nil {
				break
			}
			// A service whose free port was taken before it bound it
			// exits: it starts again on another.
			if p.Running() || cfg.Addrs[p.Name] != "" || attempt == startAttempts {
				return c, err
			}
			c.cfg.Log.Warn("service exited while starting, starting it on a new port", zap.String("service", p.Name), zap.Error(err))
			if err := c.startService(p.Name); err != nil {
				return c, err
			}
			last := len(c.Services) - 1
			c.Services[i] = c.Services[last] // the new process takes the old one's place
			c.Services = c.Services[:last]
		}
	}
	if cfg.Gateway {
		if err := c.startGateway(ctx); err != nil {
			return c, err
		}
	}
	return c, nil
}

// GatewayRoutes are the gateway's routes to the running services, as
// NUISANCE_GATEWAY_ROUTES writes them.
func (c *Cluster) GatewayRoutes() string {
	var routes []string
	for _, r := range gatewayPrefixes {
		if p := c.Service(r.service); p != nil {
			routes = append(routes, r.prefix+r.options+"=http://"+p.Addr)
		}
	}
	return strings.Join(routes, ";")
}

// startGateway starts the gateway once the services are ready, and
// starts it again on another port if its free one was taken. Without
// any of the services it fronts, there is none.
func (c *Cluster) startGateway(ctx context.Context) error {
	routes := c.GatewayRoutes()
	if routes == "" {
		return nil // none of the services it fronts runs
	}
	for attempt := 1; ; attempt++ {
		addr := c.cfg.GatewayAddr
		if addr == "" {
			var err error
			if addr, err = freeAddr(); err != nil {
				return fmt.Errorf("gateway address: %w", err)
			}
		}
		set := []string{"NATS_URL", "DATABASE_URL", "NUISANCE_HTTP_ADDR", "NUISANCE_GATEWAY_ROUTES", "NUISANCE_DATA_DIR"}
		env := append(withoutKeys(os.Environ(), set...), c.cfg.Env...)
		env = append(withoutKeys(env, set...),
			"NUISANCE_HTTP_ADDR="+addr,
			"NUISANCE_GATEWAY_ROUTES="+routes,
			"NUISANCE_DATA_DIR="+filepath.Join(c.cfg.Dir, "gateway"),
		)
		c.Gateway = &Proc{Name: "gateway", Addr: addr, bin: filepath.Join(c.cfg.Bin, GatewayCommand), args: []string{"gateway"},
			env: env, log: filepath.Join(c.cfg.Dir, "gateway.log")}
		if err := c.Gateway.start(); err != nil {
			return err
		}
		err := c.WaitReady(ctx, c.Gateway, 30*time.Second)
		if err == nil || c.Gateway.Running() || c.cfg.GatewayAddr != "" || attempt == startAttempts {
			return err
		}
		c.cfg.Log.Warn("gateway exited while starting, starting it on a new port", zap.Error(err))
	}
}

// startAttempts is how many times the NATS nodes, and each service, are
// started on new ports when one exits while starting: the ports are free
// when chosen, but another process (a test beside this one) may take one
// before the process binds it.
const startAttempts = 3

func (c *Cluster) startNATS(ctx context.Context) error {
	auth, err := deploy.NATS.ReadFile(deploy.AuthorizationFile)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := c.startNATSOnce(ctx, auth)
		if err == nil {
			c.cfg.Log.Info("nats cluster ready", zap.Strings("urls", c.natsURLs))
			return nil
		}
		exited := slices.ContainsFunc(c.NATS, func(p *Proc) bool { return !p.Running() })
		if !exited || attempt == startAttempts {
			return err
		}
		c.cfg.Log.Warn("nats node exited while starting, starting the cluster on new ports", zap.Int("attempt", attempt), zap.Error(err))
		for _, p := range c.NATS {
			_ = p.Stop(10 * time.Second)
		}
		for _, p := range c.NATS {
			if err := os.RemoveAll(filepath.Join(c.cfg.Dir, p.Name)); err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		c.NATS, c.natsURLs, c.monitor = nil, nil, nil
	}
}

// startNATSOnce starts the cluster's NATS nodes on ports free now and
// waits until each serves JetStream.
func (c *Cluster) startNATSOnce(ctx context.Context, auth []byte) error {
	var err error
	type ports struct{ client, route, http string }
	ps := make([]ports, Nodes)
	for i := range ps {
		for _, a := range []*string{&ps[i].client, &ps[i].route, &ps[i].http} {
			if *a, err = freeAddr(); err != nil {
				return fmt.Errorf("nats ports: %w", err)
			}
		}
	}
	var routes []string
	for _, p := range ps {
		routes = append(routes, fmt.Sprintf("nats-route://%s", p.route))
	}
	env := withoutKeys(os.Environ())
	for u, pw := range c.passwords {
		env = append(env, deploy.PasswordVar(u)+"="+pw)
	}
	for i, p := range ps {
		name := fmt.Sprintf("nats-%d", i+1)
		dir := filepath.Join(c.cfg.Dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "authorization.conf"), auth, 0o644); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		conf := fmt.Sprintf(`# A node of the loopback cluster; the layout of deploy/nats/cluster.conf.
server_name: %s
listen: %s
http: %s
max_payload: 1MB
jetstream {
  store_dir: %q
}
cluster {
  name: nuisance
  listen: %s
  routes: [%s]
  no_advertise: true
}
include ./authorization.conf
`, name, p.client, p.http, filepath.Join(dir, "data"), p.route, strings.Join(routes, ", "))
		path := filepath.Join(dir, "node.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		proc := &Proc{Name: name, Addr: p.client, bin: filepath.Join(c.cfg.Bin, "nats-server"), args: []string{"-c", path},
			env: env, log: filepath.Join(c.cfg.Dir, name+".log")}
		if err := proc.start(); err != nil {
			return err
		}
		c.NATS = append(c.NATS, proc)
		c.natsURLs = append(c.natsURLs, "nats://"+p.client)
		c.monitor = append(c.monitor, p.http)
	}
	for i := range c.NATS {
		if err := c.WaitNATS(ctx, i, 60*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// WaitNATS waits until node i serves JetStream. A node that exits fails
// the wait at once; the error ends with the tail of the node's log.
func (c *Cluster) WaitNATS(ctx context.Context, i int, timeout time.Duration) error {
	p := c.NATS[i]
	url := "http://" + c.monitor[i] + "/healthz?js-enabled-only=true"
	var exited bool
	err := poll(ctx, timeout, p.Name+" healthy", func() bool {
		exited = !p.Running()
		return exited || httpOK(url)
	})
	if err == nil && exited {
		err = fmt.Errorf("%s exited", p.Name)
	}
	if err != nil {
		b, _ := os.ReadFile(p.LogFile())
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		return fmt.Errorf("%w; the end of its log:\n%s", err, b)
	}
	return nil
}

// WaitJetStream waits until the cluster answers JetStream requests with
// a meta leader elected, as the operator.
func (c *Cluster) WaitJetStream(ctx context.Context, timeout time.Duration) error {
	nc, err := nats.Connect(c.NATSURL(deploy.OperatorUser), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect as operator: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return poll(ctx, timeout, "JetStream meta leader", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(rctx)
		return err == nil
	})
}

func (c *Cluster) declareStreams(ctx context.Context) error {
	nc, err := nats.Connect(c.NATSURL(deploy.OperatorUser), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect as operator: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return poll(ctx, 90*time.Second, "streams declared", func() bool {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := natsx.DeclareStreams(dctx, js, Nodes)
		if err != nil {
			c.cfg.Log.Warn("declare streams, retrying", zap.Error(err))
		}
		return err == nil
	})
}

func (c *Cluster) startDB(ctx context.Context) error {
	if c.cfg.DatabaseURL != "" {
		c.dsn = c.cfg.DatabaseURL
		return nil
	}
	pg, err := pgcluster.Ensure(ctx, filepath.Join(c.cfg.Dir, "pg"), c.cfg.Log.Named("pg"))
	if err != nil {
		return err
	}
	c.pg = pg
	c.dsn = pg.DSN(pgcluster.DefaultDatabase)
	return nil
}

func (c *Cluster) startService(name string) error {
	addr := c.cfg.Addrs[name]
	if addr == "" {
		var err error
		if addr, err = freeAddr(); err != nil {
			return fmt.Errorf("%s address: %w", name, err)
		}
	}
	dataDir := filepath.Join(c.cfg.Dir, name)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p := &Proc{Name: name, Addr: addr, bin: filepath.Join(c.cfg.Bin, name), env: c.serviceEnv(name, addr, dataDir), log: filepath.Join(c.cfg.Dir, name+".log")}
	if err := p.start(); err != nil {
		return err
	}
	c.Services = append(c.Services, p)
	return nil
}

// serviceEnv is the environment of the service name: the machine's, then
// Config.Env, then what the cluster sets.
func (c *Cluster) serviceEnv(name, addr, dataDir string) []string {
	set := []string{"NATS_URL", "DATABASE_URL", "NUISANCE_HTTP_ADDR", "NUISANCE_STREAM_REPLICAS", "NUISANCE_DATA_DIR"}
	env := append(withoutKeys(os.Environ(), set...), c.cfg.Env...)
	if c.cfg.Gateway && fronted(name) && !slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "NUISANCE_TRUSTED_PROXIES=") && kv != "NUISANCE_TRUSTED_PROXIES="
	}) {
		// Its clients come through the gateway: their address, not the
		// gateway's, is what its rate limits count.
		env = append(env, "NUISANCE_TRUSTED_PROXIES="+gatewayProxies)
	}
	return append(withoutKeys(env, set...),
		"NATS_URL="+c.NATSURL(name),
		"DATABASE_URL="+c.dsn,
		"NUISANCE_HTTP_ADDR="+addr,
		fmt.Sprintf("NUISANCE_STREAM_REPLICAS=%d", Nodes),
		"NUISANCE_DATA_DIR="+dataDir,
	)
}

// WaitReady waits until the service answers /readyz. A service that
// exits fails the wait at once.
func (c *Cluster) WaitReady(ctx context.Context, p *Proc, timeout time.Duration) error {
	var exited bool
	err := poll(ctx, timeout, p.Name+" ready", func() bool {
		exited = !p.Running()
		return exited || httpOK("http://"+p.Addr+"/readyz")
	})
	if err == nil && exited {
		err = fmt.Errorf("%s exited", p.Name)
	}
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, p.log)
	}
	return nil
}

// Stop stops the gateway, the services, then the NATS nodes, gracefully;
// a private PostgreSQL cluster keeps running for the next start.
func (c *Cluster) Stop() {
	if c.Gateway != nil {
		_ = c.Gateway.Stop(30 * time.Second)
	}
	var wg sync.WaitGroup
	for _, p := range c.Services {
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Stop(30 * time.Second) }()
	}
	wg.Wait()
	for _, p := range c.NATS {
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Stop(30 * time.Second) }()
	}
	wg.Wait()
}

// StopPostgres stops the private PostgreSQL cluster if this Start
// started it (make cluster's Ctrl-C, as make run's); one it found running,
// or DATABASE_URL's, is left as it was.
func (c *Cluster) StopPostgres(ctx context.Context) error {
	if c.pg == nil || !c.pg.Started {
		return nil
	}
	return c.pg.Stop(ctx)
}

func httpOK(url string) bool {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func poll(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
