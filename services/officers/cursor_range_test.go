package officers

import (
	"encoding/base64"
	"net/url"
	"testing"
)

// A cursor is the client's to send: one whose time is out of PostgreSQL's
// range is a 400 like any other malformed cursor, never a 500.
func TestCursorsOutOfRange(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.newCase(ownTeam, complaint{})
	for _, raw := range []string{"9223372036854775807|case_x", "-9223372036854775808|case_x", "253402300800000000|case_x", "-62135596800000001|case_x"} {
		c := base64.RawURLEncoding.EncodeToString([]byte(raw))
		code, body := e.do(whoOwn, "GET", "/api/v1/assignments?cursor="+url.QueryEscape(c), nil)
		if code != 200 && code != 400 {
			t.Errorf("cursor %q: %d %s", raw, code, body)
		}
		code, body = e.do(whoSupervisor, "GET", "/api/v1/triage?cursor="+url.QueryEscape(c), nil)
		if code != 200 && code != 400 {
			t.Errorf("triage cursor %q: %d %s", raw, code, body)
		}
	}
}
