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

// TestSameOnceErased: once the stored caller is erased, words are the
// same when they differ from the stored ones only by one name, masked
// there throughout as the retention job masks it; any other difference
// is one.
func TestSameOnceErased(t *testing.T) {
	for _, tc := range []struct {
		stored, s, caller string
		same              bool
	}{
		{"吵，我是王**，电话138****8000", "吵，我是王小明，电话13800138000", "", true},
		{"吵，我是王**，电话138****8000", "吵，我是王小明，电话13800138000", "李小红", true},
		{"吵，电话138****8000", "吵，电话13800138000", "王小明", true},
		{"王**13800****000", "王小明13800****000", "", true}, // stars after the name
		{"王**138****8000", "王小明13800138000", "", true},
		{"欧阳**说吵", "欧阳娜娜说吵", "", true},
		{"吵，我是王**，王**", "吵，我是王小明，王小红", "", false}, // two names
		{"吵，我是王**", "吵，我是张大山", "", false},
		{"吵，我是王**", "很吵，我是王小明", "", false},
		{"吵，我是王**", "吵，我是王小明明", "", false},
		{"吵，我是王**", "吵，我是王小", "", false},
		{"吵，我是王**", "吵，我是王**", "", true},
		{"**吵", "王吵", "", false},
	} {
		if got := sameOnceErased(tc.stored, tc.s, tc.caller); got != tc.same {
			t.Errorf("sameOnceErased(%q, %q, %q) = %v, want %v", tc.stored, tc.s, tc.caller, got, tc.same)
		}
	}
}
