package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

// The operator's backfill (POST /v1/hotline/history) takes the hotline's
// work orders, signed with its secret, and answers as the hotline's POST
// does; the complaint is stored marked as history, the mark is in its
// complaint.received, and the look-up answers it closed. A ticket is one
// complaint whichever way it came: history of a live ticket, or the
// hotline sending a ticket loaded as history, is a duplicate that changes
// nothing.
func TestHistoryIsStoredOnceMarkedAndClosed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	post := func(path, msgID, ticket, extra string) (int, intake.Answer, string) {
		t.Helper()
		resp, err := e.client.PostTo(ctx, path, msgID, body(ticket, extra))
		if err != nil {
			t.Fatal(err)
		}
		var a intake.Answer
		_ = resp.Decode(&a)
		return resp.Status, a, string(resp.Body)
	}
	status, h, raw := post(hotline.HistoryPath, "h-1", "T-hist", "")
	if status != http.StatusAccepted || h.Status != "accepted" || h.TicketID != "T-hist" || h.ComplaintID == "" {
		t.Fatalf("history answered %d %s", status, raw)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id = 'T-hist' AND history`); n != 1 {
		t.Fatalf("%d complaints stored as history, want 1", n)
	}
	var payload []byte
	if err := e.pool.QueryRow(ctx, `SELECT payload FROM outbox WHERE event_id = $1`, h.ComplaintID+".received").Scan(&payload); err != nil {
		t.Fatal(err)
	}
	sc, err := schemas.Get("complaint.received.v1")
	if err != nil {
		t.Fatal(err)
	}
	if fe, err := schemas.Validate(sc, payload); err != nil || fe != nil {
		t.Fatalf("complaint.received of history against its schema: %v %v\n%s", err, fe, payload)
	}
	var ev struct {
		History *bool `json:"history"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil || ev.History == nil || !*ev.History {
		t.Fatalf("complaint.received of history without the mark: %s", payload)
	}

	// Again as history, or as the hotline's: a duplicate of the history.
	for i, path := range []string{hotline.HistoryPath, hotline.ComplaintsPath} {
		status, d, raw := post(path, "h-again-"+string(rune('a'+i)), "T-hist", "")
		if status != http.StatusOK || d.Status != "duplicate" || d.ComplaintID != h.ComplaintID {
			t.Errorf("T-hist again at %s answered %d %s, want 200 duplicate of %s", path, status, raw, h.ComplaintID)
		}
	}
	// A live ticket sent again as history: a duplicate, and still live.
	status, l, raw := post(hotline.ComplaintsPath, "l-1", "T-live", "")
	if status != http.StatusAccepted {
		t.Fatalf("live answered %d %s", status, raw)
	}
	status, d, raw := post(hotline.HistoryPath, "h-2", "T-live", "")
	if status != http.StatusOK || d.Status != "duplicate" || d.ComplaintID != l.ComplaintID {
		t.Errorf("history of a live ticket answered %d %s, want 200 duplicate of %s", status, raw, l.ComplaintID)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id = 'T-live' AND NOT history`); n != 1 {
		t.Errorf("the live ticket is stored %d times as live, want once", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'complaint.received' AND payload->>'ticket_id' IN ('T-hist', 'T-live')`); n != 2 {
		t.Errorf("%d complaint.received events for two tickets", n)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE event_id = $1 AND payload::jsonb ? 'history'`, l.ComplaintID+".received"); n != 0 {
		t.Error("the hotline's work order carries a history mark")
	}

	// The look-up: history is closed from the start, a live work order received.
	for ticket, want := range map[string]string{"T-hist": "closed", "T-live": "received"} {
		resp, err := e.client.Lookup(ctx, "look-"+ticket, ticket)
		if err != nil {
			t.Fatal(err)
		}
		var st intake.Status
		if err := resp.Decode(&st); err != nil || resp.Status != http.StatusOK || st.Status != want || st.CaseID != nil {
			t.Errorf("look-up of %s answered %d %s, want %s without a case", ticket, resp.Status, resp.Body, want)
		}
	}

	// The same body schema (no field of its own), signature and answers.
	status, _, raw = post(hotline.HistoryPath, "h-3", "T-extra", `,"history":true`)
	if status != http.StatusBadRequest || !strings.Contains(raw, "'history' not allowed") {
		t.Errorf("history with a field the hotline's schema lacks answered %d %s, want 400 naming it", status, raw)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+hotline.HistoryPath, bytes.NewReader(body("T-unsigned", "")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unsigned history answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id IN ('T-extra', 'T-unsigned')`); n != 0 {
		t.Errorf("%d refused work orders stored", n)
	}
}
