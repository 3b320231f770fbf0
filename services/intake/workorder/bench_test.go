package workorder

import "testing"

// BenchmarkParse validates and decodes one typical work order.
func BenchmarkParse(b *testing.B) {
	p, err := NewParser()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"ticket_id":"LG-1-1","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间打桩噪声扰民，已经连续三天","address":"思明区莲前街道前埔路","location":{"lon":118.1832,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"测试","phone":"13800000000"},"channel":"phone"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, fields, err := p.Parse(body); err != nil || len(fields) > 0 {
			b.Fatal(err, fields)
		}
	}
}

// BenchmarkDuplicateKeys scans one typical work order for a key sent
// twice, the part of Parse that does.
func BenchmarkDuplicateKeys(b *testing.B) {
	body := []byte(`{"ticket_id":"LG-1-1","received_at":"2024-03-11T23:10:00+08:00","description":"工地夜间打桩噪声扰民，已经连续三天","address":"思明区莲前街道前埔路","location":{"lon":118.1832,"lat":24.4871,"crs":"gcj02"},"caller":{"name":"测试","phone":"13800000000"},"channel":"phone"}`)
	b.ReportAllocs()
	for b.Loop() {
		if fe := duplicateKeys(body); len(fe) > 0 {
			b.Fatal(fe)
		}
	}
}
