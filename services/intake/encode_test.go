package intake

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
)

var hostileText = []string{
	"", "工地夜间打桩噪声扰民", `quote " backslash \ slash /`, "<script>alert(1)</script> & co",
	"\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", "line\u2028para\u2029end", "bad utf-8 \xff\xfe end", "emoji 😀",
}

// TestReceivedPayloadIsMarshal holds the hand-written complaint.received
// payload to json.Marshal's bytes for the same event.
func TestReceivedPayloadIsMarshal(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 3, 11, 23, 10, 0, 123456789, time.FixedZone("", 8*3600))
	var cases []Complaint
	for _, s := range hostileText {
		cases = append(cases, Complaint{TicketID: "T-" + s, ReceivedAt: at, Description: s, Category: s, Subcategory: s,
			HotlineCategory: s, Address: s, Channel: s, Location: &event.Location{Lon: 118.1832, Lat: 24.4871, CRS: s}})
	}
	cases = append(cases,
		Complaint{TicketID: "T-plain", ReceivedAt: time.Date(2024, 3, 11, 15, 10, 0, 0, time.UTC), Description: "x"},
		Complaint{TicketID: "T-far", ReceivedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Description: "x"},
		Complaint{TicketID: "T-tiny", ReceivedAt: at, Description: "x", Location: &event.Location{Lon: 1e-7, Lat: 1e22}},
		Complaint{TicketID: "T-zero", ReceivedAt: at, Description: "x", Location: &event.Location{Lon: 0, Lat: -0.5}},
	)
	for _, c := range cases {
		checkReceivedPayload(t, c)
	}
}

// FuzzReceivedPayload compares the hand-written payload with json.Marshal
// for arbitrary text.
func FuzzReceivedPayload(f *testing.F) {
	for _, s := range hostileText {
		f.Add(s, 118.5, 24.5)
	}
	f.Fuzz(func(t *testing.T, s string, lon, lat float64) {
		checkReceivedPayload(t, Complaint{TicketID: s, ReceivedAt: time.Unix(1710169800, 0), Description: s, Address: s,
			Channel: s, Location: &event.Location{Lon: lon, Lat: lat, CRS: s}})
	})
}

func checkReceivedPayload(t *testing.T, c Complaint) {
	t.Helper()
	const id = "01a22649-f611-72e2-bd17-87a67938e5b1"
	want, wantErr := json.Marshal(receivedEvent(id, &c))
	got, err := receivedPayload(id, &c)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%+v: error %v, json.Marshal's %v", c, err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("payload\n%s\njson.Marshal\n%s", got, want)
	}
}

// TestWriteAnswerIsWriteJSON holds the answer to httpx.WriteJSON's bytes.
func TestWriteAnswerIsWriteJSON(t *testing.T) {
	t.Parallel()
	for _, s := range hostileText {
		a := Answer{ComplaintID: "01a22649-f611-72e2-bd17-87a67938e5b1", TicketID: s, Status: "accepted"}
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeAnswer(got, 202, a)
		httpx.WriteJSON(want, 202, a)
		if got.Code != want.Code || got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Fatalf("answer %d %q %v, WriteJSON %d %q %v", got.Code, got.Body, got.Header(), want.Code, want.Body, want.Header())
		}
	}
}
