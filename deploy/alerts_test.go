package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// alertRules is the part of a Prometheus rule file the operator's alerts
// use.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// registered is every metric name the project's code registers.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	name := regexp.MustCompile(`Name:\s+"(nuisance_[a-z_]+)"`)
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "var" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range name.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The alerting rules parse as Prometheus would parse them, name only
// metrics the code registers (with their histogram and counter suffixes),
// each tell the operator what to do, and cover what README.md tells the
// operator to watch.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf alertRules
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	metrics := registered(t)
	if len(metrics) < 10 {
		t.Fatalf("found only %d registered metrics: the scan is broken", len(metrics))
	}
	used := map[string]bool{}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("rule %q: empty or repeated alert name", r.Alert)
			}
			seen[r.Alert] = true
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok || !strings.HasPrefix(vs.Name, "nuisance_") {
					return nil
				}
				used[vs.Name] = true
				base := vs.Name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if !metrics[vs.Name] && !metrics[base] {
					t.Errorf("%s: %s is not a metric the code registers", r.Alert, vs.Name)
				}
				return nil
			})
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description of what to do", r.Alert)
			}
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	watched := regexp.MustCompile("`(nuisance_[a-z_]+)").FindAllStringSubmatch(string(readme), -1)
	if len(watched) == 0 {
		t.Fatal("README.md names no metric to watch")
	}
	for _, m := range watched {
		// Counts of what an operator asked for or a job did, shown
		// for the record: nothing to alert on.
		informational := []string{"nuisance_dead_letters_retried_total", "nuisance_retention_removed_total", "nuisance_retention_pii_erased_total",
			"nuisance_retention_dead_letters_erased_total", "nuisance_retention_dlq_deleted_total", "nuisance_triage_waiting",
			// The gateway's traffic, whose failures its errors and failovers tell.
			"nuisance_gateway_requests_total", "nuisance_gateway_response_header_seconds", "nuisance_gateway_streams_open"}
		if !used[m[1]] && !slices.Contains(informational, m[1]) {
			t.Errorf("README.md tells the operator to watch %s, and no alert does", m[1])
		}
	}
}

// TestAlertRulesFireOnFirstEvent runs the rule unit tests of
// prometheus/alerts_test.yml with promtool (Debian's prometheus package):
// each alert on a labelled counter fires at its first event, when the
// series is born with the value 1 and increase() alone sees no increase.
func TestAlertRulesFireOnFirstEvent(t *testing.T) {
	tool := promtool(t)
	out, err := exec.Command(tool, "test", "rules", "prometheus/alerts_test.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// promtool finds Prometheus's promtool (Debian's prometheus package), which
// `make test` installs and requires (PROMTOOL_REQUIRED); elsewhere the test
// is skipped without it.
func promtool(t *testing.T) string {
	t.Helper()
	return tool(t, "PROMTOOL_REQUIRED", "--promtool", "promtool")
}

// tool finds the first of names on PATH, which scripts/install-deps.sh
// installs with flag: without it the test fails where the variable
// required is set (make test), and is skipped elsewhere.
func tool(t *testing.T, required, flag string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(required) != "" {
		t.Fatalf("%s not installed: scripts/install-deps.sh %s", names[0], flag)
	}
	t.Skipf("%s not installed (scripts/install-deps.sh %s)", names[0], flag)
	return ""
}
