package testenv

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Outage cuts a pool made by Cuttable off PostgreSQL: while down, each
// new connection goes to a local port nothing listens on, so it is
// refused by the operating system, as in an outage. Connections made
// before stay until they fail.
type Outage struct {
	down    atomic.Bool
	refused atomic.Int64
}

// Down cuts the pool off (true) or lets it connect again (false).
func (o *Outage) Down(down bool) { o.down.Store(down) }

// Refused counts the connections attempted while down.
func (o *Outage) Refused() int64 { return o.refused.Load() }

// Cuttable is a pool to db's database that an Outage cuts off, down from
// the start when down is set; the pool closes with the test.
func Cuttable(t testing.TB, db *pgxpool.Pool, down bool) (*pgxpool.Pool, *Outage) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	o := &Outage{}
	o.down.Store(down)
	cfg := db.Config().Copy()
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		if o.down.Load() {
			o.refused.Add(1)
			cc.Host, cc.Port, cc.Fallbacks = "127.0.0.1", closed, nil
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, o
}
