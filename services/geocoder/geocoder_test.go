package geocoder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/outbox"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
)

var shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// Points of Xiamen Island in WGS-84 a few hundred metres from the
// Siming–Huli border: read in the wrong coordinate system they land in the
// other district, which TestBorderPointsInEveryCRS checks first.
var (
	simingNearHuli = [2]float64{118.13560, 24.48620}
	huliNearSiming = [2]float64{118.15100, 24.48550}
	// Haicang, inland, far from every border.
	haicangInland = [2]float64{118.0330, 24.5240}
)

type env struct {
	pool *pgxpool.Pool
	n    *testenv.NATS
}

// setup starts the geocoder and an outbox relay on a database and a NATS
// server of the test's own.
func setup(t *testing.T, mutate ...func(*geocoder.Config)) env {
	t.Helper()
	e := env{pool: testenv.DB(t), n: testenv.StartNATS(t)}
	log := testenv.Log(t)
	cfg := geocoder.Config{MaxDeliver: 3, AckWait: 5 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	svc, err := geocoder.New(cfg, e.pool, e.n.JS, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = svc.Run(ctx); done <- struct{}{} }()
	relay := &outbox.Relay{Pool: e.pool, JS: e.n.JS, Log: log, Poll: 50 * time.Millisecond}
	go func() { _ = relay.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return e
}

// receive stores a complaint and its complaint.received event as intake
// does, for the relay to publish.
func (e env) receive(t *testing.T, ev event.ComplaintReceived) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		e.insertComplaint(t, tx, ev)
		return outbox.Add(ctx, tx, event.SubjComplaintReceived, ev.EventID, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e env) insertComplaint(t *testing.T, tx pgx.Tx, ev event.ComplaintReceived) {
	t.Helper()
	var lon, lat *float64
	var crs *string
	if ev.Location != nil {
		lon, lat, crs = &ev.Location.Lon, &ev.Location.Lat, &ev.Location.CRS
	}
	_, err := tx.Exec(context.Background(), `INSERT INTO complaints (id, ticket_id, received_at, description, category,
		subcategory, hotline_category, address, loc_lon, loc_lat, loc_crs, caller_name, caller_phone)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11, '王小明', '13800138000')`,
		ev.ComplaintID, ev.TicketID, ev.ReceivedAt, ev.Description, ev.Category, ev.Subcategory, ev.HotlineCategory,
		ev.Address, lon, lat, crs)
	if err != nil {
		t.Fatal(err)
	}
}

// publish sends an event straight to JetStream under a message id.
func (e env) publish(t *testing.T, subject, msgID string, payload any) {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(subject)
	m.Data = b
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	if _, err := e.n.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (e env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitLocated waits until the geocoder stored a location for complaint id.
func (e env) waitLocated(t *testing.T, ids ...string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "locations of "+strings.Join(ids, ", "), func() bool {
		return e.count(t, `SELECT count(*) FROM locations WHERE complaint_id = ANY($1)`, ids) == len(ids)
	})
}

// waitDrained waits until a durable consumer has acknowledged everything.
func (e env) waitDrained(t *testing.T, stream, durable string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, durable+" drained", func() bool {
		c, err := e.n.JS.Consumer(context.Background(), stream, durable)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

type locationRow struct {
	Located           bool
	District          *string
	DistrictName      *string
	Subdistrict       *string
	SubdistrictApprox bool
	Lon, Lat          *float64
	Method            *string
	Confidence        *float64
	PlaceKey          *string
	Disagreement      *string
	Category          *string
	Subcategory       *string
	ClassifyMethod    *string
	AlsoMentioned     []string
	Priority, Urgent  bool
	CorrectedBy       *string
}

func (e env) location(t *testing.T, id string) locationRow {
	t.Helper()
	var r locationRow
	err := e.pool.QueryRow(context.Background(), `SELECT located, district, district_name, subdistrict, subdistrict_approx,
		lon, lat, method, confidence, place_key, disagreement, category, subcategory, classify_method, also_mentioned,
		priority, urgent, corrected_by FROM locations WHERE complaint_id = $1`, id).Scan(
		&r.Located, &r.District, &r.DistrictName, &r.Subdistrict, &r.SubdistrictApprox, &r.Lon, &r.Lat, &r.Method,
		&r.Confidence, &r.PlaceKey, &r.Disagreement, &r.Category, &r.Subcategory, &r.ClassifyMethod, &r.AlsoMentioned,
		&r.Priority, &r.Urgent, &r.CorrectedBy)
	if err != nil {
		t.Fatalf("location of %s: %v", id, err)
	}
	return r
}

type lookupRow struct {
	Status                 string
	Category, Subcategory  *string
	District, DistrictName *string
	Priority               *bool
}

func (e env) lookup(t *testing.T, ticket string) lookupRow {
	t.Helper()
	var r lookupRow
	err := e.pool.QueryRow(context.Background(), `SELECT status, category, subcategory, district, district_name, priority
		FROM complaint_lookup WHERE ticket_id = $1`, ticket).Scan(&r.Status, &r.Category, &r.Subcategory, &r.District, &r.DistrictName, &r.Priority)
	if err != nil {
		t.Fatalf("lookup %s: %v", ticket, err)
	}
	return r
}

// outboxEvent returns the subject and payload of an outbox event, and
// checks the payload against the schema of its subject.
func (e env) outboxEvent(t *testing.T, eventID, schema string) (string, []byte) {
	t.Helper()
	var subject string
	var payload []byte
	err := e.pool.QueryRow(context.Background(), `SELECT subject, payload FROM outbox WHERE event_id = $1`, eventID).Scan(&subject, &payload)
	if err != nil {
		t.Fatalf("outbox event %s: %v", eventID, err)
	}
	sch, err := schemas.Get(schema)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := schemas.Validate(sch, payload)
	if err != nil || fe != nil {
		t.Fatalf("event %s does not match %s: %v %v", eventID, schema, err, fe)
	}
	return subject, payload
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

func point(lon, lat *float64) string {
	if lon == nil || lat == nil {
		return "<null>"
	}
	return fmt.Sprintf("%.6f,%.6f", *lon, *lat)
}

func at(hour, minute int) time.Time {
	return time.Date(2024, 3, 12, hour, minute, 0, 0, shanghai)
}

// complaint builds a complaint.received event; point is WGS-84 converted
// to crs.
func complaint(id string, received time.Time, description string, point *[2]float64, crs geo.CRS, address string) event.ComplaintReceived {
	ev := event.ComplaintReceived{
		EventID: id + ".received", ComplaintID: id, TicketID: "T-" + id, ReceivedAt: received,
		Description: description, Address: address, Channel: "phone",
	}
	if point != nil {
		lon, lat := geo.FromWGS84(crs, point[0], point[1])
		ev.Location = &event.Location{Lon: lon, Lat: lat, CRS: string(crs)}
	}
	return ev
}

func TestLocatedComplaintsCarryDistrictCategoryAndPriority(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const construction = "工地夜里还在打桩，混凝土泵车轰隆隆，吵得睡不着"
	cases := []struct {
		id               string
		at               time.Time
		description      string
		point            [2]float64
		district, name   string
		category, sub    string
		priority, urgent bool
		detail           string
	}{
		{"siming-night", at(23, 0), construction, simingNearHuli, "siming", "思明区", "noise", "construction", true, true, ""},
		{"haicang-day", at(10, 0), construction, haicangInland, "haicang", "海沧区", "noise", "construction", false, false, ""},
		{"haicang-night", at(23, 30), construction, haicangInland, "haicang", "海沧区", "noise", "construction", true, true, ""},
		{"huli-day-dancing", at(19, 30), "小区楼下广场舞音响开得很大声，天天如此", huliNearSiming, "huli", "湖里区", "noise", "social_life", true, false, ""},
		{"siming-bbq", at(21, 0), "路边露天烧烤，油烟很大熏得家里都是味道", simingNearHuli, "siming", "思明区", "cooking_smoke", "open_air_bbq", false, false, ""},
		// The detail of social-life noise goes to the router, which sends
		// a neighbours' dispute to the police.
		{"huli-neighbour", at(22, 30), "楼上邻居每天半夜拖椅子、蹦跳，吵得睡不着", huliNearSiming, "huli", "湖里区", "noise", "social_life", true, false, "neighbour"},
	}
	var ids []string
	for _, c := range cases {
		e.receive(t, complaint(c.id, c.at, c.description, &c.point, geo.GCJ02, ""))
		ids = append(ids, c.id)
	}
	e.waitLocated(t, ids...)
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			r := e.location(t, c.id)
			if !r.Located || str(r.District) != c.district || str(r.DistrictName) != c.name || str(r.Method) != "coordinates" {
				t.Errorf("located=%v district=%s name=%s method=%s, want %s %s coordinates", r.Located, str(r.District), str(r.DistrictName), str(r.Method), c.district, c.name)
			}
			if r.Lon == nil || r.Lat == nil || geo.DistanceMeters(*r.Lon, *r.Lat, c.point[0], c.point[1]) > 0.05 {
				t.Errorf("stored point %s is not the WGS-84 point %v", point(r.Lon, r.Lat), c.point)
			}
			if r.Subdistrict == nil || !r.SubdistrictApprox || r.Confidence == nil || *r.Confidence <= 0 {
				t.Errorf("subdistrict %s approx=%v confidence %v: want an approximate sub-district and a confidence", str(r.Subdistrict), r.SubdistrictApprox, r.Confidence)
			}
			if str(r.Category) != c.category || str(r.Subcategory) != c.sub || str(r.ClassifyMethod) != "description" {
				t.Errorf("category %s/%s by %s, want %s/%s by description", str(r.Category), str(r.Subcategory), str(r.ClassifyMethod), c.category, c.sub)
			}
			if r.Priority != c.priority || r.Urgent != c.urgent {
				t.Errorf("priority=%v urgent=%v, want %v %v", r.Priority, r.Urgent, c.priority, c.urgent)
			}

			l := e.lookup(t, "T-"+c.id)
			if l.Status != "located" || str(l.District) != c.district || str(l.DistrictName) != c.name ||
				str(l.Category) != c.category || str(l.Subcategory) != c.sub || l.Priority == nil || *l.Priority != c.priority {
				t.Errorf("lookup %+v, want located in %s, %s/%s, priority %v", l, c.district, c.category, c.sub, c.priority)
			}

			subject, payload := e.outboxEvent(t, c.id+".located", "complaint.located.v1")
			if want := "complaint.located." + c.district + "." + c.category; subject != want {
				t.Errorf("subject %s, want %s", subject, want)
			}
			var ev event.ComplaintLocated
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.ComplaintID != c.id || ev.TicketID != "T-"+c.id || ev.District != c.district || ev.Category != c.category ||
				ev.Subcategory != c.sub || ev.Priority != c.priority || ev.Urgent != c.urgent || !ev.ReceivedAt.Equal(c.at) || ev.Lon == nil ||
				ev.Detail != c.detail {
				t.Errorf("event %+v does not match the complaint", ev)
			}
			if strings.Contains(string(payload), "13800138000") || strings.Contains(string(payload), "王小明") {
				t.Errorf("event carries the caller's personal data: %s", payload)
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM triage`); n != 0 {
		t.Errorf("%d located complaints sent to triage", n)
	}
}

func TestLocatedEventIsPublished(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	cons, err := e.n.JS.CreateOrUpdateConsumer(ctx, "COMPLAINTS", jetstream.ConsumerConfig{
		FilterSubject: "complaint.located.siming.noise", AckPolicy: jetstream.AckNonePolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.receive(t, complaint("pub-1", at(23, 0), "夜间施工噪声扰民，电锯声音刺耳", &simingNearHuli, geo.WGS84, "思明区"))
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got *event.ComplaintLocated
	for m := range msgs.Messages() {
		var ev event.ComplaintLocated
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if m.Headers().Get(jetstream.MsgIDHeader) != "pub-1.located" {
			t.Errorf("message id %q, want pub-1.located", m.Headers().Get(jetstream.MsgIDHeader))
		}
		got = &ev
	}
	if got == nil {
		t.Fatal("no complaint.located.siming.noise published")
	}
	if got.EventID != "pub-1.located" || got.ComplaintID != "pub-1" || !got.Urgent || !got.Priority {
		t.Errorf("published %+v, want the urgent priority complaint pub-1", got)
	}
}

func TestUnlocatedAndUnclassifiedGoToTriage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	beijing := [2]float64{116.397, 39.909}
	badPoint := [2]float64{500, 24.5}
	cases := []struct {
		name     string
		ev       event.ComplaintReceived
		kind     string
		reason   string // contained in the triage reason
		located  bool
		category string // "" : null
	}{
		{"unknown-address", complaint("u-addr", at(23, 0), "工地夜间施工打桩", nil, "", "某某小区后面那条路"),
			"unlocated", "address names no known place", false, "noise"},
		{"outside-xiamen", complaint("u-beijing", at(10, 0), "餐馆油烟直排", &beijing, geo.WGS84, ""),
			"unlocated", "outside Xiamen", false, "cooking_smoke"},
		{"no-nuisance", complaint("u-lamp", at(10, 0), "小区门口的路灯坏了一个星期没人修", &simingNearHuli, geo.WGS84, ""),
			"unclassified", "names no noise, dust or cooking smoke", true, ""},
		{"neither", complaint("u-both", at(10, 0), "想咨询一下社保怎么办理", nil, "", "某某路口"),
			"unlocated", "names no noise, dust or cooking smoke", false, ""},
		{"malformed-coordinates", complaint("u-bad", at(10, 0), "渣土车沿路撒土，扬尘很大", &badPoint, geo.WGS84, ""),
			"unlocated", "coordinates rejected", false, "dust"},
	}
	var ids []string
	for _, c := range cases {
		e.receive(t, c.ev)
		ids = append(ids, c.ev.ComplaintID)
	}
	e.waitLocated(t, ids...)
	e.waitDrained(t, "COMPLAINTS", geocoder.DurableReceived)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.ev.ComplaintID
			var kind, reason string
			var resolved *time.Time
			if err := e.pool.QueryRow(context.Background(), `SELECT kind, reason, resolved_at FROM triage WHERE complaint_id = $1`, id).Scan(&kind, &reason, &resolved); err != nil {
				t.Fatalf("triage row: %v", err)
			}
			if kind != c.kind || !strings.Contains(reason, c.reason) || resolved != nil {
				t.Errorf("triage %s %q resolved %v, want open %s containing %q", kind, reason, resolved, c.kind, c.reason)
			}
			r := e.location(t, id)
			if r.Located != c.located || (r.Category == nil) != (c.category == "") || (c.category != "" && *r.Category != c.category) {
				t.Errorf("located=%v category=%s, want %v %q", r.Located, str(r.Category), c.located, c.category)
			}
			if l := e.lookup(t, c.ev.TicketID); l.Status != "unlocated" {
				t.Errorf("lookup status %s, want unlocated", l.Status)
			}
			subject, payload := e.outboxEvent(t, id+".unlocated", "complaint.unlocated.v1")
			var ev event.ComplaintUnlocated
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			if subject != event.SubjComplaintUnlocated || ev.Reason != reason || ev.TicketID != c.ev.TicketID {
				t.Errorf("event %s %+v, want complaint.unlocated with the triage reason", subject, ev)
			}
			if n := e.count(t, `SELECT count(*) FROM outbox WHERE event_id LIKE $1 || '.located%'`, id); n != 0 {
				t.Errorf("a triaged complaint was also published as located")
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM dead_letters`); n != 0 {
		t.Errorf("%d complaints dead-lettered; bad data must go to triage", n)
	}
}

func TestMalformedCoordinatesFallBackToAddress(t *testing.T) {
	t.Parallel()
	e := setup(t)
	bad := [2]float64{118.1, 91}
	e.receive(t, complaint("fallback", at(10, 0), "附近工地白天施工噪音很大", &bad, geo.WGS84, "厦门市湖里区江头街道"))
	e.waitLocated(t, "fallback")
	r := e.location(t, "fallback")
	if !r.Located || str(r.District) != "huli" || str(r.Method) != "address_subdistrict" {
		t.Errorf("located=%v in %s by %s, want huli by address_subdistrict", r.Located, str(r.District), str(r.Method))
	}
	if !strings.Contains(str(r.Disagreement), "coordinates rejected") {
		t.Errorf("disagreement %q does not record the rejected coordinates", str(r.Disagreement))
	}
	if n := e.count(t, `SELECT count(*) FROM triage`); n != 0 {
		t.Errorf("a complaint located by its address was sent to triage")
	}
}

func TestBorderPointsInEveryCRS(t *testing.T) {
	t.Parallel()
	d, err := geo.LoadDistricts()
	if err != nil {
		t.Fatal(err)
	}
	points := []struct {
		name     string
		p        [2]float64
		district string
	}{
		{"siming", simingNearHuli, "siming"},
		{"huli", huliNearSiming, "huli"},
	}
	// The points must be ones a mixed-up coordinate system gets wrong.
	for _, pt := range points {
		for _, crs := range []geo.CRS{geo.GCJ02, geo.BD09} {
			lon, lat := geo.FromWGS84(crs, pt.p[0], pt.p[1])
			if got, ok := d.Contains(lon, lat); ok && got.Slug == pt.district {
				t.Fatalf("%s as %s read as WGS-84 is still in %s: not a border test", pt.name, crs, pt.district)
			}
		}
	}
	e := setup(t)
	var ids []string
	for _, pt := range points {
		for _, crs := range []geo.CRS{geo.WGS84, geo.GCJ02, geo.BD09} {
			id := "border-" + pt.name + "-" + string(crs)
			e.receive(t, complaint(id, at(10, 0), "工地施工噪声", &pt.p, crs, ""))
			ids = append(ids, id)
		}
	}
	e.waitLocated(t, ids...)
	for _, pt := range points {
		for _, crs := range []geo.CRS{geo.WGS84, geo.GCJ02, geo.BD09} {
			r := e.location(t, "border-"+pt.name+"-"+string(crs))
			if str(r.District) != pt.district {
				t.Errorf("%s sent as %s located in %s, want %s", pt.name, crs, str(r.District), pt.district)
			}
			if r.Lon == nil || geo.DistanceMeters(*r.Lon, *r.Lat, pt.p[0], pt.p[1]) > 0.05 {
				t.Errorf("%s sent as %s stored at %s, not at its WGS-84 point", pt.name, crs, point(r.Lon, r.Lat))
			}
		}
	}
}

func TestDisagreementIsRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.receive(t, complaint("disagree", at(10, 0), "楼下酒吧音乐声太吵", &simingNearHuli, geo.GCJ02, "湖里区江头街道"))
	e.receive(t, complaint("agree", at(10, 0), "楼下酒吧音乐声太吵", &simingNearHuli, geo.GCJ02, "思明区"))
	e.waitLocated(t, "disagree", "agree")
	r := e.location(t, "disagree")
	if str(r.District) != "siming" || !strings.Contains(str(r.Disagreement), "huli") {
		t.Errorf("district %s disagreement %q: coordinates must win and the address's huli be recorded", str(r.District), str(r.Disagreement))
	}
	if r.Confidence == nil || *r.Confidence > 0.8 {
		t.Errorf("confidence %v of a disagreeing complaint, want at most 0.8", r.Confidence)
	}
	if r := e.location(t, "agree"); r.Disagreement != nil {
		t.Errorf("agreeing complaint has disagreement %q", *r.Disagreement)
	}
}

func TestRedeliveryIsIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ev := complaint("dup", at(23, 0), "夜间施工打桩噪声", &simingNearHuli, geo.GCJ02, "")
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		e.insertComplaint(t, tx, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same event under three message ids, as the sweeper re-publishes,
	// and once more under another event id, as a replay might.
	for _, msgID := range []string{"dup.received", "dup.received/r1", "dup.received/r2"} {
		e.publish(t, event.SubjComplaintReceived, msgID, ev)
	}
	// The replay would now be unclassified: it must neither overwrite the
	// first result nor send the complaint to triage.
	again := ev
	again.EventID = "dup.received-again"
	again.Description = "想咨询一下社保怎么办理"
	e.publish(t, event.SubjComplaintReceived, again.EventID, again)
	e.waitLocated(t, "dup")
	e.waitDrained(t, "COMPLAINTS", geocoder.DurableReceived)
	if n := e.count(t, `SELECT count(*) FROM locations WHERE complaint_id = 'dup'`); n != 1 {
		t.Errorf("%d location rows, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject LIKE 'complaint.located.%'`); n != 1 {
		t.Errorf("%d located events, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'complaint.unlocated'`) + e.count(t, `SELECT count(*) FROM triage`); n != 0 {
		t.Errorf("a replay of a located complaint sent it to triage")
	}
	if r := e.location(t, "dup"); str(r.Category) != "noise" {
		t.Errorf("a replay under another event id changed the category to %s", str(r.Category))
	}
	if n := e.count(t, `SELECT count(*) FROM processed_events WHERE consumer = $1`, geocoder.DurableReceived); n != 2 {
		t.Errorf("%d processed events, want 2 (two event ids)", n)
	}
}

// correct stores a triage.corrected event in the outbox, as the officers
// service does.
func (e env) correct(t *testing.T, ev event.TriageCorrected) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		return outbox.Add(context.Background(), tx, event.SubjTriageCorrected, ev.EventID, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTriageCorrectionReentersPipeline(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.receive(t, complaint("fix", at(23, 30), "工地夜间施工，打桩机一直响", nil, "", "某某小区后面那条路"))
	e.waitLocated(t, "fix")
	if l := e.lookup(t, "T-fix"); l.Status != "unlocated" {
		t.Fatalf("status %s before the correction, want unlocated", l.Status)
	}

	// The officers' audit row of the correction, which the geocoder marks
	// applied (the officers refuse another correction until then).
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO triage_corrections (complaint_id, n, officer_id, kind, district, category, subcategory, event_id)
		VALUES ('fix', 1, 'off-7', 'unlocated', 'jimei', '', '', 'corr-1')`); err != nil {
		t.Fatal(err)
	}
	e.correct(t, event.TriageCorrected{EventID: "corr-1", ComplaintID: "fix", District: "jimei", Subdistrict: "杏林街道", Officer: "off-7"})
	testenv.Eventually(t, 20*time.Second, "first correction", func() bool {
		return e.count(t, `SELECT count(*) FROM outbox WHERE event_id = 'fix.located.c1'`) == 1
	})
	if n := e.count(t, `SELECT count(*) FROM triage_corrections WHERE event_id = 'corr-1' AND applied_at IS NOT NULL`); n != 1 {
		t.Error("the correction applied is not marked applied")
	}
	r := e.location(t, "fix")
	if !r.Located || str(r.District) != "jimei" || str(r.DistrictName) != "集美区" || str(r.Subdistrict) != "杏林街道" ||
		r.SubdistrictApprox || str(r.Method) != geocoder.MethodCorrected || str(r.CorrectedBy) != "off-7" {
		t.Errorf("after correction: %+v", r)
	}
	if str(r.Category) != "noise" || !r.Priority || !r.Urgent {
		t.Errorf("category %s priority %v urgent %v: the correction must keep the category and recompute priority", str(r.Category), r.Priority, r.Urgent)
	}
	var resolvedBy *string
	if err := e.pool.QueryRow(context.Background(), `SELECT resolved_by FROM triage WHERE complaint_id = 'fix' AND resolved_at IS NOT NULL`).Scan(&resolvedBy); err != nil {
		t.Fatalf("triage not resolved: %v", err)
	}
	if str(resolvedBy) != "off-7" {
		t.Errorf("resolved by %s, want off-7", str(resolvedBy))
	}
	if l := e.lookup(t, "T-fix"); l.Status != "located" || str(l.District) != "jimei" || l.Priority == nil || !*l.Priority {
		t.Errorf("lookup after correction %+v, want located in jimei, priority", l)
	}
	subject, payload := e.outboxEvent(t, "fix.located.c1", "complaint.located.v1")
	if subject != "complaint.located.jimei.noise" {
		t.Errorf("subject %s, want complaint.located.jimei.noise", subject)
	}
	var ev event.ComplaintLocated
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Method != geocoder.MethodCorrected || ev.District != "jimei" || ev.TicketID != "T-fix" || !ev.ReceivedAt.Equal(at(23, 30)) {
		t.Errorf("event %+v", ev)
	}

	// A second correction moves it to a point in Huli and calls it dust;
	// it is the second located event of the complaint.
	lon, lat := huliNearSiming[0], huliNearSiming[1]
	e.correct(t, event.TriageCorrected{EventID: "corr-2", ComplaintID: "fix", Lon: &lon, Lat: &lat, Category: "dust", Subcategory: "construction_site", Officer: "off-8"})
	testenv.Eventually(t, 20*time.Second, "second correction", func() bool {
		return e.count(t, `SELECT count(*) FROM outbox WHERE event_id = 'fix.located.c2'`) == 1
	})
	subject, _ = e.outboxEvent(t, "fix.located.c2", "complaint.located.v1")
	r = e.location(t, "fix")
	if subject != "complaint.located.huli.dust" || str(r.District) != "huli" || str(r.Subcategory) != "construction_site" ||
		r.Lon == nil || *r.Lon != lon || str(r.CorrectedBy) != "off-8" || r.Priority {
		t.Errorf("second correction: subject %s, row %+v", subject, r)
	}

	// The same correction again, and one of an unknown complaint.
	e.publish(t, event.SubjTriageCorrected, "corr-2/r1", event.TriageCorrected{EventID: "corr-2", ComplaintID: "fix", Lon: &lon, Lat: &lat, Category: "dust", Officer: "off-8"})
	e.correct(t, event.TriageCorrected{EventID: "corr-x", ComplaintID: "nope", District: "siming", Officer: "off-8"})
	testenv.Eventually(t, 20*time.Second, "unknown complaint dead-lettered", func() bool {
		return e.count(t, `SELECT count(*) FROM dead_letters WHERE consumer = $1 AND event_id = 'corr-x'`, geocoder.DurableCorrected) == 1
	})
	e.waitDrained(t, "TRIAGE", geocoder.DurableCorrected)
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE event_id LIKE 'fix.located.c%'`); n != 2 {
		t.Errorf("%d corrected events, want 2: a redelivered correction must change nothing", n)
	}
}

func TestCorrectionWaitsForGeocoding(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *geocoder.Config) { c.MaxDeliver = 8 })
	ev := complaint("late", at(10, 0), "油烟", nil, "", "")
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		e.insertComplaint(t, tx, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The correction arrives first; the complaint is geocoded after.
	e.correct(t, event.TriageCorrected{EventID: "corr-late", ComplaintID: "late", District: "tongan", Category: "cooking_smoke", Officer: "off-1"})
	testenv.Eventually(t, 20*time.Second, "the early correction tried", func() bool {
		c, err := e.n.JS.Consumer(context.Background(), "TRIAGE", geocoder.DurableCorrected)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.Delivered.Consumer > 0 && info.NumAckPending > 0
	})
	e.publish(t, event.SubjComplaintReceived, ev.EventID, ev)
	testenv.Eventually(t, 30*time.Second, "late correction applied", func() bool {
		var by *string
		err := e.pool.QueryRow(context.Background(), `SELECT corrected_by FROM locations WHERE complaint_id = 'late'`).Scan(&by)
		if errors.Is(err, pgx.ErrNoRows) {
			return false
		}
		return err == nil && by != nil
	})
	if r := e.location(t, "late"); str(r.District) != "tongan" {
		t.Errorf("district %s, want tongan", str(r.District))
	}
	if n := e.count(t, `SELECT count(*) FROM dead_letters`); n != 0 {
		t.Errorf("a correction that arrived early was dead-lettered")
	}
}
