package reporter

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/report"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A hotspot whose address names no gazetteer place is shown by its place
// key, the rest of a citizen's address. A key stored with a phone number
// in it (addresses now lose theirs) shows it masked, in every format.
func TestAHotspotShownByItsKeyShowsNoPhone(t *testing.T) {
	// As stored before addresses lost their phones.
	hotspotShownByKey(t, "厦门市思明区莲前街道前埔路88号 联系电话13800138000", "siming/前埔路88号联系电话13800138000", "13800138000")
}

// A key stored with the caller's name with a title in it, after a contact
// label (电话：王先生 138…) or before the phone number (，王先生138…),
// shows the name masked (王**), in every format: addresses now lose it.
func TestAHotspotShownByItsKeyShowsNoName(t *testing.T) {
	t.Run("after a label", func(t *testing.T) {
		hotspotShownByKey(t, "厦门市思明区莲前街道前埔路88号 电话：王先生 13800138000", "siming/前埔路88号电话王先生", "王先生")
	})
	t.Run("before the number", func(t *testing.T) {
		hotspotShownByKey(t, "厦门市思明区莲前街道前埔路88号，欧阳女士13800138000", "siming/前埔路88号欧阳女士", "欧阳女士")
	})
}

// hotspotShownByKey reports a hotspot of three complaints at addr, stored
// with key, and checks that no format shows secret and every one shows
// the place.
func hotspotShownByKey(t *testing.T, addr, key, secret string) {
	t.Helper()
	ctx := context.Background()
	pool := testenv.DB(t)
	base := time.Date(2024, 3, 12, 22, 0, 0, 0, cst)
	for i := range 3 {
		id := "c" + string(rune('1'+i))
		at := base.Add(time.Duration(i) * time.Hour)
		if _, err := pool.Exec(ctx, `INSERT INTO complaints (id, ticket_id, received_at, description, category, address) VALUES ($1, $1, $2, 'x', 'noise', $3)`, id, at, addr); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO locations (complaint_id, located, district, lon, lat, category, place_key, received_at) VALUES ($1, true, 'siming', 118.18, 24.48, 'noise', $2, $3)`, id, key, at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO hotspots (id, category, district, status, complaint_count, first_at, last_at, lon, lat, place, place_key)
		VALUES ('hs-1', 'noise', 'siming', 'active', 3, $1, $2, 118.18, 24.48, NULL, $3)`, base, base.Add(2*time.Hour), key); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		id := "c" + string(rune('1'+i))
		if _, err := pool.Exec(ctx, `INSERT INTO hotspot_members (complaint_id, hotspot_id, category, district, lon, lat, place_key, at) VALUES ($1, 'hs-1', 'noise', 'siming', 118.18, 24.48, $2, $3)`, id, key, base.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Generate(ctx, pool, "2024-W11", fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Formats {
		var buf bytes.Buffer
		if err := Render(r, f, &buf); err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(buf.String(), secret); i >= 0 {
			s := buf.String()
			lo := max(0, i-60)
			t.Errorf("%s report contains the caller's %s: ...%s...", f, secret, s[lo:min(len(s), i+20)])
		}
		if !strings.Contains(buf.String(), "前埔路88号") {
			t.Errorf("%s report does not show the hotspot's place", f)
		}
	}
}

// A report generated again after its week (by the CLI, or after a late
// complaint) lists the overdue cases as they stood at the week's end: one
// signed for and one escalated only the week after are shown assigned and
// not escalated.
func TestOverdueCasesAsTheWeekEnded(t *testing.T) {
	ctx := context.Background()
	pool := testenv.DB(t)
	w10 := func(d, h int) time.Time { return at(t, "2024-W10", d, h) }
	w11 := func(d, h int) time.Time { return at(t, "2024-W11", d, h) }
	w12 := func(d, h int) time.Time { return at(t, "2024-W12", d, h) }
	for _, c := range []struct {
		id, status string
		resolved   *time.Time
	}{{"case-a", "accepted", nil}, {"case-b", "resolved", ptr(w12(2, 10))}} {
		if _, err := pool.Exec(ctx, `INSERT INTO cases (id, category, district, team, status, escalated, opened_at, sign_due, resolve_due, accepted_at, resolved_at)
			VALUES ($1, 'noise', 'siming', 'siming-eco', $2, true, $3, $4, $5, $6, $7)`,
			c.id, c.status, w10(1, 9), w10(1, 17), w11(2, 17), w12(1, 9), c.resolved); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO case_audit (case_id, actor, at, from_status, to_status, action, reason)
			VALUES ($1, 'service:router', $2, 'assigned', 'assigned', 'escalate', 'resolve deadline passed')`, c.id, w12(1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Generate(ctx, pool, "2024-W11", w12(3, 9))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Timeliness.Overdue) != 2 {
		t.Fatalf("overdue %+v, want both cases", r.Timeliness.Overdue)
	}
	for _, c := range r.Timeliness.Overdue {
		if c.Status != "assigned" || c.Escalated {
			t.Errorf("%s listed as %q, escalated %v at the end of W11; want assigned, not yet escalated", c.CaseID, c.Status, c.Escalated)
		}
	}
}
