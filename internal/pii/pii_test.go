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
