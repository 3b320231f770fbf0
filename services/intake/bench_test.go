package intake

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func benchBody(ticket string) []byte {
	return fmt.Appendf(nil, `{"ticket_id":%q,"received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间打桩噪声扰民，已经连续三天","address":"思明区莲前街道前埔路","location":{"lon":118.1832,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"测试","phone":"13800000000"},"channel":"phone"}`, ticket)
}

func benchService(b *testing.B) *Service {
	b.Helper()
	s, err := New(DefaultConfig(benchSecret), testenv.DB(b), testenv.Log(b))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGroupCommit stores work orders 16 to a commit, as a busy intake
// gathers them; ns/op is per work order.
func BenchmarkGroupCommit(b *testing.B) {
	s := benchService(b)
	ctx := context.Background()
	const group = 16
	n := 0
	batch := make([]*submission, 0, group)
	for b.Loop() {
		n++
		c, _, err := s.parser.Parse(benchBody("B-" + strconv.Itoa(n)))
		if err != nil {
			b.Fatal(err)
		}
		sub, err := s.prepare(c, "bench-"+strconv.Itoa(n), false)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, sub)
		if len(batch) == group {
			s.commit(ctx, batch)
			for _, sub := range batch {
				if res := <-sub.done; res.err != nil || res.status != http.StatusAccepted {
					b.Fatalf("commit answered %d: %v", res.status, res.err)
				}
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkPost runs the signed POST handler, from the raw request to the
// answer after the group commit, with 64 requests in flight.
func BenchmarkPost(b *testing.B) {
	benchPost(b, 0, func(n int64) []byte { return benchBody("P-" + strconv.FormatInt(n, 10)) }, http.StatusAccepted)
}

// BenchmarkPostDuplicate posts work orders whose tickets were stored
// before, under webhook-ids of their own: each is compared with the
// stored one and answered a duplicate.
func BenchmarkPostDuplicate(b *testing.B) {
	const stored = 64
	benchPost(b, stored, func(n int64) []byte { return benchBody("D-" + strconv.FormatInt(n%stored, 10)) }, http.StatusOK)
}

// benchPost posts body(n) for n = 1, 2, ... through handlePost, each
// under a webhook-id of its own, and checks each is answered code; the
// first stored are posted before the timer starts.
func benchPost(b *testing.B, stored int64, body func(n int64) []byte, code int) {
	s := benchService(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	wh, err := standardwebhooks.NewWebhook(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	post := func(n int64, want int) bool {
		body := body(n)
		id := "post-" + strconv.FormatInt(n, 10)
		now := time.Now()
		sig, err := wh.Sign(id, now, body)
		if err != nil {
			b.Error(err)
			return false
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/hotline/complaints", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		w := httptest.NewRecorder()
		s.handlePost(w, req)
		if w.Code != want {
			b.Errorf("answered %d: %s", w.Code, w.Body)
			return false
		}
		return true
	}
	var seq atomic.Int64
	for range stored {
		if !post(seq.Add(1), http.StatusAccepted) {
			return
		}
	}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !post(seq.Add(1), code) {
				return
			}
		}
	})
}

// BenchmarkVerify checks the signature of one typical work order.
func BenchmarkVerify(b *testing.B) {
	s, err := New(DefaultConfig(benchSecret), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	body := benchBody("T-1")
	now := time.Now()
	sig, err := wh.Sign("verify-1", now, body)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "verify-1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	for b.Loop() {
		if err := s.verify(body, h); err != nil {
			b.Fatal(err)
		}
	}
}
