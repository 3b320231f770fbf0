package gistar

import "testing"

func hotFlags(s string) []bool {
	out := make([]bool, len(s))
	for i, c := range s {
		out[i] = c == 'H'
	}
	return out
}

func TestClassify(t *testing.T) {
	t.Parallel()
	rising := Trend{S: 30, Z: 3.0, P: 0.003}
	falling := Trend{S: -30, Z: -3.0, P: 0.003}
	flat := Trend{S: 2, Z: 0.1, P: 0.9}
	tests := []struct {
		name  string
		hot   string // oldest week first, target week last
		trend Trend
		want  Class
	}{
		{"new", "........H", flat, ClassNew},
		{"new even with a rising trend", "........H", rising, ClassNew},
		{"intensifying", "....H.HHH", rising, ClassIntensifying},
		{"intensifying when always hot", "HHHHHHHHH", rising, ClassIntensifying},
		{"rising but not hot recently", "HH.H...HH", rising, ClassSporadic},
		{"persistent", "HHHHHHHHH", flat, ClassPersistent},
		{"eight of nine is below 90 %", "HHHH.HHHH", flat, ClassSporadic},
		{"diminishing", "HHHHH.H.H", falling, ClassDiminishing},
		{"diminishing when always hot", "HHHHHHHHH", falling, ClassDiminishing},
		{"falling but hot in few weeks", "HH.....HH", falling, ClassSporadic},
		{"sporadic", "H.H.H...H", flat, ClassSporadic},
		{"recent run without trend", "......HHH", flat, ClassSporadic},
		{"cooled", "HHHHH....", flat, ClassCooled},
		{"cooled after a persistent run", "HHHHHHHH.", falling, ClassCooled},
		{"once hot, now quiet", "H..H.....", flat, ""},
		{"never hot", ".........", rising, ""},
		{"trend at the level is significant", "....H.HHH", Trend{S: 20, P: 0.05}, ClassIntensifying},
		{"trend above the level is not", "....H.HHH", Trend{S: 19, P: 0.051}, ClassSporadic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(hotFlags(tt.hot), tt.trend, 0.05); got != tt.want {
				t.Errorf("classify(%s, %+v) = %q, want %q", tt.hot, tt.trend, got, tt.want)
			}
		})
	}
}
