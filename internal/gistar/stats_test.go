package gistar

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refGrid is listed from row 0 (south), as in testdata/gistar_ref.py.
var refGrid = [5][5]float64{
	{0, 0, 1, 0, 0},
	{0, 2, 3, 1, 0},
	{1, 4, 9, 5, 0},
	{0, 2, 6, 2, 0},
	{0, 0, 1, 0, 3},
}

// refZ holds the Gi* z-scores of refGrid with a 1.5-cell band, computed
// independently by testdata/gistar_ref.py (python3, standard library only,
// Getis and Ord's 1992 ratio form G*_i = Σ w x / Σ x with its analytic
// expectation and variance, pairwise centre distances).
var refZ = [25]float64{
	// row 0
	-1.039402300775, -0.729996395088, -0.527219618675, -0.932773171502, -1.275630096406,
	// row 1
	-0.527219618675, 1.010362971082, 1.912472766691, 0.829941011960, -0.729996395088,
	// row 2
	-0.121666065848, 2.273316684934, 3.536270398786, 2.092894725812, -0.324442842262,
	// row 3
	-0.527219618675, 1.551628848447, 2.634160603178, 2.092894725812, 0.081110710565,
	// row 4
	-1.039402300775, -0.121666065848, 0.283887486979, 0.486664263392, -0.330718913883,
}

func TestGiStarMatchesIndependentReference(t *testing.T) {
	t.Parallel()
	x := make([]float64, 0, 25)
	for _, row := range refGrid {
		x = append(x, row[:]...)
	}
	z := make([]float64, 25)
	giStar(x, 5, 5, stencil(1.5), z)
	for i := range z {
		if math.Abs(z[i]-refZ[i]) > 1e-9 {
			t.Errorf("cell col %d row %d: z = %.12f, want %.12f", i%5, i/5, z[i], refZ[i])
		}
	}
	// The reference script prints the centre's p-value as 0.00040581908832.
	if p := pTwoSided(z[12]); math.Abs(p-0.00040581908832) > 1e-12 {
		t.Errorf("p(centre) = %.14f, want 0.00040581908832", p)
	}
}

// pairwiseGiStar is a deliberately naive Gi*: Getis and Ord's ratio form
// over every pair of cells, with Euclidean centre distances.
func pairwiseGiStar(x []float64, cols, rows int, band float64) []float64 {
	n := float64(len(x))
	var sum, sum2 float64
	for _, v := range x {
		sum += v
		sum2 += v * v
	}
	y1 := sum / n
	y2 := sum2/n - y1*y1
	z := make([]float64, len(x))
	for i := range x {
		var wx, wi float64
		for j := range x {
			dc := float64(i%cols - j%cols)
			dr := float64(i/cols - j/cols)
			if math.Hypot(dc, dr) <= band {
				wx += x[j]
				wi++
			}
		}
		g := wx / sum
		e := wi / n
		v := wi * (n - wi) / (n * n * (n - 1)) * y2 / (y1 * y1)
		z[i] = (g - e) / math.Sqrt(v)
	}
	return z
}

func TestGiStarMatchesPairwiseDefinition(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	tests := []struct {
		name       string
		cols, rows int
		band       float64
	}{
		{"queen 7x4", 7, 4, 1.5},
		{"rook 6x6", 6, 6, 1},
		{"radius 2 9x5", 9, 5, 2},
		{"radius 2.5 12x10", 12, 10, 2.5},
		{"single row", 11, 1, 1.5},
	}
	for _, tt := range tests {
		x := make([]float64, tt.cols*tt.rows)
		for i := range x {
			if rng.IntN(3) == 0 {
				x[i] = float64(rng.IntN(20))
			}
		}
		x[0] = 1 // never all zero
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make([]float64, len(x))
			giStar(x, tt.cols, tt.rows, stencil(tt.band), got)
			want := pairwiseGiStar(x, tt.cols, tt.rows, tt.band)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
					t.Errorf("cell %d: z = %.12f, want %.12f", i, got[i], want[i])
				}
			}
		})
	}
}

func TestGiStarUndefinedIsZero(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		x          []float64
		cols, rows int
		cells      []int
	}{
		{"all equal", []float64{2, 2, 2, 2, 2, 2}, 3, 2, []int{0, 1, 2, 3, 4, 5}},
		{"neighbourhood is the whole grid", []float64{0, 0, 0, 0, 5, 0, 0, 0, 0}, 3, 3, []int{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z := []float64{}
			for range tt.x {
				z = append(z, math.NaN())
			}
			giStar(tt.x, tt.cols, tt.rows, stencil(1.5), z)
			for _, i := range tt.cells {
				if z[i] != 0 {
					t.Errorf("cell %d: z = %v, want 0", i, z[i])
				}
			}
		})
	}
}

func TestStencil(t *testing.T) {
	t.Parallel()
	tests := []struct {
		band float64
		want int
	}{
		{1, 5},    // rook
		{1.5, 9},  // queen: √2 ≤ 1.5 < 2
		{2, 13},   // adds the four cells two steps away
		{2.5, 21}, // adds the eight knight's moves (√5)
	}
	for _, tt := range tests {
		if got := len(stencil(tt.band)); got != tt.want {
			t.Errorf("stencil(%v) has %d cells, want %d", tt.band, got, tt.want)
		}
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	t.Parallel()
	// Worked by hand: sort p, q_(k) = min over j ≥ k of p_(j)·m/j.
	tests := []struct {
		name string
		p    []float64
		want []float64
	}{
		{
			name: "monotone raw ratios",
			// sorted 0.005 0.01 0.03 0.04 → ·4/k = 0.02 0.02 0.04 0.04
			p:    []float64{0.01, 0.04, 0.03, 0.005},
			want: []float64{0.02, 0.04, 0.04, 0.02},
		},
		{
			name: "step-up minimum",
			// ·4/k = 0.004 0.08 0.0546̅ 0.9 → q2 takes q3's 0.041·4/3
			p:    []float64{0.9, 0.041, 0.001, 0.04},
			want: []float64{0.9, 0.041 * 4 / 3, 0.004, 0.041 * 4 / 3},
		},
		{
			name: "ratios above one",
			// ·3/k = 1.5 1.35 0.95 → the running minimum from the top is 0.95
			p:    []float64{0.5, 0.9, 0.95},
			want: []float64{0.95, 0.95, 0.95},
		},
		{
			name: "largest p kept",
			// sorted 0.2 0.6 0.9 → ·3/k = 0.6 0.9 0.9
			p:    []float64{0.2, 0.9, 0.6},
			want: []float64{0.6, 0.9, 0.9},
		},
		{
			name: "ties",
			// ·5/k = 0.05 0.025 0.0166̅ 0.0125 0.5: all four tie at 0.0125
			p:    []float64{0.01, 0.01, 0.5, 0.01, 0.01},
			want: []float64{0.0125, 0.0125, 0.5, 0.0125, 0.0125},
		},
		{name: "empty", p: []float64{}, want: []float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := BenjaminiHochberg(tt.p)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Errorf("q[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestMannKendall(t *testing.T) {
	t.Parallel()
	// Worked by hand (S by counting pairs, Var(S) from the tie formula,
	// Z = (S ∓ 1)/√Var(S)); p-values from erfc(|Z|/√2).
	tests := []struct {
		name string
		x    []float64
		s    int
		z, p float64
	}{
		// S = 10 (all 10 pairs rise), Var = 5·4·15/18 = 50/3, Z = 9/√(50/3)
		{"rising", []float64{1, 2, 3, 4, 5}, 10, 2.2045407685048604, 0.027486336111510353},
		// S = 5 (one tied pair), Var = (4·3·13 − 2·1·9)/18 = 138/18, Z = 4/√(138/18)
		{"tie", []float64{1, 2, 2, 3}, 5, 1.4446302370292303, 0.1485617748918687},
		// S = −5 + 1 = −4, Var = 4·3·13/18 = 26/3, Z = −3/√(26/3)
		{"falling", []float64{5, 3, 4, 1}, -4, -1.0190493307301363, 0.308179547467054},
		// S = 0 and Var = 0: no trend.
		{"flat", []float64{2, 2, 2}, 0, 0, 1},
		// Alternating: 10 rises, 10 falls.
		{"alternating", []float64{0, 1, 0, 1, 0, 1, 0, 1, 0}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MannKendall(tt.x)
			if got.S != tt.s || math.Abs(got.Z-tt.z) > 1e-12 || math.Abs(got.P-tt.p) > 1e-12 {
				t.Errorf("MannKendall(%v) = %+v, want S=%d Z=%v P=%v", tt.x, got, tt.s, tt.z, tt.p)
			}
		})
	}
}
