package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

// nuisance report follows the plans of NUISANCE_PRIORITY, and refuses a
// file it cannot use, naming the problem.
func TestReportCLIFollowsTheOperatorsPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	plan := `{"plans": [{"year": 2026, "source": "2026 年点题整治计划",
	  "district_rules": [{"category": "noise", "subcategories": ["construction"], "districts": ["haicang"], "reason": "priority district for construction noise"}]}]}`
	if err := os.WriteFile(good, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.Replace(plan, `"construction"]`, `"piling"]`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": pgtest.DSN(t), "NUISANCE_DATA_DIR": t.TempDir()}
	cli := func(file string) (string, error) {
		env := map[string]string{"NUISANCE_PRIORITY": file, "DATABASE_URL": env["DATABASE_URL"], "NUISANCE_DATA_DIR": env["NUISANCE_DATA_DIR"]}
		var out, errOut bytes.Buffer
		err := runReport(ctx, []string{"--week", "2026-W11", "--format", "json"}, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), err
	}
	out, err := cli(good)
	if err != nil || !strings.Contains(out, `"year": 2026`) || !strings.Contains(out, `"district_names": [`+"\n"+`          "海沧区"`) {
		t.Errorf("report with the operator's 2026 plan: %v\n%.600s", err, out)
	}
	out, err = cli("")
	if err != nil || !strings.Contains(out, `"year": 2024,`+"\n"+`    "for_year": 2026,`+"\n"+`    "latest": true`) {
		t.Errorf("report with the built-in plans: %v\n%.600s", err, out)
	}
	if _, err := cli(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "plan 2026") || !strings.Contains(err.Error(), `"piling"`) {
		t.Errorf("a bad file: got %v, want an error naming the file, the plan and the subcategory", err)
	}
}

// nuisance priority lists the plans, the built-in and the operator's,
// says which plan this year's complaints follow, and refuses a file the
// geocoder would refuse, naming the problem.
func TestPriorityCLIListsThePlans(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	year := time.Now().In(shanghai).Year()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	plan := fmt.Sprintf(`{"plans": [{"year": %d, "source": "%d 年点题整治计划",
	  "district_rules": [{"category": "noise", "subcategories": ["construction"], "districts": ["haicang"], "reason": "priority district for construction noise"}]}]}`, year, year)
	if err := os.WriteFile(good, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.Replace(plan, `"haicang"`, `"gulangyu"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"priority"}, args...), func(string) string { return "" }, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	out, warn, err := cli()
	if err != nil || !strings.Contains(out, "2024  建筑施工噪声、社会生活噪声  思明区、湖里区、集美区") || !strings.Contains(out, "2024  施工扬尘、道路扬尘") {
		t.Errorf("the built-in plans: %v\n%s", err, out)
	}
	if year > 2024 && (!strings.Contains(out, fmt.Sprintf("%d follows the 2024 plan, the latest", year)) || !strings.Contains(warn, "NUISANCE_PRIORITY")) {
		t.Errorf("this year without a plan of its own is not said to follow the latest:\n%s\n%s", out, warn)
	}
	out, warn, err = cli(good)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d  建筑施工噪声", year)) || !strings.Contains(out, "海沧区") ||
		!strings.Contains(out, fmt.Sprintf("%d follows its own plan", year)) || warn != "" {
		t.Errorf("with the operator's plan of %d: %v\n%s\n%s", year, err, out, warn)
	}
	if _, _, err := cli(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"gulangyu"`) {
		t.Errorf("a bad file: got %v, want an error naming the file and the district", err)
	}
}
