package gistar

import (
	"cmp"
	"math"
	"slices"
)

// stencil lists the cell offsets within a fixed distance band of a cell,
// the cell itself included: the binary weights of Gi*. The distance is
// between cell centres, in cells; 1.5 gives the queen neighbourhood.
func stencil(band float64) [][2]int {
	const eps = 1e-9
	k := int(math.Floor(band + eps))
	var out [][2]int
	for dr := -k; dr <= k; dr++ {
		for dc := -k; dc <= k; dc++ {
			if float64(dc*dc+dr*dr) <= band*band+eps {
				out = append(out, [2]int{dc, dr})
			}
		}
	}
	return out
}

// giStar computes the Getis-Ord Gi* z-score of every cell of a cols×rows
// grid (index row*cols+col) with binary weights over the stencil:
//
//	G*_i = (Σ_j w_ij x_j − X̄ Σ_j w_ij) / (S √((n Σ_j w_ij² − (Σ_j w_ij)²)/(n−1)))
//
// with X̄ and S (population standard deviation) over all n cells. Where the
// statistic is undefined (all cells equal, or a neighbourhood that covers
// the whole grid) the z-score is 0: no evidence of clustering.
func giStar(x []float64, cols, rows int, st [][2]int, z []float64) {
	n := float64(len(x))
	var sum float64
	for _, v := range x {
		sum += v
	}
	mean := sum / n
	var ss float64
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	s := math.Sqrt(ss / n)
	for row := range rows {
		for col := range cols {
			i := row*cols + col
			if s == 0 || n < 2 {
				z[i] = 0
				continue
			}
			var lx, w float64
			for _, o := range st {
				c, r := col+o[0], row+o[1]
				if c < 0 || c >= cols || r < 0 || r >= rows {
					continue
				}
				lx += x[r*cols+c]
				w++
			}
			den := s * math.Sqrt((n*w-w*w)/(n-1))
			if den <= 0 {
				z[i] = 0
				continue
			}
			z[i] = (lx - mean*w) / den
		}
	}
}

// pTwoSided is the two-sided p-value of a standard normal z-score.
func pTwoSided(z float64) float64 {
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

// BenjaminiHochberg returns the false-discovery-rate adjusted p-values
// (q-values) of p, in the same order: a test is significant at FDR level
// α when its q ≤ α. A grid of thousands of cells tested at p < 0.05 would
// otherwise report hundreds of hot cells by chance alone.
func BenjaminiHochberg(p []float64) []float64 {
	q := make([]float64, len(p))
	benjaminiHochberg(p, q, make([]rankedP, len(p)))
	return q
}

// rankedP pairs a p-value with its test's index for sorting.
type rankedP struct {
	p float64
	i int
}

// benjaminiHochberg writes the q-values of p into q, using buf as scratch:
// q_(k) = min over j ≥ k of p_(j)·m/j. Tied p-values get the same q
// whatever their order, so an unstable sort is enough.
func benjaminiHochberg(p, q []float64, buf []rankedP) {
	m := len(p)
	for i, v := range p {
		buf[i] = rankedP{v, i}
	}
	slices.SortFunc(buf, func(a, b rankedP) int { return cmp.Compare(a.p, b.p) })
	running := 1.0
	for k := m; k >= 1; k-- {
		r := buf[k-1]
		if v := r.p * float64(m) / float64(k); v < running {
			running = v
		}
		q[r.i] = running
	}
}

// Trend is the Mann–Kendall test of a series for a monotonic trend.
type Trend struct {
	// S counts increasing minus decreasing pairs; its sign is the direction.
	S int `json:"s"`
	// Z is the normal approximation of S with continuity and tie correction.
	Z float64 `json:"z"`
	// P is the two-sided p-value of Z.
	P float64 `json:"p"`
}

// MannKendall tests a series (oldest first) for a monotonic trend without
// assuming linearity or normality, which suits weekly z-scores that jump.
// S = Σ_{i<j} sgn(x_j − x_i); Var(S) = (n(n−1)(2n+5) − Σ t(t−1)(2t+5))/18
// over groups of t tied values; Z = (S − sgn S)/√Var(S).
func MannKendall(x []float64) Trend {
	n := len(x)
	s := 0
	for i := range n {
		for j := i + 1; j < n; j++ {
			switch {
			case x[j] > x[i]:
				s++
			case x[j] < x[i]:
				s--
			}
		}
	}
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	ties := 0
	for i := 0; i < n; {
		j := i + 1
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		t := j - i
		ties += t * (t - 1) * (2*t + 5)
		i = j
	}
	v := float64(n*(n-1)*(2*n+5)-ties) / 18
	t := Trend{S: s, P: 1}
	if v <= 0 || s == 0 {
		return t
	}
	if s > 0 {
		t.Z = float64(s-1) / math.Sqrt(v)
	} else {
		t.Z = float64(s+1) / math.Sqrt(v)
	}
	t.P = pTwoSided(t.Z)
	return t
}
