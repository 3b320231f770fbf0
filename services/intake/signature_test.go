package intake

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestVerifyAgreesWithLibrary holds the intake's verifier to the Standard
// Webhooks library's answers, for both secrets of a rotation.
func TestVerifyAgreesWithLibrary(t *testing.T) {
	t.Parallel()
	const other = "whsec_b2xkLXNlY3JldC1rZXktZm9yLXJvdGF0aW9u"
	s, err := New(DefaultConfig(benchSecret+" "+other), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := standardwebhooks.NewWebhook(benchSecret)
	second, _ := standardwebhooks.NewWebhook(other)
	body := benchBody("T-sig")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	good, _ := first.Sign("msg-1", now, body)
	rotated, _ := second.Sign("msg-1", now, body)
	old, _ := first.Sign("msg-1", now.Add(-6*time.Minute), body)
	early, _ := first.Sign("msg-1", now.Add(6*time.Minute), body)
	empty, _ := first.Sign("msg-1", now, nil)
	sig := good[len("v1,"):]
	cases := []struct {
		name         string
		id, ts, sig  string
		body         []byte
		wantSentinel error
		wantAccepted bool
	}{
		{"good", "msg-1", ts, good, body, nil, true},
		{"second secret", "msg-1", ts, rotated, body, nil, true},
		{"among others", "msg-1", ts, "v1,Zm9v v2," + sig + " " + good, body, nil, true},
		{"trailing part", "msg-1", ts, good + ",extra", body, nil, true},
		{"timestamp with leading zeros", "msg-1", "000" + ts, good, body, nil, true},
		{"empty body", "msg-1", ts, empty, nil, nil, true},
		{"other version", "msg-1", ts, "v2," + sig, body, standardwebhooks.ErrNoMatchingSignature, false},
		{"no version", "msg-1", ts, sig, body, standardwebhooks.ErrNoMatchingSignature, false},
		{"double space", "msg-1", ts, "v1,Zm9v  " + good, body, nil, true},
		{"other id", "msg-2", ts, good, body, standardwebhooks.ErrNoMatchingSignature, false},
		{"other body", "msg-1", ts, good, benchBody("T-other"), standardwebhooks.ErrNoMatchingSignature, false},
		{"too old", "msg-1", strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), old, body, standardwebhooks.ErrMessageTooOld, false},
		{"too new", "msg-1", strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), early, body, standardwebhooks.ErrMessageTooNew, false},
		{"timestamp not a number", "msg-1", "soon", good, body, standardwebhooks.ErrInvalidHeaders, false},
		{"no id", "", ts, good, body, standardwebhooks.ErrRequiredHeaders, false},
		{"no signature", "msg-1", ts, "", body, standardwebhooks.ErrRequiredHeaders, false},
		{"no timestamp", "msg-1", "", good, body, standardwebhooks.ErrRequiredHeaders, false},
	}
	for _, tc := range cases {
		h := http.Header{}
		for k, v := range map[string]string{"webhook-id": tc.id, "webhook-timestamp": tc.ts, "webhook-signature": tc.sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		got := s.verify(tc.body, h)
		lib := first.Verify(tc.body, h)
		if lib != nil {
			if err := second.Verify(tc.body, h); err == nil {
				lib = nil
			}
		}
		if (got == nil) != tc.wantAccepted || (lib == nil) != tc.wantAccepted {
			t.Errorf("%s: verify %v, library %v, want accepted %v", tc.name, got, lib, tc.wantAccepted)
			continue
		}
		if tc.wantSentinel != nil && (!errors.Is(got, tc.wantSentinel) || !errors.Is(lib, tc.wantSentinel)) {
			t.Errorf("%s: verify %v, library %v, want %v", tc.name, got, lib, tc.wantSentinel)
		}
		if got != nil && signatureDetail(got) != signatureDetail(lib) {
			t.Errorf("%s: detail %q, library's %q", tc.name, signatureDetail(got), signatureDetail(lib))
		}
	}
}
