package cluster

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// A complaint received in a hotspot's busy week but delivered weeks late
// (a hotline backlog, a replay) belongs to a hotspot that closed since: it
// is counted, but it is no news about the place today, so it must not
// escalate the closed hotspot (hotspot.escalated, 督办 on the 热点 tab) only
// for the next tick to close it again.
func TestALateComplaintDoesNotEscalateAClosedHotspot(t *testing.T) {
	t.Parallel()
	e, s := setup(t)
	for i := range 5 {
		mustAdd(t, e, s, at("c"+string(rune('0'+i)), float64(i)*5, 0, days0(float64(i)*0.5)))
	}
	if h, _ := e.Hotspot("hs_c0"); h.Status != StatusActive || h.Count != 5 {
		t.Fatalf("before: %+v", h)
	}
	s.ApplyChanges(e.Tick(days0(40)))
	mustAdd(t, e, s, at("elsewhere", 5000, 5000, days0(40))) // the feed goes on
	if h, _ := e.Hotspot("hs_c0"); h.Status != StatusClosed {
		t.Fatalf("after 40 quiet days: %s", h.Status)
	}
	r := mustAdd(t, e, s, at("late", 3, 3, days0(2.5)))
	h, _ := e.Hotspot("hs_c0")
	if h.Count != 6 {
		t.Fatalf("late complaint not counted: %+v", h)
	}
	if h.Status != StatusClosed || slices.Contains(kinds(r.Changes), ChangeEscalated) {
		t.Errorf("a complaint from 38 days ago left the closed hotspot %s with changes %v; want it closed, counted, not escalated", h.Status, kinds(r.Changes))
	}
}

// A burst of complaints received a year ago and delivered now (a backfill
// of history, behind the live feed or before there is one) makes its
// hotspot, counted in full, but escalates nothing: it is no news of the place today, and 督办 a tick
// closes again a minute later would only be noise on the 热点 tab. The
// same burst delivered as it happens escalates its hotspot.
func TestComplaintsLongPastEscalateNoHotspot(t *testing.T) {
	t.Parallel()
	burst := func(prefix string, start time.Time) []Point {
		out := make([]Point, 8)
		for i := range out {
			out[i] = at(prefix+strconv.Itoa(i), float64(i%3)*10, float64(i%2)*10, start.Add(time.Duration(i)*time.Hour))
		}
		return out
	}
	e, s := setup(t)
	var escalated []ChangeKind
	for _, p := range burst("now", days0(0)) {
		for _, c := range mustAdd(t, e, s, p).Changes {
			escalated = append(escalated, c.Kind)
		}
	}
	if h, _ := e.Hotspot("hs_now0"); h.Status != StatusEscalated || !slices.Contains(escalated, ChangeEscalated) {
		t.Fatalf("a burst as it happens left its hotspot %s (changes %v), want escalated (the test's premise)", h.Status, escalated)
	}

	e, s = setup(t)
	mustAdd(t, e, s, at("live", 5000, 5000, days0(365))) // the live feed, a year on
	for _, p := range burst("old", days0(0)) {
		r := mustAdd(t, e, s, p)
		if slices.Contains(kinds(r.Changes), ChangeEscalated) {
			t.Fatalf("%s, a year old, escalated its hotspot", p.ID)
		}
	}
	h, ok := e.Hotspot("hs_old0")
	if !ok || h.Count != 8 || h.Status == StatusEscalated {
		t.Fatalf("the year-old burst's hotspot %+v (found %v), want its 8 complaints, not escalated", h, ok)
	}
	s.ApplyChanges(e.Tick(days0(365)))
	if h, _ := e.Hotspot("hs_old0"); h.Status != StatusClosed {
		t.Errorf("the year-old burst's hotspot is %s after a tick, want closed", h.Status)
	}

	// With no live feed to be behind (history loaded before the system
	// went live), the clock tells the burst is a year old.
	s = NewMemStore()
	e = NewEngine(testConfig(30*day, 48*time.Hour), s, WithClock(func() time.Time { return days0(365) }))
	for _, p := range burst("first", days0(0)) {
		if r := mustAdd(t, e, s, p); slices.Contains(kinds(r.Changes), ChangeEscalated) {
			t.Fatalf("%s, a year old by the clock, escalated its hotspot", p.ID)
		}
	}
	if h, _ := e.Hotspot("hs_first0"); h.Count != 8 {
		t.Errorf("the year-old burst's hotspot %+v, want its 8 complaints", h)
	}
}
