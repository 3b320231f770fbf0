package devcluster

import (
	"context"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/deploy"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// A port chosen free may be taken before its node binds it (by a test
// beside this one): the node exits, and the cluster starts again on new
// ports instead of waiting a minute for a node that is gone.
func TestNATSStartsAgainWhenANodesPortIsTaken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo, bin := build(t, ctx, nil)
	taken, calls := takeAddr(t, 7) // the third node's client address, in the first attempt

	c := &Cluster{cfg: Config{Repo: repo, Dir: t.TempDir(), Bin: bin, Log: zap.NewNop()}, passwords: map[string]string{}}
	for _, u := range deploy.Users() {
		c.passwords[u] = password()
	}
	defer c.Stop()
	if err := c.startNATS(ctx); err != nil {
		t.Fatal(err)
	}
	if *calls < 18 {
		t.Errorf("%d addresses chosen, want a second attempt's 9 after the first's", *calls)
	}
	if len(c.NATS) != Nodes {
		t.Fatalf("%d nodes, want %d", len(c.NATS), Nodes)
	}
	for _, p := range c.NATS {
		if !p.Running() {
			t.Errorf("%s is not running", p.Name)
		}
	}
	if slices.Contains(c.natsURLs, "nats://"+taken.Addr().String()) {
		t.Errorf("a node listens on the taken address %s", taken.Addr())
	}
	if _, err := os.Stat(filepath.Join(c.cfg.Dir, "nats-3", "node.conf")); err != nil {
		t.Errorf("the second attempt's configuration: %v", err)
	}
}

// So may a service's: it exits, and starts again on another port.
func TestServiceStartsAgainWhenItsPortIsTaken(t *testing.T) {
	const service = "reporter"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	repo, bin := build(t, ctx, []string{service})
	taken, calls := takeAddr(t, 3*Nodes+1) // the service's, after the nodes' three each

	c, err := Start(ctx, Config{Repo: repo, Dir: t.TempDir(), Bin: bin, DatabaseURL: pgtest.DSN(t), Services: []string{service},
		Env: []string{"HOTLINE_SECRET=whsec_" + base64.StdEncoding.EncodeToString([]byte("a secret of thirty-two bytes ...")), "LOG_LEVEL=warn"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if *calls < 3*Nodes+2 {
		t.Errorf("%d addresses chosen, want a second one for %s", *calls, service)
	}
	p := c.Service(service)
	if p == nil || !p.Running() || p.Addr == taken.Addr().String() || len(c.Services) != 1 {
		t.Fatalf("services %v: want one %s running on a port of its own", c.Services, service)
	}
	if !httpOK("http://" + p.Addr + "/readyz") {
		t.Errorf("%s at %s is not ready", service, p.Addr)
	}
}

// build builds nats-server and the services into a temporary directory
// and returns the module's root and that directory.
func build(t *testing.T, ctx context.Context, services []string) (repo, bin string) {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(t.TempDir(), "bin")
	if err := Build(ctx, repo, bin, services); err != nil {
		t.Fatal(err)
	}
	return repo, bin
}

// takeAddr makes the nth address freeAddr chooses one a listener of the
// test holds, for the rest of the test, and counts the addresses chosen.
func takeAddr(t *testing.T, nth int) (net.Listener, *int) {
	t.Helper()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	free := freeAddr
	calls := 0
	freeAddr = func() (string, error) {
		calls++
		if calls == nth {
			return taken.Addr().String(), nil
		}
		return free()
	}
	t.Cleanup(func() { freeAddr = free })
	return taken, &calls
}

// The cluster's ports are below the kernel's range for outgoing
// connections' local ports, which no connecting client can take.
func TestFreeAddrIsBelowTheOutgoingRange(t *testing.T) {
	lo := ephemeralLow()
	if lo <= minPort+1000 {
		t.Skipf("the outgoing range starts at %d: free ports come from the kernel", lo)
	}
	for range 20 {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := strconv.Atoi(port); p < minPort || p >= lo {
			t.Errorf("port %d outside [%d, %d)", p, minPort, lo)
		}
	}
}

// The gateway sends each prefix to the service that serves it, the rest
// to the officers, and the services it fronts trust it for the client's
// address, while the others (and a cluster without it) trust nobody.
func TestGatewayFrontsTheServicesOfTheConsole(t *testing.T) {
	t.Parallel()
	c := &Cluster{cfg: Config{Gateway: true}, passwords: map[string]string{}}
	for _, name := range []string{"intake", "geocoder", "hotspots", "officers", "reporter"} {
		c.Services = append(c.Services, &Proc{Name: name, Addr: "127.0.0.1:1" + strconv.Itoa(len(c.Services))})
	}
	want := "/api/v1/hotspots=http://127.0.0.1:12;/reports/[timeout=5m]=http://127.0.0.1:14;/v1/hotline/=http://127.0.0.1:10;/=http://127.0.0.1:13"
	if got := c.GatewayRoutes(); got != want {
		t.Errorf("routes %s, want %s", got, want)
	}
	trusts := func(c *Cluster, name string) string {
		env := c.serviceEnv(name, "127.0.0.1:1", t.TempDir())
		v := ""
		for _, kv := range env {
			if k, val, _ := strings.Cut(kv, "="); k == "NUISANCE_TRUSTED_PROXIES" {
				v = val // the last one is the one the process sees
			}
		}
		return v
	}
	for name, want := range map[string]string{"officers": "127.0.0.1", "hotspots": "127.0.0.1", "reporter": "127.0.0.1", "intake": "127.0.0.1", "geocoder": ""} {
		if got := trusts(c, name); got != want {
			t.Errorf("%s trusts %q, want %q", name, got, want)
		}
	}
	if got := trusts(&Cluster{cfg: Config{}}, "officers"); got != "" {
		t.Errorf("without the gateway the officers trust %q", got)
	}
	if got := trusts(&Cluster{cfg: Config{Gateway: true, Env: []string{"NUISANCE_TRUSTED_PROXIES=10.0.0.0/24"}}}, "officers"); got != "10.0.0.0/24" {
		t.Errorf("the operator's setting was replaced by %q", got)
	}
}
