package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/officers"
)

var tokenRE = regexp.MustCompile(`nso_[A-Za-z0-9_-]{43}`)

// TestOfficersCLI creates a token, lists officers without it, and checks
// against the API that disable and rotate take effect.
func TestOfficersCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	env := map[string]string{"DATABASE_URL": dsn, "NUISANCE_DATA_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runOfficers(ctx, args, getenv, &out, &errOut)
		return out.String(), errOut.String(), err
	}

	out, msg, err := cli("add", "--team", "siming-eco", "--name", "陈警官")
	if err != nil {
		t.Fatalf("add: %v (%s)", err, msg)
	}
	token := strings.TrimSpace(out)
	if !tokenRE.MatchString(token) || tokenRE.MatchString(msg) {
		t.Fatalf("add printed %q on stdout and %q on stderr: want the token once, on stdout", out, msg)
	}
	id := regexp.MustCompile(`off_[a-z2-7]+`).FindString(msg)
	if id == "" {
		t.Fatalf("add did not name the officer: %s", msg)
	}

	for _, bad := range [][]string{
		{"add", "--team", "gulangyu-eco", "--name", "x"},
		{"add", "--name", "x"},
		{"add", "--team", "siming-eco"},
		{"add", "--role", "supervisor", "--name", "x"},
		{"disable"},
		{"rotate", "a", "b"},
		{"promote", id},
	} {
		if out, _, err := cli(bad...); err == nil || tokenRE.MatchString(out) {
			t.Errorf("%v: accepted (%q)", bad, out)
		}
	}
	if out, msg, err := cli("add", "--role", "supervisor", "--district", "huli", "--name", "黄督导"); err != nil || !tokenRE.MatchString(out) {
		t.Fatalf("add supervisor: %v %s", err, msg)
	}

	pool, err := pgstore.Open(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var hash []byte
	if err := pool.QueryRow(ctx, `SELECT token_hash FROM officers WHERE id = $1`, id).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, auth.HashToken(token)) {
		t.Fatal("the stored hash is not the printed token's")
	}

	for _, args := range [][]string{{"list"}, {"list", "--json"}} {
		out, _, err := cli(args...)
		if err != nil {
			t.Fatal(err)
		}
		if tokenRE.MatchString(out) || !strings.Contains(out, id) || !strings.Contains(out, "siming-eco") || !strings.Contains(out, "黄督导") {
			t.Fatalf("%v:\n%s", args, out)
		}
		if strings.Contains(out, "token") || strings.Contains(out, "hash") {
			t.Fatalf("%v shows a token field:\n%s", args, out)
		}
	}

	// The columns line up on a terminal, where a Chinese name is twice
	// as wide as its characters: the creation time starts in one column.
	if _, msg, err := cli("add", "--team", "huli-eco", "--name", "Li Lei"); err != nil {
		t.Fatalf("add: %v (%s)", err, msg)
	}
	out, _, err = cli("list")
	if err != nil {
		t.Fatal(err)
	}
	created := regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}`)
	col := -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		at := created.FindStringIndex(line)
		if at == nil {
			t.Fatalf("list line without a creation time: %q", line)
		}
		w := runewidth.StringWidth(line[:at[0]])
		if col >= 0 && w != col {
			t.Fatalf("list columns out of line (creation time at %d and %d on a terminal):\n%s", col, w, out)
		}
		col = w
	}

	cfg := officers.DefaultConfig()
	cfg.TokenCacheTTL = 0
	svc, err := officers.New(cfg, pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	me := func(tok string) int {
		req, err := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			var p auth.Principal
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.ID != id || p.Team != "siming-eco" {
				t.Fatalf("me = %+v, %v", p, err)
			}
		}
		return resp.StatusCode
	}
	if code := me(token); code != 200 {
		t.Fatalf("new token: %d", code)
	}

	out, _, err = cli("rotate", id)
	if err != nil {
		t.Fatal(err)
	}
	rotated := strings.TrimSpace(out)
	if !tokenRE.MatchString(rotated) || rotated == token {
		t.Fatalf("rotate printed %q", out)
	}
	if code := me(token); code != 401 {
		t.Fatalf("old token after rotate: %d", code)
	}
	if code := me(rotated); code != 200 {
		t.Fatalf("rotated token: %d", code)
	}

	if _, _, err := cli("disable", id); err != nil {
		t.Fatal(err)
	}
	if code := me(rotated); code != 401 {
		t.Fatalf("disabled token: %d", code)
	}
	if _, _, err := cli("rotate", id); err == nil {
		t.Fatal("rotating a disabled officer succeeded")
	}
	if _, _, err := cli("disable", "off_nobody"); err == nil {
		t.Fatal("disabling an unknown officer succeeded")
	}
	out, _, err = cli("list")
	if err != nil || !strings.Contains(out, "disabled") {
		t.Fatalf("list after disable: %v\n%s", err, out)
	}
}
