package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWithProblemsAnswersUnroutedRequestsAsProblems(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/cases/{id}/accept", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /reports/weekly/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := httptest.NewServer(WithProblems(mux))
	t.Cleanup(srv.Close)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/api/v1/cases/x/accept", http.StatusNoContent, ""},
		{"GET", "/api/v1/cases/x/accept", http.StatusMethodNotAllowed, "POST"},
		{"POST", "/api/v1/cases/x/close", http.StatusNotFound, ""},
		{"GET", "/reports/weekly", http.StatusTemporaryRedirect, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p Problem
		decodeErr := json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != http.StatusNotFound && tc.status != http.StatusMethodNotAllowed {
			if tc.status == http.StatusTemporaryRedirect && resp.Header.Get("Location") != "/reports/weekly/" {
				t.Errorf("the redirect's Location is %q", resp.Header.Get("Location"))
			}
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || decodeErr != nil || p.Status != tc.status || p.Detail == "" {
			t.Errorf("%s %s: %s %+v (%v), want a problem", tc.method, tc.path, ct, p, decodeErr)
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}
