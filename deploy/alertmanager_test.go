package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// amConfig is the part of an Alertmanager configuration the tests read.
type amConfig struct {
	Route        amRoute `yaml:"route"`
	InhibitRules []struct {
		SourceMatchers []string `yaml:"source_matchers"`
		TargetMatchers []string `yaml:"target_matchers"`
		Equal          []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
	Receivers []struct {
		Name string `yaml:"name"`
	} `yaml:"receivers"`
}

type amRoute struct {
	Receiver string    `yaml:"receiver"`
	GroupBy  []string  `yaml:"group_by"`
	Matchers []string  `yaml:"matchers"`
	Continue bool      `yaml:"continue"`
	Routes   []amRoute `yaml:"routes"`
}

// receiverOf is the receiver the route tree sends an alert with labels
// to: the first matching child, depth first, as Alertmanager routes
// without continue.
func (r amRoute) receiverOf(t *testing.T, labels map[string]string) string {
	t.Helper()
	for _, c := range r.Routes {
		if matchesAll(t, c.Matchers, labels) {
			got := c.receiverOf(t, labels)
			if got == "" {
				got = r.Receiver
			}
			return got
		}
	}
	return r.Receiver
}

// walk calls f on r and every route under it.
func (r amRoute) walk(f func(amRoute)) {
	f(r)
	for _, c := range r.Routes {
		c.walk(f)
	}
}

func readAMConfig(t *testing.T) amConfig {
	t.Helper()
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg amConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("alertmanager.yml: %v", err)
	}
	return cfg
}

// alertRule is one alerting rule of alerts.yml.
type alertRule struct {
	Name     string
	Expr     parser.Expr
	Severity string
}

func readAlertRules(t *testing.T) map[string]alertRule {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf alertRules
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	out := map[string]alertRule{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			out[r.Alert] = alertRule{Name: r.Alert, Expr: expr, Severity: r.Labels["severity"]}
		}
	}
	return out
}

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$`)

// matcher splits an Alertmanager matcher (name, operator, value).
func matcher(t *testing.T, m string) (name, op, value string) {
	t.Helper()
	p := matcherRE.FindStringSubmatch(m)
	if p == nil {
		t.Fatalf("matcher %q is not name op \"value\"", m)
	}
	return p[1], p[2], p[3]
}

// matchesAll reports whether labels satisfy every matcher, as
// Alertmanager evaluates them (regular expressions anchored; a missing
// label is the empty string).
func matchesAll(t *testing.T, ms []string, labels map[string]string) bool {
	t.Helper()
	for _, m := range ms {
		name, op, value := matcher(t, m)
		v := labels[name]
		var ok bool
		switch op {
		case "=":
			ok = v == value
		case "!=":
			ok = v != value
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + value + ")$")
			if err != nil {
				t.Fatalf("matcher %q: %v", m, err)
			}
			ok = re.MatchString(v) == (op == "=~")
		}
		if !ok {
			return false
		}
	}
	return true
}

// alertNames are the alert names a set of matchers names: each
// alternative of an alertname="..." or alertname=~"A|B" matcher.
func alertNames(t *testing.T, ms []string) []string {
	t.Helper()
	var out []string
	for _, m := range ms {
		name, op, value := matcher(t, m)
		if name != "alertname" {
			continue
		}
		if op != "=" && op != "=~" {
			t.Errorf("matcher %q: name the alerts (= or =~ with alternatives), not their complement", m)
			continue
		}
		out = append(out, strings.Split(value, "|")...)
	}
	return out
}

// keepsLabels reports whether every series expr returns carries the
// labels names of the series it was computed from: an aggregation
// without them, or a scalar turned vector, loses them.
func keepsLabels(expr parser.Expr, names ...string) bool {
	switch e := expr.(type) {
	case *parser.VectorSelector, *parser.MatrixSelector:
		return true
	case *parser.ParenExpr:
		return keepsLabels(e.Expr, names...)
	case *parser.StepInvariantExpr:
		return keepsLabels(e.Expr, names...)
	case *parser.SubqueryExpr:
		return keepsLabels(e.Expr, names...)
	case *parser.UnaryExpr:
		return keepsLabels(e.Expr, names...)
	case *parser.AggregateExpr:
		for _, n := range names {
			if slices.Contains(e.Grouping, n) == e.Without {
				return false
			}
		}
		return keepsLabels(e.Expr, names...)
	case *parser.Call:
		// Functions of a range or instant vector keep its labels;
		// vector(), time() and the like have none.
		for _, a := range e.Args {
			if a.Type() == parser.ValueTypeVector || a.Type() == parser.ValueTypeMatrix {
				return keepsLabels(a, names...)
			}
		}
		return false
	case *parser.BinaryExpr:
		lhs, rhs := e.LHS.Type() == parser.ValueTypeVector, e.RHS.Type() == parser.ValueTypeVector
		switch {
		case e.Op == parser.LOR:
			return keepsLabels(e.LHS, names...) && keepsLabels(e.RHS, names...)
		case lhs && rhs && e.VectorMatching != nil && e.VectorMatching.Card == parser.CardOneToMany:
			return keepsLabels(e.RHS, names...)
		case lhs:
			return keepsLabels(e.LHS, names...)
		case rhs:
			return keepsLabels(e.RHS, names...)
		}
	}
	return false
}

func TestKeepsLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want bool
	}{
		{`nuisance_ready == 0`, true},
		{`rate(x[5m]) > 0 and rate(y[5m]) == 0`, true},
		{`sum by (job, instance) (increase(x[3h])) >= 2 unless sum by (job, instance) (y) > 0`, true},
		{`max by (consumer) (x) > 0`, false},
		{`max(x) > 0`, false},
		{`sum without (consumer) (x) > 0`, true},
		{`sum without (instance) (x) > 0`, false},
		{`x > 0 or max(y) > 0`, false},
		{`time() - max(x) > 6 * 3600`, false},
		{`max(x) < year(vector(time()))`, false},
	}
	for _, tt := range tests {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := keepsLabels(expr, "job", "instance"); got != tt.want {
			t.Errorf("keepsLabels(%s) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// receiverFor is the receiver each severity of alerts.yml must reach:
// critical pages the operator on call, warning goes to the ticket queue.
var receiverFor = map[string]string{"critical": "oncall-pager", "warning": "oncall-ticket"}

// The Alertmanager configuration names only alerts alerts.yml has, sends
// every alert to the receiver of its severity, groups a dependency's
// alerts of every process into one notification, and mutes an alert only
// when the same process's NuisanceNotReady explains it: never the alert
// that names the dependency, never an alert that lost the process's labels
// (one process's outage would mute it for every process).
func TestAlertmanagerConfig(t *testing.T) {
	t.Parallel()
	cfg := readAMConfig(t)
	rules := readAlertRules(t)
	receivers := map[string]bool{}
	for _, r := range cfg.Receivers {
		receivers[r.Name] = true
	}

	if !slices.Equal(cfg.Route.GroupBy, []string{"alertname", "check"}) {
		t.Errorf("route groups by %v, want [alertname check]: one notification per dependency, whichever processes fire", cfg.Route.GroupBy)
	}
	cfg.Route.walk(func(r amRoute) {
		if r.Receiver != "" && !receivers[r.Receiver] {
			t.Errorf("route %v: no receiver %q", r.Matchers, r.Receiver)
		}
		if r.GroupBy != nil && !slices.Equal(r.GroupBy, cfg.Route.GroupBy) {
			t.Errorf("route %v groups by %v: each process would be told apart", r.Matchers, r.GroupBy)
		}
		if r.Continue {
			t.Errorf("route %v continues: an alert would be sent twice", r.Matchers)
		}
		for _, n := range alertNames(t, r.Matchers) {
			if _, ok := rules[n]; !ok {
				t.Errorf("route %v names %s, which alerts.yml does not have", r.Matchers, n)
			}
		}
	})
	for _, r := range rules {
		labels := map[string]string{"alertname": r.Name, "severity": r.Severity, "job": "nuisance-intake", "instance": "intake:8080"}
		if got, want := cfg.Route.receiverOf(t, labels), receiverFor[r.Severity]; got != want || want == "" {
			t.Errorf("%s (severity %s) goes to %q, want %q", r.Name, r.Severity, got, want)
		}
	}

	if len(cfg.InhibitRules) == 0 {
		t.Fatal("no inhibit rules: a dependency gone pages once for every alert that follows from it")
	}
	muted := map[string]bool{}
	for i, ir := range cfg.InhibitRules {
		for _, l := range []string{"job", "instance"} {
			if !slices.Contains(ir.Equal, l) {
				t.Errorf("inhibit rule %d: equal %v lacks %s: one process's outage would mute another's alerts", i, ir.Equal, l)
			}
		}
		sources := alertNames(t, ir.SourceMatchers)
		calendar := slices.Equal(sources, []string{"NuisanceCalendarEnding", "NuisanceCalendarYearMissing"})
		if !slices.Equal(sources, []string{"NuisanceNotReady"}) && !calendar {
			t.Errorf("inhibit rule %d: sources %v, want NuisanceNotReady (the alert naming the dependency) or the calendar's alerts", i, sources)
		}
		for _, n := range sources {
			if r, ok := rules[n]; ok && !keepsLabels(r.Expr, ir.Equal...) {
				t.Errorf("inhibit rule %d is sourced by %s, whose alerts lack the labels %v it is matched on: it mutes nothing", i, n, ir.Equal)
			}
		}
		// A calendar that ends explains the deadlines set past it, and
		// nothing else.
		if targets := alertNames(t, ir.TargetMatchers); calendar && !slices.Equal(targets, []string{"NuisanceDeadlinesWithoutHolidays"}) {
			t.Errorf("inhibit rule %d: the calendar's alerts mute %v, want NuisanceDeadlinesWithoutHolidays only", i, targets)
		}
		for _, n := range alertNames(t, ir.TargetMatchers) {
			r, ok := rules[n]
			if !ok {
				t.Errorf("inhibit rule %d names %s, which alerts.yml does not have", i, n)
				continue
			}
			muted[n] = true
			if !keepsLabels(r.Expr, ir.Equal...) {
				t.Errorf("inhibit rule %d mutes %s, whose alerts lose the labels %v it is matched on", i, n, ir.Equal)
			}
		}
		for _, check := range []string{"postgres", "nats"} {
			root := map[string]string{"alertname": "NuisanceNotReady", "check": check, "severity": "critical", "job": "nuisance-intake", "instance": "intake:8080"}
			if matchesAll(t, ir.TargetMatchers, root) {
				t.Errorf("inhibit rule %d mutes NuisanceNotReady for %s, the alert naming the cause", i, check)
			}
		}
	}
	// What follows from a dependency gone is muted; what names a cause
	// of its own is not.
	for _, n := range []string{"NuisanceIntakeCannotStore", "NuisanceOutboxNotPublishing", "NuisanceDeadlinesWithoutHolidays"} {
		if !muted[n] {
			t.Errorf("%s follows from a cause another alert names and is not muted", n)
		}
	}
	for _, n := range []string{"NuisanceProcessDown", "NuisanceProcessGone", "NuisanceNATSReplicaLost", "NuisanceDeadLetters", "NuisanceCallbacksFailing", "NuisanceCaseEventsRefused"} {
		if muted[n] {
			t.Errorf("%s names a cause of its own and is muted", n)
		}
	}
}

// amtool finds Alertmanager's amtool (Debian's prometheus-alertmanager
// package), which `make test` installs and requires (AMTOOL_REQUIRED);
// elsewhere the test is skipped without it.
func amtool(t *testing.T) string {
	t.Helper()
	return tool(t, "AMTOOL_REQUIRED", "--amtool", "amtool")
}

// amtool reads the configuration as Alertmanager does, and routes every
// alert of alerts.yml, and those of a PostgreSQL outage with their
// process's labels, to the receiver of their severity.
func TestAlertmanagerConfigAmtool(t *testing.T) {
	t.Parallel()
	tool := amtool(t)
	const file = "alertmanager/alertmanager.yml"
	if out, err := exec.Command(tool, "check-config", file).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	type alert struct {
		labels   []string
		receiver string
	}
	var alerts []alert
	for _, r := range readAlertRules(t) {
		alerts = append(alerts, alert{[]string{"alertname=" + r.Name, "severity=" + r.Severity}, receiverFor[r.Severity]})
	}
	for _, a := range postgresDown() {
		var ls []string
		for k, v := range a {
			ls = append(ls, k+"="+v)
		}
		slices.Sort(ls)
		alerts = append(alerts, alert{ls, receiverFor[a["severity"]]})
	}
	for _, a := range alerts {
		args := append([]string{"config", "routes", "test", "--config.file=" + file, "--verify.receivers=" + a.receiver}, a.labels...)
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Errorf("amtool config routes test %v: %v\n%s", a.labels, err, out)
		}
	}
}

// composeInstances are the processes of docker-compose.yml, by job, as
// Prometheus finds them: one instance per replica.
func composeInstances() map[string][]string {
	out := map[string][]string{}
	for j, svc := range Services {
		n := 1
		if svc.Stateless {
			n = 2
		}
		for i := range n {
			out["nuisance-"+svc.Name] = append(out["nuisance-"+svc.Name], fmt.Sprintf("10.0.%d.%d:8080", j, i+2))
		}
	}
	return out
}

// postgresDown is what alerts.yml fires in the compose deployment when
// PostgreSQL is gone for an hour at night: NuisanceNotReady on every
// process, the intake's 503s on both intake replicas (the hotline posts
// and retries), a relay with events left on every process, the hotspot
// detector's rebuild, and every stage falling behind.
func postgresDown() []map[string]string {
	var out []map[string]string
	for job, instances := range composeInstances() {
		for _, inst := range instances {
			out = append(out,
				map[string]string{"alertname": "NuisanceNotReady", "severity": "critical", "check": "postgres", "job": job, "instance": inst},
				map[string]string{"alertname": "NuisanceOutboxNotPublishing", "severity": "critical", "job": job, "instance": inst})
			switch job {
			case "nuisance-intake":
				out = append(out, map[string]string{"alertname": "NuisanceIntakeCannotStore", "severity": "critical", "status": "503", "job": job, "instance": inst})
			case "nuisance-hotspots":
				out = append(out, map[string]string{"alertname": "NuisanceHotspotEngineRebuilt", "severity": "warning", "reason": "batch", "job": job, "instance": inst})
			}
		}
	}
	for _, svc := range Services {
		for _, c := range svc.Consumers {
			if len(c.Durables) == 1 && !c.Ordered {
				out = append(out, map[string]string{"alertname": "NuisanceStageFallingBehind", "severity": "warning", "consumer": c.Durables[0]})
			}
		}
	}
	return out
}

// alertmanagerBinary finds the Alertmanager that comes with amtool
// (Debian names it prometheus-alertmanager).
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	return tool(t, "AMTOOL_REQUIRED", "--amtool", "alertmanager", "prometheus-alertmanager")
}

// notification is what a webhook receiver is sent.
type notification struct {
	Receiver    string            `json:"receiver"`
	Status      string            `json:"status"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// timeScale is how much faster than configured the test's Alertmanager
// waits: a minute of the configuration is a second of the test.
const timeScale = 60

// testAlertmanager runs Alertmanager on the deployment's configuration,
// with its waits timeScale times shorter and its webhooks sent to the
// test, and returns its address and the notifications it sent.
func testAlertmanager(t *testing.T) (url string, sent func() []notification) {
	t.Helper()
	bin := alertmanagerBinary(t)
	var mu sync.Mutex
	var got []notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook: %v", err)
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	src, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`https://[a-z.]+\.invalid`).ReplaceAllString(string(src), hook.URL)
	if cfg == string(src) {
		t.Fatal("alertmanager.yml has no placeholder webhook under .invalid to point at the test")
	}
	cfg = regexp.MustCompile(`(?m)^(\s*(?:group_wait|group_interval|repeat_interval):\s*)(\S+)`).ReplaceAllStringFunc(cfg, func(line string) string {
		i := strings.LastIndex(line, " ")
		d, err := time.ParseDuration(line[i+1:])
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return fmt.Sprintf("%s%dms", line[:i+1], (d / timeScale).Milliseconds())
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+file, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && logs.Len() > 0 {
			t.Logf("alertmanager:\n%s", logs.String())
		}
	})
	url = "http://" + addr
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("alertmanager not ready after 10 s")
		}
	}
	return url, func() []notification {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// postAlerts sends alerts to Alertmanager as Prometheus does, firing, or
// resolved when resolved is set.
func postAlerts(t *testing.T, url string, alerts []map[string]string, resolved bool) {
	t.Helper()
	type amAlert struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt,omitzero"`
	}
	var body []amAlert
	for _, a := range alerts {
		// Prometheus starts an alert when it fires; Alertmanager sends
		// one older than its group's wait at once.
		x := amAlert{Labels: a, StartsAt: time.Now()}
		if resolved {
			x.EndsAt = time.Now()
		}
		body = append(body, x)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post alerts: %s", resp.Status)
	}
}

// only returns the alerts named name.
func only(alerts []map[string]string, names ...string) []map[string]string {
	var out []map[string]string
	for _, a := range alerts {
		if slices.Contains(names, a["alertname"]) {
			out = append(out, a)
		}
	}
	return out
}

// sleepScaled sleeps for d of the configuration's time.
func sleepScaled(d time.Duration) { time.Sleep(d / timeScale) }

// A night without PostgreSQL, through a real Alertmanager on the
// deployment's configuration: the alerts of alerts.yml fire in the order
// they do (the intake's 503s and the detector's rebuild first, every
// process's NuisanceNotReady about 2m40s later, the relays and the stages
// behind after it), and the operator is paged once, for PostgreSQL, with
// every process in the one notification; the stages behind, which no
// process's outage can be told to explain, are one ticket. PostgreSQL
// back, the alerts end in the order they do, and the page is resolved in
// one notification.
func TestAlertmanagerPostgresOutagePagesOnce(t *testing.T) {
	t.Parallel()
	url, sent := testAlertmanager(t)
	scenario := postgresDown()
	first := only(scenario, "NuisanceIntakeCannotStore", "NuisanceHotspotEngineRebuilt")
	notReady := only(scenario, "NuisanceNotReady")
	after := only(scenario, "NuisanceOutboxNotPublishing", "NuisanceStageFallingBehind")
	if len(first)+len(notReady)+len(after) != len(scenario) {
		t.Fatal("the scenario has alerts the test does not send")
	}
	postAlerts(t, url, first, false)
	sleepScaled(160 * time.Second)
	postAlerts(t, url, notReady, false)
	sleepScaled(2 * time.Minute)
	postAlerts(t, url, after, false)
	// Past every group's wait (5m for warnings), and short of a second
	// group_interval of the first group.
	sleepScaled(7 * time.Minute)

	var pages, tickets []notification
	for _, n := range sent() {
		switch n.Receiver {
		case "oncall-pager":
			pages = append(pages, n)
		case "oncall-ticket":
			tickets = append(tickets, n)
		default:
			t.Errorf("notification to %q", n.Receiver)
		}
	}
	t.Logf("%d alerts fired: %d pages, %d tickets", len(scenario), len(pages), len(tickets))
	if len(pages) != 1 {
		for _, p := range pages {
			t.Logf("page: %v, %d alerts", p.GroupLabels, len(p.Alerts))
		}
		t.Fatalf("%d pages for one PostgreSQL outage, want 1", len(pages))
	}
	if p := pages[0]; p.GroupLabels["alertname"] != "NuisanceNotReady" || p.GroupLabels["check"] != "postgres" || len(p.Alerts) != len(notReady) {
		t.Errorf("page %v with %d alerts, want NuisanceNotReady for postgres with every process's %d", p.GroupLabels, len(p.Alerts), len(notReady))
	}
	if len(tickets) != 1 || tickets[0].GroupLabels["alertname"] != "NuisanceStageFallingBehind" {
		t.Errorf("tickets %+v, want one, of the stages falling behind", tickets)
	}

	// PostgreSQL back: the relays publish, the intake's 503s end 5
	// minutes later (their window), NuisanceNotReady 10 (its
	// keep_firing_for).
	postAlerts(t, url, append(after, only(scenario, "NuisanceHotspotEngineRebuilt")...), true)
	sleepScaled(5 * time.Minute)
	postAlerts(t, url, only(scenario, "NuisanceIntakeCannotStore"), true)
	sleepScaled(5 * time.Minute)
	postAlerts(t, url, notReady, true)
	sleepScaled(6 * time.Minute)
	var resolved int
	for _, n := range sent()[len(pages)+len(tickets):] {
		if n.Receiver == "oncall-pager" {
			resolved++
			if n.Status != "resolved" || n.GroupLabels["alertname"] != "NuisanceNotReady" {
				t.Errorf("after the outage: %s page of %v", n.Status, n.GroupLabels)
			}
		}
	}
	if resolved != 1 {
		t.Errorf("%d pages after the outage, want 1 telling it resolved", resolved)
	}
}

// One intake replica loses PostgreSQL (its host's network) while the
// other's commits are refused with PostgreSQL answering its pings (a
// standby promoted read-only, a full disk): the second replica's 503s
// name a cause no NuisanceNotReady explains, and page.
func TestAlertmanagerMutesOnlyTheProcessNotReady(t *testing.T) {
	t.Parallel()
	url, sent := testAlertmanager(t)
	intake := composeInstances()["nuisance-intake"]
	cut := map[string]string{"alertname": "NuisanceNotReady", "severity": "critical", "check": "postgres", "job": "nuisance-intake", "instance": intake[0]}
	var cannotStore []map[string]string
	for _, inst := range intake {
		cannotStore = append(cannotStore, map[string]string{"alertname": "NuisanceIntakeCannotStore", "severity": "critical", "status": "503", "job": "nuisance-intake", "instance": inst})
	}
	postAlerts(t, url, cannotStore, false)
	sleepScaled(160 * time.Second)
	postAlerts(t, url, []map[string]string{cut}, false)
	sleepScaled(4 * time.Minute)

	var stores []notification
	for _, n := range sent() {
		if n.GroupLabels["alertname"] == "NuisanceIntakeCannotStore" {
			stores = append(stores, n)
		}
	}
	if len(stores) != 1 || len(stores[0].Alerts) != 1 || stores[0].Alerts[0].Labels["instance"] != intake[1] {
		t.Fatalf("pages of the intake's 503s: %+v, want one, of %s only", stores, intake[1])
	}
}

// Compose's Prometheus sends its alerts to compose's Alertmanager, which
// runs on deploy/alertmanager with a volume for its silences and
// notification log (without it, a restart pages again for every group),
// and is the release amtool checks its configuration with.
func TestComposeAlertmanagerReceivesTheAlerts(t *testing.T) {
	t.Parallel()
	doc := composeFile(t)
	am := path(doc, "services", "alertmanager")
	if am == nil {
		t.Fatal("no alertmanager service in docker-compose.yml")
	}
	vols := strs(path(am, "volumes"))
	if !slices.Contains(vols, "./deploy/alertmanager:/etc/alertmanager:ro") {
		t.Errorf("the alertmanager service does not mount deploy/alertmanager: %v", vols)
	}
	cmd := strs(path(am, "command"))
	if !slices.Contains(cmd, "--config.file=/etc/alertmanager/alertmanager.yml") {
		t.Errorf("the alertmanager service runs %v, not on alertmanager.yml", cmd)
	}
	storage := ""
	for _, a := range cmd {
		if s, ok := strings.CutPrefix(a, "--storage.path="); ok {
			storage = s
		}
	}
	if storage == "" || !slices.ContainsFunc(vols, func(v string) bool { return strings.HasSuffix(v, ":"+storage) && !strings.HasPrefix(v, ".") }) {
		t.Errorf("the alertmanager's storage %q is not on a volume: %v", storage, vols)
	}
	script, err := os.ReadFile("../scripts/install-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^AMTOOL_MODULE_VERSION=(\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("install-deps.sh pins no AMTOOL_MODULE_VERSION")
	}
	if img := str(path(am, "image")); img != "prom/alertmanager:"+string(m[1]) {
		t.Errorf("the alertmanager service runs %s, want prom/alertmanager:%s, the release amtool checks", img, m[1])
	}

	b, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, a := range cfg.Alerting.Alertmanagers {
		for _, s := range a.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	if !slices.Equal(targets, []string{"alertmanager:9093"}) {
		t.Errorf("prometheus.yml sends its alerts to %v, want compose's alertmanager:9093", targets)
	}
}

// A night without NATS: every process fails its nats and its jetstream
// check, and every relay then stops publishing. The operator is paged
// once, for NATS.
func TestAlertmanagerNATSOutagePagesOnce(t *testing.T) {
	t.Parallel()
	url, sent := testAlertmanager(t)
	var notReady, relays []map[string]string
	for job, instances := range composeInstances() {
		for _, inst := range instances {
			for _, check := range []string{"nats", "jetstream"} {
				notReady = append(notReady, map[string]string{"alertname": "NuisanceNotReady", "severity": "critical", "check": check, "job": job, "instance": inst})
			}
			relays = append(relays, map[string]string{"alertname": "NuisanceOutboxNotPublishing", "severity": "critical", "job": job, "instance": inst})
		}
	}
	postAlerts(t, url, notReady, false)
	sleepScaled(2 * time.Minute)
	postAlerts(t, url, relays, false)
	sleepScaled(4 * time.Minute)

	pages := sent()
	if len(pages) != 1 {
		for _, p := range pages {
			t.Logf("page: %v, %d alerts", p.GroupLabels, len(p.Alerts))
		}
		t.Fatalf("%d pages for one NATS outage, want 1", len(pages))
	}
	// One relay per process.
	if p := pages[0]; p.GroupLabels["alertname"] != "NuisanceNotReady" || p.GroupLabels["check"] != "nats" || len(p.Alerts) != len(relays) {
		t.Errorf("page %v with %d alerts, want NuisanceNotReady for nats of all %d processes", p.GroupLabels, len(p.Alerts), len(relays))
	}
}

// December to January on a router whose calendar lacks the coming year,
// through a real Alertmanager: the calendar's warning (since mid-November)
// and then its page tell the cause; the deadlines set past the calendar,
// which follow from it, page neither in December nor at midnight when
// the warning hands over to the page. Another router, whose calendar
// holds the year, still pages for deadlines outside it.
func TestAlertmanagerCalendarMutesDeadlinesWithoutHolidays(t *testing.T) {
	t.Parallel()
	url, sent := testAlertmanager(t)
	router := func(name, severity, instance string) map[string]string {
		return map[string]string{"alertname": name, "severity": severity, "job": "nuisance-router", "instance": instance}
	}
	ending := router("NuisanceCalendarEnding", "warning", "r1")
	missing := router("NuisanceCalendarYearMissing", "critical", "r1")
	outside := router("NuisanceDeadlinesWithoutHolidays", "critical", "r1")
	postAlerts(t, url, []map[string]string{ending}, false)
	sleepScaled(time.Minute)
	postAlerts(t, url, []map[string]string{outside}, false)
	// Past the warnings' wait (5m) and the pages' (1m).
	sleepScaled(6 * time.Minute)
	var december []string
	for _, n := range sent() {
		december = append(december, n.Receiver+" "+n.GroupLabels["alertname"])
	}
	if !slices.Equal(december, []string{"oncall-ticket NuisanceCalendarEnding"}) {
		t.Fatalf("December: notifications %v, want one ticket of NuisanceCalendarEnding", december)
	}

	// 1 January: the page starts 5 minutes after the end, the warning
	// ends 15 minutes after it (keep_firing_for).
	postAlerts(t, url, []map[string]string{missing}, false)
	sleepScaled(10 * time.Minute)
	postAlerts(t, url, []map[string]string{ending}, true)
	// The second router's calendar holds the year; a deadline outside it
	// (a complaint dated before the calendar's first year) pages.
	postAlerts(t, url, []map[string]string{router("NuisanceDeadlinesWithoutHolidays", "critical", "r2")}, false)
	sleepScaled(6 * time.Minute)
	var pages []string
	for _, n := range sent()[1:] {
		if n.Receiver != "oncall-pager" {
			continue
		}
		for _, a := range n.Alerts {
			pages = append(pages, a.Labels["alertname"]+" "+a.Labels["instance"])
		}
	}
	slices.Sort(pages)
	pages = slices.Compact(pages)
	if want := []string{"NuisanceCalendarYearMissing r1", "NuisanceDeadlinesWithoutHolidays r2"}; !slices.Equal(pages, want) {
		t.Errorf("January: pages of %v, want %v", pages, want)
	}
}
