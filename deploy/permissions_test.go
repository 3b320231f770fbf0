package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// startServer runs nats-server in-process on the repository's
// authorization block, with a password per user defined beside it.
func startServer(t *testing.T) (url string, passwords map[string]string) {
	t.Helper()
	dir := t.TempDir()
	auth, err := os.ReadFile(filepath.FromSlash(AuthorizationFile))
	if err != nil {
		t.Fatal(err)
	}
	// The passwords, which a deployment puts in the server's environment,
	// are defined ahead of the block instead: tests run in parallel and
	// cannot change the environment.
	passwords = map[string]string{}
	var defs strings.Builder
	for _, u := range Users() {
		passwords[u] = "pw-" + u
		fmt.Fprintf(&defs, "%s: %q\n", PasswordVar(u), passwords[u])
	}
	if err := os.WriteFile(filepath.Join(dir, "authorization.conf"), append([]byte(defs.String()), auth...), 0o600); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "listen: 127.0.0.1:-1\njetstream { store_dir: %q }\ninclude ./authorization.conf\n", filepath.Join(dir, "js"))
	path := filepath.Join(dir, "node.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("repository configuration: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL(), passwords
}

// client is one user's connection with the permission errors it got.
type client struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu     sync.Mutex
	denied []string
}

func (c *client) deniedErrors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.denied)
}

// connect logs in as user with the credentials in the URL, as the
// services' NATS_URL carries them.
func connect(t *testing.T, url, user, password string) *client {
	t.Helper()
	c := &client{}
	withUser := strings.Replace(url, "nats://", "nats://"+user+":"+password+"@", 1)
	nc, err := natsx.Connect(withUser+","+withUser, user, zap.NewNop(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			c.mu.Lock()
			c.denied = append(c.denied, err.Error())
			c.mu.Unlock()
		}
	}), nats.RetryOnFailedConnect(false))
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// concrete turns a subject filter into a subject that matches it.
func concrete(filter string) string {
	toks := strings.Split(filter, ".")
	for i, tok := range toks {
		switch tok {
		case "*":
			toks[i] = "siming"
		case ">":
			toks[i] = "siming.noise"
		}
	}
	return strings.Join(toks, ".")
}

// matches reports whether subject matches the NATS filter.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

// pipelineSubjects are events of every kind the pipeline carries.
var pipelineSubjects = []string{
	"complaint.received", "complaint.located.siming.noise", "complaint.unlocated",
	"complaint.clustered.huli.dust", "hotspot.opened", "case.opened", "case.assigned.siming-ee",
	"case.resolved", "triage.corrected", "report.generated",
}

func operatorStreamCount(t *testing.T, op *client, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := op.js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// TestServiceUsersDoWhatTheirServicesDo logs in as every service user on
// the repository's configuration and does what the service does:
// declare the streams, check the account, publish its events and the
// inputs its sweeper republishes, create its consumers, fetch and ack.
func TestServiceUsersDoWhatTheirServicesDo(t *testing.T) {
	t.Parallel()
	url, pw := startServer(t)
	op := connect(t, url, OperatorUser, pw[OperatorUser])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := natsx.DeclareStreams(ctx, op.js, 1); err != nil {
		t.Fatal(err)
	}
	for _, s := range Services {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := connect(t, url, s.Name, pw[s.Name])
			if err := natsx.DeclareStreams(ctx, c.js, 1); err != nil {
				t.Fatalf("declare streams: %v", err)
			}
			if _, err := c.js.AccountInfo(ctx); err != nil {
				t.Fatalf("readiness check: %v", err)
			}
			for i, f := range append(slices.Clone(s.Publishes), "dlq."+s.Name) {
				subj := concrete(f)
				m := nats.NewMsg(subj)
				m.Data = []byte(`{"event_id":"x"}`)
				m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-pub-%d", s.Name, i))
				ack, err := c.js.PublishMsg(ctx, m)
				if err != nil {
					t.Fatalf("publish %s: %v", subj, err)
				}
				if subj == "dlq."+s.Name {
					// The retention job deletes a dead letter's copy once
					// its callers are erased.
					st, err := c.js.Stream(ctx, "DLQ")
					if err != nil {
						t.Fatalf("look the DLQ stream up: %v", err)
					}
					if err := st.SecureDeleteMsg(ctx, ack.Sequence); err != nil {
						t.Fatalf("delete the dead letter's copy from the DLQ stream: %v", err)
					}
				}
			}
			n := 0
			for _, cs := range s.Consumers {
				for _, name := range ownDurables(cs) {
					n++
					subj := concrete(cs.Filters[0])
					m := nats.NewMsg(subj)
					m.Data = []byte(`{"event_id":"y"}`)
					m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-in-%d", s.Name, n))
					if _, err := c.js.PublishMsg(ctx, m); err != nil {
						t.Fatalf("republish input %s: %v", subj, err)
					}
					var cons jetstream.Consumer
					var err error
					if cs.Ordered {
						cons, err = c.js.OrderedConsumer(ctx, cs.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: cs.Filters})
					} else {
						cfg := jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy}
						if len(cs.Filters) == 1 {
							cfg.FilterSubject = cs.Filters[0]
						} else {
							cfg.FilterSubjects = cs.Filters
						}
						cons, err = c.js.CreateOrUpdateConsumer(ctx, cs.Stream, cfg)
					}
					if err != nil {
						t.Fatalf("create consumer %s on %s: %v", name, cs.Stream, err)
					}
					batch, err := cons.FetchNoWait(256)
					if err != nil {
						t.Fatalf("fetch from %s: %v", name, err)
					}
					got := 0
					for msg := range batch.Messages() {
						got++
						if !cs.Ordered {
							if err := msg.DoubleAck(ctx); err != nil {
								t.Fatalf("ack on %s: %v", name, err)
							}
						}
					}
					if got == 0 {
						t.Fatalf("consumer %s fetched nothing: %v", name, batch.Error())
					}
					if cs.Ordered {
						// The officers' stream deletes its consumer when it ends.
						if err := c.js.DeleteConsumer(ctx, cs.Stream, cons.CachedInfo().Name); err != nil {
							t.Fatalf("delete ordered consumer on %s: %v", cs.Stream, err)
						}
					}
					if !cs.Ordered {
						info, err := cons.Info(ctx)
						if err != nil {
							t.Fatalf("consumer info %s: %v", name, err)
						}
						if info.NumAckPending != 0 || info.AckFloor.Consumer == 0 {
							t.Fatalf("consumer %s: %d pending after acks, ack floor %d", name, info.NumAckPending, info.AckFloor.Consumer)
						}
					}
				}
			}
			if d := c.deniedErrors(); len(d) > 0 {
				t.Fatalf("permission errors doing its own work: %v", d)
			}
		})
	}
}

// ownDurables are the names of cs the test uses: its one durable, the
// first and last partition of a partitioned one, "" for an ordered one.
func ownDurables(cs Consumer) []string {
	switch {
	case cs.Ordered:
		return []string{""}
	case len(cs.Durables) > 1:
		return []string{cs.Durables[0], cs.Durables[len(cs.Durables)-1]}
	}
	return cs.Durables
}

// TestServiceUsersAreRefusedOutsideTheirSubjects has every service publish
// the events of the others, subscribe to the event streams and delete a
// stream: NATS refuses each, and nothing reaches the streams.
func TestServiceUsersAreRefusedOutsideTheirSubjects(t *testing.T) {
	t.Parallel()
	url, pw := startServer(t)
	op := connect(t, url, OperatorUser, pw[OperatorUser])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := natsx.DeclareStreams(ctx, op.js, 1); err != nil {
		t.Fatal(err)
	}
	for _, s := range Services {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := connect(t, url, s.Name, pw[s.Name])
			allowed := s.PublishAllow()
			var forbidden []string
			for _, subj := range pipelineSubjects {
				if !slices.ContainsFunc(allowed, func(f string) bool { return matches(f, subj) }) {
					forbidden = append(forbidden, subj)
				}
			}
			if len(forbidden) == 0 {
				t.Fatal("the service may publish every event of the pipeline")
			}
			for _, subj := range forbidden {
				pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
				_, err := c.js.Publish(pctx, subj, []byte(`{"event_id":"forged"}`))
				pcancel()
				if err == nil {
					t.Fatalf("JetStream acknowledged %s from %s", subj, s.Name)
				}
				if n := operatorStreamCount(t, op, natsx.StreamFor(subj), subj); n != 0 {
					t.Fatalf("%s from %s reached the stream (%d messages)", subj, s.Name, n)
				}
			}
			if _, err := c.nc.SubscribeSync("case.>"); err != nil {
				t.Fatal(err)
			}
			dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := c.js.DeleteStream(dctx, "COMPLAINTS")
			dcancel()
			if err == nil {
				t.Fatal("deleted the COMPLAINTS stream")
			}
			if _, err := op.js.Stream(ctx, "COMPLAINTS"); err != nil {
				t.Fatalf("COMPLAINTS stream after the refused delete: %v", err)
			}
			if err := c.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			want := len(forbidden) + 2 // the publishes, the subscription, the delete
			var denied []string
			deadline := time.Now().Add(5 * time.Second)
			for len(denied) < want && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				denied = c.deniedErrors()
			}
			for _, subj := range append(forbidden, "case.>", "$JS.API.STREAM.DELETE.COMPLAINTS") {
				if !slices.ContainsFunc(denied, func(e string) bool { return strings.Contains(e, `"`+subj+`"`) }) {
					t.Errorf("no permissions violation for %s; got %v", subj, denied)
				}
			}
		})
	}
}

// TestServicesOwnTheirEventsOnly checks the table against the pipeline:
// each event kind has exactly the producers the architecture names, so a
// widened permission is a deliberate change here.
func TestServicesOwnTheirEventsOnly(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"complaint.received":             {"intake"},
		"complaint.located.siming.noise": {"geocoder"},
		"complaint.unlocated":            {"geocoder"},
		"complaint.clustered.huli.dust":  {"hotspots"},
		"hotspot.opened":                 {"hotspots"},
		"case.assigned.siming-ee":        {"officers", "router"},
		"triage.corrected":               {"officers"},
		"report.generated":               {"reporter"},
	}
	for subj, producers := range want {
		var got []string
		for _, s := range Services {
			if slices.ContainsFunc(s.Publishes, func(f string) bool { return matches(f, subj) }) {
				got = append(got, s.Name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, producers) {
			t.Errorf("%s is published by %v, want %v", subj, got, producers)
		}
	}
	streams := natsx.Streams(1)
	if len(streams) != len(Streams) {
		t.Fatalf("%d streams declared by natsx, %d permitted here", len(streams), len(Streams))
	}
	for _, st := range streams {
		if !slices.Contains(Streams, st.Name) {
			t.Errorf("stream %s is declared by every process but no user may declare it", st.Name)
		}
	}
}

// durable is a durable consumer of one service, as the test names it.
type durable struct {
	owner, stream, name string
	filters             []string
}

// TestServiceUsersCannotTouchOtherServicesDurables creates the durable
// consumers of every service, one event waiting on each, and has every
// other service pull from them, re-filter them to a subject nothing is
// published on, delete them and ack on them: NATS refuses each, and the
// consumers are as they were, their event undelivered. A service allowed
// to would stop the other one without an error (the officers, facing the
// internet, stopping the hotline's callbacks).
func TestServiceUsersCannotTouchOtherServicesDurables(t *testing.T) {
	t.Parallel()
	url, pw := startServer(t)
	op := connect(t, url, OperatorUser, pw[OperatorUser])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := natsx.DeclareStreams(ctx, op.js, 1); err != nil {
		t.Fatal(err)
	}
	var victims []durable
	for _, s := range Services {
		for _, cs := range s.Consumers {
			if cs.Ordered {
				continue
			}
			for _, name := range ownDurables(cs) {
				victims = append(victims, durable{s.Name, cs.Stream, name, cs.Filters})
				if _, err := op.js.CreateOrUpdateConsumer(ctx, cs.Stream, jetstream.ConsumerConfig{
					Durable: name, FilterSubjects: cs.Filters, AckPolicy: jetstream.AckExplicitPolicy,
				}); err != nil {
					t.Fatalf("create %s on %s: %v", name, cs.Stream, err)
				}
			}
		}
	}
	for i, v := range victims {
		m := nats.NewMsg(concrete(v.filters[0]))
		m.Data = []byte(`{"event_id":"waiting"}`)
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("waiting-%d", i))
		if _, err := op.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range Services {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := connect(t, url, s.Name, pw[s.Name])
			var want []string
			for _, v := range victims {
				if v.owner == s.Name {
					continue
				}
				api := "$JS.API.CONSUMER."
				next := api + "MSG.NEXT." + v.stream + "." + v.name
				if _, err := c.nc.Request(next, []byte(`{"batch":1,"no_wait":true}`), 300*time.Millisecond); err == nil {
					t.Errorf("%s pulled from %s's %s", s.Name, v.owner, v.name)
				}
				nothing, _, _ := strings.Cut(v.filters[0], ".")
				nothing += ".nothing"
				uctx, ucancel := context.WithTimeout(ctx, 300*time.Millisecond)
				_, err := c.js.UpdateConsumer(uctx, v.stream, jetstream.ConsumerConfig{
					Durable: v.name, FilterSubject: nothing, AckPolicy: jetstream.AckExplicitPolicy,
				})
				ucancel()
				if err == nil {
					t.Errorf("%s re-filtered %s's %s to %s", s.Name, v.owner, v.name, nothing)
				}
				dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
				err = c.js.DeleteConsumer(dctx, v.stream, v.name)
				dcancel()
				if err == nil {
					t.Errorf("%s deleted %s's %s", s.Name, v.owner, v.name)
				}
				ack := "$JS.ACK." + v.stream + "." + v.name + ".1.1.1.0.0"
				if err := c.nc.Publish(ack, []byte("+ACK")); err != nil {
					t.Fatal(err)
				}
				want = append(want, next, api+"CREATE."+v.stream+"."+v.name+"."+nothing, api+"DELETE."+v.stream+"."+v.name, ack)

				info, err := op.js.Consumer(ctx, v.stream, v.name)
				if err != nil {
					t.Fatalf("%s's %s after %s's attempts: %v", v.owner, v.name, s.Name, err)
				}
				ci := info.CachedInfo()
				if !slices.Equal(ci.Config.FilterSubjects, v.filters) || ci.Config.FilterSubject != "" {
					t.Errorf("%s's %s filters %q %v after %s's attempts, want %v", v.owner, v.name, ci.Config.FilterSubject, ci.Config.FilterSubjects, s.Name, v.filters)
				}
				if ci.Delivered.Stream != 0 || ci.NumPending == 0 {
					t.Errorf("%s's %s: %d delivered, %d pending after %s's attempts, want its event waiting", v.owner, v.name, ci.Delivered.Stream, ci.NumPending, s.Name)
				}
			}
			if err := c.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			var denied []string
			deadline := time.Now().Add(5 * time.Second)
			for len(denied) < len(want) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				denied = c.deniedErrors()
			}
			for _, subj := range want {
				if !slices.ContainsFunc(denied, func(e string) bool { return strings.Contains(e, `"`+subj+`"`) }) {
					t.Errorf("no permissions violation for %s", subj)
				}
			}
		})
	}
}
