package officers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// Who asks, in the matrix test and elsewhere.
const (
	whoOwn        = "own team"
	whoOtherTeam  = "other team"
	whoOtherDist  = "other district"
	whoSupervisor = "supervisor"
	whoAdmin      = "admin"
	whoNone       = "no token"
	whoDisabled   = "disabled token"
)

var everyone = []string{whoOwn, whoOtherTeam, whoOtherDist, whoSupervisor, whoAdmin, whoNone, whoDisabled}

// The fixture's teams: cases are in Siming with its eco team.
const (
	ownTeam   = "siming-eco"
	otherTeam = "siming-urban"
	district  = "siming"
)

type env struct {
	t      *testing.T
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	svc    *Service
	srv    *httptest.Server
	tokens map[string]string
	ids    map[string]string // officer ids by who
	seq    atomic.Int64
	// logs keeps what the service logged at Info and above.
	logs *observer.ObservedLogs
}

// setup starts the service on a fresh database behind a real HTTP server,
// with one token per kind of caller. js may be nil for tests without the
// event stream; tune changes the configuration.
func setup(t *testing.T, js jetstream.JetStream, tune ...func(*Config)) *env {
	t.Helper()
	pool := testenv.DB(t)
	cfg := DefaultConfig()
	cfg.TokenCacheTTL = 0
	for _, f := range tune {
		f(&cfg)
	}
	observed, logs := observer.New(zapcore.InfoLevel)
	svc, err := New(cfg, pool, js, zap.New(zapcore.NewTee(testenv.Log(t).Core(), observed)))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pool: pool, js: js, svc: svc, srv: newServer(t, svc), tokens: map[string]string{}, ids: map[string]string{}, logs: logs}
	store := auth.NewStore(pool, 0)
	ctx := context.Background()
	for who, n := range map[string]auth.NewOfficer{
		whoOwn:        {Name: "陈一", Team: ownTeam},
		whoOtherTeam:  {Name: "李二", Team: otherTeam},
		whoOtherDist:  {Name: "张三", Role: auth.RoleSupervisor, District: "huli"},
		whoSupervisor: {Name: "黄四", Role: auth.RoleSupervisor, District: district},
		whoAdmin:      {Name: "吴五", Role: auth.RoleAdmin},
		whoDisabled:   {Name: "郑六", Team: ownTeam},
	} {
		o, tok, err := store.Add(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[who], e.ids[who] = tok, o.ID
	}
	if err := store.Disable(ctx, e.ids[whoDisabled]); err != nil {
		t.Fatal(err)
	}
	return e
}

// newServer serves svc's routes over real HTTP until the test ends.
func newServer(t *testing.T, svc *Service) *httptest.Server {
	mux := httpx.NewRecordingMux()
	svc.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		svc.CloseStreams()
		srv.Close()
	})
	return srv
}

// complaint is a work order of the fixture.
type complaint struct {
	id, ticket, description, name, phone, address string
}

// newCase stores a complaint and opens a case for it in Siming, assigned
// to team (none when team is ""), through caseflow like the router does.
// The caller of the complaint is 王小明 at 13812345678 unless c says.
func (e *env) newCase(team string, c complaint) string {
	e.t.Helper()
	n := e.seq.Add(1)
	if c.id == "" {
		c.id = fmt.Sprintf("cmp_%s_%d", e.t.Name(), n)
	}
	if c.ticket == "" {
		c.ticket = fmt.Sprintf("T%s%d", e.t.Name(), n)
	}
	if c.description == "" {
		c.description = "工地夜间施工噪声扰民"
	}
	if c.name == "" && c.phone == "" {
		c.name, c.phone = "王小明", "13812345678"
	}
	if c.address == "" {
		c.address = "思明区湖滨南路100号"
	}
	caseID := caseflow.IDFor(c.id)
	received := time.Date(2024, 3, 11, 22, 30, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	ctx := context.Background()
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, caller_name, caller_phone, channel)
			VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), 'phone')`, c.id, c.ticket, received, c.description, c.address, c.name, c.phone); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, lon, lat, method, confidence,
				category, subcategory, received_at)
			VALUES ($1, true, 'siming', '思明区', 118.09, 24.46, 'coordinates', 1, 'noise', 'construction', $2)`, c.id, received); err != nil {
			return err
		}
		lon, lat := 118.09, 24.46
		if _, _, err := caseflow.Open(ctx, tx, caseflow.Service("router"), caseflow.NewCase{ID: caseID, ComplaintID: c.id,
			Category: "noise", Subcategory: "construction", District: district, Lon: &lon, Lat: &lat, OpenedAt: received}); err != nil {
			return err
		}
		if team == "" {
			return nil
		}
		_, err := caseflow.Assign(ctx, tx, caseID, caseflow.Service("router"), caseflow.Assignment{Team: team, Mode: routing.ModeOnSite,
			Priority: routing.PriorityNormal, SignDue: received.Add(24 * time.Hour), ResolveDue: received.Add(5 * 24 * time.Hour), Reason: "test"})
		return err
	})
	if err != nil {
		e.t.Fatalf("new case: %v", err)
	}
	return caseID
}

// accept signs for a case as the service would, to reach the accepted
// state without the API.
func (e *env) accept(caseID string) {
	e.t.Helper()
	ctx := context.Background()
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := caseflow.Accept(ctx, tx, caseID, caseflow.Service("test"))
		return err
	})
	if err != nil {
		e.t.Fatalf("accept %s: %v", caseID, err)
	}
}

// merge joins another complaint to a case.
func (e *env) merge(caseID string, c complaint) {
	e.t.Helper()
	e.mergeDue(caseID, c, time.Time{}, time.Time{})
}

// mergeDue joins another complaint, received 2024-03-12 08:00 UTC and
// due to be signed for and resolved by sign and resolve, to a case.
func (e *env) mergeDue(caseID string, c complaint, sign, resolve time.Time) {
	e.t.Helper()
	received := time.Date(2024, 3, 12, 8, 0, 0, 0, time.UTC)
	ctx := context.Background()
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, caller_name, caller_phone)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''))`, c.id, c.ticket, received, c.description, c.name, c.phone); err != nil {
			return err
		}
		_, _, err := caseflow.Merge(ctx, tx, caseID, caseflow.Service("router"), c.id, "", "", sign, resolve)
		return err
	})
	if err != nil {
		e.t.Fatalf("merge into %s: %v", caseID, err)
	}
}

// triage stores a complaint in triage; district "" leaves it unlocated.
func (e *env) triage(kind, district string) string {
	e.t.Helper()
	return e.triageOf(kind, district, false)
}

// triageOf is triage of a complaint stored as history or not, whose
// entry is written without the mark (as a geocoder older than 00096
// wrote it).
func (e *env) triageOf(kind, district string, history bool) string {
	e.t.Helper()
	n := e.seq.Add(1)
	id := fmt.Sprintf("cmp_tri_%s_%d", e.t.Name(), n)
	received := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	ctx := context.Background()
	err := pgstore.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, address, loc_lon, loc_lat, loc_crs,
				caller_name, caller_phone, history)
			VALUES ($1, $2, $3, '楼下有人很吵，我是赵小六，电话13912345678', '某小区', 118.1, 24.5, 'gcj02', '赵小六', '13912345678', $4)`,
			id, "TT"+id, received, history); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, district_name, received_at)
			VALUES ($1, $2, NULLIF($3, ''), NULLIF($3, ''), $4)`, id, district != "", district, received); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO triage (complaint_id, reason, kind, created_at) VALUES ($1, 'test', $2, $3)`, id, kind, received)
		return err
	})
	if err != nil {
		e.t.Fatalf("triage: %v", err)
	}
	return id
}

// dueIn gives case id and its active assignment a resolve deadline d from
// now (the fixture's deadlines are in 2024) and returns id.
func (e *env) dueIn(id string, d time.Duration) string {
	e.t.Helper()
	due := time.Now().Add(d)
	if _, err := e.pool.Exec(context.Background(), `WITH a AS (UPDATE assignments SET resolve_due = $2 WHERE case_id = $1 AND status = 'active')
		UPDATE cases SET resolve_due = $2 WHERE id = $1`, id, due); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// workingDue is a new resolve deadline about d from now, on a working
// day of the service's calendar (a later one when that day is not), as
// RFC 3339: an extension ends on a working day.
func (e *env) workingDue(d time.Duration) string {
	due := time.Now().Add(d)
	for !e.svc.cal.IsWorkingDay(due) {
		due = due.Add(24 * time.Hour)
	}
	return due.Format(time.RFC3339)
}

// do sends a request as who and returns the status and the body.
func (e *env) do(who, method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok := e.tokens[who]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// status reads a case's status from the database.
func (e *env) status(caseID string) string {
	e.t.Helper()
	var s string
	if err := e.pool.QueryRow(context.Background(), `SELECT status FROM cases WHERE id = $1`, caseID).Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// problem decodes an RFC 9457 problem body.
func problem(t *testing.T, b []byte) httpx.Problem {
	t.Helper()
	var p httpx.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %s", b)
	}
	return p
}

// relayEvents publishes what the outbox holds to n until the test ends.
func (e *env) relayEvents(n *testenv.NATS) {
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	relay := &outbox.Relay{Pool: e.pool, JS: n.JS, Log: testenv.Log(e.t), Poll: 20 * time.Millisecond}
	go func() { _ = relay.Run(ctx) }()
}
