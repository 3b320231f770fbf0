package deploy

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/gateway"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
)

// composeFile is docker-compose.yml, parsed.
func composeFile(t *testing.T) map[string]any {
	t.Helper()
	src, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(string(src))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return doc
}

// parseYAML reads a YAML document (docker-compose.yml) into maps and
// slices, anchors and `<<` merges resolved, with every scalar as the text
// it is written as: the test compares them as Compose reads them, as
// strings.
func parseYAML(src string) (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("no top-level mapping")
	}
	return textScalars(doc).(map[string]any), nil
}

// textScalars turns the numbers and booleans under v into their text.
func textScalars(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = textScalars(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = textScalars(e)
		}
		return x
	case nil, string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func TestParseYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      string // fmt of the result, or the error's start
	}{
		{"scalars", "a: 1\nb: \"x # y\" # note\nc: true\n", "map[a:1 b:x # y c:true]"},
		{"nested", "a:\n  b:\n    - x\n    - \"y\"\n", "map[a:map[b:[x y]]]"},
		{"flow", `a: ["CMD", "wget", "-qO-"]` + "\nb: {}\n", "map[a:[CMD wget -qO-] b:map[]]"},
		{"merge keeps own keys", "x: &base\n  k: 1\n  j: 2\ny:\n  <<: *base\n  k: 3\n", "map[x:map[j:2 k:1] y:map[j:2 k:3]]"},
		{"unknown anchor", "y:\n  <<: *nope\n", "error: yaml: unknown anchor"},
		{"duplicate", "a: 1\na: 2\n", "error: yaml: unmarshal errors:\n  line 2: mapping key \"a\" already defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := parseYAML(tt.src)
			got := fmt.Sprint(m)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		out = append(out, str(x))
	}
	return out
}

// nonServiceCommands are the commands of cmd/ that are tools, not services
// of the deployment.
var nonServiceCommands = []string{"nuisance", "loadgen", "seedgen", "devcluster", "pipebench"}

// TestComposeDescribesTheDistributedDeployment checks docker-compose.yml
// without Docker: three clustered NATS nodes on the repository's
// configuration, PostgreSQL, and every service in its own container from
// the Dockerfile, as its own NATS user, on R3 streams, with replicas for
// the stateless ones and a readiness healthcheck.
func TestComposeDescribesTheDistributedDeployment(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	services, ok := doc["services"].(map[string]any)
	if !ok {
		t.Fatal("no services")
	}
	clusterConf, err := NATS.ReadFile("nats/cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`nats-route://([a-z0-9-]+):6222`).FindAllStringSubmatch(string(clusterConf), -1)
	if !strings.Contains(string(clusterConf), "include ./authorization.conf") || !regexp.MustCompile(`(?m)^\s*jetstream\s*\{`).Match(clusterConf) {
		t.Fatal("cluster.conf does not enable JetStream with the authorization block")
	}

	var natsNodes []string
	for name, s := range services {
		if strings.HasPrefix(str(path(s, "image")), "nats:") {
			natsNodes = append(natsNodes, name)
		}
	}
	slices.Sort(natsNodes)
	if len(natsNodes) != 3 || len(routes) != 3 {
		t.Fatalf("NATS nodes %v with %d routes, want three nodes routed to each other", natsNodes, len(routes))
	}
	names := map[string]bool{}
	for i, node := range natsNodes {
		s := services[node]
		if routes[i][1] != node {
			t.Errorf("route %d goes to %s, want node %s", i, routes[i][1], node)
		}
		cmd := strings.Join(strs(path(s, "command")), " ")
		if !strings.Contains(cmd, "/etc/nats/cluster.conf") {
			t.Errorf("%s does not run on cluster.conf: %s", node, cmd)
		}
		if !slices.Contains(strs(path(s, "volumes")), "./deploy/nats:/etc/nats:ro") {
			t.Errorf("%s does not mount deploy/nats", node)
		}
		env, _ := path(s, "environment").(map[string]any)
		names[str(env["NATS_SERVER_NAME"])] = true
		for _, u := range Users() {
			if str(env[PasswordVar(u)]) == "" {
				t.Errorf("%s has no %s for user %s", node, PasswordVar(u), u)
			}
		}
	}
	if len(names) != 3 || names[""] {
		t.Errorf("NATS server names %v are not three distinct names", names)
	}

	pg := services["postgres"]
	if !strings.HasPrefix(str(path(pg, "image")), "postgres:") || path(pg, "healthcheck", "test") == nil {
		t.Error("no PostgreSQL service with a healthcheck")
	}

	image := ""
	for _, svc := range Services {
		s, ok := services[svc.Name]
		if !ok {
			t.Errorf("service %s is not in docker-compose.yml", svc.Name)
			continue
		}
		if cmd := strs(path(s, "command")); len(cmd) == 0 || cmd[0] != svc.Name {
			t.Errorf("%s runs %v, want its own command", svc.Name, cmd)
		}
		if str(path(s, "build", "context")) != "." || str(path(s, "build", "dockerfile")) != "Dockerfile" {
			t.Errorf("%s is not built from the repository's Dockerfile", svc.Name)
		}
		if image == "" {
			image = str(path(s, "image"))
		}
		if str(path(s, "image")) != image || image == "" {
			t.Errorf("%s image %q, want the one image %q", svc.Name, str(path(s, "image")), image)
		}
		env, _ := path(s, "environment").(map[string]any)
		if str(env["NUISANCE_STREAM_REPLICAS"]) != "3" {
			t.Errorf("%s: NUISANCE_STREAM_REPLICAS=%q, want 3", svc.Name, str(env["NUISANCE_STREAM_REPLICAS"]))
		}
		if !strings.HasPrefix(str(env["DATABASE_URL"]), "postgres://") || !strings.Contains(str(env["DATABASE_URL"]), "@postgres:") {
			t.Errorf("%s does not use the postgres service", svc.Name)
		}
		// A trial's passwords reach both ends.
		pgPassword := composeTrial(t, str(path(pg, "environment", "POSTGRES_PASSWORD")))
		if got := composeTrial(t, str(env["DATABASE_URL"])); !strings.HasPrefix(got, "postgres://nuisance:"+pgPassword+"@postgres:") || pgPassword == "" {
			t.Errorf("%s: a trial's DATABASE_URL is %q, without the postgres service's password", svc.Name, got)
		}
		natsEnv, _ := path(services[natsNodes[0]], "environment").(map[string]any)
		natsPassword := composeTrial(t, str(natsEnv[PasswordVar(svc.Name)]))
		for _, u := range strings.Split(composeTrial(t, str(env["NATS_URL"])), ",") {
			if !strings.HasPrefix(u, "nats://"+svc.Name+":"+natsPassword+"@") || natsPassword == "" {
				t.Errorf("%s: a trial's NATS URL does not carry the password the NATS nodes have for %s", svc.Name, svc.Name)
			}
		}
		urls := strings.Split(str(env["NATS_URL"]), ",")
		var hosts []string
		for _, u := range urls {
			prefix := "nats://" + svc.Name + ":${" + PasswordVar(svc.Name) + ":?"
			_, host, _ := strings.Cut(u, "}@")
			if !strings.HasPrefix(u, prefix) {
				t.Errorf("%s: NATS URL %q does not log in as its own user", svc.Name, u)
			}
			hosts = append(hosts, strings.TrimSuffix(host, ":4222"))
		}
		if !slices.Equal(hosts, natsNodes) {
			t.Errorf("%s: NATS_URL lists %v, want every node %v", svc.Name, hosts, natsNodes)
		}
		if !slices.ContainsFunc(strs(path(s, "healthcheck", "test")), func(a string) bool { return strings.HasSuffix(a, "/readyz") }) {
			t.Errorf("%s has no healthcheck on /readyz", svc.Name)
		}
		want := "1"
		if svc.Stateless {
			want = "2"
		}
		if got := str(path(s, "deploy", "replicas")); got != want {
			t.Errorf("%s runs %s replicas, want %s", svc.Name, got, want)
		}
		for _, dep := range append([]string{"postgres"}, natsNodes...) {
			if str(path(s, "depends_on", dep, "condition")) != "service_healthy" {
				t.Errorf("%s does not wait for %s to be healthy", svc.Name, dep)
			}
		}
	}

	// Every service command in cmd/ is part of the deployment.
	mains, err := filepath.Glob("../cmd/*/main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		if slices.Contains(nonServiceCommands, name) {
			continue
		}
		if _, ok := ServiceNamed(name); !ok {
			t.Errorf("cmd/%s is neither a service of the deployment nor a known tool", name)
		}
	}
}

// TestDockerfileBuildsStaticNonRootImage checks the image: a builder stage
// making static binaries, and a final stage that runs as an unprivileged
// user with every command in PATH.
func TestDockerfileBuildsStaticNonRootImage(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(l), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", l)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], l)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a final stage", len(stages))
	}
	build := strings.Join(stages[0], "\n")
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/...") {
		t.Error("the builder does not make static binaries of every command")
	}
	final := stages[len(stages)-1]
	if !slices.ContainsFunc(final, func(l string) bool { return strings.HasPrefix(l, "COPY --from=") }) {
		t.Error("the final stage does not copy the binaries from the builder")
	}
	user := ""
	for _, l := range final {
		if strings.HasPrefix(l, "USER ") {
			user = strings.TrimSpace(strings.TrimPrefix(l, "USER "))
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("the final stage runs as %q, want an unprivileged user", user)
	}
}

// The intake exits at once without HOTLINE_SECRET, and under restart:
// unless-stopped would restart for ever while the rest of the stack comes
// up healthy: compose requires it instead. The trial's, in
// deploy/trial.env, is a key the intake accepts, the same for the
// callbacks that sign with it.
func TestComposeHotlineSecretIsRequiredWithATrialValue(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	required := regexp.MustCompile(`^\$\{HOTLINE_SECRET:\?[^}]+\}$`)
	for _, svc := range []string{"intake", "callbacks"} {
		env, _ := path(doc, "services", svc, "environment").(map[string]any)
		v := str(env["HOTLINE_SECRET"])
		if !required.MatchString(v) {
			t.Errorf("%s: HOTLINE_SECRET is %q, want ${HOTLINE_SECRET:?message}", svc, v)
			continue
		}
		if _, err := hotline.NewWebhook(composeTrial(t, v)); err != nil {
			t.Errorf("%s: the trial secret is refused: %v", svc, err)
		}
	}
}

// secretVars are the variables of docker-compose.yml that hold secrets.
func secretVars() []string {
	out := []string{"HOTLINE_SECRET", "POSTGRES_PASSWORD"}
	for _, u := range Users() {
		out = append(out, PasswordVar(u))
	}
	return out
}

// A secret of docker-compose.yml has no default: a default is published
// in the repository, and a deployment that forgot to set it would start
// on it (the hotline's signing key on a port published on every
// interface). Compose refuses to start without it; the trial's values are
// in deploy/trial.env, which a trial passes with --env-file, and no
// other variable is there.
func TestComposeSecretsHaveNoDefault(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	trial := trialEnv(t)
	secrets := secretVars()
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9_]+)([^}]*)\}`).FindAllStringSubmatch(string(src), -1) {
		name, rest := m[1], m[2]
		secret := slices.Contains(secrets, name) || regexp.MustCompile(`SECRET|PASSWORD|TOKEN|KEY`).MatchString(name)
		if !secret {
			continue
		}
		used[name] = true
		if !strings.HasPrefix(rest, ":?") || len(rest) == 2 {
			t.Errorf("docker-compose.yml: %s, want ${%s:?message}: compose refuses to start without it", m[0], name)
		}
		if trial[name] == "" {
			t.Errorf("deploy/trial.env has no %s", name)
		}
	}
	for _, name := range secrets {
		if !used[name] {
			t.Errorf("docker-compose.yml does not use %s", name)
		}
	}
	for name := range trial {
		if !used[name] {
			t.Errorf("deploy/trial.env sets %s, which is no secret of docker-compose.yml", name)
		}
	}
	if !strings.Contains(string(src), "--env-file deploy/trial.env") {
		t.Error("docker-compose.yml does not say how a trial passes deploy/trial.env")
	}
}

// trialEnv is deploy/trial.env, the variables a local trial passes
// (docker compose --env-file deploy/trial.env).
func trialEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("trial.env")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(k) || v == "" {
			t.Fatalf("deploy/trial.env:%d: %q, want NAME=value", i+1, line)
		}
		out[k] = v
	}
	return out
}

// The deployment's Prometheus scrapes every replica of every service (by
// the compose DNS name, on the port the services listen on) under a job
// named nuisance-<service>, as the alerting rules expect, and loads them.
func TestComposePrometheusScrapesEveryService(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	if !slices.Contains(strs(path(doc, "services", "prometheus", "volumes")), "./deploy/prometheus:/etc/prometheus:ro") {
		t.Error("the prometheus service does not mount deploy/prometheus")
	}
	b, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	type scrapeJob struct {
		JobName      string `yaml:"job_name"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	}
	var cfg struct {
		RuleFiles     []string    `yaml:"rule_files"`
		ScrapeConfigs []scrapeJob `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cfg.RuleFiles, "alerts.yml") {
		t.Error("prometheus.yml does not load alerts.yml")
	}
	// The gateway too: a front door down is the console down.
	names := []string{"gateway"}
	for _, svc := range Services {
		names = append(names, svc.Name)
	}
	for _, name := range names {
		i := slices.IndexFunc(cfg.ScrapeConfigs, func(c scrapeJob) bool { return c.JobName == "nuisance-"+name })
		if i < 0 {
			t.Errorf("no scrape job nuisance-%s", name)
			continue
		}
		sd := cfg.ScrapeConfigs[i].DNSSDConfigs
		if len(sd) != 1 || !slices.Equal(sd[0].Names, []string{name}) || sd[0].Port != 8080 {
			t.Errorf("job nuisance-%s does not find the replicas of %s on 8080: %+v", name, name, sd)
		}
	}
	// It reaches the gateway, which is on the front network only.
	if nets := strs(path(doc, "services", "prometheus", "networks")); !slices.Contains(nets, "front") || !slices.Contains(nets, "default") {
		t.Errorf("prometheus is on networks %v, want default (the services) and front (the gateway)", nets)
	}
	tool := promtool(t)
	if out, err := exec.Command(tool, "check", "config", "prometheus/prometheus.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// Prometheus and Alertmanager have no login: anyone reaching them reads
// the whole deployment's metrics and targets, or silences its alerts.
// They listen on the host's loopback only.
func TestComposeOperatorConsolesListenOnLoopback(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	for svc, port := range map[string]string{"prometheus": "9090", "alertmanager": "9093"} {
		ports := strs(path(doc, "services", svc, "ports"))
		if len(ports) == 0 {
			t.Errorf("%s publishes no port", svc)
		}
		for _, p := range ports {
			if p != "127.0.0.1:"+port+":"+port {
				t.Errorf("%s publishes %q, want 127.0.0.1:%s:%s", svc, p, port, port)
			}
		}
	}
}

// docker stop (a rolling upgrade, compose down) sends SIGTERM and, after
// the stop grace period (10 s unless set), SIGKILL. A process's graceful
// stop takes up to 30 s for the requests in flight (app.Serve), then the
// batch in hand (up to its AckWait, 30 s), then 5 s to drain NATS: killed
// at 10 s, a batch is rolled back and waits out its AckWait before it is
// delivered again, the relay's last pass and the requests in flight are
// cut. Every service is given the time its stop takes.
func TestComposeGivesEveryServiceTimeToStop(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	for _, svc := range []string{"intake", "geocoder", "hotspots", "router", "officers", "callbacks", "reporter"} {
		d, err := time.ParseDuration(str(path(doc, "services", svc, "stop_grace_period")))
		if err != nil || d < 65*time.Second {
			t.Errorf("%s: stop_grace_period %q, want at least 65s (30 s HTTP drain + 30 s batch + 5 s NATS drain)", svc, str(path(doc, "services", svc, "stop_grace_period")))
		}
	}
}

// composeTrial is a Compose value as a local trial reads it (docker
// compose --env-file deploy/trial.env, nothing else set): each ${VAR},
// ${VAR:?message} or ${VAR:-default} is VAR's value in deploy/trial.env,
// or else its default; a required one missing there is an error.
func composeTrial(t *testing.T, v string) string {
	t.Helper()
	trial := trialEnv(t)
	return regexp.MustCompile(`\$\{([A-Z0-9_]+)(:[-?][^}]*)?\}`).ReplaceAllStringFunc(v, func(ref string) string {
		m := regexp.MustCompile(`^\$\{([A-Z0-9_]+)(:[-?][^}]*)?\}$`).FindStringSubmatch(ref)
		if val := trial[m[1]]; val != "" {
			return val
		}
		if strings.HasPrefix(m[2], ":-") {
			return m[2][2:]
		}
		t.Errorf("%s: a trial does not set %s", v, m[1])
		return ""
	})
}

// fronted are the services whose HTTP clients come through the gateway:
// the officers' console and the APIs it calls.
var fronted = []string{"officers", "hotspots", "reporter"}

// The officers' console calls every API on its own origin. Split into
// processes, the hotspots and the reports are other services: the
// gateway serves them all on one published address, from the one image,
// without NATS or PostgreSQL, and the services behind it publish no port
// of their own and trust it (only it) for the client's address.
func TestComposeGatewayFrontsTheConsole(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	services, _ := doc["services"].(map[string]any)
	g, ok := services["gateway"]
	if !ok {
		t.Fatal("no gateway service")
	}
	if cmd := strs(path(g, "command")); !slices.Equal(cmd, []string{"nuisance", "gateway"}) {
		t.Errorf("gateway runs %v, want nuisance gateway", cmd)
	}
	if img := str(path(g, "image")); img == "" || img != str(path(services["officers"], "image")) || str(path(g, "build", "dockerfile")) != "Dockerfile" {
		t.Errorf("gateway image %q, want the services' one image from the Dockerfile", img)
	}
	if got, want := str(path(g, "deploy", "replicas")), str(path(services["officers"], "deploy", "replicas")); got != want {
		t.Errorf("gateway runs %s replicas, the officers %s", got, want)
	}
	if !slices.ContainsFunc(strs(path(g, "healthcheck", "test")), func(a string) bool { return strings.HasSuffix(a, "/readyz") }) {
		t.Error("gateway has no healthcheck on /readyz")
	}
	if d, err := time.ParseDuration(str(path(g, "stop_grace_period"))); err != nil || d < 35*time.Second {
		t.Errorf("gateway stop_grace_period %q, want at least 35s (30 s for the requests in flight)", str(path(g, "stop_grace_period")))
	}
	env, _ := path(g, "environment").(map[string]any)
	for k := range env {
		if k == "NATS_URL" || k == "DATABASE_URL" || strings.HasPrefix(k, "NATS_PASSWORD") || k == "HOTLINE_SECRET" {
			t.Errorf("gateway has %s: it needs neither NATS, PostgreSQL nor the hotline's secret", k)
		}
	}
	if str(env["NUISANCE_HTTP_ADDR"]) != "0.0.0.0:8080" {
		t.Errorf("gateway listens on %q, want 0.0.0.0:8080", str(env["NUISANCE_HTTP_ADDR"]))
	}
	ports := strs(path(g, "ports"))
	if len(ports) != 1 || !strings.HasSuffix(ports[0], ":8080") {
		t.Errorf("gateway publishes %v, want its port 8080", ports)
	}

	// What the console calls reaches the service that serves it.
	routes, err := gateway.ParseRoutes(composeTrial(t, str(env["NUISANCE_GATEWAY_ROUTES"])))
	if err != nil {
		t.Fatalf("NUISANCE_GATEWAY_ROUTES: %v", err)
	}
	for p, want := range map[string]string{
		"/officer/":                     "officers",
		"/api/v1/me":                    "officers",
		"/api/v1/assignments":           "officers",
		"/api/v1/triage":                "officers",
		"/api/v1/stream":                "officers",
		"/api/v1/hotspots":              "hotspots",
		"/api/v1/hotspots/weekly":       "hotspots",
		"/reports/weekly/":              "reporter",
		"/reports/weekly/2024-W11.html": "reporter",
	} {
		r, ok := gateway.Match(routes, p)
		if !ok {
			t.Errorf("%s: no route", p)
			continue
		}
		for _, u := range r.Upstreams {
			if u.Host != want+":8080" {
				t.Errorf("%s goes to %s, want %s:8080", p, u.Host, want)
			}
		}
	}

	// The fronted services share a network with the gateway whose
	// addresses they trust, and publish no port; the intake keeps its
	// port for the hotline.
	subnet := composeTrial(t, str(path(doc, "networks", "front", "ipam", "config").([]any)[0].(map[string]any)["subnet"]))
	front, err := netip.ParsePrefix(subnet)
	if err != nil {
		t.Fatalf("front network subnet %q: %v", subnet, err)
	}
	if nets := strs(path(g, "networks")); !slices.Equal(nets, []string{"front"}) {
		t.Errorf("gateway is on %v, want the front network only", nets)
	}
	for _, name := range fronted {
		s := services[name]
		if p := path(s, "ports"); p != nil {
			t.Errorf("%s publishes %v: its clients come through the gateway", name, p)
		}
		if nets := strs(path(s, "networks")); !slices.Contains(nets, "front") || !slices.Contains(nets, "default") {
			t.Errorf("%s is on %v, want default (NATS, PostgreSQL) and front (the gateway)", name, nets)
		}
		v := composeTrial(t, str(path(s, "environment", "NUISANCE_TRUSTED_PROXIES")))
		cfg, err := config.FromEnv(func(k string) string {
			if k == "NUISANCE_TRUSTED_PROXIES" {
				return v
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !slices.Contains(cfg.TrustedProxies, front) {
			t.Errorf("%s trusts %v, want the gateway's network %s", name, cfg.TrustedProxies, front)
		}
	}
	if p := strs(path(services["intake"], "ports")); len(p) == 0 {
		t.Error("the intake publishes no port for the hotline")
	}
	if v := composeTrial(t, str(path(services["intake"], "environment", "NUISANCE_TRUSTED_PROXIES"))); v != "" {
		t.Errorf("the intake, reached on its published port, trusts %q", v)
	}
}

// The bureau's yearly files (a new year's holidays, a new year's priority
// plan) reach the processes that read them: each gets its setting from
// the environment, empty (the built-in years) when unset, and the
// repository's deploy/site mounted where the setting's file is put.
func TestComposePassesTheBureausYearlyFiles(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	readers := map[string]string{
		"router":   "NUISANCE_CALENDAR",
		"officers": "NUISANCE_CALENDAR",
		"geocoder": "NUISANCE_PRIORITY",
		"reporter": "NUISANCE_PRIORITY",
	}
	for svc, name := range readers {
		env, _ := path(doc, "services", svc, "environment").(map[string]any)
		if got, want := str(env[name]), "${"+name+":-}"; got != want {
			t.Errorf("%s: %s is %q, want %q", svc, name, got, want)
		}
		if !slices.Contains(strs(path(doc, "services", svc, "volumes")), "./deploy/site:/etc/nuisance:ro") {
			t.Errorf("%s does not mount deploy/site at /etc/nuisance", svc)
		}
	}
	if _, err := os.Stat("site/README.md"); err != nil {
		t.Errorf("deploy/site, the directory compose mounts, is not in the repository: %v", err)
	}
	// The operator's commands that read them run in a service's container
	// (nuisance report in the reporter's, nuisance calendar in the
	// router's) and take the same setting.
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{"NUISANCE_CALENDAR": "/etc/nuisance/calendar.json", "NUISANCE_PRIORITY": "/etc/nuisance/priority.json"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Calendar != "/etc/nuisance/calendar.json" || cfg.Priority != "/etc/nuisance/priority.json" {
		t.Errorf("config reads calendar %q, priority %q from the settings compose passes", cfg.Calendar, cfg.Priority)
	}
}
