package hotline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
)

// fakeIntake answers 202 to every work order whose ticket_id starts with
// "OK", 200 duplicate to "DUP" (differing for "DUP-NEW"), 400 naming a
// field to the others, and records the tickets posted.
func fakeIntake(t *testing.T) (*hotline.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wo struct {
			TicketID string `json:"ticket_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&wo)
		mu.Lock()
		got = append(got, wo.TicketID)
		mu.Unlock()
		if strings.HasPrefix(wo.TicketID, "DUP") {
			w.WriteHeader(http.StatusOK)
			differs := strings.HasPrefix(wo.TicketID, "DUP-NEW")
			fmt.Fprintf(w, `{"complaint_id":"c","ticket_id":%q,"status":"duplicate","differs":%t}`, wo.TicketID, differs)
			return
		}
		if strings.HasPrefix(wo.TicketID, "OK") {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"complaint_id":"c","ticket_id":%q,"status":"accepted"}`, wo.TicketID)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":400,"detail":"the work order does not match hotline.complaint.v1","errors":[{"field":"/received_at","detail":"not an RFC 3339 date-time"}]}`)
	}))
	t.Cleanup(srv.Close)
	client, err := hotline.New(srv.URL, "whsec_cmVwbGF5LXBhY2luZy10ZXN0LXNlY3JldA==")
	if err != nil {
		t.Fatal(err)
	}
	return client, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

// TestReplayGoesOnPastAnOverlongLine: one line of a backfill file longer
// than the scanner's 1 MiB (a pasted attachment, a broken export) must be
// counted as rejected, with its line number, and the lines after it still
// posted. Today the whole replay stops at it with bufio.ErrTooLong, and
// "safe to re-run" stops at the same line every time.
func TestReplayGoesOnPastAnOverlongLine(t *testing.T) {
	t.Parallel()
	client, posted := fakeIntake(t)
	feed := `{"ticket_id":"OK-1"}` + "\n" +
		`{"ticket_id":"BAD-2","description":"` + strings.Repeat("噪", 1<<19) + `"}` + "\n" +
		`{"ticket_id":"OK-3"}` + "\n"
	sum, err := client.Replay(context.Background(), strings.NewReader(feed), hotline.ReplayOptions{Concurrency: 2})
	if err != nil {
		t.Fatalf("replay stopped at the overlong line: %v (%s); posted %v", err, sum, posted())
	}
	if sum.Accepted != 2 || sum.Rejected != 1 {
		t.Fatalf("want 2 accepted and 1 rejected, got %s", sum)
	}
	if !strings.Contains(sum.String(), "line 2") {
		t.Fatalf("the summary does not name line 2:\n%s", sum)
	}
}

// TestReplayNamesTheLinesItRejected: in a year's file the operator must
// find the bad work orders; the summary names their line numbers (not
// their content: the lines hold callers' names and phones).
func TestReplayNamesTheLinesItRejected(t *testing.T) {
	t.Parallel()
	client, _ := fakeIntake(t)
	var feed strings.Builder
	for i := 1; i <= 50; i++ {
		id := fmt.Sprintf("OK-%d", i)
		if i == 17 || i == 42 {
			id = fmt.Sprintf("BAD-%d", i)
		}
		fmt.Fprintf(&feed, `{"ticket_id":%q,"caller":{"phone":"13800138000"}}`+"\n", id)
	}
	sum, err := client.Replay(context.Background(), strings.NewReader(feed.String()), hotline.ReplayOptions{Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	out := sum.String()
	if sum.Rejected != 2 || !strings.Contains(out, "17") || !strings.Contains(out, "42") {
		t.Fatalf("the summary does not say which lines were rejected:\n%s", out)
	}
	if strings.Contains(out, "13800138000") {
		t.Fatalf("the summary shows a caller's phone:\n%s", out)
	}
}

// TestReplayNamesTheDuplicatesThatDiffer: a ticket sent again with other
// contents is a duplicate that is not applied; the summary counts and
// lists those lines apart from the plain duplicates, and they do not fail
// the replay.
func TestReplayNamesTheDuplicatesThatDiffer(t *testing.T) {
	t.Parallel()
	client, _ := fakeIntake(t)
	feed := `{"ticket_id":"OK-1"}` + "\n" + `{"ticket_id":"DUP-2"}` + "\n" + `{"ticket_id":"DUP-NEW-3"}` + "\n"
	sum, err := client.Replay(context.Background(), strings.NewReader(feed), hotline.ReplayOptions{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	out := sum.String()
	if sum.Duplicate != 2 || sum.Differs != 1 || sum.Rejected != 0 || !strings.Contains(out, "not applied") || !strings.Contains(out, "line 3") || strings.Contains(out, "line 2") {
		t.Fatalf("want 2 duplicates, line 3 listed as differing and not applied, nothing rejected:\n%s", out)
	}
}
