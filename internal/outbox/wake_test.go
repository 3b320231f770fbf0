package outbox

import "testing"

func TestWakesFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		filters []string
		payload string
		want    bool
	}{
		{nil, "complaint", true},
		{[]string{"case.>"}, "", true},
		{[]string{"case.>"}, "case", true},
		{[]string{"case.>"}, "complaint", false},
		{[]string{"complaint.received", "triage.>"}, "triage", true},
		{[]string{"complaint.received", "triage.>"}, "hotspot", false},
		{[]string{"*.resolved"}, "case", true},
		{[]string{">"}, "report", true},
	} {
		if got := wakesFor(c.filters, c.payload); got != c.want {
			t.Errorf("wakesFor(%q, %q) = %v, want %v", c.filters, c.payload, got, c.want)
		}
	}
}
