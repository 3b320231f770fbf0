package openapi

import "testing"

// BenchmarkCheckRoutes compares the whole document with itself.
func BenchmarkCheckRoutes(b *testing.B) {
	d, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	ops := d.Operations()
	for b.Loop() {
		if err := CheckRoutes(ops, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate checks one case view against the document.
func BenchmarkValidate(b *testing.B) {
	d, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"id":"case_1","category":"noise","district":"siming","status":"assigned","priority":"urgent",` +
		`"opened_at":"2024-03-11T08:00:00Z","updated_at":"2024-03-11T08:00:00Z","complaints":[],"audit":[]}`)
	for b.Loop() {
		if err := d.Validate("GET /api/v1/cases/{id}", 200, "application/json", body); err != nil {
			b.Fatal(err)
		}
	}
}
