package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// holdLookup holds the answer of the first token look-up that starts
// after arm is closed until release is closed.
type holdLookup struct {
	arm, answered, release chan struct{}
	once                   sync.Once
}

func (h *holdLookup) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "WHERE token_hash = $1 AND disabled_at IS NULL") {
		select {
		case <-h.arm:
			held := false
			h.once.Do(func() { held = true })
			if held {
				return context.WithValue(ctx, h, true)
			}
		default:
		}
	}
	return ctx
}

func (h *holdLookup) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if ctx.Value(h) == true {
		close(h.answered)
		<-h.release
	}
}

// A token disabled while this process was looking it up stops working
// here at once: the look-up, answered valid before the disable, must not
// put its answer in the cache the disable just cleared.
func TestDisableDuringALookUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := testenv.DB(t)
	cfg := base.Config()
	h := &holdLookup{arm: make(chan struct{}), answered: make(chan struct{}), release: make(chan struct{})}
	cfg.ConnConfig.Tracer = h
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := NewStore(pool, time.Minute)
	o, tok, err := s.Add(ctx, NewOfficer{Name: "陈警官", Team: "siming-eco"})
	if err != nil {
		t.Fatal(err)
	}

	close(h.arm)
	looked := make(chan error, 1)
	go func() { _, err := s.Lookup(ctx, tok); looked <- err }()
	<-h.answered // the database has said valid
	if err := s.Disable(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-looked; err != nil {
		t.Fatalf("the look-up under way: %v", err)
	}
	if p, err := s.Lookup(ctx, tok); err == nil {
		t.Fatalf("a token disabled in this process still works here (as %s), from a look-up answered before the disable", p.ID)
	}
}
