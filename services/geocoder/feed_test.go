package geocoder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/simulate"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
)

// feed generates n realistic complaints (cycling one generated feed when n
// is larger) with ids f<i>.
func feed(tb testing.TB, n int) []simulate.Complaint {
	tb.Helper()
	size := min(n, 5000)
	f, err := simulate.Generate(simulate.Config{Seed: 20240311, Count: size})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]simulate.Complaint, n)
	for i := range out {
		out[i] = f.Complaints[i%len(f.Complaints)]
		out[i].TicketID = fmt.Sprintf("f%d", i)
	}
	return out
}

// loadFeed stores the complaints as intake does (in one COPY) and
// publishes their complaint.received events to JetStream.
func loadFeed(tb testing.TB, pool *pgxpool.Pool, js jetstream.JetStream, cs []simulate.Complaint) {
	tb.Helper()
	ctx := context.Background()
	rows := make([][]any, len(cs))
	for i, c := range cs {
		var lon, lat *float64
		var crs *string
		if c.Location != nil {
			lon, lat, crs = &c.Location.Lon, &c.Location.Lat, &c.Location.CRS
		}
		rows[i] = []any{c.TicketID, c.TicketID, c.ReceivedAt, c.Description, nullable(c.Category), nullable(c.Subcategory),
			nullable(c.HotlineCategory), nullable(c.Address), lon, lat, crs, nullable(c.Channel)}
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"complaints"},
		[]string{"id", "ticket_id", "received_at", "description", "category", "subcategory", "hotline_category", "address",
			"loc_lon", "loc_lat", "loc_crs", "channel"}, pgx.CopyFromRows(rows))
	if err != nil {
		tb.Fatalf("copy complaints: %v", err)
	}
	wait := func() {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(60 * time.Second):
			tb.Fatal("publishing the feed stalled for 60s")
		}
	}
	for i, c := range cs {
		if i > 0 && i%1000 == 0 {
			wait() // stay under the client's limit of outstanding publishes
		}
		ev := event.ComplaintReceived{
			EventID: c.TicketID + ".received", ComplaintID: c.TicketID, TicketID: c.TicketID, ReceivedAt: c.ReceivedAt,
			Description: c.Description, Category: c.Category, Subcategory: c.Subcategory, HotlineCategory: c.HotlineCategory,
			Address: c.Address, Channel: c.Channel,
		}
		if c.Location != nil {
			ev.Location = &event.Location{Lon: c.Location.Lon, Lat: c.Location.Lat, CRS: c.Location.CRS}
		}
		b, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		m := nats.NewMsg(event.SubjComplaintReceived)
		m.Data = b
		m.Header.Set(jetstream.MsgIDHeader, ev.EventID)
		if _, err := js.PublishMsgAsync(m); err != nil {
			tb.Fatal(err)
		}
	}
	wait()
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// runGeocoder runs the service until the test or benchmark ends.
func runGeocoder(tb testing.TB, pool *pgxpool.Pool, js jetstream.JetStream) {
	tb.Helper()
	svc, err := geocoder.New(geocoder.DefaultConfig(), pool, js, testenv.Log(tb))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
}

func processed(tb testing.TB, pool *pgxpool.Pool) int {
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM processed_events WHERE consumer = $1`, geocoder.DurableReceived).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestFeedAccuracy runs a generated week of hotline complaints through the
// service and scores its districts and categories against the truth the
// generator planted, so a wiring mistake (a lost coordinate system, a
// dropped category code) shows up as lost accuracy.
func TestFeedAccuracy(t *testing.T) {
	t.Parallel()
	n := 1500
	if testing.Short() {
		n = 300
	}
	pool, nt := testenv.DB(t), testenv.StartNATS(t)
	cs := feed(t, n)
	loadFeed(t, pool, nt.JS, cs)
	runGeocoder(t, pool, nt.JS)
	testenv.Eventually(t, 60*time.Second, "the feed geocoded", func() bool { return processed(t, pool) == n })

	type row struct {
		located            bool
		district, category string
		sub                string
		triaged            bool
	}
	got := map[string]row{}
	rows, err := pool.Query(context.Background(), `SELECT l.complaint_id, l.located, COALESCE(l.district, ''),
		COALESCE(l.category, ''), COALESCE(l.subcategory, ''), t.complaint_id IS NOT NULL
		FROM locations l LEFT JOIN triage t ON t.complaint_id = l.complaint_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.located, &r.district, &r.category, &r.sub, &r.triaged); err != nil {
			t.Fatal(err)
		}
		got[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d complaints stored, want all %d", len(got), n)
	}
	var byPoint, byPointOK, byText, byTextOK, catOK, subOK, triaged int
	for _, c := range cs {
		r := got[c.TicketID]
		if r.triaged {
			triaged++
		}
		if (r.located && r.category != "") == r.triaged {
			t.Errorf("%s: located=%v category=%q but triaged=%v", c.TicketID, r.located, r.category, r.triaged)
		}
		if c.Location != nil {
			byPoint++
			if r.district == c.Truth.District {
				byPointOK++
			}
		} else {
			byText++
			if r.district == c.Truth.District {
				byTextOK++
			}
		}
		if r.category == c.Truth.Category {
			catOK++
			if r.sub == c.Truth.Subcategory {
				subOK++
			}
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	t.Logf("%d complaints: district by coordinates %.2f%% of %d, by address %.2f%% of %d; category %.2f%%, subcategory %.2f%%; %d triaged",
		n, pct(byPointOK, byPoint), byPoint, pct(byTextOK, byText), byText, pct(catOK, n), pct(subOK, n), triaged)
	for _, c := range []struct {
		what    string
		ok, all int
		atLeast float64
	}{
		{"district by coordinates", byPointOK, byPoint, 99.5},
		{"district by address", byTextOK, byText, 95},
		{"category", catOK, n, 90},
	} {
		if c.all > 0 && pct(c.ok, c.all) < c.atLeast {
			t.Errorf("%s accuracy %.2f%%, want at least %.1f%%", c.what, pct(c.ok, c.all), c.atLeast)
		}
	}
}

// BenchmarkConsumer measures complaints per second through one geocoder
// consumer on real PostgreSQL and JetStream: the events wait in the stream,
// and the clock runs from the service's start until every one is
// processed. Run with e.g. -benchtime=20000x.
func BenchmarkConsumer(b *testing.B) {
	pool, nt := testenv.DB(b), testenv.StartNATS(b)
	cs := feed(b, b.N)
	loadFeed(b, pool, nt.JS, cs)
	st := testenv.StartStatements(b, pool, "SELECT count(*) FROM processed_events%")
	b.ResetTimer()
	start := time.Now()
	runGeocoder(b, pool, nt.JS)
	for processed(b, pool) < b.N {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "complaints/s")
	st.Report(b, b.N, "complaint")
}
