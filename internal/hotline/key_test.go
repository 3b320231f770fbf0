package hotline

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewWebhookRefusesWeakKeys(t *testing.T) {
	key := func(n int) string {
		return "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
	}
	for _, bad := range []string{"whsec_", "", key(1), key(MinKeyBytes - 1), "whsec_not base64!"} {
		if _, err := NewWebhook(bad); err == nil {
			t.Errorf("%q taken as a signing key", bad)
		} else if bad != "whsec_" && bad != "" && strings.Contains(err.Error(), strings.TrimPrefix(bad, "whsec_")) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	for _, good := range []string{key(MinKeyBytes), key(64), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if _, err := NewWebhook(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	if _, err := New("http://127.0.0.1:1", "whsec_"); err == nil {
		t.Error("a client signs with an empty key")
	}
}
