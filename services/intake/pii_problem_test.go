package intake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xiamen-eeb/nuisance/internal/testenv"
)

// A refused work order's answer names what is wrong with it, and an
// error's words quote what was sent: a key not allowed, a key sent twice,
// a value refused. A sender may put a caller's name and number anywhere,
// a key too: the answer (and any log line of the request) names the
// field by its pointer, and holds neither the caller's name (the work
// order's, or one it does not give) nor a phone number.
func TestARefusedWorkOrderIsAnsweredWithoutTheCallersData(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	e := setupLogged(t, zap.New(zapcore.NewTee(testenv.Log(t).Core(), core)), nil)
	ctx := context.Background()
	// body's caller is 王小明, 13800138000; 李四 is no caller it gives.
	secrets := []string{"小明", "13800138000", "0013800", "李四", "13900139000"}
	// with is body with old replaced.
	with := func(ticket, old, new string) []byte {
		return []byte(strings.Replace(string(body(ticket, "")), old, new, 1))
	}
	for i, tc := range []struct {
		name          string
		body          []byte
		field, detail string
	}{
		{"unknown key", body("T-p1", `,"王小明13800138000":"x"`), "/王*", "no such property"},
		{"unknown key of another's name", body("T-p2", `,"李四13900139000":"x"`), "/李*", "no such property"},
		{"unknown key of digits in a word", body("T-p3", `,"tel_13800138000":"x"`), "/tel_***", "no such property"},
		{"unknown key of the caller", with("T-p4", `"phone":"13800138000"`, `"phone":"13800138000","王小明13800138000":"x"`), "/caller/王*", "no such property"},
		{"wrong type", body("T-p5", `,"hotline_category":["王小明13800138000"]`), "/hotline_category", "want string"},
		{"wrong type in a number", with("T-p6", `"lon":118.1432`, `"lon":"王小明13800138000"`), "/location/lon", "want number"},
		{"enum", body("T-p7", `,"channel":"王小明13800138000"`), "/channel", "must be one of"},
		{"pattern", with("x", `"ticket_id":"x"`, `"ticket_id":"王小明 13800138000"`), "/ticket_id", "pattern"},
		{"duplicate key", body("T-p9", `,"王小明13800138000":1,"王小明13800138000":2`), "/王*", "more than once"},
		{"duplicate key nested", body("T-p10", `,"x":{"李四13900139000":1,"李四13900139000":2}`), "/x/李*", "more than once"},
		{"number out of range", body("T-p11", `,"王小明13800138000":1e400`), "/王*", "out of range"},
	} {
		resp, err := e.client.Post(ctx, fmt.Sprintf("pii-problem-%d", i), tc.body)
		if err != nil {
			t.Fatal(err)
		}
		raw := string(resp.Body)
		if resp.Status != http.StatusBadRequest {
			t.Errorf("%s: answered %d %s, want 400", tc.name, resp.Status, raw)
			continue
		}
		for _, s := range secrets {
			if strings.Contains(raw, s) {
				t.Errorf("%s: the answer quotes %q: %s", tc.name, s, raw)
			}
		}
		var p struct {
			Errors []struct{ Field, Detail string } `json:"errors"`
		}
		if err := json.Unmarshal(resp.Body, &p); err != nil {
			t.Fatal(err)
		}
		named := false
		for _, f := range p.Errors {
			named = named || strings.HasPrefix(f.Field, tc.field) && strings.Contains(f.Detail, tc.detail)
		}
		if !named {
			t.Errorf("%s: the answer %s names no %s…: %q", tc.name, raw, tc.field, tc.detail)
		}
	}
	for _, l := range logs.All() {
		line := l.Message + fmt.Sprint(l.ContextMap())
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("a log line quotes %q: %s", s, line)
			}
		}
	}
}
