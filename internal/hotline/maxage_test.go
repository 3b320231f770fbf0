package hotline

import (
	"testing"
	"time"
)

// -max-age holds back every work order the intake would take as received
// before the cutoff: the intake reads a leap second (RFC 3339 :60, the
// schema's date-time) as the next minute's first instant, so replay must
// read it too, or that work order goes out and opens a case years
// overdue.
func TestMaxAgeReadsEveryDateTimeTheIntakeTakes(t *testing.T) {
	t.Parallel()
	cut := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, at := range []string{"2016-12-31T23:59:60Z", "2016-12-31t23:59:60.5z", "2019-06-30T23:59:59+08:00"} {
		if !receivedBefore([]byte(`{"ticket_id":"A","received_at":"`+at+`"}`), cut) {
			t.Errorf("received_at %s is not held back by a cutoff of %s", at, cut.Format(time.RFC3339))
		}
	}
	if receivedBefore([]byte(`{"ticket_id":"A","received_at":"2021-01-01T00:00:60Z"}`), cut) {
		t.Error("a leap second after the cutoff is held back")
	}
}
