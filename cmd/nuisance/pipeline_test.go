package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// hotlineReceiver is the hotline's end of the callbacks: it checks every
// signature and records what each ticket was told.
type hotlineReceiver struct {
	mu       sync.Mutex
	statuses map[string][]string
	bad      int
	hook     *standardwebhooks.Webhook
}

func (h *hotlineReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.hook.Verify(body, r.Header); err != nil {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var cb struct {
		TicketID string `json:"ticket_id"`
		Status   string `json:"status"`
	}
	_ = json.Unmarshal(body, &cb)
	h.statuses[cb.TicketID] = append(h.statuses[cb.TicketID], cb.Status)
	w.WriteHeader(http.StatusNoContent)
}

// upProcess is `nuisance up` run as a process on a database of its own,
// calling back an httptest hotline (rcv), ready to take work orders.
type upProcess struct {
	dsn, dataDir, addr string
	rcv                *hotlineReceiver
	exited             chan struct{} // closed when the process has ended, with its error in exitErr
	exitErr            error
}

// upWithHotline starts `nuisance up` with LOG_LEVEL logLevel and waits until it
// is ready; it is killed when the test ends.
func upWithHotline(t *testing.T, logLevel string) *upProcess {
	t.Helper()
	bin := buildBinary(t)
	u := &upProcess{dsn: pgtest.DSN(t), dataDir: t.TempDir(), addr: testenv.FreeAddr(t), exited: make(chan struct{})}
	hook, err := standardwebhooks.NewWebhook(e2eSecret)
	if err != nil {
		t.Fatal(err)
	}
	u.rcv = &hotlineReceiver{statuses: map[string][]string{}, hook: hook}
	hl := httptest.NewServer(u.rcv)
	t.Cleanup(hl.Close)
	logf, err := os.Create(filepath.Join(u.dataDir, "up.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+u.dsn, "NUISANCE_DATA_DIR="+u.dataDir, "NUISANCE_HTTP_ADDR="+u.addr,
		"HOTLINE_SECRET="+e2eSecret, "HOTLINE_CALLBACK_URL="+hl.URL, "LOG_LEVEL="+logLevel)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.exitErr = cmd.Wait(); close(u.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-u.exited; logf.Close() })
	testenv.Eventually(t, 60*time.Second, "nuisance up ready", func() bool {
		r, err := http.Get("http://" + u.addr + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	return u
}

// TestPipelineCarriesComplaintsToAssignedCases runs `nuisance up` as a
// process, replays a simulated day through the signed intake, and checks
// the invariants of the whole pipeline by querying it.
func TestPipelineCarriesComplaintsToAssignedCases(t *testing.T) {
	t.Parallel()
	up := upWithHotline(t, "info")
	dsn, dataDir, addr, rcv, exited := up.dsn, up.dataDir, up.addr, up.rcv, up.exited

	feed, err := simulate.Generate(simulate.Config{Seed: 11, Start: simulate.DefaultStart, Days: 2, Count: 400})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := feed.WriteNDJSON(&buf); err != nil {
		t.Fatal(err)
	}
	client, err := hotline.New("http://"+addr, e2eSecret)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := client.Replay(context.Background(), &buf, hotline.ReplayOptions{Concurrency: 16})
	if err != nil || sum.Accepted != 400 {
		t.Fatalf("replay: %s (%v)", sum, err)
	}

	pool := pgtest.Pool(t, dsn)
	ctx := context.Background()
	count := func(sql string) int {
		var n int
		if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const pending = `SELECT count(*) FROM complaint_lookup WHERE status NOT IN ('assigned', 'unlocated')`
	deadline := time.Now().Add(120 * time.Second)
	for count(pending) != 0 {
		select {
		case <-exited:
			t.Fatalf("nuisance up exited (%v) with complaints by status %s\nlog tail:\n%s", up.exitErr, statusCounts(pool), logTail(filepath.Join(dataDir, "up.log"), 80))
		default:
		}
		if time.Now().After(deadline) {
			// Failed. What the system looks like now, and then whether it
			// recovers by itself (the sweeper republishes what a stage has
			// not handled within 2 minutes), say where it stalled.
			stalled := fmt.Sprintf("complaints by status: %s\ndead letters: %s\nmetrics:\n%s",
				statusCounts(pool), deadLetters(pool), metrics("http://"+addr+"/metrics"))
			recovered := "not within 3 more minutes"
			for wait := time.Now(); time.Since(wait) < 3*time.Minute; time.Sleep(time.Second) {
				if count(pending) == 0 {
					recovered = fmt.Sprintf("after %s more", time.Since(wait).Round(time.Second))
					break
				}
			}
			t.Fatalf("after 2m, complaints not yet assigned or in triage; recovered %s.\nAt 2m: %s\nNow: complaints by status: %s\nmetrics:\n%s\nlog tail:\n%s",
				recovered, stalled, statusCounts(pool), metrics("http://"+addr+"/metrics"), logTail(filepath.Join(dataDir, "up.log"), 80))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := count(`SELECT count(*) FROM complaint_lookup WHERE status = 'assigned'`); n < 380 {
		t.Fatalf("only %d of 400 complaints assigned", n)
	}
	// Every located complaint is in exactly one case.
	if n := count(`SELECT count(*) FROM locations l LEFT JOIN case_complaints cc ON cc.complaint_id = l.complaint_id
		WHERE l.located AND l.category IS NOT NULL AND cc.case_id IS NULL`); n != 0 {
		t.Fatalf("%d located complaints in no case", n)
	}
	// No case has more than one active assignment, and every assigned case has one.
	if n := count(`SELECT count(*) FROM (SELECT case_id FROM assignments WHERE status = 'active' GROUP BY case_id HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d cases with several active assignments", n)
	}
	if n := count(`SELECT count(*) FROM cases k WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = k.id AND a.status = 'active')`); n != 0 {
		t.Fatalf("%d cases without an active assignment", n)
	}
	// Repeat complaints at one place were merged: fewer cases than complaints.
	cases, assigned := count(`SELECT count(*) FROM cases`), count(`SELECT count(*) FROM case_complaints`)
	if cases >= assigned {
		t.Fatalf("%d cases for %d complaints: nothing merged", cases, assigned)
	}
	if count(`SELECT count(*) FROM hotspots`) == 0 {
		t.Fatal("no hotspot detected in a feed with planted repeat complaints")
	}
	// Every assigned ticket was told, with a valid signature.
	testenv.Eventually(t, 60*time.Second, "a callback for every assigned ticket", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.statuses) >= assigned
	})
	if rcv.bad != 0 {
		t.Fatalf("%d callbacks with a bad signature", rcv.bad)
	}
	// nuisance status asks as the hotline does, signed.
	var ticket, caseID string
	if err := pool.QueryRow(context.Background(), `SELECT m.ticket_id, cc.case_id FROM case_complaints cc JOIN complaints m ON m.id = cc.complaint_id LIMIT 1`).Scan(&ticket, &caseID); err != nil {
		t.Fatal(err)
	}
	statusEnv := map[string]string{"HOTLINE_SECRET": e2eSecret, "NUISANCE_HTTP_ADDR": addr, "NUISANCE_DATA_DIR": dataDir}
	var sout, serr bytes.Buffer
	if err := run(context.Background(), []string{"status", ticket}, func(k string) string { return statusEnv[k] }, &sout, &serr); err != nil ||
		!strings.Contains(sout.String(), `"status": "assigned"`) || !strings.Contains(sout.String(), caseID) {
		t.Errorf("nuisance status %s: %v %s %s", ticket, err, sout.String(), serr.String())
	}
	if err := run(context.Background(), []string{"status", "no-such-ticket"}, func(k string) string { return statusEnv[k] }, &sout, &serr); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("nuisance status of an unknown ticket: %v", err)
	}
	// A ticket whose raw path holds /../ is looked up as sent: never
	// cleaned into (or redirected to) the ticket after it.
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+hotline.ComplaintsPath+"/XM/../"+ticket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Sign(req, "msg_dot_lookup", nil); err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("look-up of XM/../%s: %d (Location %q), want 404: no such ticket", ticket, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if n := count(`SELECT count(*) FROM dead_letters`); n != 0 {
		t.Fatalf("%d dead letters for valid input", n)
	}
	// No caller's phone in the logs.
	logs, _ := os.ReadFile(filepath.Join(dataDir, "up.log"))
	for _, c := range feed.Complaints {
		if c.Caller != nil && c.Caller.Phone != "" && bytes.Contains(logs, []byte(c.Caller.Phone)) {
			t.Fatalf("a caller's phone appears in the logs")
		}
	}
	t.Logf("400 complaints: %d assigned in %d cases, %d hotspots, %d tickets called back", assigned, cases, count(`SELECT count(*) FROM hotspots`), len(rcv.statuses))
}

// statusCounts is the complaints by their lookup status, for a failure's
// message.
func statusCounts(pool *pgxpool.Pool) string {
	return counts(pool, `SELECT status, count(*) FROM complaint_lookup GROUP BY status ORDER BY status`)
}

// deadLetters is the dead letters by consumer and reason, for a failure's
// message.
func deadLetters(pool *pgxpool.Pool) string {
	return counts(pool, `SELECT consumer || ': ' || left(reason, 300), count(*) FROM dead_letters GROUP BY 1 ORDER BY 1`)
}

// counts runs a query of (label, count) rows and prints them on a line.
func counts(pool *pgxpool.Pool, query string) string {
	rows, err := pool.Query(context.Background(), query)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "%s=%d ", s, n)
	}
	return b.String()
}

// logTail is the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// metrics is the process's own metrics (nuisance_*), for a failure's
// message.
func metrics(url string) string {
	r, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "nuisance_") && !strings.Contains(l, "_bucket{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
