package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

const e2eSecret = "whsec_ZTJlLXRlc3Qtc2VjcmV0LWZvci10aGUtaW50YWtl"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary compiles the nuisance command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nuisance-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "nuisance")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	cmd *exec.Cmd
	log *os.File
}

func startUp(t *testing.T, bin, dsn, dataDir, addr string) *proc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dataDir, "up.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "up")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "NUISANCE_DATA_DIR="+dataDir, "NUISANCE_HTTP_ADDR="+addr,
		"HOTLINE_SECRET="+e2eSecret, "LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logf}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	testenv.Eventually(t, 60*time.Second, "nuisance up ready", func() bool {
		r, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	return p
}

// TestKill9KeepsEveryAcknowledgedComplaint runs `nuisance up` as a
// process, posts a burst, kills it with -9 in the middle, restarts it and
// finds every acknowledged complaint exactly once.
func TestKill9KeepsEveryAcknowledgedComplaint(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dsn := pgtest.DSN(t)
	dataDir := t.TempDir()
	addr := testenv.FreeAddr(t)
	p := startUp(t, bin, dsn, dataDir, addr)

	client, err := hotline.New("http://"+addr, e2eSecret)
	if err != nil {
		t.Fatal(err)
	}
	client.HTTP.Timeout = 5 * time.Second
	var (
		mu    sync.Mutex
		acked = map[string]string{} // ticket -> complaint id
		sent  atomic.Int64
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ticket := fmt.Sprintf("K9-%02d-%05d", w, i)
				body := fmt.Appendf(nil, `{"ticket_id":%q,"received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间施工噪声","address":"湖里区金山街道"}`, ticket)
				resp, err := client.Post(ctx, "m-"+ticket, body)
				sent.Add(1)
				if err != nil || (resp.Status != 202 && resp.Status != 200) {
					continue
				}
				var a intake.Answer
				if resp.Decode(&a) == nil {
					mu.Lock()
					acked[ticket] = a.ComplaintID
					mu.Unlock()
				}
			}
		}()
	}
	testenv.Eventually(t, 30*time.Second, "a burst in flight", func() bool { return sent.Load() > 300 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}

	startUp(t, bin, dsn, dataDir, addr)
	pool := pgtest.Pool(t, dsn)
	for ticket, id := range acked {
		var n int
		var got string
		if err := pool.QueryRow(context.Background(), `SELECT count(*), max(id) FROM complaints WHERE ticket_id = $1`, ticket).Scan(&n, &got); err != nil {
			t.Fatal(err)
		}
		if n != 1 || got != id {
			t.Fatalf("acknowledged ticket %s stored %d times (id %q, answered %q)", ticket, n, got, id)
		}
	}
	// Every stored complaint has its event, and the restarted relay sends it.
	testenv.Eventually(t, 30*time.Second, "every complaint.received event published", func() bool {
		var unsent, missing int
		_ = pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE o.sent_at IS NULL), count(*) FILTER (WHERE o.event_id IS NULL)
			FROM complaints c LEFT JOIN outbox o ON o.event_id = c.id || '.received'`).Scan(&unsent, &missing)
		return unsent == 0 && missing == 0
	})
	t.Logf("%d acknowledged before kill -9 of %d sent; all found exactly once", len(acked), sent.Load())
}
