package intake

import (
	"reflect"
	"strings"
	"testing"
)

// TestEveryFieldIsCompared: every field of a work order (its JSON
// pointer), but the ticket it is looked up by, is one conflictSQL says
// differs; a field added to the work order and not compared fails here.
func TestEveryFieldIsCompared(t *testing.T) {
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Fatalf("%s.%s has no JSON name", typ, f.Name)
			}
			ptr := prefix + "/" + name
			if ptr == "/ticket_id" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				if !strings.Contains(conflictSQL, "'"+ptr+"'") {
					t.Errorf("conflictSQL does not say whether %s is there in one and not the other", ptr)
				}
				walk(ptr, ft)
				continue
			}
			if !strings.Contains(conflictSQL, "'"+ptr+"'") {
				t.Errorf("conflictSQL does not compare %s", ptr)
			}
		}
	}
	walk("", reflect.TypeFor[Complaint]())
}
