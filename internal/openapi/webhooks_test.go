package openapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/schemas"
	"github.com/xiamen-eeb/nuisance/services/callbacks"
)

// TestHotlineCallbackIsDescribed: the callbacks the hotline receives are
// in the document (OpenAPI 3.1 webhooks), as the hotline's integrator
// reads it at /openapi.json: the body is the very schema of what the
// callbacks service sends, signed with the Standard Webhooks headers,
// and the answers it acts on are described. The document described the
// intake only, and the callbacks were in no contract served.
func TestHotlineCallbackIsDescribed(t *testing.T) {
	t.Parallel()
	d := load(t)
	const op = "/webhooks/hotlineCallback/post"
	s, err := d.schema(op + "/requestBody/content/application~1json/schema")
	if err != nil {
		t.Fatal(err)
	}
	own, err := schemas.Get("hotline.callback.v1")
	if err != nil {
		t.Fatal(err)
	}
	team, note := "siming-eco", "已整改：已责令停止夜间施工"
	for _, b := range []callbacks.Body{
		{TicketID: "12345-20240311-000001", CaseID: "case_1", Status: "resolved", Team: &team, Note: &note, At: time.Now().UTC()},
		{TicketID: "12345-20240311-000002", CaseID: "case_1", Status: "assigned", Team: &team, At: time.Now().UTC()},
	} {
		raw, _ := json.Marshal(b)
		var v any
		_ = json.Unmarshal(raw, &v)
		if err := s.Validate(v); err != nil {
			t.Errorf("the document refuses a callback the service sends, %s: %v", raw, err)
		}
		if err := own.Validate(v); err != nil {
			t.Errorf("hotline.callback.v1 refuses %s: %v", raw, err)
		}
	}
	n, err := d.resolve(op)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		OperationID string           `json:"operationId"`
		Description string           `json:"description"`
		Parameters  []map[string]any `json:"parameters"`
		Responses   map[string]struct {
			Description string `json:"description"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(n.raw, &o); err != nil {
		t.Fatal(err)
	}
	if o.OperationID == "" {
		t.Error("the callback has no operationId")
	}
	headers := map[string]bool{}
	for _, p := range o.Parameters {
		if p["in"] == "header" && p["required"] == true {
			headers[p["name"].(string)] = true
		}
	}
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if !headers[h] {
			t.Errorf("the callback does not name its required header %s", h)
		}
	}
	for _, code := range []string{"2XX", "429", "503", "default"} {
		if o.Responses[code].Description == "" {
			t.Errorf("the callback does not say what an answer %s does", code)
		}
	}
	for _, w := range []string{"HOTLINE_CALLBACK_URL", "24 hours", "webhook-id"} {
		if !strings.Contains(o.Description, w) {
			t.Errorf("the callback's description does not mention %s", w)
		}
	}
}

// TestWorkOrderStatusSaysWhatEachStatusMeans: the look-up's statuses are
// each explained, unlocated above all, which also answers a work order
// placed in a district but not classified (district set, category null):
// only closed was, and the hotline read unlocated beside a district as a
// contradiction.
func TestWorkOrderStatusSaysWhatEachStatusMeans(t *testing.T) {
	t.Parallel()
	d := load(t)
	n, err := d.resolve("/components/schemas/WorkOrderStatus/properties/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Enum        []string `json:"enum"`
		Description string   `json:"description"`
	}
	if err := json.Unmarshal(n.raw, &st); err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Enum {
		if !strings.Contains(st.Description, s+":") {
			t.Errorf("the status description does not say what %s means", s)
		}
	}
	if !strings.Contains(st.Description, "not classified") {
		t.Error("the status description does not say unlocated also answers a work order not classified")
	}
}

// TestHotlineTextsSayWhatHolds: the look-up's priority and due_at say
// what they are, the look-up that its signed headers read any ticket,
// and the signature that several may come on one line or on several.
func TestHotlineTextsSayWhatHolds(t *testing.T) {
	t.Parallel()
	d := load(t)
	for ptr, words := range map[string][]string{
		"/components/schemas/WorkOrderStatus/properties/priority": {"night", "22:00", "by year", "no district"},
		"/components/schemas/WorkOrderStatus/properties/due_at":   {"resolve deadline", "sign-for", "not given"},
		"/paths/~1v1~1hotline~1complaints~1{ticket_id}/get":       {"not the path", "any ticket_id", "secret", "no caller's data"},
		"/components/securitySchemes/webhookSignature":            {"space-separated", "repeated"},
		"/paths/~1v1~1hotline~1complaints/post":                   {"space-separated", "repeated"},
	} {
		n, err := d.resolve(ptr)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Description string `json:"description"`
		}
		if err := json.Unmarshal(n.raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, w := range words {
			if !strings.Contains(v.Description, w) {
				t.Errorf("%s: the description does not say %q", ptr, w)
			}
		}
	}
}
