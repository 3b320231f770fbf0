package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/openapi"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
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
	if status != http.StatusBadRequest || !strings.Contains(raw, `"field":"/history"`) || !strings.Contains(raw, "no such property") {
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

// otherEndpoints is the process's count of work orders sent to the
// endpoint their ticket was not stored by, for reason.
func otherEndpoints(t *testing.T, reason string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "nuisance_intake_other_endpoint_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A delivery is a retry only on the endpoint it was first delivered to.
// The hotline's signature covers its webhook-id, timestamp and body, not
// its path: whoever sees a signed delivery can send it to the other
// endpoint within the 5 minutes. The hotline's work order sent first as
// history is not then answered accepted as the hotline's (it would be
// taken for handled, and never be): it is refused, 409 other_endpoint,
// and stays history; the history of a delivery of the hotline's leaves
// it the hotline's. Each is counted and warned of, by ticket and
// delivery, never the caller. A retry on the first endpoint is answered
// as the first time, and a ticket stored as history sent by the hotline
// under a webhook-id of its own is a duplicate that says it is not
// handled.
func TestADeliveryIsARetryOnlyOnItsFirstEndpoint(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	e := setupLogged(t, zap.New(zapcore.NewTee(testenv.Log(t).Core(), core)), nil)
	ctx := context.Background()
	post := func(path, msgID string, b []byte) (int, intake.Answer, string) {
		t.Helper()
		resp, err := e.client.PostTo(ctx, path, msgID, b)
		if err != nil {
			t.Fatal(err)
		}
		var a intake.Answer
		_ = resp.Decode(&a)
		return resp.Status, a, string(resp.Body)
	}
	stored := func(ticket string) (id string, history bool, events int) {
		t.Helper()
		if err := e.pool.QueryRow(ctx, `SELECT id, history FROM complaints WHERE ticket_id = $1`, ticket).Scan(&id, &history); err != nil {
			t.Fatal(err)
		}
		return id, history, e.count(t, `SELECT count(*) FROM outbox WHERE subject = 'complaint.received' AND payload->>'ticket_id' = $1`, ticket)
	}
	firstHistory, firstLive := otherEndpoints(t, "delivery_first_history"), otherEndpoints(t, "delivery_first_live")

	// History first, then the same signed delivery as the hotline's.
	status, h, raw := post(hotline.HistoryPath, "x-1", body("T-x1", ""))
	if status != http.StatusAccepted {
		t.Fatalf("history answered %d %s", status, raw)
	}
	status, _, raw = post(hotline.ComplaintsPath, "x-1", body("T-x1", ""))
	if status != http.StatusConflict || !strings.Contains(raw, "/problems/other_endpoint") ||
		!strings.Contains(raw, hotline.HistoryPath) || !strings.Contains(raw, "not handled") || !strings.Contains(raw, "T-x1") {
		t.Errorf("the hotline's delivery first made as history answered %d %s, want 409 other_endpoint saying it is history, not handled", status, raw)
	}
	// With other contents too: no duplicate answer that would hide where it went.
	status, _, raw = post(hotline.ComplaintsPath, "x-1", body("T-x1", `,"channel":"app"`))
	if status != http.StatusConflict || !strings.Contains(raw, "/problems/other_endpoint") {
		t.Errorf("the hotline's delivery first made as history, with other contents, answered %d %s, want 409 other_endpoint", status, raw)
	}
	if id, history, events := stored("T-x1"); id != h.ComplaintID || !history || events != 1 {
		t.Errorf("T-x1 stored as %s history=%v with %d events, want %s history=true with 1", id, history, events, h.ComplaintID)
	}
	// A retry as history is answered as the first time.
	if status, r, raw := post(hotline.HistoryPath, "x-1", body("T-x1", "")); status != http.StatusAccepted || r != h {
		t.Errorf("history retried answered %d %s, want the first answer %+v", status, raw, h)
	}

	// The hotline's first, then the same signed delivery as history.
	status, l, raw := post(hotline.ComplaintsPath, "y-1", body("T-y1", ""))
	if status != http.StatusAccepted {
		t.Fatalf("the hotline's answered %d %s", status, raw)
	}
	status, _, raw = post(hotline.HistoryPath, "y-1", body("T-y1", ""))
	if status != http.StatusConflict || !strings.Contains(raw, "/problems/other_endpoint") ||
		!strings.Contains(raw, hotline.ComplaintsPath) || !strings.Contains(raw, "T-y1") {
		t.Errorf("history of the hotline's delivery answered %d %s, want 409 other_endpoint", status, raw)
	}
	if id, history, events := stored("T-y1"); id != l.ComplaintID || history || events != 1 {
		t.Errorf("T-y1 stored as %s history=%v with %d events, want %s history=false with 1", id, history, events, l.ComplaintID)
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE event_id = $1 AND payload::jsonb ? 'history'`, l.ComplaintID+".received"); n != 0 {
		t.Error("the hotline's work order carries a history mark")
	}
	if status, r, raw := post(hotline.ComplaintsPath, "y-1", body("T-y1", "")); status != http.StatusAccepted || r != l {
		t.Errorf("the hotline's retry answered %d %s, want the first answer %+v", status, raw, l)
	}

	if got := otherEndpoints(t, "delivery_first_history"); got != firstHistory+2 {
		t.Errorf("delivery_first_history counted %v, want %v", got, firstHistory+2)
	}
	if got := otherEndpoints(t, "delivery_first_live"); got != firstLive+1 {
		t.Errorf("delivery_first_live counted %v, want %v", got, firstLive+1)
	}

	// History sent by the hotline under a webhook-id of its own: a
	// duplicate that says it is history, closed and not handled.
	status, d, raw := post(hotline.ComplaintsPath, "x-2", body("T-x1", ""))
	if status != http.StatusOK || d.Status != "duplicate" || d.ComplaintID != h.ComplaintID ||
		!strings.Contains(d.Detail, "stored as history") || !strings.Contains(d.Detail, "closed and not handled") {
		t.Errorf("the hotline's POST of a ticket stored as history answered %d %s, want 200 duplicate saying it is not handled", status, raw)
	}
	status, d, raw = post(hotline.ComplaintsPath, "x-3", body("T-x1", `,"channel":"app"`))
	if status != http.StatusOK || !d.Differs || !strings.Contains(d.Detail, "not handled") || !strings.Contains(d.Detail, "/channel") {
		t.Errorf("the hotline's POST of a ticket stored as history, with other contents, answered %d %s", status, raw)
	}
	status, d, raw = post(hotline.HistoryPath, "y-2", body("T-y1", ""))
	if status != http.StatusOK || d.Status != "duplicate" || !strings.Contains(d.Detail, "not stored as history") {
		t.Errorf("history of a ticket of the hotline's answered %d %s, want 200 duplicate saying it is not history", status, raw)
	}
	if _, history, _ := stored("T-x1"); !history {
		t.Error("T-x1 is no longer history")
	}
	if _, history, _ := stored("T-y1"); history {
		t.Error("T-y1 became history")
	}

	// Each warned of, by ticket and delivery, never by its caller.
	warned := map[string]bool{}
	for _, entry := range logs.All() {
		fields := entry.ContextMap()
		if entry.Level != zap.WarnLevel || fields["reason"] == nil {
			continue
		}
		warned[fmt.Sprint(fields["reason"], " ", fields["ticket_id"], " ", fields["webhook_id"], " ", fields["endpoint"])] = true
		if line := fmt.Sprint(entry.Message, fields); strings.Contains(line, "王小明") || strings.Contains(line, "13800138000") {
			t.Errorf("a warning quotes the caller: %s", line)
		}
	}
	for _, want := range []string{
		"delivery_first_history T-x1 x-1 " + hotline.ComplaintsPath,
		"delivery_first_live T-y1 y-1 " + hotline.HistoryPath,
		"ticket_stored_as_history T-x1 x-2 " + hotline.ComplaintsPath,
		"ticket_stored_live T-y1 y-2 " + hotline.HistoryPath,
	} {
		if !warned[want] {
			t.Errorf("no warning %q; warned %v", want, warned)
		}
	}
}

// Every answer about a work order says, as a field and not only in its
// detail's prose, whether the work order stored under its ticket is
// history (closed, in no case, never called back): the 202 of either
// endpoint, a retry's, the 200 duplicate's whichever endpoint it was
// sent to (the stored one's mark), and the look-up's. The hotline's
// system tells by it a ticket it will hear no more of. Each answer is
// also held to the served OpenAPI, which requires the field.
func TestAnswersSayWhetherTheWorkOrderIsHistory(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, op string, resp hotline.Response, wantStatus int, want bool) {
		t.Helper()
		var a struct {
			History *bool `json:"history"`
		}
		if err := resp.Decode(&a); err != nil || resp.Status != wantStatus || a.History == nil || *a.History != want {
			t.Errorf("%s answered %d %s, want %d with history %v", what, resp.Status, resp.Body, wantStatus, want)
		}
		if err := doc.Validate(op, resp.Status, "application/json", resp.Body); err != nil {
			t.Errorf("%s against the OpenAPI: %v", what, err)
		}
	}
	postOp := func(path string) string { return "POST " + path }
	post := func(path, msgID, ticket, extra string) hotline.Response {
		t.Helper()
		resp, err := e.client.PostTo(ctx, path, msgID, body(ticket, extra))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	live, hist := hotline.ComplaintsPath, hotline.HistoryPath
	check("the hotline's work order", postOp(live), post(live, "a-1", "T-a", ""), http.StatusAccepted, false)
	check("history", postOp(hist), post(hist, "h-1", "T-h", ""), http.StatusAccepted, true)
	check("the hotline's retry", postOp(live), post(live, "a-1", "T-a", ""), http.StatusAccepted, false)
	check("history's retry", postOp(hist), post(hist, "h-1", "T-h", ""), http.StatusAccepted, true)
	check("the hotline's again", postOp(live), post(live, "a-2", "T-a", ""), http.StatusOK, false)
	check("history again", postOp(hist), post(hist, "h-2", "T-h", ""), http.StatusOK, true)
	check("the hotline's POST of a ticket stored as history", postOp(live), post(live, "a-3", "T-h", ""), http.StatusOK, true)
	check("the same, with other contents", postOp(live), post(live, "a-4", "T-h", `,"channel":"app"`), http.StatusOK, true)
	check("history of a ticket of the hotline's", postOp(hist), post(hist, "h-3", "T-a", ""), http.StatusOK, false)
	for ticket, want := range map[string]bool{"T-a": false, "T-h": true} {
		resp, err := e.client.Lookup(ctx, "look-"+ticket, ticket)
		if err != nil {
			t.Fatal(err)
		}
		check("the look-up of "+ticket, "GET "+hotline.ComplaintsPath+"/{ticket_id}", resp, http.StatusOK, want)
	}
}
