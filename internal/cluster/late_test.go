package cluster

import (
	"slices"
	"testing"
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
