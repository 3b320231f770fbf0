package reporter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/httpx"
	"github.com/xiamen-eeb/nuisance/internal/report"
)

// Routes mounts GET /reports/weekly/ (the stored weeks) and
// GET /reports/weekly/{week}.{html|csv|json|geojson}, for supervisor and
// admin tokens.
func (s *Service) Routes(mux httpx.Mux) {
	mux.HandleFunc("GET /reports/weekly/{$}", s.authorized(s.handleList))
	mux.HandleFunc("GET /reports/weekly/{file}", s.authorized(s.handleReport))
}

// readers are the roles that may read the reports.
var readers = []string{"supervisor", "admin"}

// The reports are served on the console's origin, where the console
// keeps its token: every answer runs nothing, loads nothing, is framed
// by no page and names itself to no other site. The console's own policy
// (web/officer.ContentSecurityPolicy) does not fit an HTML report, whose
// styles are inline: htmlPolicy allows that one style sheet by its hash.
const (
	reportPolicy = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	// styleOpen and styleClose enclose the report's style sheet, the
	// first in its head (internal/report's template; a place named
	// "<style>" is escaped).
	styleOpen, styleClose = "<style>", "</style>"
)

// htmlPolicy is the Content-Security-Policy of an HTML report: reportPolicy
// and its style sheet allowed by its SHA-256.
func htmlPolicy(body []byte) string {
	i := bytes.Index(body, []byte(styleOpen))
	if i < 0 {
		return reportPolicy
	}
	css := body[i+len(styleOpen):]
	j := bytes.Index(css, []byte(styleClose))
	if j < 0 {
		return reportPolicy
	}
	sum := sha256.Sum256(css[:j])
	return reportPolicy + "; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// authorized lets only supervisors and admins through, each token held to
// its rate (before the role is checked: a refused request costs too).
func (s *Service) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		role, err := s.cfg.Authorize(r)
		if err != nil {
			auth.Deny(w, s.log, err) // 401 with its challenge, or 429 to an address failing too often
			return
		}
		if s.limiter.LimitToken(w, r) {
			return
		}
		if !slices.Contains(readers, role) {
			httpx.WriteError(w, s.log, fault.Errorf(fault.Forbidden, "weekly reports are for supervisors and admins"))
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "private, no-store")
		h.Set("Content-Security-Policy", reportPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		next(w, r)
	}
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	list, err := s.List(r.Context())
	if err != nil {
		httpx.WriteError(w, s.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"reports": list})
}

// earliestReceived is the earliest received_at the intake takes: no
// complaint, so no report, is of a week before the one that holds it.
var earliestReceived = event.EarliestReceived

// buildTimeout bounds the generation of a week not stored, which runs on
// when the request that started it is gone: the others waiting for it
// take its report.
const buildTimeout = 5 * time.Minute

// handleReport serves a stored report; a finished week that has none yet
// (older than the catch-up window) is generated on the fly, at most once
// at a time, if it can hold a complaint: a week before the first
// complaint stored, or before any the intake takes, is not found.
func (s *Service) handleReport(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 || !slices.Contains(report.Formats, file[dot+1:]) {
		httpx.WriteError(w, s.log, fault.Errorf(fault.NotFound, "no report %q: want /reports/weekly/2024-W11.html, .csv, .json or .geojson", file))
		return
	}
	week, format := file[:dot], file[dot+1:]
	_, end, err := gistar.WeekBounds(week)
	if err != nil {
		httpx.WriteError(w, s.log, fault.Wrap(fault.Invalid, err))
		return
	}
	if !end.After(earliestReceived) {
		httpx.WriteError(w, s.log, fault.Errorf(fault.NotFound, "no report of week %s: it ended before %s, the earliest a complaint is taken from", week, earliestReceived.Format("2006-01-02")))
		return
	}
	body, err := s.loadStored(r.Context(), week, format)
	if errors.Is(err, errNotStored) {
		body, err = s.onDemand(r.Context(), week, end, format)
	}
	if err != nil {
		httpx.WriteError(w, s.log, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", report.ContentType(format))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if format == "html" {
		h.Set("Content-Security-Policy", htmlPolicy(body))
	}
	if format == "csv" || format == "geojson" {
		h.Set("Content-Disposition", `attachment; filename="nuisance-`+week+`.`+format+`"`)
	}
	_, _ = w.Write(body)
}

// onDemand renders the report of a week not stored, which ends at end:
// not found while the week is not over, or when it ended before the week
// of the earliest complaint stored (none stored: every week). Requests
// for the same week share one generation.
func (s *Service) onDemand(ctx context.Context, week string, end time.Time, format string) ([]byte, error) {
	now := s.cfg.Now()
	if now.Before(end) {
		return nil, fault.Errorf(fault.NotFound, "week %s is not over yet", week)
	}
	var first *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(received_at) FROM complaints`).Scan(&first); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("report of %s: earliest complaint: %w", week, err)
	}
	if first == nil {
		return nil, fault.Errorf(fault.NotFound, "no report of week %s: no complaint is stored yet", week)
	}
	if firstWeek := gistar.WeekOf(*first); !end.After(weekStart(firstWeek)) {
		return nil, fault.Errorf(fault.NotFound, "no report of week %s: it is before %s, the week of the earliest complaint stored", week, firstWeek)
	}
	rep, err := s.buildOnce(ctx, week, now)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := report.Render(rep, format, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildOnce generates the report of week, or waits for the generation
// another request started: one at a time a week. The generation runs on
// (for at most buildTimeout) when ctx ends, for those waiting with it.
func (s *Service) buildOnce(ctx context.Context, week string, now time.Time) (*report.Report, error) {
	ch := s.weeks.DoChan(week, func() (any, error) {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
		defer cancel()
		return s.build(bctx, week, now)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*report.Report), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// weekStart is the Monday 00:00 that opens week, a name WeekOf gave.
func weekStart(week string) time.Time {
	start, _, err := gistar.WeekBounds(week)
	if err != nil { // WeekOf always names a valid week
		panic(err)
	}
	return start
}
