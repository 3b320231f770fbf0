package pii

import "testing"

// TestMaskTextFullWidthAndSeparators: citizens (and the hotline's
// operators, with a Chinese input method in full-width mode) write phone
// numbers in full-width digits, with ideographic spaces, dots or an area
// code in brackets. The officers' case view and triage list show the
// description through MaskText: a number it misses is shown whole to every
// officer of the team and every supervisor of the district, outside the
// audited call-back reveal.
func TestMaskTextFullWidthAndSeparators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"请回电１３８１２３４５６７８谢谢", "请回电138****5678谢谢"},
		{"电话138　1234　5678", "电话138****5678"},
		{"电话138－1234－5678", "电话138****5678"},
		{"电话138.1234.5678", "电话138****5678"},
		{"座机（0592）5551234", "座机059****1234"},
		{"座机(0592)5551234", "座机059****1234"},
		{"＋８６ １３９１２３４５６７８", "+86139****5678"},
		// Unchanged: what is not a phone number.
		{"湖滨南路１００号３栋", "湖滨南路１００号３栋"},
		{"晚上10点到凌晨2点一直打桩", "晚上10点到凌晨2点一直打桩"},
	} {
		if got := MaskText(tc.in); got != tc.want {
			t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := MaskPhone("１３８１２３４５６７８"); got != "138****5678" {
		t.Errorf("MaskPhone of full-width digits = %q", got)
	}
}
