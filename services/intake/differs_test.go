package intake_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/hotline"
	"github.com/xiamen-eeb/nuisance/internal/retention"
	"github.com/xiamen-eeb/nuisance/internal/testenv"
	"github.com/xiamen-eeb/nuisance/services/intake"
)

// differsBody is body("…") with a category, a hotline category and a
// channel, so that a correction of each can be sent.
func differsBody(ticket string) string {
	return `{"ticket_id":"` + ticket + `","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜里打桩，吵得睡不着","category":"noise","subcategory":"construction","hotline_category":"环境保护/噪声污染/建筑施工噪声","address":"思明区莲前街道","location":{"lon":118.1432,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"王小明","phone":"13800138000"},"channel":"phone"}`
}

// corrections are work orders that differ from differsBody in one field
// each, the field the answer must name.
var corrections = []struct{ field, from, to string }{
	{"/category", `"category":"noise"`, `"category":"dust"`},
	{"/subcategory", `"subcategory":"construction"`, `"subcategory":"traffic"`},
	{"/hotline_category", `建筑施工噪声`, `社会生活噪声`},
	{"/channel", `"channel":"phone"`, `"channel":"app"`},
	{"/location/crs", `"crs":"gcj02"`, `"crs":"wgs84"`},
	{"/location/lat", `"lat":24.4871`, `"lat":24.48712`},
	{"/caller/phone", `"phone":"13800138000"`, `"phone":"13900139000"`},
	{"/caller/name", `"name":"王小明"`, `"name":"李小红"`},
	{"/caller", `,"caller":{"name":"王小明","phone":"13800138000"}`, ``},
}

// postAnswer posts b under the webhook-id delivery and reads the answer.
func postAnswer(t *testing.T, e env, delivery string, b []byte) (int, intake.Answer) {
	t.Helper()
	resp, err := e.client.Post(context.Background(), delivery, b)
	if err != nil {
		t.Fatal(err)
	}
	var a intake.Answer
	if err := resp.Decode(&a); err != nil {
		t.Fatalf("%s: %d %s", delivery, resp.Status, resp.Body)
	}
	return resp.Status, a
}

// noPersonalData fails when the answer quotes a caller of the test.
func noPersonalData(t *testing.T, what string, a intake.Answer) {
	t.Helper()
	for _, v := range []string{"王小明", "李小红", "13800138000", "13900139000", "138", "139"} {
		if strings.Contains(a.Detail, v) {
			t.Errorf("%s: the detail quotes a caller's name or phone: %q", what, a.Detail)
		}
	}
}

// TestEveryFieldOfACorrectionDiffers: a work order sent again under its
// ticket with any one field of it changed (the category, the hotline's
// own, the channel, the coordinates' system, the caller's name or phone)
// is a duplicate that differs, and the detail names the field, never the
// caller's value; under a new webhook-id and under the first delivery's,
// which is then no retry. The same work order sent again is a plain
// duplicate, or under its first webhook-id the first answer.
func TestEveryFieldOfACorrectionDiffers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, sameID := range []bool{false, true} {
		ticket := "T-f-new"
		if sameID {
			ticket = "T-f-same"
		}
		first := differsBody(ticket)
		code, firstAns := postAnswer(t, e, ticket, []byte(first))
		if code != http.StatusAccepted {
			t.Fatalf("first: %d %+v", code, firstAns)
		}
		delivery := func(n string) string {
			if sameID {
				return ticket
			}
			return ticket + "-" + n
		}
		code, a := postAnswer(t, e, delivery("again"), []byte(first))
		switch {
		case sameID && (code != http.StatusAccepted || a != firstAns):
			t.Errorf("a retry: %d %+v, want the first answer %+v", code, a, firstAns)
		case !sameID && (code != http.StatusOK || a.Status != "duplicate" || a.Differs || a.Detail != ""):
			t.Errorf("the same work order again: %d %+v, want a plain duplicate", code, a)
		}
		for _, c := range corrections {
			if !strings.Contains(first, c.from) {
				t.Fatalf("%s: %s is not in the work order", c.field, c.from)
			}
			b := strings.Replace(first, c.from, c.to, 1)
			code, a := postAnswer(t, e, delivery(c.field), []byte(b))
			if code != http.StatusOK || a.Status != "duplicate" || !a.Differs || a.ComplaintID != firstAns.ComplaintID ||
				!strings.Contains(a.Detail, "not applied") || !strings.Contains(a.Detail, c.field+",") && !strings.Contains(a.Detail, c.field+")") {
				t.Errorf("%s changed (same webhook-id %v): %d %+v, want a duplicate that differs naming %s", c.field, sameID, code, a, c.field)
			}
			noPersonalData(t, c.field, a)
		}
		// Two fields at once: both named.
		b := strings.Replace(strings.Replace(first, `"channel":"phone"`, `"channel":"web"`, 1), `"phone":"13800138000"`, `"phone":"13900139000"`, 1)
		if _, a := postAnswer(t, e, delivery("two"), []byte(b)); !a.Differs || !strings.Contains(a.Detail, "/channel") || !strings.Contains(a.Detail, "/caller/phone") {
			t.Errorf("two fields changed (same webhook-id %v): %+v, want both named", sameID, a)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id LIKE 'T-f-%' AND category = 'noise' AND channel = 'phone'
		AND caller_phone = '13800138000' AND loc_crs = 'gcj02'`); n != 2 {
		t.Errorf("%d of 2 work orders as first stored", n)
	}
}

// TestADuplicateOfAnErasedCaller: once the retention job has erased the
// stored caller (and masked the phone numbers and the caller's name in
// the words), the caller can no longer be compared, and the answer says
// so rather than that it is the same; everything else still is compared,
// the words as the job masked them. A work order stored with no caller
// is known to have had none: a caller sent with it again differs.
func TestADuplicateOfAnErasedCaller(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	named := strings.Replace(differsBody("T-x"), "吵得睡不着", "吵得睡不着，我是王小明，电话13800138000", 1)
	postAnswer(t, e, "x-1", []byte(named))
	if _, err := e.pool.Exec(ctx, `UPDATE complaints SET description = '工地夜里打桩，吵得睡不着，我是王**，电话138****8000', caller_name = NULL, caller_phone = NULL,
		caller_erased = true, pii_erased_at = now() WHERE ticket_id = 'T-x'`); err != nil {
		t.Fatal(err)
	}
	code, a := postAnswer(t, e, "x-2", []byte(named))
	if code != http.StatusOK || a.Status != "duplicate" || a.Differs || !strings.Contains(a.Detail, "caller") || !strings.Contains(a.Detail, "no longer be compared") {
		t.Errorf("the same work order, its stored caller erased: %d %+v, want a duplicate saying the caller cannot be compared", code, a)
	}
	noPersonalData(t, "erased caller", a)
	// Under the first delivery's id: not taken for a retry of a stored
	// work order it cannot be compared with.
	if code, a := postAnswer(t, e, "x-1", []byte(named)); code != http.StatusOK || a.Status != "duplicate" || !strings.Contains(a.Detail, "no longer be compared") {
		t.Errorf("the same work order under its first webhook-id, its stored caller erased: %d %+v", code, a)
	}
	other := strings.Replace(named, `"channel":"phone"`, `"channel":"wechat"`, 1)
	if _, a := postAnswer(t, e, "x-3", []byte(other)); !a.Differs || !strings.Contains(a.Detail, "/channel") || !strings.Contains(a.Detail, "no longer be compared") {
		t.Errorf("another channel, the stored caller erased: %+v, want a duplicate that differs naming /channel", a)
	}
	words := strings.Replace(named, "吵得睡不着", "吵得整夜睡不着", 1)
	if _, a := postAnswer(t, e, "x-4", []byte(words)); !a.Differs || !strings.Contains(a.Detail, "/description") {
		t.Errorf("other words, the stored caller erased: %+v, want a duplicate that differs naming /description", a)
	}
	noPersonalData(t, "erased caller, other words", a)

	// Stored with no caller, swept: there was none.
	bare := strings.Replace(differsBody("T-y"), `,"caller":{"name":"王小明","phone":"13800138000"}`, "", 1)
	postAnswer(t, e, "y-1", []byte(bare))
	if _, err := e.pool.Exec(ctx, `UPDATE complaints SET caller_erased = false, pii_erased_at = now() WHERE ticket_id = 'T-y'`); err != nil {
		t.Fatal(err)
	}
	if code, a := postAnswer(t, e, "y-2", []byte(bare)); code != http.StatusOK || a.Differs || a.Detail != "" {
		t.Errorf("the same work order with no caller, swept: %d %+v, want a plain duplicate", code, a)
	}
	if _, a := postAnswer(t, e, "y-3", []byte(differsBody("T-y"))); !a.Differs || !strings.Contains(a.Detail, "/caller") {
		t.Errorf("a caller added to a work order stored with none, swept: %+v, want a duplicate that differs naming /caller", a)
	}
}

// TestARowStoredWithoutACRS: a complaint stored with no coordinate system
// (NULL or empty) is read as gcj02, the default: sent again as it was,
// or naming gcj02, it is no different; naming another, it differs.
func TestARowStoredWithoutACRS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := strings.Replace(differsBody("T-crs"), `,"crs":"gcj02"`, "", 1)
	postAnswer(t, e, "crs-1", []byte(b))
	for _, stored := range []string{"NULL", "''"} {
		if _, err := e.pool.Exec(context.Background(), `UPDATE complaints SET loc_crs = `+stored+` WHERE ticket_id = 'T-crs'`); err != nil {
			t.Fatal(err)
		}
		if code, a := postAnswer(t, e, "crs-2", []byte(b)); code != http.StatusOK || a.Differs {
			t.Errorf("stored crs %s, sent again with none: %d %+v, want a plain duplicate", stored, code, a)
		}
		if _, a := postAnswer(t, e, "crs-3", []byte(differsBody("T-crs"))); a.Differs {
			t.Errorf("stored crs %s, sent again naming gcj02: %+v, want a plain duplicate", stored, a)
		}
		if _, a := postAnswer(t, e, "crs-4", []byte(strings.Replace(differsBody("T-crs"), "gcj02", "bd09", 1))); !a.Differs || !strings.Contains(a.Detail, "/location/crs") {
			t.Errorf("stored crs %s, sent again naming bd09: %+v, want a duplicate that differs naming /location/crs", stored, a)
		}
	}
}

// TestWordsErasedWithTheirCallerAreStillTheSame: the retention job erases
// a stored caller and masks the caller's name in the words and the
// address (王小明 as 王**). The same work order sent again without a
// caller, or with another, cannot have its words masked with the erased
// name, which is gone: they were said to differ in /description and
// /address although they are the same. Now only the name is not
// compared: the same words are a duplicate that does not differ (its
// detail saying the caller cannot be compared), and words changed
// elsewhere, or naming someone else, still differ.
func TestWordsErasedWithTheirCallerAreStillTheSame(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	first := strings.Replace(strings.Replace(differsBody("T-w"), "吵得睡不着", "吵得睡不着，我是王小明，电话13800138000，王小明", 1),
		`"address":"思明区莲前街道"`, `"address":"思明区莲前街道12号王小明家"`, 1)
	// Loaded as history longer ago than the retention period: the
	// retention job itself erases its caller.
	post := func(delivery, b string) (int, intake.Answer) {
		t.Helper()
		resp, err := e.client.PostTo(ctx, hotline.HistoryPath, delivery, []byte(b))
		if err != nil {
			t.Fatal(err)
		}
		var a intake.Answer
		if err := resp.Decode(&a); err != nil {
			t.Fatalf("%s: %d %s", delivery, resp.Status, resp.Body)
		}
		return resp.Status, a
	}
	if code, a := post("w-1", first); code != http.StatusAccepted {
		t.Fatalf("first: %d %+v", code, a)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE complaints SET created_at = now() - interval '2 days' WHERE ticket_id = 'T-w'`); err != nil {
		t.Fatal(err)
	}
	job, err := retention.New(retention.Config{PII: 24 * time.Hour}, e.pool, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := job.RunOnce(ctx); err != nil || res.Erased != 1 {
		t.Fatalf("retention erased %+v, %v; want the one caller", res, err)
	}
	if n := e.count(t, `SELECT count(*) FROM complaints WHERE ticket_id = 'T-w' AND caller_name IS NULL
		AND description LIKE '%我是王**，电话138****8000，王**' AND address = '思明区莲前街道12号王**家'`); n != 1 {
		t.Fatal("the retention job did not mask the caller's name in the words and the address")
	}
	noCaller := strings.Replace(first, `,"caller":{"name":"王小明","phone":"13800138000"}`, "", 1)
	for _, tc := range []struct {
		what, body string
		differs    []string
	}{
		{"the same work order", first, nil},
		{"the same without its caller", noCaller, nil},
		{"the same with another caller", strings.Replace(first, `"name":"王小明"`, `"name":"李小红"`, 1), nil},
		{"the same, its caller not named", strings.Replace(first, `"name":"王小明",`, ``, 1), nil},
		{"other words, without its caller", strings.Replace(noCaller, "吵得睡不着", "吵得整夜睡不着", 1), []string{"/description"}},
		{"another address, without its caller", strings.Replace(noCaller, "12号", "14号", 1), []string{"/address"}},
		{"naming someone else, without its caller", strings.ReplaceAll(noCaller, "王小明", "张大山"), []string{"/description", "/address"}},
		{"naming someone else once, without its caller", strings.Replace(noCaller, "，王小明", "，王小红", 1), []string{"/description"}},
	} {
		code, a := post("w-"+tc.what, tc.body)
		if code != http.StatusOK || a.Status != "duplicate" || !strings.Contains(a.Detail, "no longer be compared") {
			t.Errorf("%s: %d %+v, want a duplicate saying the caller cannot be compared", tc.what, code, a)
		}
		if a.Differs != (len(tc.differs) > 0) {
			t.Errorf("%s: differs %v, want %v (%s)", tc.what, a.Differs, len(tc.differs) > 0, a.Detail)
		}
		for _, f := range []string{"/description", "/address"} {
			if want := slices.Contains(tc.differs, f); strings.Contains(a.Detail, f) != want {
				t.Errorf("%s: the detail names %s: %v, want %v (%s)", tc.what, f, !want, want, a.Detail)
			}
		}
		noPersonalData(t, tc.what, a)
	}
}
