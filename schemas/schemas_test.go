package schemas

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Numbers a float64 cannot hold are refused before validation, each named
// by its JSON pointer, in the order of the document's keys and indices.
func TestNumbersOutOfRangeAreNamed(t *testing.T) {
	s, err := Get("hotline.complaint.v1")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(
		`{"z":1e400,"a/b":[1,2,1e999,3,4,5,6,7,8,9,1e999],"location":{"lon":118.1,"lat":-1E1000001}}`)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fe := range ValidateValue(s, doc) {
		if fe.Detail != "number out of range" {
			t.Errorf("%s: %s, want number out of range", fe.Field, fe.Detail)
		}
		got = append(got, fe.Field)
	}
	want := []string{"/a~1b/2", "/a~1b/10", "/location/lat", "/z"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	if fe := ValidateValue(s, mustDoc(t, `1e400`)); len(fe) != 1 || fe[0].Field != "/" {
		t.Errorf("a lone huge number gave %v, want the document itself named /", fe)
	}
}

func mustDoc(t *testing.T, s string) any {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(s)))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
