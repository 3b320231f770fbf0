package officers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pii"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// BenchmarkAssignments measures an officer's inbox page (50 cases, with
// complaint counts and names) on a city's worth of cases: 30 teams, 20 000
// cases, each team holding the active assignment of 1/30 of them.
func BenchmarkAssignments(b *testing.B) {
	ctx := context.Background()
	pool := benchDB(b)
	// The per-token rate limit (5 a second) would refuse the loop: the
	// benchmark measures the page, not the limit.
	cfg := DefaultConfig()
	cfg.RatePerToken, cfg.RateBurst = 1e9, 1e9
	svc, err := New(cfg, pool, nil, testenv.Log(b))
	if err != nil {
		b.Fatal(err)
	}
	_, tok, err := auth.NewStore(pool, 0).Add(ctx, auth.NewOfficer{Name: "bench", Team: "huli-eco"})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	for _, q := range []string{"", "?status=assigned,accepted"} {
		b.Run("query="+strings.TrimPrefix(q, "?"), func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", "/api/v1/assignments"+q, nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, r)
				if w.Code != 200 || !strings.Contains(w.Body.String(), `"team":"huli-eco"`) {
					b.Fatalf("%d %s", w.Code, w.Body.String()[:min(200, w.Body.Len())])
				}
			}
		})
	}
}

// benchDB is a database holding a city's worth of cases.
func benchDB(b *testing.B) *pgxpool.Pool {
	ctx := context.Background()
	pool := testenv.DB(b)
	_, err := pool.Exec(ctx, `
		INSERT INTO complaints (id, ticket_id, received_at, description)
			SELECT 'c' || i, 'T' || i, now() - i * interval '1 minute', '施工噪声' FROM generate_series(1, 20000) i;
		INSERT INTO cases (id, category, subcategory, district, team, status, opened_at)
			SELECT 'k' || i, 'noise', 'construction', (ARRAY['siming','haicang','huli','jimei','tongan','xiangan'])[1 + i % 6],
				t.id, (ARRAY['assigned','accepted','resolved','closed'])[1 + i % 4], now() - i * interval '1 minute'
			FROM generate_series(1, 20000) i,
				LATERAL (SELECT (ARRAY['siming','haicang','huli','jimei','tongan','xiangan'])[1 + i % 6] || '-' ||
					(ARRAY['eco','urban','housing','police','traffic'])[1 + (i / 6) % 5] AS id) t;
		INSERT INTO case_complaints (complaint_id, case_id) SELECT 'c' || i, 'k' || i FROM generate_series(1, 20000) i;
		INSERT INTO assignments (case_id, team, status)
			SELECT id, team, CASE WHEN status = 'closed' THEN 'done' ELSE 'active' END FROM cases;
		ANALYZE`)
	if err != nil {
		b.Fatal(err)
	}
	return pool
}

// BenchmarkMaskText measures masking a typical 200-character
// description, with a phone number in it and without.
func BenchmarkMaskText(b *testing.B) {
	base := strings.Repeat("楼下工地每天晚上十点以后还在施工，噪声很大，影响休息。", 6)
	for _, bc := range []struct{ name, desc, want string }{
		{"phone", base + "我的电话13812345678，请尽快处理。", "138****5678"},
		{"none", base + "从22点持续到凌晨2点。", "22点"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if !strings.Contains(pii.MaskText(bc.desc), bc.want) {
					b.Fatal("wrong result")
				}
			}
		})
	}
}
