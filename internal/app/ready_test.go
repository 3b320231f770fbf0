package app

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/pgstore"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// pgProxy stands between a pool and the test's PostgreSQL server: once
// cut, the server is gone for the pool (its connections dropped, new ones
// refused), as when PostgreSQL stops or the network to it fails; opened
// again on the same address, it is back.
type pgProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *pgProxy) open(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				// Cut while this one was being dialled: it is gone too.
				p.mu.Unlock()
				c.Close()
				s.Close()
				return
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// PostgreSQL unreachable on a quiet night answers no request with an
// error: /readyz says it, and nuisance_ready{check="postgres"} says it to
// Prometheus without anyone asking /readyz. It goes 0 while the server is
// away and 1 again once it is back.
func TestServeExportsReadinessWhilePostgresIsAway(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &pgProxy{addr: "127.0.0.1:0", target: u.Host}
	proxy.open(t)
	defer proxy.cut()
	u.Host = proxy.addr
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}

	sys := &System{Cfg: config.Config{}, Log: testenv.Log(t), Pool: pool, ReadyEvery: 50 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Serve(sctx, sys, ln, nil) }()
	defer func() { cancel(); <-done }()

	ready := func(want float64) func() bool {
		return func() bool {
			v, ok := testenv.Metric(t, "nuisance_ready", "check", "postgres")
			return ok && v == want
		}
	}
	testenv.Eventually(t, 10*time.Second, `nuisance_ready{check="postgres"} 1`, ready(1))
	proxy.cut()
	testenv.Eventually(t, 10*time.Second, `nuisance_ready{check="postgres"} 0 with PostgreSQL away`, ready(0))
	proxy.open(t)
	testenv.Eventually(t, 10*time.Second, `nuisance_ready{check="postgres"} 1 with PostgreSQL back`, ready(1))
}
