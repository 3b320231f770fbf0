package workorder

import (
	"testing"
	"unicode/utf8"
)

// FuzzIntakeDecode feeds arbitrary bodies to the decoder: it must never
// panic, and whatever it accepts must satisfy the contract.
func FuzzIntakeDecode(f *testing.F) {
	for _, seed := range []string{
		`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"夜间施工","address":"思明区"}`,
		`{"ticket_id":"T-2","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":118.1,"lat":24.5,"crs":"bd09"}}`,
		`{"ticket_id":"T-3","received_at":"2024-03-11T23:10:00Z","description":"<script>alert(1)</script>'; DROP TABLE complaints;--","address":"x"}`,
		`{"ticket_id":"T-4","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":1e400,"lat":24}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"ticket_id":{"a":{"b":{"c":1}}}}`,
		"\xff\xfe{}",
		`{"ticket_id":"T-5","received_at":"2024-03-11T23:10:00Z","description":"x","address":"y","caller":{"phone":"13800138000"},"extra":1}`,
	} {
		f.Add([]byte(seed))
	}
	p, err := NewParser()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, fields, err := p.Parse(body)
		if err != nil || len(fields) > 0 {
			return
		}
		if c.TicketID == "" || c.Description == "" || c.ReceivedAt.IsZero() {
			t.Fatalf("accepted without required fields: %q", body)
		}
		if utf8.RuneCountInString(c.Description) > 4000 {
			t.Fatalf("accepted a description of %d characters", utf8.RuneCountInString(c.Description))
		}
		if c.Address == "" && c.Location == nil {
			t.Fatalf("accepted without address or location: %q", body)
		}
		if l := c.Location; l != nil && (l.Lat < 3 || l.Lat > 54 || l.Lon < 73 || l.Lon > 136) {
			t.Fatalf("accepted coordinates out of range: %+v", *l)
		}
		switch c.Category {
		case "", "noise", "dust", "cooking_smoke":
		default:
			t.Fatalf("accepted category %q", c.Category)
		}
	})
}
