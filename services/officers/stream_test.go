package officers

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// sse is one received Server-Sent Event.
type sse struct {
	id, event string
	data      StreamEvent
}

// stream is an open /api/v1/stream connection.
type stream struct {
	t      *testing.T
	cancel context.CancelFunc
	events chan sse
	beats  chan struct{}
	ended  chan struct{} // closed when the server ends the response
}

// openStream connects as who, with lastID as Last-Event-ID when not "",
// and reads events in the background.
func (e *env) openStream(who, lastID string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/stream", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[who])
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		e.t.Fatalf("stream: status %d", resp.StatusCode)
	}
	s := &stream{t: e.t, cancel: cancel, events: make(chan sse, 64), beats: make(chan struct{}, 64), ended: make(chan struct{})}
	e.t.Cleanup(s.close)
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var cur sse
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					if err := json.Unmarshal([]byte(data), &cur.data); err != nil {
						e.t.Errorf("event data %q: %v", data, err)
					}
					s.events <- cur
				}
				cur, data = sse{}, ""
			case strings.HasPrefix(line, ": heartbeat"):
				select {
				case s.beats <- struct{}{}:
				default:
				}
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

func (s *stream) close() { s.cancel() }

// next waits for the next event.
func (s *stream) next() sse {
	s.t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return sse{}
}

// none checks that no event arrives for a while.
func (s *stream) none(d time.Duration) {
	s.t.Helper()
	select {
	case ev := <-s.events:
		s.t.Fatalf("unexpected event %+v", ev)
	case <-time.After(d):
	}
}

// TestStreamLiveAndReplay receives a new assignment live, then reconnects
// with Last-Event-ID and receives the assignment made while it was away,
// and only its own team's.
func TestStreamLiveAndReplay(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	e.relayEvents(n)

	// An event before the stream opens is not replayed to a new stream.
	before := e.newCase(ownTeam, complaint{})
	e.waitPublished(n, before)

	s := e.openStream(whoOwn, "")
	sup := e.openStream(whoSupervisor, "")
	first := e.newCase(ownTeam, complaint{})
	ev := s.next()
	if ev.event != "case" || ev.data.CaseID != first || ev.data.Kind != "assigned" || ev.data.Team != ownTeam || ev.data.Status != "assigned" {
		t.Fatalf("live event %+v", ev)
	}
	if ev.id != strconv.FormatUint(ev.data.Seq, 10) || ev.data.DueAt == nil {
		t.Fatalf("event id %q, seq %d, due %v", ev.id, ev.data.Seq, ev.data.DueAt)
	}
	if got := sup.next(); got.data.CaseID != first {
		t.Fatalf("supervisor got %+v", got)
	}
	s.close()

	// While the officer is away: another team's case, then one of its own
	// that is also signed for.
	other := e.newCase(otherTeam, complaint{})
	missed := e.newCase(ownTeam, complaint{})
	e.accept(missed)
	for _, want := range []string{other, missed, missed} {
		if got := sup.next(); got.data.CaseID != want {
			t.Fatalf("supervisor got %+v, want %s", got, want)
		}
	}

	again := e.openStream(whoOwn, ev.id)
	got := again.next()
	if got.data.CaseID != missed || got.data.Kind != "assigned" || got.data.Seq <= ev.data.Seq {
		t.Fatalf("replayed %+v, want the assignment of %s after seq %d", got, missed, ev.data.Seq)
	}
	if got := again.next(); got.data.CaseID != missed || got.data.Kind != "accepted" {
		t.Fatalf("replayed %+v, want the acceptance of %s", got, missed)
	}
	again.none(300 * time.Millisecond)

	// And live again after the replay.
	live := e.newCase(ownTeam, complaint{})
	if got := again.next(); got.data.CaseID != live {
		t.Fatalf("after replay got %+v, want %s", got, live)
	}

	// An id from a stream that was since recreated starts afresh.
	future := e.openStream(whoOwn, "999999")
	later := e.newCase(ownTeam, complaint{})
	if got := future.next(); got.data.CaseID != later {
		t.Fatalf("after an unknown id got %+v, want %s", got, later)
	}

	// The other team never hears of Siming eco's cases.
	otherStream := e.openStream(whoOtherTeam, "1")
	if got := otherStream.next(); got.data.CaseID != other || got.data.Team != otherTeam {
		t.Fatalf("other team replayed %+v", got)
	}
	otherStream.none(300 * time.Millisecond)
}

// waitPublished waits until the assignment of caseID is in the CASES stream.
func (e *env) waitPublished(n *testenv.NATS, caseID string) {
	e.t.Helper()
	testenv.Eventually(e.t, 10*time.Second, "case event published", func() bool {
		var sent bool
		err := e.pool.QueryRow(context.Background(), `SELECT bool_and(sent_at IS NOT NULL) FROM outbox WHERE payload->>'case_id' = $1`, caseID).Scan(&sent)
		return err == nil && sent
	})
}

// TestStreamHeartbeatAndShutdown checks that an idle stream sends
// heartbeats, outlives the server's read and write timeouts (the
// all-in-one server has them), and that Run's end closes it.
func TestStreamHeartbeatAndShutdown(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	pool := testenv.DB(t)
	cfg := DefaultConfig()
	cfg.Heartbeat = 50 * time.Millisecond
	svc, err := New(cfg, pool, n.JS, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := auth.NewStore(pool, 0).Add(context.Background(), auth.NewOfficer{Name: "a", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{t: t, pool: pool, svc: svc, srv: srv, tokens: map[string]string{whoAdmin: tok}}
	s := e.openStream(whoAdmin, "")
	start := time.Now()
	for beats := 0; beats < 3 || time.Since(start) < time.Second; beats++ {
		select {
		case <-s.beats:
		case <-s.ended:
			t.Fatalf("the stream ended after %s", time.Since(start))
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived the service")
	}
}

// A case a supervisor moves to another team reaches the officers of the
// team it left, marked as having left them, and the new team's as a new
// assignment.
func TestStreamTellsTheTeamACaseLeft(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	e.relayEvents(n)
	ctx := context.Background()

	own := e.openStream(whoOwn, "")
	other := e.openStream(whoOtherTeam, "")
	id := e.newCase(ownTeam, complaint{})
	if got := own.next(); got.data.CaseID != id || got.data.Kind != "assigned" || got.data.LeftTeam {
		t.Fatalf("own team got %+v, want the new assignment", got)
	}
	sup := caseflow.Actor{ID: "officer:sup", District: "siming", Role: caseflow.RoleSupervisor}
	if err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Reassign(ctx, tx, id, sup, otherTeam, "construction site management")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	left := own.next()
	if left.data.CaseID != id || left.data.Kind != "assigned" || left.data.Team != otherTeam || left.data.PreviousTeam != ownTeam || !left.data.LeftTeam {
		t.Fatalf("own team got %+v, want the case leaving it for %s", left, otherTeam)
	}
	got := other.next()
	if got.data.CaseID != id || got.data.Team != otherTeam || got.data.PreviousTeam != ownTeam || got.data.LeftTeam {
		t.Fatalf("new team got %+v, want a new assignment", got)
	}
	own.none(300 * time.Millisecond)
}

// A complaint due sooner than its case, joining it, reaches the team's
// officers saying that the case's deadline came sooner.
func TestStreamSaysADeadlineCameSooner(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	e.relayEvents(n)

	own := e.openStream(whoOwn, "")
	id := e.newCase(ownTeam, complaint{})
	if got := own.next(); got.data.CaseID != id || got.data.Kind != "assigned" || got.data.DeadlineSooner {
		t.Fatalf("own team got %+v, want the new assignment", got)
	}
	received := time.Date(2024, 3, 12, 8, 0, 0, 0, time.UTC)
	e.mergeDue(id, complaint{id: "cmp_sooner", ticket: "TSOONER", description: "夜间施工，明天高考"}, received.Add(2*time.Hour), received.Add(24*time.Hour))
	got := own.next()
	if got.data.CaseID != id || got.data.Kind != "merged" || !got.data.DeadlineSooner {
		t.Fatalf("own team got %+v, want the merge bringing the deadline forward", got)
	}
	if got.data.DueAt == nil || !got.data.DueAt.Equal(received.Add(24*time.Hour)) {
		t.Errorf("due_at %v, want the urgent complaint's %v", got.data.DueAt, received.Add(24*time.Hour))
	}
	e.merge(id, complaint{id: "cmp_later", ticket: "TLATER", description: "还在施工"})
	if got := own.next(); got.data.Kind != "merged" || got.data.DeadlineSooner {
		t.Errorf("a complaint due later gave %+v, want a merge that moves no deadline", got)
	}
}

// An operator disables a token (a lost phone): a stream it opened before
// ends at its next event instead of pushing the team's cases to it, and
// the token cannot open another.
func TestStreamEndsWhenItsTokenIsDisabled(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t)
	e := setup(t, n.JS)
	e.relayEvents(n)
	s := e.openStream(whoOwn, "")
	if err := auth.NewStore(e.pool, 0).Disable(context.Background(), e.ids[whoOwn]); err != nil {
		t.Fatal(err)
	}
	id := e.newCase(ownTeam, complaint{})
	select {
	case ev := <-s.events:
		t.Errorf("the disabled token's stream was sent %+v (case %s)", ev.data, id)
	case <-s.ended:
	case <-time.After(15 * time.Second):
		t.Error("the disabled token's stream is still open")
	}
	if code, _ := e.do(whoOwn, "GET", "/api/v1/stream", nil); code != http.StatusUnauthorized {
		t.Errorf("the disabled token opened a stream: %d", code)
	}
}
