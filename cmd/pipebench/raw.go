package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// rawJS is the bare JetStream rate on the same server the pipeline ran
// on: 1 KiB messages published asynchronously with a Nats-Msg-Id, then
// consumed by a pull consumer in batches with one ack each, the consume
// loop's pattern without its decoding, validation or transaction.
type rawJS struct{ Publish, Consume float64 }

func measureJetStream(ctx context.Context, js jetstream.JetStream, n, replicas int) (rawJS, error) {
	const name = "PIPEBENCH_RAW"
	_ = js.DeleteStream(ctx, name)
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"pipebench.raw"},
		Storage: jetstream.FileStorage, Replicas: replicas, Duplicates: natsx.DuplicateWindow})
	if err != nil {
		return rawJS{}, fmt.Errorf("raw stream: %w", err)
	}
	defer js.DeleteStream(context.Background(), name) //nolint:errcheck
	payload := make([]byte, 1024)
	start := time.Now()
	for i := range n {
		m := nats.NewMsg("pipebench.raw")
		m.Data = payload
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("raw-%d", i))
		for {
			_, err := js.PublishMsgAsync(m)
			if err == nil {
				break
			}
			// A replicated stream acknowledges slower than the client
			// publishes: let the window drain, then go on.
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				return rawJS{}, fmt.Errorf("raw publish: %w", err)
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return rawJS{}, ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return rawJS{}, errors.New("raw publish did not complete in 5 minutes")
	}
	var r rawJS
	r.Publish = float64(n) / time.Since(start).Seconds()

	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return rawJS{}, fmt.Errorf("raw consumer: %w", err)
	}
	start = time.Now()
	for got := 0; got < n; {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return rawJS{}, fmt.Errorf("raw fetch: %w", err)
		}
		k := 0
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				return rawJS{}, fmt.Errorf("raw ack: %w", err)
			}
			k++
		}
		if err := batch.Error(); err != nil {
			return rawJS{}, fmt.Errorf("raw fetch: %w", err)
		}
		if k == 0 {
			return rawJS{}, fmt.Errorf("raw consume stalled after %d of %d", got, n)
		}
		got += k
	}
	r.Consume = float64(n) / time.Since(start).Seconds()
	return r, nil
}

// measurePostgres is the bare batched insert rate of the server the
// pipeline ran on: 256 rows of a complaint's size per commit.
func measurePostgres(ctx context.Context, pool *pgxpool.Pool, n int) (float64, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("raw insert: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE pipebench_raw (id text PRIMARY KEY, ticket text, body jsonb, at timestamptz)`); err != nil {
		return 0, fmt.Errorf("raw insert: %w", err)
	}
	defer conn.Exec(context.Background(), `DROP TABLE pipebench_raw`) //nolint:errcheck
	body := `{"description":"工地夜间打桩噪声扰民，已经连续三天","address":"思明区莲前街道前埔路"}`
	start := time.Now()
	for i := 0; i < n; i += 256 {
		b := &pgx.Batch{}
		for j := i; j < i+256 && j < n; j++ {
			b.Queue(`INSERT INTO pipebench_raw VALUES ($1, $2, $3, now())`, fmt.Sprintf("b-%d", j), fmt.Sprintf("T-%d", j), body)
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
			return 0, fmt.Errorf("raw insert: %w", err)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
