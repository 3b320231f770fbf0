package reporter

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xiamen-eeb/nuisance/internal/auth"
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

// authorized lets only supervisors and admins through.
func (s *Service) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		role, err := s.cfg.Authorize(r)
		if err != nil {
			auth.Deny(w, s.log, err) // 401 with its challenge, or 429 to an address failing too often
			return
		}
		if !slices.Contains(readers, role) {
			httpx.WriteError(w, s.log, fault.Errorf(fault.Forbidden, "weekly reports are for supervisors and admins"))
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
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

// handleReport serves a stored report; a finished week that has none yet
// (older than the catch-up window) is generated on the fly.
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
	body, err := s.loadStored(r.Context(), week, format)
	if errors.Is(err, errNotStored) {
		now := s.cfg.Now()
		if now.Before(end) {
			httpx.WriteError(w, s.log, fault.Errorf(fault.NotFound, "week %s is not over yet", week))
			return
		}
		var rep *report.Report
		if rep, err = GenerateWith(r.Context(), s.pool, week, now, s.cfg.PriorityFile); err == nil {
			var buf bytes.Buffer
			err = report.Render(rep, format, &buf)
			body = buf.Bytes()
		}
	}
	if err != nil {
		httpx.WriteError(w, s.log, err)
		return
	}
	w.Header().Set("Content-Type", report.ContentType(format))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if format == "csv" || format == "geojson" {
		w.Header().Set("Content-Disposition", `attachment; filename="nuisance-`+week+`.`+format+`"`)
	}
	_, _ = w.Write(body)
}
