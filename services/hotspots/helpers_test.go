package hotspots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
)

// t0 is the time of the first complaint of most tests.
var t0 = time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)

// siming is a point in Siming district, the origin of the tests' offsets.
const simingLon, simingLat = 118.0894, 24.4798

// clock is a settable clock for the time-driven transitions.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is one test's database and service.
type env struct {
	pool  *pgxpool.Pool
	svc   *Service
	clock *clock
}

// setup returns a service on a database of the test's own; its handlers
// are called directly, in batches that behave like the consume loop's.
func setup(t testing.TB, districts ...string) env {
	t.Helper()
	pool := testenv.DB(t)
	c := &clock{now: t0}
	return env{pool: pool, svc: newService(t, pool, c, districts...), clock: c}
}

// newService builds and restores a service on pool, as a process start does.
func newService(t testing.TB, pool *pgxpool.Pool, c *clock, districts ...string) *Service {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Districts = districts
	cfg.Now = c.Now
	s, err := New(cfg, pool, nil, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// offset returns the point dx metres east and dy metres north of Siming's
// origin.
func offset(dx, dy float64) (lon, lat float64) {
	const m = 6371008.8 * math.Pi / 180
	return simingLon + dx/(m*math.Cos(simingLat*math.Pi/180)), simingLat + dy/m
}

// located builds a complaint.located event of a noise complaint in Siming
// dx, dy metres from the origin, received at.
func located(id string, dx, dy float64, at time.Time) event.ComplaintLocated {
	lon, lat := offset(dx, dy)
	return event.ComplaintLocated{
		EventID: id + ".located", ComplaintID: id, TicketID: "T-" + id, ReceivedAt: at,
		District: "siming", Lon: &lon, Lat: &lat, Method: "coordinates", Confidence: 1,
		Category: "noise", Subcategory: "social_life", Place: "中山路步行街",
	}
}

// addComplaints stores the intake rows the members refer to.
func addComplaints(t testing.TB, pool *pgxpool.Pool, evs ...event.ComplaintLocated) {
	t.Helper()
	rows := make([][]any, len(evs))
	for i, ev := range evs {
		rows[i] = []any{ev.ComplaintID, ev.TicketID, ev.ReceivedAt, "噪音扰民"}
	}
	_, err := pool.Exec(context.Background(), `INSERT INTO complaints (id, ticket_id, received_at, description)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) ON CONFLICT DO NOTHING`,
		col[string](rows, 0), col[string](rows, 1), col[time.Time](rows, 2), col[string](rows, 3))
	if err != nil {
		t.Fatalf("store complaints: %v", err)
	}
}

func col[T any](rows [][]any, i int) []T {
	out := make([]T, len(rows))
	for j, r := range rows {
		out[j] = r[i].(T)
	}
	return out
}

// batch handles events in one transaction the way natsx's consume loop
// does: the event id recorded first, a savepoint per event, a failed
// handler rolled back alone. commit false rolls the whole batch back, as a
// failed commit would. It returns each handler's error.
func batch[T natsx.Event](t testing.TB, pool *pgxpool.Pool, consumer string, h natsx.Handler[T], commit bool, evs ...T) []error {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, len(evs))
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for i, ev := range evs {
		sp, err := tx.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := sp.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, consumer, ev.ID())
		if err != nil {
			t.Fatal(err)
		}
		if tag.RowsAffected() == 1 {
			errs[i] = h(ctx, sp, ev, natsx.Meta{Delivered: 1})
		}
		if errs[i] != nil {
			err = sp.Rollback(ctx)
		} else {
			err = sp.Commit(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return errs
}

// handle stores the complaints and clusters them in one committed batch,
// failing the test on any handler error.
func (e env) handle(t testing.TB, evs ...event.ComplaintLocated) {
	t.Helper()
	handleWith(t, e.pool, e.svc, evs...)
}

func handleWith(t testing.TB, pool *pgxpool.Pool, s *Service, evs ...event.ComplaintLocated) {
	t.Helper()
	addComplaints(t, pool, evs...)
	for i, err := range batch(t, pool, s.Durable(), s.HandleComplaintLocated, true, evs...) {
		if err != nil {
			t.Fatalf("handle %s: %v", evs[i].ComplaintID, err)
		}
	}
}

// member returns the hotspot of a stored complaint ("" for none) and
// whether the complaint is stored.
func member(t testing.TB, pool *pgxpool.Pool, complaintID string) (string, bool) {
	t.Helper()
	var hs *string
	err := pool.QueryRow(context.Background(), `SELECT hotspot_id FROM hotspot_members WHERE complaint_id = $1`, complaintID).Scan(&hs)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	if hs == nil {
		return "", true
	}
	return *hs, true
}

// hotspotRow is a stored hotspot as the tests read it.
type hotspotRow struct {
	Category, District, Status, MergedInto, Place string
	Count                                         int
	Lon, Lat                                      *float64
	ResolvedAt                                    *time.Time
}

func hotspot(t testing.TB, pool *pgxpool.Pool, id string) (hotspotRow, bool) {
	t.Helper()
	var h hotspotRow
	err := pool.QueryRow(context.Background(), `SELECT category, district, status, COALESCE(merged_into, ''),
		COALESCE(place, ''), complaint_count, lon, lat, resolved_at FROM hotspots WHERE id = $1`, id).
		Scan(&h.Category, &h.District, &h.Status, &h.MergedInto, &h.Place, &h.Count, &h.Lon, &h.Lat, &h.ResolvedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return h, true
}

func count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// outboxEvent returns the subject and payload of an outbox event after
// checking the payload against its schema; ok is false when there is none.
func outboxEvent(t testing.TB, pool *pgxpool.Pool, eventID, schema string) (string, []byte, bool) {
	t.Helper()
	var subject string
	var payload []byte
	err := pool.QueryRow(context.Background(), `SELECT subject, payload FROM outbox WHERE event_id = $1`, eventID).Scan(&subject, &payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	sc, err := schemas.Get(schema)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := schemas.Validate(sc, payload)
	if err != nil || fe != nil {
		t.Fatalf("event %s against %s: %v %v\n%s", eventID, schema, err, fe, payload)
	}
	return subject, payload, true
}

// clusteredEvent returns the complaint.clustered event of a complaint.
func clusteredEvent(t testing.TB, pool *pgxpool.Pool, complaintID string) (string, event.ComplaintClustered) {
	t.Helper()
	subject, payload, ok := outboxEvent(t, pool, ClusteredEventID(complaintID), "complaint.clustered.v1")
	if !ok {
		t.Fatalf("no complaint.clustered event for %s", complaintID)
	}
	var ev event.ComplaintClustered
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	return subject, ev
}

// hotspotEvent returns a hotspot lifecycle event by id.
func hotspotEvent(t testing.TB, pool *pgxpool.Pool, eventID string) (string, event.HotspotChanged, bool) {
	t.Helper()
	subject, payload, ok := outboxEvent(t, pool, eventID, "hotspot.changed.v1")
	if !ok {
		return "", event.HotspotChanged{}, false
	}
	var ev event.HotspotChanged
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	return subject, ev, true
}

func hours(n int) time.Duration { return time.Duration(n) * time.Hour }

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func isInvalid(err error) bool { return fault.KindOf(err) == fault.Invalid }

// consume handles events the way natsx's consume loop does: one
// transaction that records the event ids with one statement and hands the
// fresh events to the batch handler in one call; when the handler fails,
// the batch again with a savepoint per event (see batch). It returns each
// event's error, nil for a success or a duplicate.
func consume[T natsx.Event](t testing.TB, pool *pgxpool.Pool, consumer string, h natsx.BatchHandler[T], evs ...T) []error {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID()
	}
	var herr error
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO processed_events (consumer, event_id)
			SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`, consumer, ids)
		if err != nil {
			return err
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		isFresh := make(map[string]bool, len(fresh))
		for _, id := range fresh {
			isFresh[id] = true
		}
		var todo []T
		for _, ev := range evs {
			if isFresh[ev.ID()] {
				delete(isFresh, ev.ID())
				todo = append(todo, ev)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		herr = h(ctx, tx, todo, make([]natsx.Meta, len(todo)))
		return herr
	})
	switch {
	case err == nil:
		return make([]error, len(evs))
	case herr == nil:
		t.Fatal(err)
	}
	one := func(ctx context.Context, tx pgx.Tx, ev T, m natsx.Meta) error {
		return h(ctx, tx, []T{ev}, []natsx.Meta{m})
	}
	return batch(t, pool, consumer, one, true, evs...)
}

// consumeAll stores the complaints and clusters them as the consume loop
// does, in batches of size, failing the test on any handler error.
func (e env) consumeAll(t testing.TB, size int, evs ...event.ComplaintLocated) {
	t.Helper()
	addComplaints(t, e.pool, evs...)
	for i := 0; i < len(evs); i += size {
		part := evs[i:min(i+size, len(evs))]
		for j, err := range consume(t, e.pool, e.svc.Durable(), e.svc.HandleComplaintsLocated, part...) {
			if err != nil {
				t.Fatalf("handle %s: %v", part[j].ComplaintID, err)
			}
		}
	}
}
