package workorder

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzIntakeDecode feeds arbitrary bodies to the decoder: it must never
// panic, and whatever it accepts must satisfy the contract.
func FuzzIntakeDecode(f *testing.F) {
	for _, seed := range append(plainSeeds, []string{
		`{"ticket_id":"T-1","received_at":"2024-03-11T23:10:00+08:00","description":"夜间施工","address":"思明区"}`,
		`{"ticket_id":"T-2","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":118.1,"lat":24.5,"crs":"bd09"}}`,
		`{"ticket_id":"T-3","received_at":"2024-03-11T23:10:00Z","description":"<script>alert(1)</script>'; DROP TABLE complaints;--","address":"x"}`,
		`{"ticket_id":"T-4","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":1e400,"lat":24}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"ticket_id":{"a":{"b":{"c":1}}}}`,
		"\xff\xfe{}",
		`{"ticket_id":"T-6","received_at":"2024-03-11T23:10:00Z","description":"x","address":"y","ticket\u005fid":"T-7"}`,
		`{"ticket_id":"T-5","received_at":"2024-03-11T23:10:00Z","description":"x","address":"y","caller":{"phone":"13800138000"},"extra":1}`,
	}...) {
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
		if strings.ContainsRune(c.Description+c.Address+c.HotlineCategory, 0) || c.Caller != nil && strings.ContainsRune(c.Caller.Name, 0) {
			t.Fatalf("accepted U+0000, which PostgreSQL cannot store: %q", body)
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

// plainSeeds are bodies at the edges of the contract: escapes, surrogates,
// odd timestamps, numbers at the limits, repeated and unknown keys.
var plainSeeds = []string{
	`{"ticket_id":"T-30","received_at":"2024-03-11T23:10:00Z","description":"NUL \u0000 here","address":"x\u0000","caller":{"name":"\u0000"}}`,
	`{"ticket_id":"T-6","received_at":"2024-03-11T23:10:00.123456+08:00","description":"a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d","address":"x"}`,
	`{"ticket_id":"T-7","received_at":"2024-03-11T23:10:00Z","description":"\ud83d\ude00","address":"x"}`,
	`{"ticket_id":"T-8","received_at":"2024-03-11T23:10:00Z","description":"\ud83d","address":"x"}`,
	`{"ticket_id":"T-9","received_at":"2024-03-11t23:10:00z","description":"x","address":"x"}`,
	`{"ticket_id":"T-10","received_at":"2016-12-31T23:59:60Z","description":"x","address":"x"}`,
	`{"ticket_id":"T-11","received_at":"2024-02-30T23:10:00Z","description":"x","address":"x"}`,
	`{"ticket_id":"T-12","received_at":"2024-03-11T23:10:00\u002B08:00","description":"x","address":"x"}`,
	`{"ticket_id":"T-13","received_at":"2024-03-11T23:10:00+24:00","description":"x","address":"x"}`,
	`{"ticket_id":"T-14","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":73,"lat":3}}`,
	`{"ticket_id":"T-15","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":136.00000000000000001,"lat":53.99999999999999999}}`,
	`{"ticket_id":"T-16","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":1.181e2,"lat":24,"crs":""}}`,
	`{"ticket_id":"T-17","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":118,"lat":24,"crs":"wgs84"},"location":{"lon":119,"lat":25}}`,
	`{"ticket_id":"T-18","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x","caller":{}}`,
	`{"ticket_id":"T-19","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x","caller":null}`,
	`{"ticket_id":"T-20","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x","Channel":"app"}`,
	`{"ticket_id":"T-21","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x","category":"no\u0069se","hotline_category":""}`,
	`{"ticket_id":"T-22","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x"} `,
	`{"ticket_id":"T-23","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x"}{}`,
	`{"ticket_id":"T-24","received_at":"2024-03-11T23:10:00Z","description":"x","address":"","channel":"app"}`,
	`{"ticket_id":"T-25","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x","caller":{"name":"","phone":"+86 (592) 123-4567"}}`,
	` { "ticket_id" : "T-26" , "received_at" : "2024-03-11T23:10:00-00:00" , "description" : "x" , "location" : { "lat" : 24.5 , "lon" : 1.181E+2 } } `,
	`{"ticket_id":"T-27","received_at":"2024-03-11T23:10:00Z","description":"x","address":"x",}`,
	`{"ticket_id":"T-28","received_at":"0000-01-01T00:00:00.Z","description":"x","address":"x"}`,
	`{"ticket_id":"T-29","received_at":"2024-03-11T23:10:00Z","description":"x","location":{"lon":118.1,"lat":24.5,"crs":"bd09","crs":"gcj02"}}`,
}
