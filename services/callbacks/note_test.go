package callbacks_test

import (
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// The hotline is told the notes people wrote (a resolution's 办理说明, a
// return's reason, a supervisor's reason to move a case), and none of the
// pipeline's own: "rule noise.construction" on an assignment, "complaint
// 01a2…" on a merge, and "complaint 01a2… at the same place" on a reopening
// were sent, internal ids and rule names that mean nothing to the hotline.
// A reopening still says it is one.
func TestTheHotlineHearsOnlyNotesPeopleWrote(t *testing.T) {
	t.Parallel()
	e := setup(t)
	svc := e.service(t, "", nil)
	at := time.Now()
	base := event.CaseChanged{Team: "siming-eco", Category: "noise", District: "siming"}
	evs := []struct {
		ev   event.CaseChanged
		want *string
	}{
		{event.CaseChanged{EventID: "case_n1.assigned.1", CaseID: "case_n1", Kind: "assigned", Status: "assigned", Actor: "service:router", Note: "rule noise.construction", Tickets: []string{"N1"}}, nil},
		{event.CaseChanged{EventID: "case_n1.merged.2", CaseID: "case_n1", Kind: "merged", Status: "assigned", Actor: "service:router", Note: "complaint 01a25006-7ead-7b6e-bcff-643d491f532d", Tickets: []string{"N2"}}, nil},
		{event.CaseChanged{EventID: "case_n3.assigned.1", CaseID: "case_n3", Kind: "assigned", Status: "assigned", Actor: "supervisor:s1", Note: "属住建部门管辖", Tickets: []string{"N3"}}, ptr("属住建部门管辖")},
		{event.CaseChanged{EventID: "case_n4.resolved.3", CaseID: "case_n4", Kind: "resolved", Status: "resolved", Actor: "officer:o1", Note: "rectified: 已责令停止夜间施工", Tickets: []string{"N4"}}, ptr("已整改：已责令停止夜间施工")},
		// The outcome is told in Chinese, as the console shows it, with or
		// without the team's 办理说明.
		{event.CaseChanged{EventID: "case_n7.resolved.3", CaseID: "case_n7", Kind: "resolved", Status: "resolved", Actor: "officer:o1", Note: "no_violation", Tickets: []string{"N7"}}, ptr("无违法行为")},
		{event.CaseChanged{EventID: "case_n8.resolved.3", CaseID: "case_n8", Kind: "resolved", Status: "resolved", Actor: "officer:o1", Note: "referred: 属住建部门管辖: 已移交", Tickets: []string{"N8"}}, ptr("已移交：属住建部门管辖: 已移交")},
		{event.CaseChanged{EventID: "case_n5.reopened.4", CaseID: "case_n5", Kind: "reopened", Status: "assigned", Actor: "service:router", Note: "complaint 01a25006-866e-73dd-b7f0-e777859b4472 at the same place", Tickets: []string{"N5"}}, ptr("reopened: 同一地点又有投诉，重新派单")},
		// The closing out the router does by itself is told in the
		// hotline's words, not the audit's English.
		{event.CaseChanged{EventID: "case_n6.closed.5", CaseID: "case_n6", Kind: "closed", Status: "closed", Actor: "service:router", Note: "no complaint within 30 days of the resolution", Tickets: []string{"N6"}}, ptr("办结后30日内该地点无新投诉，办结销号")},
	}
	for i, x := range evs {
		ev := x.ev
		ev.Team, ev.Category, ev.District = base.Team, base.Category, base.District
		ev.At = at.Add(time.Duration(i) * time.Millisecond)
		e.handle(t, svc, ev)
	}
	for _, x := range evs {
		var note *string
		if err := e.pool.QueryRow(e.ctx, `SELECT note FROM callbacks WHERE ticket_id = $1`, x.ev.Tickets[0]).Scan(&note); err != nil {
			t.Fatalf("%s: %v", x.ev.Tickets[0], err)
		}
		if (note == nil) != (x.want == nil) || note != nil && *note != *x.want {
			t.Errorf("%s by %s, note %q: the hotline is told %v, want %v", x.ev.Kind, x.ev.Actor, x.ev.Note, show(note), show(x.want))
		}
	}
}

func ptr(s string) *string { return &s }

func show(s *string) string {
	if s == nil {
		return "null"
	}
	return "\"" + *s + "\""
}
