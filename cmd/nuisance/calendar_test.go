package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `nuisance calendar` lists the holidays deadlines follow, with those of
// an operator's file added (from NUISANCE_CALENDAR or the argument), and
// refuses, naming the problem, a file the router would refuse.
func TestCalendarShowsAndChecksAnAddedYear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "2027.json")
	// Made-up days off: the test needs a year, not the real announcement.
	// 中秋 and 国庆 as one entry make six.
	if err := os.WriteFile(good, []byte(`{"years": [{"year": 2027, "holidays": [
		{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03", "work": ["2027-01-09"]},
		{"name": "春节", "from": "2027-02-05", "to": "2027-02-12"},
		{"name": "清明节", "from": "2027-04-05", "to": "2027-04-05"},
		{"name": "劳动节", "from": "2027-05-01", "to": "2027-05-05"},
		{"name": "端午节", "from": "2027-06-09", "to": "2027-06-09"},
		{"name": "中秋节、国庆节", "from": "2027-10-01", "to": "2027-10-08"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file not filled in: 2027 with 元旦 alone.
	partial := filepath.Join(dir, "2027-partial.json")
	if err := os.WriteFile(partial, []byte(`{"years": [{"year": 2027, "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03", "work": ["2027-01-09"]}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	gap := filepath.Join(dir, "2028.json")
	if err := os.WriteFile(gap, []byte(`{"years": [{"year": 2028, "holidays": [{"name": "元旦", "from": "2028-01-01", "to": "2028-01-01"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"calendar"}, getenv, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2026  春节") && !strings.Contains(out.String(), "2026-02-15 – 2026-02-23") {
		t.Errorf("the built-in Spring Festival 2026 is not listed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "built-in: 2024 to 2026") {
		t.Errorf("no coverage line:\n%s", out.String())
	}

	env["NUISANCE_CALENDAR"] = good
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"calendar"}, getenv, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2027-01-01 – 2027-01-03") || !strings.Contains(out.String(), "2027-01-09") ||
		!strings.Contains(out.String(), "2024 to 2027") {
		t.Errorf("the file's year is not listed:\n%s", out.String())
	}
	if strings.Contains(errOut.String(), "lists") {
		t.Errorf("a whole year warned of: %q", errOut.String())
	}

	// A year with one holiday is a file not filled in, which the router
	// would load as a known year with 春节 worked: refused, naming the
	// year and what it lacks, unless -partial; the built-in years, whole,
	// are not named.
	out.Reset()
	errOut.Reset()
	err := run(context.Background(), []string{"calendar", partial}, getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "2027 lists 1 holidays (missing 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节)") ||
		!strings.Contains(err.Error(), "-partial") || strings.Contains(err.Error(), "2026") {
		t.Errorf("a year with one holiday: %v, want it refused, naming 2027 and its missing holidays", err)
	}
	errOut.Reset()
	if err := run(context.Background(), []string{"calendar", "-partial", partial}, getenv, &out, &errOut); err != nil {
		t.Errorf("calendar -partial: %v", err)
	}
	if !strings.Contains(errOut.String(), "warning: 2027 lists 1 holidays") || strings.Contains(errOut.String(), "2026 lists") {
		t.Errorf("calendar -partial: warnings %q, want one about 2027 only", errOut.String())
	}

	out.Reset()
	err = run(context.Background(), []string{"calendar", gap}, getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "year 2027 missing") || !strings.Contains(err.Error(), gap) {
		t.Errorf("a file leaving a gap: %v, want an error naming the file and the missing year", err)
	}
	if err := run(context.Background(), []string{"calendar", good, gap}, getenv, &out, &errOut); err == nil {
		t.Error("two files accepted")
	}
	out.Reset()
	if err := run(context.Background(), []string{"calendar", "help"}, getenv, &out, &errOut); err != nil || !strings.Contains(out.String(), "usage: nuisance calendar") {
		t.Errorf("calendar help: %v\n%s", err, out.String())
	}
}
