package main

import "testing"

func TestShortName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"厦港街道", "厦港"},
		{"新民镇", "新民"},
		{"大帽山农场", "大帽山农场"},
		{"街道", "街道"},
	}
	for _, tt := range tests {
		if got := shortName(tt.in); got != tt.want {
			t.Errorf("shortName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenameNote(t *testing.T) {
	t.Parallel()
	tests := []struct{ note, want string }{
		{"typo in source; official name 厦港街道", "厦港街道"},
		{"historical name; merged into 海沧街道 (2022 NBS list)", "海沧街道"},
		{"now 新民街道 (2022 NBS)", "新民街道"},
		{"district-level point", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := ""
		if m := renameNote.FindStringSubmatch(tt.note); m != nil {
			got = m[1]
		}
		if got != tt.want {
			t.Errorf("renameNote(%q) = %q, want %q", tt.note, got, tt.want)
		}
	}
}

func TestTrimProvinceCity(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"福建省厦门市思明区厦门大学附属第一医院", "思明区厦门大学附属第一医院"},
		{"殿前一路536-538号附近", "殿前一路536-538号附近"},
		{" 厦门市集美区 ", "集美区"},
	}
	for _, tt := range tests {
		if got := trimProvinceCity(tt.in); got != tt.want {
			t.Errorf("trimProvinceCity(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestToFullWidth(t *testing.T) {
	t.Parallel()
	if got, want := toFullWidth("A座12号"), "Ａ座１２号"; got != want {
		t.Errorf("toFullWidth = %q, want %q", got, want)
	}
}

func TestRound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		d    int
		want float64
	}{
		{118.12345678, 7, 118.1234568},
		{24.1234564, 6, 24.123456},
		{-1.5, 0, -2},
	}
	for _, tt := range tests {
		if got := round(tt.v, tt.d); got != tt.want {
			t.Errorf("round(%v, %d) = %v, want %v", tt.v, tt.d, got, tt.want)
		}
	}
}
