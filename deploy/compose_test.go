package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Go module has no YAML library, so the test reads docker-compose.yml
// with a small parser of the subset the file keeps to: block mappings and
// sequences, flow sequences, empty flow mappings, double-quoted strings,
// comments, anchors on mappings and `<<: *anchor` merges. Anything else is
// an error, so the file cannot drift out of what the test checks.

type yline struct {
	indent int
	text   string
	no     int
}

type yparser struct {
	lines   []yline
	anchors map[string]map[string]any
}

func parseYAML(src string) (map[string]any, error) {
	p := &yparser{anchors: map[string]map[string]any{}}
	for i, raw := range strings.Split(src, "\n") {
		text := stripComment(raw)
		if strings.TrimSpace(text) == "" {
			continue
		}
		if strings.Contains(text, "\t") {
			return nil, fmt.Errorf("line %d: tab", i+1)
		}
		trimmed := strings.TrimLeft(text, " ")
		p.lines = append(p.lines, yline{indent: len(text) - len(trimmed), text: strings.TrimRight(trimmed, " "), no: i + 1})
	}
	if len(p.lines) == 0 || p.lines[0].indent != 0 {
		return nil, fmt.Errorf("no top-level mapping")
	}
	v, next, err := p.block(0, 0)
	if err != nil {
		return nil, err
	}
	if next != len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[next].no)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("top level is not a mapping")
	}
	return m, nil
}

func stripComment(s string) string {
	inQuote := false
	for i, r := range s {
		switch {
		case r == '"' && (i == 0 || s[i-1] != '\\'):
			inQuote = !inQuote
		case r == '#' && !inQuote && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

func (p *yparser) block(i, indent int) (any, int, error) {
	if strings.HasPrefix(p.lines[i].text, "- ") {
		var seq []any
		for i < len(p.lines) && p.lines[i].indent == indent && strings.HasPrefix(p.lines[i].text, "- ") {
			v, err := p.scalar(strings.TrimSpace(p.lines[i].text[2:]), p.lines[i].no)
			if err != nil {
				return nil, i, err
			}
			seq = append(seq, v)
			i++
		}
		return seq, i, nil
	}
	m := map[string]any{}
	var merged []map[string]any
	for i < len(p.lines) && p.lines[i].indent == indent {
		l := p.lines[i]
		key, rest, ok := strings.Cut(l.text, ":")
		if !ok || (rest != "" && rest[0] != ' ') {
			return nil, i, fmt.Errorf("line %d: want key: value", l.no)
		}
		rest = strings.TrimSpace(rest)
		if _, dup := m[key]; dup {
			return nil, i, fmt.Errorf("line %d: duplicate key %s", l.no, key)
		}
		anchor := ""
		if strings.HasPrefix(rest, "&") {
			anchor, rest, _ = strings.Cut(rest[1:], " ")
		}
		i++
		var v any
		var err error
		switch {
		case key == "<<":
			a, ok := p.anchors[strings.TrimPrefix(rest, "*")]
			if !strings.HasPrefix(rest, "*") || !ok {
				return nil, i, fmt.Errorf("line %d: merge of unknown anchor %s", l.no, rest)
			}
			merged = append(merged, a)
			continue
		case rest == "" && i < len(p.lines) && p.lines[i].indent > indent:
			v, i, err = p.block(i, p.lines[i].indent)
		case rest == "":
			v = nil
		default:
			v, err = p.scalar(rest, l.no)
		}
		if err != nil {
			return nil, i, err
		}
		m[key] = v
		if anchor != "" {
			am, ok := v.(map[string]any)
			if !ok {
				return nil, i, fmt.Errorf("line %d: anchor on a non-mapping", l.no)
			}
			p.anchors[anchor] = am
		}
	}
	// Keys of the mapping itself win over merged ones.
	for _, a := range merged {
		for k, v := range a {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
	}
	return m, i, nil
}

func (p *yparser) scalar(s string, no int) (any, error) {
	switch {
	case s == "{}":
		return map[string]any{}, nil
	case strings.HasPrefix(s, "{") || strings.HasPrefix(s, "*") || strings.HasPrefix(s, "&") || strings.HasPrefix(s, "'") || strings.HasPrefix(s, "|") || strings.HasPrefix(s, ">"):
		return nil, fmt.Errorf("line %d: unsupported YAML %q", no, s)
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("line %d: unterminated flow sequence", no)
		}
		var out []any
		inner := strings.TrimSpace(s[1 : len(s)-1])
		for inner != "" {
			var item string
			if strings.HasPrefix(inner, `"`) {
				q, err := strconv.QuotedPrefix(inner)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", no, err)
				}
				item, inner = q, inner[len(q):]
			} else {
				item, inner, _ = strings.Cut(inner, ",")
				inner = "," + inner
			}
			v, err := p.scalar(strings.TrimSpace(item), no)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			inner = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(inner), ","))
		}
		return out, nil
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", no, err)
		}
		return v, nil
	}
	return s, nil
}

func TestParseYAMLSubset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      string // fmt of the result, or the error's start
	}{
		{"scalars", "a: 1\nb: \"x # y\" # note\n", "map[a:1 b:x # y]"},
		{"nested", "a:\n  b:\n    - x\n    - \"y\"\n", "map[a:map[b:[x y]]]"},
		{"flow", `a: ["CMD", "wget", "-qO-"]` + "\nb: {}\n", "map[a:[CMD wget -qO-] b:map[]]"},
		{"merge keeps own keys", "x: &base\n  k: 1\n  j: 2\ny:\n  <<: *base\n  k: 3\n", "map[x:map[j:2 k:1] y:map[j:2 k:3]]"},
		{"unknown anchor", "y:\n  <<: *nope\n", "error: line 2: merge of unknown anchor"},
		{"duplicate", "a: 1\na: 2\n", "error: line 2: duplicate key"},
		{"block scalar", "a: |\n  x\n", "error: line 1: unsupported"},
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
	for _, x := range v.([]any) {
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
	src, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseYAML(string(src))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
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
		urls := strings.Split(str(env["NATS_URL"]), ",")
		var hosts []string
		for _, u := range urls {
			prefix := "nats://" + svc.Name + ":${" + PasswordVar(svc.Name) + ":-"
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
