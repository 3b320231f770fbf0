package officers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/logging"
	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// StreamEvent is the data of one "case" event of /api/v1/stream: a case
// of the principal's scope changed. Its SSE id is the JetStream sequence
// of the case event, which a reconnect sends back as Last-Event-ID.
type StreamEvent struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	CaseID  string `json:"case_id"`
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Team    string `json:"team,omitempty"`
	// PreviousTeam is the team an assignment took the case from; LeftTeam
	// tells an officer of that team that the case is no longer theirs.
	PreviousTeam string `json:"previous_team,omitempty"`
	LeftTeam     bool   `json:"left_team,omitempty"`
	// DeadlineSooner: a complaint that joined the case brought one of its
	// deadlines forward.
	DeadlineSooner bool       `json:"deadline_sooner,omitempty"`
	District       string     `json:"district"`
	Category       string     `json:"category"`
	Note           string     `json:"note,omitempty"`
	Actor          string     `json:"actor"`
	DueAt          *time.Time `json:"due_at,omitempty"`
	At             time.Time  `json:"at"`
}

// inScope reports whether a case event concerns the principal: an
// officer's team (the one that holds the case, or the one an assignment
// took it from), a supervisor's district, anything for an admin. An
// opened case has no team yet and is no one's assignment.
func inScope(p auth.Principal, ev event.CaseChanged) bool {
	if ev.Kind == caseflow.KindOpened {
		return false
	}
	switch p.Role {
	case auth.RoleOfficer:
		return p.Team != "" && (ev.Team == p.Team || ev.PreviousTeam == p.Team)
	case auth.RoleSupervisor:
		return p.District != "" && ev.District == p.District
	case auth.RoleAdmin:
		return true
	}
	return false
}

// lastEventID reads where a reconnecting client stopped: the
// Last-Event-ID header its EventSource sends, or ?last_event_id= for
// clients that open the stream afresh; 0 when it starts new.
func lastEventID(r *http.Request) (uint64, error) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	field := "Last-Event-ID"
	if v == "" {
		v, field = strings.TrimSpace(r.URL.Query().Get("last_event_id")), "last_event_id"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, invalid(field, "应为本推送中一条消息的编号")
	}
	return n, nil
}

// heartbeatEvents reads ?heartbeat=event, a client asking for its
// heartbeats as events.
func heartbeatEvents(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("heartbeat"); v {
	case "":
		return false, nil
	case "event":
		return true, nil
	default:
		return false, invalid("heartbeat", "%q 无效：应为 event，或不填", v)
	}
}

// Heartbeat is the data of a "heartbeat" event: how often they come
// while nothing else does.
type Heartbeat struct {
	EveryMS int64 `json:"every_ms"`
}

// StreamReplaced is the data of a "replaced" event, the last of a stream
// that a newer stream of the same token took the place of: MaxStreams is
// how many one token holds. A client that reopened the stream by itself
// would end another of the token's streams, which would reopen in turn:
// five devices on one token would take the stream from each other every
// few seconds, each reading its screen again each time.
type StreamReplaced struct {
	MaxStreams int `json:"max_streams"`
}

// replacedRetry is the reconnection delay a replaced stream leaves a
// client that does not know the replaced event: one that reopens anyway
// does so once a minute, not at every retry.
const replacedRetry = time.Minute

// evictionGrace is how long a replaced stream may take to say so; a write
// blocked on a client that stopped reading ends then.
const evictionGrace = time.Second

// handleStream pushes the changes of the principal's cases as Server-Sent
// Events: "event: case", the JetStream sequence as id, a StreamEvent as
// data. A client that reconnects with Last-Event-ID gets every event
// after it that the stream still holds, then the live ones. A comment
// every Heartbeat keeps idle connections open.
//
// A browser's EventSource never hands a comment to the page, which then
// cannot tell a stream the network swallows (silent, never closed: a
// phone's connection dead without a word) from an idle one. A client that
// asks (?heartbeat=event) gets each heartbeat as an event named heartbeat
// instead, one as the stream opens and then every Heartbeat while no case
// event comes, its data a Heartbeat; it has no id, so a reconnect still
// resumes after the last case event. Clients that do not ask get the
// comments, as before: one that takes every event for a case event is
// not handed others.
//
// A token holds MaxStreamsPerToken streams; a newer one ends the oldest,
// which is told so before it ends, so that it does not come back by
// itself and end another in turn: a client that asked for events gets an
// event named replaced (no id, its data a StreamReplaced), one that did
// not a comment; both get a retry of replacedRetry. A stream whose device
// is gone without a word (another network, no coverage) frees its slot
// when the server gives up the connection: its next heartbeat goes
// unacknowledged and the connection closes the user timeout of
// httpx.DefaultLiveness later, within Heartbeat plus that (a minute by
// default), not when TCP stops retransmitting a quarter of an hour on.
func (s *Service) handleStream(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.js == nil {
		return unavailable("此服务未提供实时推送", nil)
	}
	last, err := lastEventID(r)
	if err != nil {
		return err
	}
	beatEvents, err := heartbeatEvents(r)
	if err != nil {
		return err
	}
	heartbeat := ": heartbeat\n\n"
	if beatEvents {
		b, err := json.Marshal(Heartbeat{EveryMS: s.cfg.Heartbeat.Milliseconds()})
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		heartbeat = "event: heartbeat\ndata: " + string(b) + "\n\n"
	}
	replaced := fmt.Sprintf("retry: %d\n: replaced by a newer stream of this token\n\n", replacedRetry.Milliseconds())
	if beatEvents {
		b, err := json.Marshal(StreamReplaced{MaxStreams: s.cfg.MaxStreamsPerToken})
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		replaced = fmt.Sprintf("retry: %d\nevent: replaced\ndata: %s\n\n", replacedRetry.Milliseconds(), b)
	}
	ctx := r.Context()
	slot, release, err := s.streams.admit(p.ID, s.cfg.MaxStreamsPerToken, s.cfg.MaxStreams)
	if err != nil {
		w.Header().Set("Retry-After", "30")
		return err
	}
	defer release()
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{event.SubjCase + ".>"},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		InactiveThreshold: time.Minute,
	}
	if last > 0 {
		st, err := s.js.Stream(ctx, s.cfg.Stream)
		if err != nil {
			return unavailable("实时推送暂时打不开，请稍后再试", fmt.Errorf("open case stream: %w", err))
		}
		// An id beyond the stream's end is from a stream that was
		// recreated since: start afresh rather than wait for that
		// sequence and miss everything before it.
		if last <= st.CachedInfo().State.LastSeq {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
		}
	}
	cons, err := s.js.OrderedConsumer(ctx, s.cfg.Stream, cfg)
	if err != nil {
		return unavailable("实时推送暂时打不开，请稍后再试", fmt.Errorf("open case stream: %w", err))
	}
	// The server would keep the consumer for its InactiveThreshold after
	// the stream ends: a console reconnecting every few seconds, or a
	// restart's reconnections, would pile them up. Delete it at once.
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = s.js.DeleteConsumer(dctx, s.cfg.Stream, info.Name)
		}
	}()
	it, err := cons.Messages()
	if err != nil {
		return unavailable("实时推送暂时打不开，请稍后再试", fmt.Errorf("open case stream: %w", err))
	}
	defer it.Stop()

	rc := http.NewResponseController(w)
	// A server-wide write timeout would cut the stream; each write gets
	// its own deadline instead, so a client that stops reading loses
	// its stream rather than holding it (and a shutdown) for ever.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("stream: %w", err)
	}
	sendWithin := func(d time.Duration, format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(d))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		if err := rc.Flush(); err != nil {
			return false
		}
		_ = rc.SetWriteDeadline(time.Time{})
		return true
	}
	send := func(format string, args ...any) bool {
		return sendWithin(s.cfg.StreamWriteTimeout, format, args...)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser waits before reconnecting.
	opening := "retry: 3000\n: connected\n\n"
	if beatEvents {
		opening += heartbeat
	}
	if !send("%s", opening) {
		return nil
	}
	streamsOpen.Inc()
	defer streamsOpen.Dec()

	msgs := make(chan jetstream.Msg)
	quit := make(chan struct{})
	defer close(quit)
	// A shutdown or an eviction also ends a write blocked on a client
	// that stopped reading.
	go func() {
		select {
		case <-s.done:
			_ = rc.SetWriteDeadline(time.Now())
		case <-slot.evicted:
			// Time to write the replaced event, not a cut in its middle.
			_ = rc.SetWriteDeadline(time.Now().Add(evictionGrace))
		case <-quit:
		}
	}()
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				return // the iterator was stopped
			}
			select {
			case msgs <- m:
			case <-quit:
				return
			}
		}
	}()

	// The token is looked up again at each heartbeat and before each
	// event (cached for TokenCacheTTL): a token disabled or rotated, or an
	// officer moved to another team, ends the stream, which the client
	// then reopens under what the token is now, or not at all.
	still := func() bool {
		q, err := s.tokens.Authorize(r)
		if err != nil {
			return fault.KindOf(err) != fault.Unauthorized
		}
		return q.ID == p.ID && q.Role == p.Role && q.Team == p.Team && q.District == p.District
	}
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-slot.evicted:
			sendWithin(evictionGrace, "%s", replaced)
			return nil
		case <-beat.C:
			if !still() {
				return nil
			}
			if !send("%s", heartbeat) {
				return nil
			}
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			md, err := m.Metadata()
			if err != nil {
				s.log.Warn("case event without metadata", zap.String("subject", m.Subject()), logging.Error(err))
				continue
			}
			var ev event.CaseChanged
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				s.log.Warn("undecodable case event", zap.String("subject", m.Subject()), zap.Uint64("seq", md.Sequence.Stream), logging.Error(err))
				continue
			}
			if ev.Continuation() || !inScope(p, ev) {
				continue // a later part of a transition: more work orders only
			}
			if !still() {
				return nil
			}
			data, err := json.Marshal(StreamEvent{Seq: md.Sequence.Stream, EventID: ev.EventID, CaseID: ev.CaseID, Kind: ev.Kind,
				Status: ev.Status, Team: ev.Team, PreviousTeam: ev.PreviousTeam,
				LeftTeam:       p.Role == auth.RoleOfficer && ev.PreviousTeam == p.Team && ev.Team != p.Team,
				DeadlineSooner: ev.DeadlineSooner,
				District:       ev.District, Category: ev.Category, Note: pii.MaskText(ev.Note), Actor: ev.Actor, DueAt: ev.DueAt, At: ev.At})
			if err != nil {
				return fmt.Errorf("stream: %w", err)
			}
			if !send("id: %d\nevent: case\ndata: %s\n\n", md.Sequence.Stream, data) {
				return nil
			}
			streamEvents.Inc()
			// Data flowed; the next heartbeat can wait a full period.
			beat.Reset(s.cfg.Heartbeat)
		}
	}
}

var streamOpensLimited = promauto.NewCounter(prometheus.CounterOpts{
	Name: "nuisance_officers_stream_opens_limited_total",
	Help: "Event streams refused (429) because their token opened streams too often.",
})

// limitStreamOpens answers 429 with Retry-After when p opened streams too
// often, and reports whether it did.
func (s *Service) limitStreamOpens(w http.ResponseWriter, p auth.Principal) bool {
	return s.limited(w, s.opens, p, streamOpensLimited, "此登录令牌打开实时推送", "stream opens limited")
}

// streamSlots counts the open event streams, by token holder and in all.
type streamSlots struct {
	mu    sync.Mutex
	total int
	byID  map[string][]*streamSlot
}

// streamSlot is one open stream; evicted is closed when a newer stream
// of the same token takes its place.
type streamSlot struct {
	evicted chan struct{}
}

// admit takes a slot for a stream of the token holder id: past perID the
// holder's oldest stream is evicted, past total the stream is refused.
func (t *streamSlots) admit(id string, perID, total int) (*streamSlot, func(), error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total >= total {
		return nil, nil, unavailable("此服务打开的实时推送已满，请稍后再试", nil)
	}
	slot := &streamSlot{evicted: make(chan struct{})}
	t.total++
	list := append(t.byID[id], slot)
	for len(list) > perID {
		close(list[0].evicted)
		list = list[1:]
	}
	t.byID[id] = list
	var once sync.Once
	release := func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.total--
			list := t.byID[id]
			for i, s := range list {
				if s == slot {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(t.byID, id)
			} else {
				t.byID[id] = list
			}
		})
	}
	return slot, release, nil
}
