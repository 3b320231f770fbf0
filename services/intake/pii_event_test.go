package intake_test

import (
	"context"
	"net/http"
	"testing"
)

// TestCallerPhoneInTheDescriptionStaysOutOfTheEvent: citizens often
// repeat their number in their own words ("我的电话13800138000"). The
// complaint is stored verbatim for the record, but complaint.received goes
// to the outbox, to JetStream (a week's retention, every consumer's
// inbox) and to the dead letters, which must carry no caller phone: the
// number, and the caller's name, are masked there as the officers' API
// masks them.
func TestCallerPhoneInTheDescriptionStaysOutOfTheEvent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := []byte(`{"ticket_id":"T-pii","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜里打桩，我是王小明，我的电话13800138000，请回电","address":"思明区莲前街道前埔路1号 联系人手机 139 1234 5678","caller":{"name":"王小明","phone":"13800138000"}}`)
	resp, err := e.client.Post(context.Background(), "pii-1", b)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("post: %v %d %s", err, resp.Status, resp.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE description LIKE '%13800138000%'`); n != 1 {
		t.Fatal("the description is not stored verbatim")
	}
	var payload string
	if err := e.pool.QueryRow(context.Background(), `SELECT payload::text FROM outbox WHERE subject = 'complaint.received'`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	for _, phone := range []string{"13800138000", "139 1234 5678"} {
		if contains(payload, phone) {
			t.Errorf("complaint.received carries the phone %s: %s", phone, payload)
		}
	}
	// Nor the caller's name, given in their own words.
	if contains(payload, "王小明") {
		t.Errorf("complaint.received carries the caller's name: %s", payload)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
