package pii

import (
	"testing"
)

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"13812345678", "138****5678"},
		{"138-1234-5678", "138****5678"},
		{" 138 1234 5678 ", "138****5678"},
		{"+8613812345678", "+86*******5678"},
		{"0592-5551234", "059****1234"},
		{"05925551234", "059****1234"},
		{"5551234", "*******"},
		// A landline without its area code keeps no more than its last
		// four: 220*2922 could be called.
		{"22022922", "****2922"},
		{"2202-2922", "****2922"},
		{"592555123", "*****5123"},
		{"0592555123", "******5123"},
		{"12345", "*****"},
		{"", ""},
		{"无", ""},
	} {
		if got := MaskPhone(tc.in); got != tc.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"王小明", "王**"},
		{"王明", "王*"},
		{"欧阳娜娜", "欧***"},
		{"王", "*"},
		{" 李四 ", "李*"},
		{"Zhang Wei", "Z********"},
		{"", ""},
	} {
		if got := MaskName(tc.in); got != tc.want {
			t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"请回电13812345678谢谢", "请回电138****5678谢谢"},
		{"电话 138 1234 5678。", "电话 138****5678。"},
		{"座机0592-5551234或+86 13912345678", "座机059****1234或+86139****5678"},
		{"晚上10点到凌晨2点一直打桩", "晚上10点到凌晨2点一直打桩"},
		{"湖滨南路100号3栋", "湖滨南路100号3栋"},
		{"", ""},
	} {
		if got := MaskText(tc.in); got != tc.want {
			t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCallerMasked checks that the full phone number of a caller shows
// nowhere (case view, inbox, triage list, event stream, case events)
// except in the audited call-back reveal, and only to the assigned team.

// An error's text keeps its kind and loses the phone numbers and the
// callers' names it quotes: PostgreSQL's, Go's JSON decoder's, a stage's.
func TestMaskError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`ERROR: invalid input syntax for type date: "王小明 13812345678" (SQLSTATE 22007)`,
			`ERROR: invalid input syntax for type date: "王** 138****5678" (SQLSTATE 22007)`},
		{`ERROR: value "13812345678" is out of range for type integer (SQLSTATE 22003)`,
			`ERROR: value "138****5678" is out of range for type integer (SQLSTATE 22003)`},
		{`decode: json: cannot unmarshal number 13812345678 into Go struct field Complaint.phone of type int32`,
			`decode: json: cannot unmarshal number 138****5678 into Go struct field Complaint.phone of type int32`},
		{`unknown category "王小明来电"`, `unknown category "王**来电"`},
		{`complaint c-0190f3a2: no district`, `complaint c-0190f3a2: no district`},
	} {
		if got := MaskError(c.in, "王小明"); got != c.want {
			t.Errorf("MaskError(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := PayloadNames([]byte(`{"caller":{"name":"王小明","phone":"13812345678"},"items":[{"caller_name":"李四"}]}`)); len(got) != 2 {
		t.Errorf("PayloadNames = %q, want 王小明 and 李四", got)
	}
}
