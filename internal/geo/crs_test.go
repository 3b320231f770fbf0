package geo

import (
	"math"
	"testing"
)

// xiamenGrid calls f for points every 0.01° over a box that covers
// Xiamen and its waters.
func xiamenGrid(f func(lon, lat float64)) {
	for i := 0; i <= 70; i++ {
		for j := 0; j <= 60; j++ {
			f(117.80+0.01*float64(i), 24.35+0.01*float64(j))
		}
	}
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   func(lon, lat float64) (float64, float64)
		back func(lon, lat float64) (float64, float64)
		// minOffset and maxOffset bound how far the first conversion
		// moves a point, so an identity conversion cannot pass.
		minOffset, maxOffset float64
	}{
		{"wgs84-gcj02", WGS84ToGCJ02, GCJ02ToWGS84, 300, 800},
		{"gcj02-bd09", GCJ02ToBD09, BD09ToGCJ02, 500, 1000},
		{"wgs84-bd09",
			func(lon, lat float64) (float64, float64) { return FromWGS84(BD09, lon, lat) },
			func(lon, lat float64) (float64, float64) { return ToWGS84(BD09, lon, lat) },
			800, 1800},
		{"wgs84-wgs84",
			func(lon, lat float64) (float64, float64) { return FromWGS84(WGS84, lon, lat) },
			func(lon, lat float64) (float64, float64) { return ToWGS84(WGS84, lon, lat) },
			0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			worst := 0.0
			xiamenGrid(func(lon, lat float64) {
				x, y := tt.to(lon, lat)
				off := DistanceMeters(lon, lat, x, y)
				if off < tt.minOffset || off > tt.maxOffset {
					t.Fatalf("(%.2f, %.2f) moved %.1f m, want %.0f..%.0f m", lon, lat, off, tt.minOffset, tt.maxOffset)
				}
				bx, by := tt.back(x, y)
				worst = math.Max(worst, DistanceMeters(lon, lat, bx, by))
			})
			if worst >= 0.01 {
				t.Errorf("worst round trip %.4f m, want < 1 cm", worst)
			}
		})
	}
}

func TestParseCRS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    CRS
		wantErr bool
	}{
		{"", GCJ02, false},
		{"gcj02", GCJ02, false},
		{"wgs84", WGS84, false},
		{"bd09", BD09, false},
		{"WGS84", "", true},
		{"epsg:4326", "", true},
	}
	for _, tt := range tests {
		got, err := ParseCRS(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCRS(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func BenchmarkGCJ02ToWGS84(b *testing.B) {
	for b.Loop() {
		GCJ02ToWGS84(118.0894, 24.4798)
	}
}
