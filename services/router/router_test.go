package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/routing"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/router"
)

var shanghai = time.FixedZone("CST", 8*3600)

// clock is a settable clock for the router's deadlines.
type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.t.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.t.Load()).UTC() }

type env struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	clock *clock
	svc   *router.Service
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupB(t)
}

func setupB(t testing.TB) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	e := &env{ctx: ctx, pool: testenv.DB(t), clock: newClock(time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai))}
	e.svc = e.newRouter(t, nil)
	return e
}

func (e *env) newRouter(t testing.TB, js jetstream.JetStream) *router.Service {
	t.Helper()
	cfg := router.DefaultConfig()
	cfg.Now = e.clock.now
	cfg.TimerEvery = 50 * time.Millisecond
	svc, err := router.New(cfg, e.pool, js, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// site is a construction site on Xiamen Island (Siming).
const siteLon, siteLat = 118.0894, 24.4798

// clustered is the event of a complaint about construction noise at
// (east, north) metres from the site.
func clustered(ticket string, at time.Time, east, north float64) event.ComplaintClustered {
	id := "cmp_" + ticket
	lon := siteLon + east/(111_320*0.91)
	lat := siteLat + north/110_574
	return event.ComplaintClustered{ComplaintLocated: event.ComplaintLocated{
		EventID: id + ".clustered", ComplaintID: id, TicketID: ticket, ReceivedAt: at,
		District: "siming", Lon: &lon, Lat: &lat, Method: "coordinates", Confidence: 1,
		Category: "noise", Subcategory: "construction",
	}}
}

// complaint stores a work order and returns its clustered event, at
// (east, north) metres from the site.
func (e *env) complaint(t *testing.T, ticket string, at time.Time, east, north float64) event.ComplaintClustered {
	t.Helper()
	ev := clustered(ticket, at, east, north)
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO complaints (id, ticket_id, received_at, description) VALUES ($1, $2, $3, '工地夜间施工噪声')`, ev.ComplaintID, ticket, at); err != nil {
		t.Fatal(err)
	}
	return ev
}

// handle hands the events to the router as one batch of the consume
// loop, in one transaction.
func (e *env) handle(t *testing.T, evs ...event.ComplaintClustered) error {
	t.Helper()
	return pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		return e.svc.HandleComplaintsClustered(e.ctx, tx, evs, make([]natsx.Meta, len(evs)))
	})
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (e *env) caseOf(t *testing.T, complaintID string) caseflow.Case {
	t.Helper()
	var id string
	if err := e.pool.QueryRow(e.ctx, `SELECT case_id FROM case_complaints WHERE complaint_id = $1`, complaintID).Scan(&id); err != nil {
		t.Fatalf("case of %s: %v", complaintID, err)
	}
	c, err := caseflow.Get(e.ctx, e.pool, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Twenty complaints about one site handled in one transaction, as one
// batch of the consume loop, make one case; a complaint 2 km away makes
// its own.
func TestOneBatchAboutOnePlaceOpensOneCase(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 21, 0, 0, 0, shanghai)
	var evs []event.ComplaintClustered
	for i := range 20 {
		ev := e.complaint(t, fmt.Sprintf("B%02d", i), at.Add(time.Duration(i)*time.Minute), float64(i%5)*20-40, float64(i/5)*20-30)
		if i%3 == 0 {
			ev.PlaceKey = "湖滨南路工地"
		}
		evs = append(evs, ev)
	}
	far := e.complaint(t, "FAR", at, 2000, 0)
	if err := e.handle(t, append(evs, far)...); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, evs[0].ComplaintID)
	for _, ev := range evs[1:] {
		if got := e.caseOf(t, ev.ComplaintID); got.ID != c.ID {
			t.Fatalf("complaint %s in case %s, want %s", ev.ComplaintID, got.ID, c.ID)
		}
	}
	if other := e.caseOf(t, far.ComplaintID); other.ID == c.ID {
		t.Errorf("a complaint 2 km away joined case %s", c.ID)
	}
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 2 {
		t.Errorf("%d cases, want 2", n)
	}
	if n := e.count(t, `SELECT count(*) FROM assignments WHERE case_id = $1 AND status = 'active'`, c.ID); n != 1 {
		t.Errorf("%d active assignments, want 1", n)
	}
	tickets, err := caseflow.Tickets(e.ctx, e.pool, c.ID)
	if err != nil || len(tickets) != 20 {
		t.Errorf("case holds %d tickets (%v), want 20", len(tickets), err)
	}
	if c.Team != "siming-eco" || c.Status != caseflow.StatusAssigned {
		t.Errorf("case with %s, %s; want assigned to siming-eco", c.Team, c.Status)
	}
}

// Fifty deliveries for the same place in fifty concurrent transactions
// leave one case with one active assignment.
func TestConcurrentDeliveriesLeaveOneActiveAssignment(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 22, 30, 0, 0, shanghai)
	var evs []event.ComplaintClustered
	for i := range 50 {
		evs = append(evs, e.complaint(t, fmt.Sprintf("C%02d", i), at, float64(i%7)*10, float64(i%5)*10))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(evs))
	for i := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.handle(t, evs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("%d cases, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM assignments WHERE status = 'active'`); n != 1 {
		t.Errorf("%d active assignments, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM case_complaints`); n != 50 {
		t.Errorf("%d complaints in cases, want 50", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject LIKE 'case.assigned.%'`); n != 1 {
		t.Errorf("%d assigned events, want 1", n)
	}
}

func TestJoinsTheHotspotsCaseOrOpensOne(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	hs := "hs_siming_1"
	first := e.complaint(t, "H1", at, 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	// Later complaints carry the hotspot: the first joins by distance and
	// the case adopts the hotspot; one farther than the radius but in the
	// hotspot joins by hotspot.
	near := e.complaint(t, "H2", at.Add(time.Hour), 60, 0)
	near.HotspotID = &hs
	inHotspot := e.complaint(t, "H3", at.Add(2*time.Hour), 600, 0)
	inHotspot.HotspotID = &hs
	samePlace := e.complaint(t, "H4", at.Add(3*time.Hour), 0, 0)
	samePlace.Lon, samePlace.Lat, samePlace.PlaceKey = nil, nil, "湖滨南路工地"
	if err := e.handle(t, near, inHotspot); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	for _, ev := range []event.ComplaintClustered{near, inHotspot} {
		if got := e.caseOf(t, ev.ComplaintID); got.ID != c.ID {
			t.Errorf("%s in case %s, want %s", ev.TicketID, got.ID, c.ID)
		}
	}
	if c.HotspotID != hs {
		t.Errorf("case hotspot %q, want %q", c.HotspotID, hs)
	}
	// Another category at the same place is another case.
	smoke := e.complaint(t, "S1", at, 0, 0)
	smoke.Category, smoke.Subcategory = "cooking_smoke", "restaurant"
	if err := e.handle(t, smoke); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, smoke.ComplaintID); got.ID == c.ID || got.Team != "siming-urban" {
		t.Errorf("cooking smoke in case %s of %s, want its own case for siming-urban", got.ID, got.Team)
	}
	// A complaint without a point joins by its place key once a case has one.
	if _, err := e.pool.Exec(e.ctx, `UPDATE cases SET place_key = '湖滨南路工地' WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	// It carries no hotspot, so the hotspot's case is matched by place.
	if err := e.handle(t, samePlace); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, samePlace.ComplaintID); got.ID != c.ID {
		t.Errorf("complaint naming the place in case %s, want %s", got.ID, c.ID)
	}
	// A replayed complaint changes nothing.
	before := e.count(t, `SELECT count(*) FROM outbox`)
	if err := e.handle(t, near); err != nil {
		t.Fatal(err)
	}
	if after := e.count(t, `SELECT count(*) FROM outbox`); after != before {
		t.Errorf("replay wrote %d events", after-before)
	}
}

func TestUnroutableComplaintsGoToTriage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	tests := []struct {
		ticket, category, subcategory, district, reason string
	}{
		{"U1", "light", "", "siming", "unknown_category"},
		{"U2", "noise", "fireworks", "siming", "unknown_subcategory"},
		{"U3", "noise", "construction", "zhangzhou", "unknown_district"},
	}
	for _, tt := range tests {
		ev := e.complaint(t, tt.ticket, at, 0, 0)
		ev.Category, ev.Subcategory, ev.District = tt.category, tt.subcategory, tt.district
		if err := e.handle(t, ev); err != nil {
			t.Fatalf("%s: %v", tt.ticket, err)
		}
		var kind, reason string
		if err := e.pool.QueryRow(e.ctx, `SELECT kind, reason FROM triage WHERE complaint_id = $1`, ev.ComplaintID).Scan(&kind, &reason); err != nil {
			t.Fatalf("%s: triage row: %v", tt.ticket, err)
		}
		if kind != "unrouted" || !contains(reason, tt.reason) {
			t.Errorf("%s: triage %s %q, want unrouted naming %s", tt.ticket, kind, reason, tt.reason)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM cases`); n != 0 {
		t.Errorf("%d cases opened for unroutable complaints, want none", n)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// A case's deadlines follow the working-day calendar across the 2024
// Spring Festival and National Day, and the hotline look-up shows them.
func TestCaseDeadlinesFollowTheHolidayCalendar(t *testing.T) {
	t.Parallel()
	e := setup(t)
	endOf := func(day string) time.Time {
		d, err := time.ParseInLocation("2006-01-02", day, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(24*time.Hour - time.Second) // 23:59:59, when a day-based deadline expires
	}
	tests := []struct {
		ticket        string
		at            time.Time
		sign, resolve time.Time
	}{
		// Friday before the Spring Festival: the adjusted working Sunday
		// 2024-02-18 is the first working day after the break.
		{"D1", time.Date(2024, 2, 9, 15, 0, 0, 0, shanghai), endOf("2024-02-18"), endOf("2024-02-22")},
		// Eve of National Day: back on 2024-10-08; Saturday 10-12 is worked.
		{"D2", time.Date(2024, 9, 30, 18, 0, 0, 0, shanghai), endOf("2024-10-08"), endOf("2024-10-12")},
		// The adjusted working Sunday 2024-09-29 counts as a working day.
		{"D3", time.Date(2024, 9, 29, 9, 0, 0, 0, shanghai), endOf("2024-09-30"), endOf("2024-10-11")},
	}
	for i, tt := range tests {
		ev := e.complaint(t, tt.ticket, tt.at, float64(i)*5000, 0)
		if err := e.handle(t, ev); err != nil {
			t.Fatal(err)
		}
		c := e.caseOf(t, ev.ComplaintID)
		if c.SignDue == nil || !c.SignDue.Equal(tt.sign) || c.ResolveDue == nil || !c.ResolveDue.Equal(tt.resolve) {
			t.Errorf("%s: due %v / %v, want %s / %s", tt.ticket, c.SignDue, c.ResolveDue, tt.sign, tt.resolve)
		}
		var due time.Time
		var status, team string
		if err := e.pool.QueryRow(e.ctx, `SELECT due_at, status, team FROM complaint_lookup WHERE ticket_id = $1`, tt.ticket).Scan(&due, &status, &team); err != nil {
			t.Fatal(err)
		}
		if !due.Equal(tt.resolve) || status != "assigned" || team != c.Team {
			t.Errorf("%s: look-up shows %s %s due %s", tt.ticket, status, team, due)
		}
		if n := e.count(t, `SELECT count(*) FROM case_timers WHERE case_id = $1 AND fired_at IS NULL`, c.ID); n != 2 {
			t.Errorf("%s: %d pending timers, want sign and resolve", tt.ticket, n)
		}
	}
}

func TestPositiveListEnterpriseGetsARemoteCheck(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ev := e.complaint(t, "P1", time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai), 0, 0)
	lon, lat := 118.04308, 24.574197 // 厦门恒俊博电气有限公司, on the positive list
	ev.District, ev.Lon, ev.Lat, ev.Subcategory = "jimei", &lon, &lat, "industrial"
	if err := e.handle(t, ev); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, ev.ComplaintID)
	if c.Mode != routing.ModeNonSite || c.PositiveList == "" || c.Team != "jimei-eco" {
		t.Errorf("case mode %s, positive list %q, team %s; want a non-site check by jimei-eco", c.Mode, c.PositiveList, c.Team)
	}
}

// resolve has an officer of case c's team sign for it and resolve it at
// the time on.
func (e *env) resolve(t *testing.T, c caseflow.Case, on time.Time) {
	t.Helper()
	officer := caseflow.Actor{ID: "officer:o1", Team: c.Team, District: "siming", Role: caseflow.RoleOfficer}
	ctx := caseflow.WithClock(e.ctx, func() time.Time { return on })
	if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := caseflow.Accept(ctx, tx, c.ID, officer); err != nil {
			return err
		}
		_, err := caseflow.Resolve(ctx, tx, c.ID, officer, caseflow.OutcomeRectified, "work stopped at 22:00")
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestResolvedCaseReopensWithinThirtyDays(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	hs := "hs_1"
	first := e.complaint(t, "R1", at, 0, 0)
	first.HotspotID = &hs
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	resolve := func(on time.Time) { t.Helper(); e.resolve(t, c, on) }
	resolve(at.Add(24 * time.Hour))
	back := e.complaint(t, "R2", at.Add(10*24*time.Hour), 30, 0)
	back.HotspotID = &hs
	if err := e.handle(t, back); err != nil {
		t.Fatal(err)
	}
	got := e.caseOf(t, back.ComplaintID)
	if got.ID != c.ID || got.Status != caseflow.StatusAssigned || got.Reopened != 1 || got.Outcome != "" {
		t.Fatalf("complaint 10 days after resolution: case %s %s reopened %d; want %s reopened and assigned", got.ID, got.Status, got.Reopened, c.ID)
	}
	if got.ResolveDue == nil || !got.ResolveDue.After(*c.ResolveDue) {
		t.Errorf("reopened case keeps its old deadline %v", got.ResolveDue)
	}
	resolve(at.Add(12 * 24 * time.Hour))
	late := e.complaint(t, "R3", at.Add(43*24*time.Hour), 30, 0)
	late.HotspotID = &hs
	if err := e.handle(t, late); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, late.ComplaintID); got.ID == c.ID {
		t.Errorf("complaint 31 days after resolution reopened the old case")
	}
}

// A resolved case that no complaint reopened within the reopen window is
// closed out (办结销号), its work orders answered, and a complaint at its
// place after that opens a new case.
func TestAResolvedCaseClosesWhenItsReopenWindowPasses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	resolved := func(ticket string, east float64, on time.Time) caseflow.Case {
		t.Helper()
		ev := e.complaint(t, ticket, at, east, 0)
		if err := e.handle(t, ev); err != nil {
			t.Fatal(err)
		}
		c := e.caseOf(t, ev.ComplaintID)
		e.resolve(t, c, on)
		return c
	}
	early := resolved("Q1", 0, at.Add(24*time.Hour))
	recent := resolved("Q2", 5000, at.Add(20*24*time.Hour))
	e.clock.set(at.Add(32 * 24 * time.Hour))
	n, err := e.svc.CloseResolved(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("CloseResolved 31 days after the first resolution: %d, %v; want 1", n, err)
	}
	if got, _ := caseflow.Get(e.ctx, e.pool, early.ID); got.Status != caseflow.StatusClosed || got.ClosedAt == nil || !got.ClosedAt.Equal(e.clock.now()) {
		t.Errorf("case resolved 31 days ago: %s closed at %v, want closed at %s", got.Status, got.ClosedAt, e.clock.now())
	}
	if got, _ := caseflow.Get(e.ctx, e.pool, recent.ID); got.Status != caseflow.StatusResolved {
		t.Errorf("case resolved 12 days ago is %s, want still resolved", got.Status)
	}
	var tickets []string
	if err := e.pool.QueryRow(e.ctx, `SELECT array(SELECT jsonb_array_elements_text(payload::jsonb->'tickets')) FROM outbox
		WHERE subject = 'case.closed' AND payload->>'case_id' = $1`, early.ID).Scan(&tickets); err != nil {
		t.Fatalf("the closure's case.closed event: %v", err)
	}
	if !slices.Equal(tickets, []string{"Q1"}) {
		t.Errorf("case.closed names work orders %v, want [Q1]", tickets)
	}
	if n, err := e.svc.CloseResolved(e.ctx); err != nil || n != 0 {
		t.Errorf("CloseResolved again: %d, %v; want 0", n, err)
	}
	back := e.complaint(t, "Q3", at.Add(33*24*time.Hour), 20, 0)
	if err := e.handle(t, back); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, back.ComplaintID); got.ID == early.ID {
		t.Errorf("a complaint after the case was closed out joined it")
	}
}

func (e *env) startRelay(t *testing.T, n *testenv.NATS) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	relay := &outbox.Relay{Pool: e.pool, JS: n.JS, Log: testenv.Log(t), Poll: 20 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// run runs svc until the returned stop is called; stop waits for Run.
func run(t *testing.T, ctx context.Context, svc *router.Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("router run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func publish(t *testing.T, ctx context.Context, js jetstream.JetStream, ev event.ComplaintClustered) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(event.SubjComplaintClustered + "." + ev.District + "." + ev.Category)
	m.Data = b
	m.Header.Set(jetstream.MsgIDHeader, ev.EventID)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// A returned case goes to the next team; when every team it may go to
// has returned it, its complaints wait in triage.
func TestReturnedCaseIsRoutedAgainNeverToAReturningTeam(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	e.startRelay(t, n)
	svc := e.newRouter(t, n.JS)
	run(t, e.ctx, svc)
	ev := e.complaint(t, "X1", time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai), 0, 0)
	publish(t, e.ctx, n.JS, ev)
	var c caseflow.Case
	testenv.Eventually(t, 20*time.Second, "case assigned", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, ev.ComplaintID) == 1
	})
	c = e.caseOf(t, ev.ComplaintID)
	returnBy := func(team string) {
		t.Helper()
		officer := caseflow.Actor{ID: "officer:" + team, Team: team, District: "siming", Role: caseflow.RoleOfficer}
		if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
			_, err := caseflow.Return(e.ctx, tx, c.ID, officer, "not ours")
			return err
		}); err != nil {
			t.Fatalf("return by %s: %v", team, err)
		}
	}
	if c.Team != "siming-eco" {
		t.Fatalf("first team %s, want siming-eco", c.Team)
	}
	returnBy("siming-eco")
	testenv.Eventually(t, 20*time.Second, "case routed again", func() bool {
		got, err := caseflow.Get(e.ctx, e.pool, c.ID)
		return err == nil && got.Status == caseflow.StatusAssigned
	})
	got, _ := caseflow.Get(e.ctx, e.pool, c.ID)
	if got.Team != "siming-housing" {
		t.Fatalf("after return by siming-eco: team %s, want siming-housing", got.Team)
	}
	returnBy("siming-housing")
	testenv.Eventually(t, 20*time.Second, "unrouted triage row", func() bool {
		return e.count(t, `SELECT count(*) FROM triage WHERE complaint_id = $1 AND kind = 'unrouted'`, ev.ComplaintID) == 1
	})
	got, _ = caseflow.Get(e.ctx, e.pool, c.ID)
	if got.Status != caseflow.StatusReturned {
		t.Errorf("case %s after every team returned it, want returned", got.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM assignments WHERE case_id = $1`, c.ID); n != 2 {
		t.Errorf("%d assignments, want 2 (one per team, none repeated)", n)
	}
}

// The router stops after assigning a case and before its deadline; a
// restarted router, running twice over, escalates the case exactly once.
func TestEscalationAcrossARestartFiresOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	n := testenv.StartNATS(t)
	e.startRelay(t, n)
	first := e.newRouter(t, n.JS)
	stop := run(t, e.ctx, first)
	ev := e.complaint(t, "E1", time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai), 0, 0)
	publish(t, e.ctx, n.JS, ev)
	testenv.Eventually(t, 20*time.Second, "case assigned", func() bool {
		return e.count(t, `SELECT count(*) FROM case_complaints WHERE complaint_id = $1`, ev.ComplaintID) == 1
	})
	stop()
	c := e.caseOf(t, ev.ComplaintID)
	if c.Escalated {
		t.Fatal("escalated before its deadline")
	}

	e.clock.set(c.SignDue.Add(time.Minute))
	a, b := e.newRouter(t, n.JS), e.newRouter(t, n.JS)
	run(t, e.ctx, a)
	run(t, e.ctx, b)
	escalations := func() int {
		return e.count(t, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND action = 'escalate'`, c.ID)
	}
	testenv.Eventually(t, 20*time.Second, "escalation", func() bool { return escalations() >= 1 })
	// Let both routers' timer loops go round several times.
	for range 3 {
		if fired, err := a.FireTimers(e.ctx); err != nil || fired != 0 {
			t.Errorf("FireTimers after the escalation: %d, %v; want 0", fired, err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if got := escalations(); got != 1 {
		t.Errorf("%d escalations, want 1", got)
	}
	if got := e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'case.escalated' AND payload->>'case_id' = $1`, c.ID); got != 1 {
		t.Errorf("%d escalated events, want 1", got)
	}
	testenv.Eventually(t, 10*time.Second, "escalated event on NATS", func() bool {
		info, err := n.JS.Stream(e.ctx, "CASES")
		if err != nil {
			return false
		}
		msg, err := info.GetLastMsgForSubject(e.ctx, "case.escalated")
		return err == nil && len(msg.Data) > 0
	})
}

// An urgent complaint joining a case makes the case urgent, in the batch
// that opened it or in a later one; a normal complaint after it does not
// lower it again.
func TestAnUrgentComplaintMakesItsCaseUrgent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	first := e.complaint(t, "U1", at, 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	if c := e.caseOf(t, first.ComplaintID); c.Priority == routing.PriorityUrgent {
		t.Fatalf("the first complaint's case is %s before any urgent complaint", c.Priority)
	}
	urgent := e.complaint(t, "U2", at.Add(time.Minute), 10, 0)
	urgent.Urgent = true
	later := e.complaint(t, "U3", at.Add(2*time.Minute), 0, 10)
	if err := e.handle(t, urgent, later); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	if e.caseOf(t, urgent.ComplaintID).ID != c.ID || e.caseOf(t, later.ComplaintID).ID != c.ID {
		t.Fatal("the three complaints about one site are not in one case")
	}
	if c.Priority != routing.PriorityUrgent {
		t.Errorf("case priority %s after an urgent complaint joined it, want urgent", c.Priority)
	}
	if n := e.count(t, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND reason LIKE '%priority raised to urgent%'`, c.ID); n != 1 {
		t.Errorf("%d audit rows name the raised priority, want 1", n)
	}
}

// An urgent complaint joining a case brings the case's deadlines forward
// to its own (2 hours to sign for, 24 to resolve, from its call), with the
// active assignment and the escalation timers; the case's later deadlines
// no longer escalate it, and a normal complaint after it changes nothing.
func TestAnUrgentComplaintBringsItsCasesDeadlinesForward(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, shanghai)
	first := e.complaint(t, "D1", at, 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	before := e.caseOf(t, first.ComplaintID)
	urgent := e.complaint(t, "D2", at.Add(30*time.Minute), 10, 0)
	urgent.Urgent = true
	if err := e.handle(t, urgent); err != nil {
		t.Fatal(err)
	}
	later := e.complaint(t, "D3", at.Add(time.Hour), 0, 10)
	if err := e.handle(t, later); err != nil {
		t.Fatal(err)
	}
	c := e.caseOf(t, first.ComplaintID)
	if e.caseOf(t, urgent.ComplaintID).ID != c.ID || e.caseOf(t, later.ComplaintID).ID != c.ID {
		t.Fatal("the three complaints about one site are not in one case")
	}
	wantSign, wantResolve := urgent.ReceivedAt.Add(2*time.Hour), urgent.ReceivedAt.Add(24*time.Hour)
	if c.SignDue == nil || !c.SignDue.Equal(wantSign) || c.ResolveDue == nil || !c.ResolveDue.Equal(wantResolve) {
		t.Fatalf("case due to sign by %v and resolve by %v, want %v and %v (the urgent complaint's; before it %v and %v)",
			c.SignDue, c.ResolveDue, wantSign, wantResolve, before.SignDue, before.ResolveDue)
	}
	var aSign, aResolve time.Time
	if err := e.pool.QueryRow(e.ctx, `SELECT sign_due, resolve_due FROM assignments WHERE case_id = $1 AND status = 'active'`, c.ID).Scan(&aSign, &aResolve); err != nil {
		t.Fatal(err)
	}
	if !aSign.Equal(wantSign) || !aResolve.Equal(wantResolve) {
		t.Errorf("active assignment due %v / %v, want %v / %v", aSign, aResolve, wantSign, wantResolve)
	}
	if n := e.count(t, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND reason LIKE '%deadline brought forward%'`, c.ID); n != 1 {
		t.Errorf("%d audit rows name the earlier deadline, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'case.merged' AND (payload->>'deadline_sooner')::bool`); n != 1 {
		t.Errorf("%d merge events say a deadline came sooner, want 1 (the urgent complaint's)", n)
	}

	escalations := func(what string) int {
		return e.count(t, `SELECT count(*) FROM case_audit WHERE case_id = $1 AND action = 'escalate' AND reason LIKE $2`, c.ID, what+" deadline %")
	}
	fire := func(now time.Time) {
		t.Helper()
		e.clock.set(now)
		if _, err := e.svc.FireTimers(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	fire(wantSign.Add(time.Minute))
	if s, r := escalations("sign-for"), escalations("resolve"); s != 1 || r != 0 {
		t.Fatalf("after the urgent sign-for deadline: %d sign-for and %d resolve escalations, want 1 and 0", s, r)
	}
	// Past every deadline the case ever had: the urgent resolve deadline
	// escalates once more, the replaced ones not at all.
	fire(before.ResolveDue.Add(time.Hour))
	if s, r := escalations("sign-for"), escalations("resolve"); s != 1 || r != 1 {
		t.Errorf("past the case's first deadlines: %d sign-for and %d resolve escalations, want 1 and 1", s, r)
	}
}

// When the hotspot detector merges hotspot A into B (a complaint between
// them made them one hotspot), the case opened for A is still the case of
// its place: a complaint of B there joins it instead of opening a second
// case at the same place, while one of B elsewhere goes to B's own case.
// A complaint still carrying A, published before the merge and routed
// after it, joins A's case as before.
func TestAComplaintJoinsTheCaseOfAHotspotMergedIntoItsOwn(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	a, b := "hs_siming_merged_a", "hs_siming_merged_b"
	first := e.complaint(t, "MA1", at, 0, 0)
	first.HotspotID = &a
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	x := e.caseOf(t, first.ComplaintID)
	if x.HotspotID != a {
		t.Fatalf("case %s has hotspot %q, want %q", x.ID, x.HotspotID, a)
	}
	// The detector's record of the merge.
	if _, err := e.pool.Exec(e.ctx, `INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at, merged_into)
		VALUES ($1, 'noise', 'siming', 'merged', 2, $3, $3, $2), ($2, 'noise', 'siming', 'active', 5, $3, $3, NULL)`, a, b, at); err != nil {
		t.Fatal(err)
	}
	near := e.complaint(t, "MB1", at.Add(time.Hour), 20, 0)
	near.HotspotID = &b
	if err := e.handle(t, near); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, near.ComplaintID); got.ID != x.ID {
		t.Errorf("a complaint of hotspot %s 20 m from case %s of the hotspot merged into it is in case %s", b, x.ID, got.ID)
	}
	// 600 m east, beyond the radius: B's own place.
	far := e.complaint(t, "MB2", at.Add(2*time.Hour), 600, 0)
	far.HotspotID = &b
	if err := e.handle(t, far); err != nil {
		t.Fatal(err)
	}
	y := e.caseOf(t, far.ComplaintID)
	if y.ID == x.ID || y.HotspotID != b {
		t.Errorf("a complaint of hotspot %s 600 m from case %s is in case %s of hotspot %q, want a case of its own for %s", b, x.ID, y.ID, y.HotspotID, b)
	}
	stale := e.complaint(t, "MA2", at.Add(3*time.Hour), -10, 0)
	stale.HotspotID = &a
	again := e.complaint(t, "MB3", at.Add(3*time.Hour), 20, 0)
	again.HotspotID = &b
	if err := e.handle(t, stale, again); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []event.ComplaintClustered{stale, again} {
		if got := e.caseOf(t, ev.ComplaintID); got.ID != x.ID {
			t.Errorf("%s (hotspot %s) in case %s, want %s", ev.TicketID, *ev.HotspotID, got.ID, x.ID)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM cases WHERE hotspot_id = ANY($1)`, []string{a, b}); n != 2 {
		t.Errorf("%d cases of hotspots %s and %s, want 2", n, a, b)
	}
}

// One place key can name two places ("旁的在建工地" is what is left of
// "集美街道旁的在建工地" and of "后溪镇旁的在建工地" once the administrative
// names go): a complaint joins the case of its key only within
// place.KeyReach of it, and farther away it is another place.
func TestOnePlaceKeyFarApartIsTwoCases(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	const key = "旁的在建工地"
	first := e.complaint(t, "PK1", at, 0, 0)
	first.PlaceKey = key
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	x := e.caseOf(t, first.ComplaintID)
	far := e.complaint(t, "PK2", at.Add(time.Hour), 5000, 0)
	far.PlaceKey = key
	near := e.complaint(t, "PK3", at.Add(2*time.Hour), 600, 0)
	near.PlaceKey = key
	if err := e.handle(t, far, near); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, far.ComplaintID); got.ID == x.ID {
		t.Errorf("a complaint 5 km from case %s joined it by their place key %q", x.ID, key)
	}
	if got := e.caseOf(t, near.ComplaintID); got.ID != x.ID {
		t.Errorf("a complaint 600 m from case %s with its place key is in case %s", x.ID, got.ID)
	}
}

// A key said from a road or a sub-district ("梧村街道旁的在建工地") fits any
// site beside it: complaints with points join by their distance alone, and
// the key joins only complaints and cases that both have no point.
func TestAVaguePlaceKeyJoinsNoSite(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	const key = "siming/梧村街道旁的在建工地"
	withKey := func(ticket string, h time.Duration, east float64) event.ComplaintClustered {
		ev := e.complaint(t, ticket, at.Add(h), east, 0)
		ev.PlaceKey = key
		return ev
	}
	first := withKey("V1", 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	x := e.caseOf(t, first.ComplaintID)
	near, other := withKey("V2", time.Hour, 20), withKey("V3", 2*time.Hour, 600)
	if err := e.handle(t, near, other); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, near.ComplaintID); got.ID != x.ID {
		t.Errorf("a complaint 20 m from case %s is in case %s", x.ID, got.ID)
	}
	if got := e.caseOf(t, other.ComplaintID); got.ID == x.ID {
		t.Errorf("a complaint 600 m from case %s joined it by the vague key %q", x.ID, key)
	}
	noPoint := withKey("V4", 3*time.Hour, 0)
	noPoint.Lon, noPoint.Lat = nil, nil
	if err := e.handle(t, noPoint); err != nil {
		t.Fatal(err)
	}
	y := e.caseOf(t, noPoint.ComplaintID)
	if y.ID == x.ID || y.ID == e.caseOf(t, other.ComplaintID).ID {
		t.Errorf("a complaint without a point joined case %s of a site by the vague key", y.ID)
	}
	again := withKey("V5", 4*time.Hour, 0)
	again.Lon, again.Lat = nil, nil
	if err := e.handle(t, again); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, again.ComplaintID); got.ID != y.ID {
		t.Errorf("a second complaint without a point naming %q is in case %s, want %s", key, got.ID, y.ID)
	}
}

// A hotspot that grew across a district by a chain of complaints is still
// one hotspot, but its case is a site: a complaint of the hotspot far from
// each of its cases opens another case of the hotspot, and later
// complaints join the case near them.
func TestAHotspotsCaseFarAwayIsAnotherCase(t *testing.T) {
	t.Parallel()
	e := setup(t)
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, shanghai)
	hs := "hs_siming_far"
	inHotspot := func(ticket string, h time.Duration, east float64) event.ComplaintClustered {
		ev := e.complaint(t, ticket, at.Add(h), east, 0)
		ev.HotspotID = &hs
		return ev
	}
	first := inHotspot("F1", 0, 0)
	if err := e.handle(t, first); err != nil {
		t.Fatal(err)
	}
	x := e.caseOf(t, first.ComplaintID)
	far, farther, near := inHotspot("F2", time.Hour, 5000), inHotspot("F3", 2*time.Hour, 5300), inHotspot("F4", 3*time.Hour, 600)
	if err := e.handle(t, far, farther, near); err != nil {
		t.Fatal(err)
	}
	y := e.caseOf(t, far.ComplaintID)
	if y.ID == x.ID {
		t.Fatalf("a complaint 5 km from case %s joined it by their hotspot", x.ID)
	}
	if y.HotspotID != hs {
		t.Errorf("the far case's hotspot %q, want %q", y.HotspotID, hs)
	}
	if got := e.caseOf(t, farther.ComplaintID); got.ID != y.ID {
		t.Errorf("a complaint 300 m from case %s is in case %s", y.ID, got.ID)
	}
	if got := e.caseOf(t, near.ComplaintID); got.ID != x.ID {
		t.Errorf("a complaint of the hotspot 600 m from case %s is in case %s", x.ID, got.ID)
	}
	// Without a point, a complaint of the hotspot cannot be placed nearer
	// one case than the other, and joins the hotspot's case.
	noPoint := inHotspot("F5", 4*time.Hour, 0)
	noPoint.Lon, noPoint.Lat = nil, nil
	if err := e.handle(t, noPoint); err != nil {
		t.Fatal(err)
	}
	if got := e.caseOf(t, noPoint.ComplaintID); got.ID != x.ID && got.ID != y.ID {
		t.Errorf("a complaint of the hotspot without a point opened case %s", got.ID)
	}
}

// The working-day calendar ends with its last announced year. Past it, a
// deadline counts weekends and the holidays fixed by date only: the router says so in a warning at start
// from mid-November, counts each such deadline for the operator's alert,
// and takes an operator's calendar file (NUISANCE_CALENDAR) with the new
// year's holidays, whose deadlines then skip them.
func TestTheCalendarsEndIsWarnedOfAndAFileExtendsIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pool := testenv.DB(t)
	// Made-up days off: the test needs a holiday in 2027, not the real one.
	file := filepath.Join(t.TempDir(), "calendar-2027.json")
	if err := os.WriteFile(file, []byte(`{"years": [{"year": 2027, "holidays": [
		{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
		{"name": "测试假日", "from": "2027-03-08", "to": "2027-03-10"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(calendar string, now time.Time) (*router.Service, *observer.ObservedLogs) {
		core, logs := observer.New(zap.InfoLevel)
		cfg := router.DefaultConfig()
		cfg.Now = func() time.Time { return now }
		cfg.CalendarFile = calendar
		svc, err := router.New(cfg, pool, nil, zap.New(core))
		if err != nil {
			t.Fatal(err)
		}
		return svc, logs
	}
	warned := func(logs *observer.ObservedLogs) bool {
		return logs.FilterLevelExact(zap.WarnLevel).FilterMessageSnippet("working-day calendar ends").Len() > 0
	}
	// Friday 2027-03-05 16:00: one working day to sign for.
	at := time.Date(2027, 3, 5, 16, 0, 0, 0, shanghai)
	route := func(svc *router.Service, ticket string, east float64) caseflow.Case {
		e := &env{ctx: ctx, pool: pool, svc: svc}
		ev := e.complaint(t, ticket, at, east, 0)
		if err := e.handle(t, ev); err != nil {
			t.Fatal(err)
		}
		return e.caseOf(t, ev.ComplaintID)
	}

	svc, logs := start("", time.Date(2026, 11, 20, 9, 0, 0, 0, shanghai))
	if !warned(logs) {
		t.Error("no warning on 2026-11-20 with a calendar ending in 2026")
	}
	if got := testenv.MustMetric(t, "nuisance_calendar_last_year"); got != 2026 {
		t.Errorf("nuisance_calendar_last_year = %v, want 2026", got)
	}
	before := testenv.MustMetric(t, "nuisance_router_deadlines_outside_calendar_total")
	c := route(svc, "CAL-1", 0)
	if want := time.Date(2027, 3, 8, 23, 59, 59, 0, shanghai); c.SignDue == nil || !c.SignDue.Equal(want) {
		t.Errorf("without the file: sign for by %v, want %s (weekends and the holidays fixed by date only)", c.SignDue, want)
	}
	if got := testenv.MustMetric(t, "nuisance_router_deadlines_outside_calendar_total") - before; got != 1 {
		t.Errorf("deadlines outside the calendar rose by %v, want 1", got)
	}

	if _, logs := start("", time.Date(2026, 10, 1, 9, 0, 0, 0, shanghai)); warned(logs) {
		t.Error("warned on 2026-10-01, months before the calendar's end")
	}
	svc, logs = start(file, time.Date(2026, 11, 20, 9, 0, 0, 0, shanghai))
	if warned(logs) {
		t.Error("warned with next year's file given")
	}
	if got := testenv.MustMetric(t, "nuisance_calendar_last_year"); got != 2027 {
		t.Errorf("nuisance_calendar_last_year = %v, want 2027", got)
	}
	before = testenv.MustMetric(t, "nuisance_router_deadlines_outside_calendar_total")
	c = route(svc, "CAL-2", 5000)
	if want := time.Date(2027, 3, 11, 23, 59, 59, 0, shanghai); c.SignDue == nil || !c.SignDue.Equal(want) {
		t.Errorf("with the file: sign for by %v, want %s (after its holiday)", c.SignDue, want)
	}
	if got := testenv.MustMetric(t, "nuisance_router_deadlines_outside_calendar_total") - before; got != 0 {
		t.Errorf("deadlines outside the calendar rose by %v with the year in the file", got)
	}

	cfg := router.DefaultConfig()
	cfg.CalendarFile = filepath.Join(t.TempDir(), "missing.json")
	if _, err := router.New(cfg, pool, nil, testenv.Log(t)); err == nil || !strings.Contains(err.Error(), "NUISANCE_CALENDAR") {
		t.Errorf("a missing calendar file: %v, want an error naming NUISANCE_CALENDAR", err)
	}
}
