package hotspots

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// running starts services on a database and a NATS server of the test's
// own, with an outbox relay, until the test ends.
func running(t *testing.T, partitions ...[]string) (*pgxpool.Pool, []*Service) {
	t.Helper()
	pool := testenv.DB(t)
	n := testenv.StartNATS(t)
	log := testenv.Log(t)
	ctx, cancel := context.WithCancel(context.Background())
	relay := &outbox.Relay{Pool: pool, JS: n.JS, Log: log, Poll: 50 * time.Millisecond}
	done := make(chan struct{}, len(partitions)+1)
	go func() { _ = relay.Run(ctx); done <- struct{}{} }()
	var svcs []*Service
	for _, ds := range partitions {
		cfg := DefaultConfig()
		cfg.Districts = ds
		cfg.Batch = 32
		s, err := New(cfg, pool, n.JS, log)
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
		go func() {
			if err := s.Run(ctx); err != nil {
				t.Errorf("run %s: %v", s.Durable(), err)
			}
			done <- struct{}{}
		}()
	}
	t.Cleanup(func() {
		cancel()
		for range len(partitions) + 1 {
			<-done
		}
	})
	return pool, svcs
}

// publish stores located events in the outbox, as the geocoder does.
func publish(t *testing.T, pool *pgxpool.Pool, evs ...event.ComplaintLocated) {
	t.Helper()
	addComplaints(t, pool, evs...)
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		for _, ev := range evs {
			subj := event.SubjComplaintLocated + "." + ev.District + "." + ev.Category
			if err := outbox.Add(context.Background(), tx, subj, ev.EventID, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// inHuli moves a test complaint to Huli district.
func inHuli(ev event.ComplaintLocated) event.ComplaintLocated {
	ev.District = "huli"
	lon, lat := *ev.Lon+0.03, *ev.Lat+0.03
	ev.Lon, ev.Lat = &lon, &lat
	return ev
}

func waitClustered(t *testing.T, pool *pgxpool.Pool, complaintIDs ...string) {
	t.Helper()
	want := make([]string, len(complaintIDs))
	for i, id := range complaintIDs {
		want[i] = ClusteredEventID(id)
	}
	testenv.Eventually(t, 30*time.Second, "clustered events published", func() bool {
		return count(t, pool, `SELECT count(*) FROM outbox WHERE event_id = ANY($1) AND sent_at IS NOT NULL`, want) == len(want)
	})
}

func TestServiceClustersLocatedComplaintsFromNATS(t *testing.T) {
	t.Parallel()
	pool, _ := running(t, nil)
	publish(t, pool, located("c1", 0, 0, t0), located("c2", 10, 0, t0.Add(hours(1))), located("c3", 0, 10, t0.Add(hours(2))))
	waitClustered(t, pool, "c1", "c2", "c3")

	hs, _ := member(t, pool, "c3")
	if _, ev := clusteredEvent(t, pool, "c3"); hs == "" || ev.HotspotID == nil || *ev.HotspotID != hs {
		t.Errorf("c3 clustered into %v, stored in %q", ev.HotspotID, hs)
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE consumer = 'hotspots'`); n != 3 {
		t.Errorf("%d events processed by the hotspots consumer, want 3", n)
	}
	testenv.Eventually(t, 10*time.Second, "hotspot.opened published", func() bool {
		return count(t, pool, `SELECT count(*) FROM outbox WHERE event_id = $1 AND sent_at IS NOT NULL`, hs+".opened") == 1
	})
}

func TestPartitionedInstancesShareTheWork(t *testing.T) {
	t.Parallel()
	pool, svcs := running(t, []string{"siming"}, []string{"jimei", "huli"})
	if svcs[0].Durable() != "hotspots-siming" || svcs[1].Durable() != "hotspots-huli-jimei" {
		t.Fatalf("durables %s and %s", svcs[0].Durable(), svcs[1].Durable())
	}
	var evs []event.ComplaintLocated
	for i, id := range ids("s", 3) {
		evs = append(evs, located(id, float64(i)*10, 0, t0.Add(hours(i))))
	}
	for i, id := range ids("h", 3) {
		evs = append(evs, inHuli(located(id, float64(i)*10, 0, t0.Add(hours(i)))))
	}
	publish(t, pool, evs...)
	waitClustered(t, pool, append(ids("s", 3), ids("h", 3)...)...)

	for consumer, want := range map[string][]string{
		"hotspots-siming":     {"s1.located", "s2.located", "s3.located"},
		"hotspots-huli-jimei": {"h1.located", "h2.located", "h3.located"},
	} {
		var got []string
		rows, err := pool.Query(context.Background(), `SELECT event_id FROM processed_events WHERE consumer = $1 ORDER BY event_id`, consumer)
		if err != nil {
			t.Fatal(err)
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s processed %v, want %v", consumer, got, want)
		}
	}
	hs, _ := member(t, pool, "s1")
	hh, _ := member(t, pool, "h1")
	if a, _ := hotspot(t, pool, hs); a.District != "siming" || a.Count != 3 {
		t.Errorf("Siming hotspot %q: %+v", hs, a)
	}
	if b, _ := hotspot(t, pool, hh); b.District != "huli" || b.Count != 3 {
		t.Errorf("Huli hotspot %q: %+v", hh, b)
	}
}

func TestPartitionNamesAndWatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		districts []string
		durable   string
		filters   []string
	}{
		{nil, "hotspots", []string{"complaint.located.>"}},
		{[]string{"siming"}, "hotspots-siming", []string{"complaint.located.siming.>"}},
		{[]string{"siming", "huli"}, "hotspots-huli-siming", []string{"complaint.located.huli.>", "complaint.located.siming.>"}},
	} {
		cfg := DefaultConfig()
		cfg.Districts = tc.districts
		s, err := New(cfg, nil, nil, testenv.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		var filters []string
		for _, w := range s.Watches() {
			switch w.Consumer {
			case tc.durable:
				filters = append(filters, w.Filter)
			case tc.durable + "-resolved":
				if w.Filter != "case.resolved" {
					t.Errorf("%v: resolved watch on %s", tc.districts, w.Filter)
				}
			default:
				t.Errorf("%v: watch of unknown consumer %s", tc.districts, w.Consumer)
			}
		}
		if s.Durable() != tc.durable || !slices.Equal(filters, tc.filters) {
			t.Errorf("%v: durable %s watching %v, want %s watching %v", tc.districts, s.Durable(), filters, tc.durable, tc.filters)
		}
	}
	cfg := DefaultConfig()
	cfg.Districts = []string{"gulangyu"}
	if _, err := New(cfg, nil, nil, testenv.Log(t)); err == nil {
		t.Error("an unknown district was accepted")
	}
}
