package hotline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// Summary counts what a replay achieved.
type Summary struct {
	Accepted  int
	Duplicate int
	// Differs counts the duplicates whose contents differ from the work
	// order stored under their ticket (not applied); they are listed by
	// line under Reasons too.
	Differs  int
	Rejected int
	// Reasons counts rejections by status and problem detail, and the
	// duplicates that differ.
	Reasons map[string]int
	// Lines are the line numbers of the file that each reason's work
	// orders were on (the first maxLinesShown), so the operator can find
	// them without the summary repeating their personal data.
	Lines map[string][]int
	// Failed counts lines never answered after every retry.
	Failed  int
	Elapsed time.Duration
	// History says the replay posted as history (ReplayOptions.History).
	History bool
	// Otherwise counts the duplicates whose ticket is stored the other
	// way than this replay posts (the answer's "history"): in a live
	// replay, a work order stored as history, closed and never handled
	// (no case, no callback); in a history replay, one the hotline sent,
	// handled live. Neither is changed by this replay, and the operator
	// is told which they are.
	Otherwise int
	// OtherwiseShown are the first maxOtherwiseShown of them by line,
	// with their ticket ids (never personal data).
	OtherwiseShown []LineTicket
}

// LineTicket is a line of the file and the ticket the intake answered
// about it.
type LineTicket struct {
	Line   int
	Ticket string
}

// maxOtherwiseShown is how many duplicates stored the other way the
// summary names.
const maxOtherwiseShown = 10

// otherwise notes a duplicate stored the other way, keeping the
// earliest lines (the workers answer out of order).
func (s *Summary) otherwise(line int, ticket string) {
	s.Otherwise++
	i := sort.Search(len(s.OtherwiseShown), func(i int) bool { return s.OtherwiseShown[i].Line > line })
	if i == maxOtherwiseShown {
		return
	}
	s.OtherwiseShown = append(s.OtherwiseShown, LineTicket{})
	copy(s.OtherwiseShown[i+1:], s.OtherwiseShown[i:])
	s.OtherwiseShown[i] = LineTicket{line, ticket}
	if len(s.OtherwiseShown) > maxOtherwiseShown {
		s.OtherwiseShown = s.OtherwiseShown[:maxOtherwiseShown]
	}
}

// otherwiseWhat says what the duplicates stored the other way are.
func (s Summary) otherwiseWhat() string {
	if s.History {
		return "stored live, handled as the hotline's, not history"
	}
	return "stored as history, not handled"
}

// String is the summary a person reads at the end of a replay.
func (s Summary) String() string {
	var b strings.Builder
	dup := fmt.Sprint(s.Duplicate)
	if s.Otherwise > 0 {
		dup += fmt.Sprintf(" (%s: %d)", s.otherwiseWhat(), s.Otherwise)
	}
	fmt.Fprintf(&b, "accepted %d, duplicate %s, rejected %d, failed %d in %s",
		s.Accepted, dup, s.Rejected, s.Failed, s.Elapsed.Round(time.Millisecond))
	if s.Otherwise > 0 {
		what := "closed: no case, no callback"
		if s.History {
			what = "it keeps its case and the hotline's callback"
		}
		fmt.Fprintf(&b, "\n  %6d × 200 duplicate %s (%s)", s.Otherwise, s.otherwiseWhat(), what)
		shown := make([]string, len(s.OtherwiseShown))
		for i, lt := range s.OtherwiseShown {
			shown[i] = strings.TrimSpace(fmt.Sprintf("%d %s", lt.Line, lt.Ticket))
		}
		more := ""
		if n := s.Otherwise - len(shown); n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		fmt.Fprintf(&b, " (line, ticket: %s%s)", strings.Join(shown, ", "), more)
	}
	keys := make([]string, 0, len(s.Reasons))
	for k := range s.Reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %6d × %s", s.Reasons[k], k)
		if lines := s.Lines[k]; len(lines) > 0 {
			sort.Ints(lines)
			nums := make([]string, len(lines))
			for i, n := range lines {
				nums[i] = fmt.Sprint(n)
			}
			more := ""
			if s.Reasons[k] > len(lines) {
				more = ", …"
			}
			fmt.Fprintf(&b, " (line %s%s)", strings.Join(nums, ", "), more)
		}
	}
	return b.String()
}

// maxLinesShown is how many line numbers the summary keeps per reason.
const maxLinesShown = 20

// MaxLine is the longest line Replay reads; a longer one is counted as
// rejected without being sent (the intake takes 64 KiB) and the replay
// goes on.
const MaxLine = 1 << 20

func (s *Summary) note(reason string, line int) {
	s.Reasons[reason]++
	if len(s.Lines[reason]) < maxLinesShown {
		s.Lines[reason] = append(s.Lines[reason], line)
	}
}

// numbered is a line of the file with its number, from 1.
type numbered struct {
	n    int
	line []byte
}

// ReplayOptions tune Replay.
type ReplayOptions struct {
	Concurrency int
	// Progress is called after each line with the number done.
	Progress func(done int)
	// Retries bounds attempts per line on 429, 503 and network errors.
	Retries int
	// Rate, when positive, paces the posts at this many lines a second
	// (a steady feed, as the hotline sends it); zero posts as fast as the
	// intake answers.
	Rate float64
	// NotBefore, when set, keeps back every work order received before it:
	// counted as rejected with its line, never sent. Posted as the
	// hotline's, an old work order opens a case with its deadlines long
	// past, escalated at once, and calls the hotline back; History is how
	// to load it.
	NotBefore time.Time
	// History posts every line as history (HistoryPath): work orders the
	// hotline handled before this system knew of them, which are located
	// and clustered but put in no case, and never called back.
	History bool
}

// receivedBefore tells whether line is a work order received before t;
// a line whose received_at cannot be read is left to the intake to judge.
func receivedBefore(line []byte, t time.Time) bool {
	var wo struct {
		ReceivedAt string `json:"received_at"`
	}
	if json.Unmarshal(line, &wo) != nil {
		return false
	}
	// Read as the intake reads it (services/intake/workorder): either
	// case, and a leap second (:60) as the next minute's first instant.
	s := strings.ToUpper(wo.ReceivedAt)
	leap := false
	if len(s) > 19 && s[10] == 'T' && s[17:19] == "60" {
		s, leap = s[:17]+"59"+s[19:], true
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return false
	}
	if leap {
		at = at.Add(time.Second).Truncate(time.Second)
	}
	return at.Before(t)
}

// Replay posts every NDJSON line of r through the signed intake. Each line
// keeps one webhook-id across its retries, so a retry after a lost answer
// gets the original answer; re-running a file after an interruption only
// produces duplicates.
func (c *Client) Replay(ctx context.Context, r io.Reader, opt ReplayOptions) (Summary, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 16
	}
	if opt.Retries <= 0 {
		opt.Retries = 20
	}
	path := ComplaintsPath
	if opt.History {
		path = HistoryPath
	}
	start := time.Now()
	sum := Summary{Reasons: map[string]int{}, Lines: map[string][]int{}, History: opt.History}
	var mu sync.Mutex
	lines := make(chan numbered, opt.Concurrency*2)
	var wg sync.WaitGroup
	done := 0
	for range opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range lines {
				res := c.postWithRetry(ctx, path, l.line, opt.Retries)
				status, reason := res.status, res.reason
				mu.Lock()
				switch {
				case status == http.StatusAccepted:
					sum.Accepted++
				case status == http.StatusOK:
					sum.Duplicate++
					if res.differs {
						sum.Differs++
						sum.note(differsReason, l.n)
					}
					if res.history != nil && *res.history != opt.History {
						sum.otherwise(l.n, res.ticket)
					}
				case status == 0:
					sum.Failed++
					sum.note("failed: "+reason, l.n)
				default:
					sum.Rejected++
					sum.note(fmt.Sprintf("%d %s", status, reason), l.n)
				}
				done++
				if opt.Progress != nil {
					opt.Progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	rd := bufio.NewReaderSize(r, 64<<10)
	var scanErr error
	var pace *rate.Limiter
	if opt.Rate > 0 {
		pace = rate.NewLimiter(rate.Limit(opt.Rate), 1)
	}
	for n := 1; ; n++ {
		raw, tooLong, err := readLine(rd, MaxLine)
		if err != nil && err != io.EOF {
			scanErr = err
			break
		}
		line := bytes.TrimSpace(raw)
		held := ""
		switch {
		case tooLong:
			// Counted, not sent: the intake refuses it anyway, and one
			// broken line must not stop a year's backfill.
			held = fmt.Sprintf("line longer than %d KiB, not sent", MaxLine>>10)
		case len(line) > 0 && !opt.NotBefore.IsZero() && receivedBefore(line, opt.NotBefore):
			held = "received before " + opt.NotBefore.Format(time.RFC3339) + ", not sent: it would open a case already overdue, escalated at once, and call the hotline back (see -max-age; load it with -history)"
		}
		if held != "" {
			mu.Lock()
			sum.Rejected++
			sum.note(held, n)
			done++
			if opt.Progress != nil {
				opt.Progress(done)
			}
			mu.Unlock()
		} else if len(line) > 0 {
			if pace != nil {
				if err := pace.Wait(ctx); err != nil {
					scanErr = ctx.Err()
					break
				}
			}
			select {
			case lines <- numbered{n: n, line: bytes.Clone(line)}:
			case <-ctx.Done():
				scanErr = ctx.Err()
			}
			if scanErr != nil {
				break
			}
		}
		if err == io.EOF {
			break
		}
	}
	close(lines)
	wg.Wait()
	sum.Elapsed = time.Since(start)
	return sum, scanErr
}

// readLine reads one line (without its newline) of at most max bytes; a
// longer line is read to its end and dropped, reported as tooLong. At the
// end of the input it returns io.EOF with the last line, if any. The line
// may be the reader's buffer, valid until the next read.
func readLine(rd *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for first := true; ; first = false {
		chunk, err := rd.ReadSlice('\n')
		if first && err != bufio.ErrBufferFull {
			// The whole line is in the reader's buffer, valid until the
			// next read: the caller copies what it keeps.
			return bytes.TrimSuffix(chunk, []byte("\n")), len(chunk) > max+1, err
		}
		if !tooLong {
			if len(buf)+len(chunk) > max+1 { // +1: the newline
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			return bytes.TrimSuffix(buf, []byte("\n")), tooLong, nil
		default:
			return buf, tooLong, err
		}
	}
}

// posted is the outcome of a line: the intake's status (0 when it never
// answered) and, by status, the reason it was refused or not answered, or
// what its answer says of the work order stored under the ticket.
type posted struct {
	status  int
	reason  string
	differs bool
	// history is the answer's "history", nil when it says none (an
	// intake from before it did): nothing is then told of the stored one.
	history *bool
	ticket  string
}

func (c *Client) postWithRetry(ctx context.Context, path string, line []byte, retries int) posted {
	msgID := "msg_" + uuid.NewString()
	backoff := 100 * time.Millisecond
	last := ""
	for range retries {
		resp, err := c.PostTo(ctx, path, msgID, line)
		switch {
		case err != nil:
			last = "no answer"
		case resp.Status == http.StatusTooManyRequests || resp.Status >= 500:
			last = fmt.Sprintf("%d", resp.Status)
		default:
			if resp.Status >= 400 {
				return posted{status: resp.Status, reason: problemReason(resp.Body, line)}
			}
			var a struct {
				TicketID string `json:"ticket_id"`
				Differs  bool   `json:"differs"`
				History  *bool  `json:"history"`
			}
			_ = json.Unmarshal(resp.Body, &a)
			return posted{status: resp.Status, differs: a.Differs, history: a.History, ticket: a.TicketID}
		}
		select {
		case <-ctx.Done():
			return posted{reason: "interrupted"}
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
	return posted{reason: last}
}

// differsReason lists the duplicates whose contents differ from the
// work order stored under their ticket.
const differsReason = "200 duplicate with other contents than the work order stored under its ticket: not applied"

// Bounds of a rejection's reason: the summary counts lines by reason,
// and prints each once, on one line.
const (
	maxErrorsShown = 10  // the errors named, then how many more
	maxDetailRunes = 160 // of one error's detail
)

// problemReason is the reason a problem+json body gives for refusing
// line: every error it names, the fields of errors of one detail
// together ("/received_at, /description: missing: a required
// property"), groups joined by "; ", the first maxErrorsShown fields
// and how many more, each detail masked and then cut at maxDetailRunes;
// its detail when it names none. An error may quote a value of the line
// (a key sent, a value refused): the reason is masked (pii.MaskError)
// with the phone numbers and the line's callers' names, for the summary
// is printed, and kept, where the work orders are not.
func problemReason(body, line []byte) string {
	var p struct {
		Detail string `json:"detail"`
		Errors []struct {
			Field  string `json:"field"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) != nil {
		return "unreadable answer"
	}
	if len(p.Errors) == 0 {
		return pii.MaskError(p.Detail, pii.PayloadNames(line)...)
	}
	names := pii.PayloadNames(line)
	var details []string
	fields := map[string][]string{}
	shown := 0
	for _, e := range p.Errors {
		if shown == maxErrorsShown {
			break
		}
		shown++
		// Masked before it is cut: a phone number cut in two is no
		// longer recognised as one.
		d := pii.MaskError(e.Detail, names...)
		if r := []rune(d); len(r) > maxDetailRunes {
			d = string(r[:maxDetailRunes]) + "…"
		}
		if _, ok := fields[d]; !ok {
			details = append(details, d)
		}
		fields[d] = append(fields[d], e.Field)
	}
	groups := make([]string, len(details))
	for i, d := range details {
		groups[i] = strings.Join(fields[d], ", ") + ": " + d
	}
	reason := strings.Join(groups, "; ")
	if more := len(p.Errors) - shown; more > 0 {
		reason += fmt.Sprintf("; and %d more", more)
	}
	return pii.MaskError(reason, names...)
}
