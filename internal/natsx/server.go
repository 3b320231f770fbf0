// Package natsx runs the embedded NATS server, declares the streams and
// runs the one consume loop every service shares.
package natsx

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/logging"
)

// Embedded is an in-process nats-server with JetStream.
type Embedded struct {
	Server *server.Server
}

// StartEmbedded starts nats-server with JetStream storing under dir,
// listening on a free loopback port (port 0) or the given one.
func StartEmbedded(dir string, port int) (*Embedded, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "nuisance-embedded",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		MaxPayload: 1 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server not ready after 30s")
	}
	return &Embedded{Server: ns}, nil
}

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.Server.ClientURL() }

// Shutdown stops the server after clients drained.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

// Connect dials url with reconnects that never give up: a process outlives
// a NATS restart.
func Connect(url, name string, log *zap.Logger, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", logging.Error(err))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", zap.String("url", c.ConnectedUrlRedacted())) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("nats async error", zap.String("subscription", subj), logging.Error(err))
		}),
	}
	if user := urlUser(url); user != "" {
		// Each user gets inboxes of its own, where JetStream answers its
		// API calls and delivers what it pulls; its NATS permissions let
		// it subscribe to those only, never to another user's deliveries.
		base = append(base, nats.CustomInboxPrefix(InboxPrefix(user)))
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}

// InboxPrefix is the inbox prefix of a NATS user: the only subjects
// (InboxPrefix(user)+".>") the user may subscribe to.
func InboxPrefix(user string) string { return "_INBOX_" + user }

// urlUser is the user named in the first server of a NATS_URL, "" when it
// names none (the embedded server, a server without authorization).
func urlUser(raw string) string {
	first, _, _ := strings.Cut(raw, ",")
	u, err := neturl.Parse(strings.TrimSpace(first))
	if err != nil || u.User == nil {
		return ""
	}
	return u.User.Username()
}

// DuplicateWindow is how long a stream remembers message ids. The relay
// republishes an event whose acknowledgement it missed within about 11 s
// (a 10 s wait and a 1 s pause), so 20 s covers it; a republish after a
// longer outage is delivered again, and the consumers, which record every
// event they apply, drop it. The window is memory: the server keeps every
// id of the window, about 70 bytes each at several events a complaint.
const DuplicateWindow = 20 * time.Second

// Streams are the JetStream streams of the pipeline, one per domain.
func Streams(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	mk := func(name string, subjects []string, maxAge time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:       name,
			Subjects:   subjects,
			Storage:    jetstream.FileStorage,
			Retention:  jetstream.LimitsPolicy,
			MaxAge:     maxAge,
			Duplicates: DuplicateWindow,
			Replicas:   replicas,
			Discard:    jetstream.DiscardOld,
		}
	}
	week := 7 * 24 * time.Hour
	return []jetstream.StreamConfig{
		mk("COMPLAINTS", []string{"complaint.>"}, week),
		mk("HOTSPOTS", []string{"hotspot.>"}, week),
		mk("CASES", []string{"case.>"}, week),
		mk("TRIAGE", []string{"triage.>"}, week),
		mk("REPORTS", []string{"report.>"}, 30*24*time.Hour),
		mk("DLQ", []string{"dlq.>"}, 30*24*time.Hour),
	}
}

// DeclareStreams creates or updates every stream; safe to call from every
// process at every start.
func DeclareStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, cfg := range Streams(replicas) {
		// Creating a stream that exists with the same configuration
		// changes nothing, so services only create: the right to update a
		// stream is the right to re-publish all it stores to any subject,
		// which the services' NATS users do not have. A changed
		// configuration is applied by a process with the operator's user.
		_, err := js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			if _, err = js.UpdateStream(ctx, cfg); err != nil {
				return fmt.Errorf("declare stream %s: it exists with another configuration, which this user may not be allowed to change (the operator's may): %w", cfg.Name, err)
			}
		}
		if err != nil {
			return fmt.Errorf("declare stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// StreamFor names the stream that holds subject.
func StreamFor(subject string) string {
	for _, p := range []struct{ prefix, stream string }{
		{"complaint.", "COMPLAINTS"}, {"hotspot.", "HOTSPOTS"}, {"case.", "CASES"}, {"triage.", "TRIAGE"}, {"report.", "REPORTS"}, {"dlq.", "DLQ"},
	} {
		if len(subject) >= len(p.prefix) && subject[:len(p.prefix)] == p.prefix {
			return p.stream
		}
	}
	return ""
}

// StreamKeeper declares the streams again when they are gone while the
// process runs: a NATS cluster that came back empty (its volumes lost, or
// restored from nothing) has none, and the relay, the sweeper and the
// consumers of processes that never restart (the intake has no consumer
// to notice) would refuse every publish until someone restarted them all.
// With the streams back, the consumers whose durables are gone stop and
// their processes' restarts declare them, and the sweeper publishes again
// every event a stage has not processed.
type StreamKeeper struct {
	JS       jetstream.JetStream
	Replicas int
	Log      *zap.Logger
	Every    time.Duration // default 10 s
}

// Run checks the streams every Every until ctx ends.
func (k *StreamKeeper) Run(ctx context.Context) error {
	if k.Every <= 0 {
		k.Every = 10 * time.Second
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(k.Every):
		}
		k.CheckOnce(ctx)
	}
}

// CheckOnce declares again the streams the server says do not exist.
func (k *StreamKeeper) CheckOnce(ctx context.Context) {
	for _, cfg := range Streams(k.Replicas) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := k.JS.Stream(cctx, cfg.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if _, err := k.JS.CreateStream(cctx, cfg); err != nil {
				k.Log.Error("stream gone from NATS; declaring it again failed", zap.String("stream", cfg.Name), logging.Error(err))
			} else {
				k.Log.Error("stream was gone from NATS (it lost its data?): declared again; the sweeper publishes again what the stages had not processed", zap.String("stream", cfg.Name))
			}
		}
		cancel()
	}
}
