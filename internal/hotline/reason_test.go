package hotline

import (
	"fmt"
	"strings"
	"testing"
)

// TestProblemReasonIsBounded: a refusal naming many fields lists the
// first maxErrorsShown and how many more, each detail cut short, so that
// the summary's line for it stays one line a person reads.
func TestProblemReasonIsBounded(t *testing.T) {
	var errs []string
	for i := range 25 {
		errs = append(errs, fmt.Sprintf(`{"field":"/f%02d","detail":"bad %d %s"}`, i, i, strings.Repeat("长", 500)))
	}
	body := `{"type":"https://nuisance.xm.gov/problems/invalid","status":400,"detail":"the work order does not match","errors":[` + strings.Join(errs, ",") + `]}`
	got := problemReason([]byte(body), []byte(`{}`))
	if !strings.Contains(got, "/f09: bad 9") || strings.Contains(got, "/f10") || !strings.HasSuffix(got, "; and 15 more") {
		t.Errorf("25 errors read as %.300q…, want the first 10 and 15 more", got)
	}
	if n := len([]rune(got)); n > maxErrorsShown*(maxDetailRunes+10)+20 {
		t.Errorf("the reason is %d characters", n)
	}
	if got := problemReason([]byte(`{"detail":"no webhook-signature matches the body"}`), nil); got != "no webhook-signature matches the body" {
		t.Errorf("a problem naming no field read as %q", got)
	}
}

// A phone number that the cut at maxDetailRunes would split is masked
// before the cut: no part of it long enough to dial survives.
func TestProblemReasonMasksBeforeItCuts(t *testing.T) {
	phone := "13812345678"
	detail := strings.Repeat("长", maxDetailRunes-6) + phone + "的键不被接受"
	body := fmt.Sprintf(`{"status":400,"detail":"x","errors":[{"field":"/x","detail":%q}]}`, detail)
	got := problemReason([]byte(body), []byte(`{}`))
	if strings.Contains(got, phone[:6]) {
		t.Errorf("the reason keeps %q of the phone number: %q", phone[:6], got[len(got)-40:])
	}
}
