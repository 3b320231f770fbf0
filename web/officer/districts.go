package officer

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/xiamen-eeb/nuisance/seeds"
)

// outlineTolerance is how far, in degrees (about 11 m at Xiamen's
// latitude), a simplified outline may stray from the seed's: far below
// what a 320-pixel map of a district can show.
const outlineTolerance = 1e-4

type featureCollection struct {
	Type     string    `json:"type"`
	Features []feature `json:"features"`
}

type feature struct {
	Type       string            `json:"type"`
	Properties map[string]string `json:"properties"`
	Geometry   geometry          `json:"geometry"`
}

type geometry struct {
	Type        string           `json:"type"`
	Coordinates [][][][2]float64 `json:"coordinates"`
}

// districtOutlines is seeds/districts.geojson made light for a phone: each
// ring simplified with Douglas–Peucker and its vertices rounded to five
// decimals.
func districtOutlines() ([]byte, error) {
	raw, err := seeds.FS.ReadFile("districts.geojson")
	if err != nil {
		return nil, fmt.Errorf("district outlines: %w", err)
	}
	var fc featureCollection
	if err := json.Unmarshal(raw, &fc); err != nil {
		return nil, fmt.Errorf("district outlines: %w", err)
	}
	for i := range fc.Features {
		g := &fc.Features[i].Geometry
		if g.Type != "MultiPolygon" {
			return nil, fmt.Errorf("district outlines: feature %d is a %s, want MultiPolygon", i, g.Type)
		}
		polys := g.Coordinates[:0]
		for _, poly := range g.Coordinates {
			rings := poly[:0]
			for _, ring := range poly {
				if s := simplifyRing(ring, outlineTolerance); len(s) >= 4 {
					rings = append(rings, s)
				}
			}
			if len(rings) > 0 {
				polys = append(polys, rings)
			}
		}
		if len(polys) == 0 {
			return nil, fmt.Errorf("district outlines: feature %d has no ring left", i)
		}
		g.Coordinates = polys
	}
	out, err := json.Marshal(fc)
	if err != nil {
		return nil, fmt.Errorf("district outlines: %w", err)
	}
	return out, nil
}

// simplifyRing simplifies a closed ring, keeping it closed. A ring too
// small to survive comes back shorter than four points.
func simplifyRing(ring [][2]float64, tol float64) [][2]float64 {
	if len(ring) < 4 {
		return nil
	}
	// Split the ring at its first vertex and at the vertex farthest from
	// it, so both halves are open polylines Douglas–Peucker can handle.
	far, best := 0, -1.0
	for i, p := range ring {
		if d := math.Hypot(p[0]-ring[0][0], p[1]-ring[0][1]); d > best {
			far, best = i, d
		}
	}
	a := douglasPeucker(ring[:far+1], tol)
	b := douglasPeucker(ring[far:], tol)
	out := make([][2]float64, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b[1:]...)
	for i := range out {
		out[i] = [2]float64{round5(out[i][0]), round5(out[i][1])}
	}
	dedup := out[:1]
	for _, p := range out[1:] {
		if p != dedup[len(dedup)-1] {
			dedup = append(dedup, p)
		}
	}
	if dedup[0] != dedup[len(dedup)-1] {
		dedup = append(dedup, dedup[0])
	}
	return dedup
}

func douglasPeucker(line [][2]float64, tol float64) [][2]float64 {
	if len(line) <= 2 {
		return append([][2]float64(nil), line...)
	}
	keep := make([]bool, len(line))
	keep[0], keep[len(line)-1] = true, true
	type span struct{ i, j int }
	stack := []span{{0, len(line) - 1}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		idx, dmax := -1, tol
		for k := s.i + 1; k < s.j; k++ {
			if d := segmentDistance(line[k], line[s.i], line[s.j]); d > dmax {
				idx, dmax = k, d
			}
		}
		if idx >= 0 {
			keep[idx] = true
			stack = append(stack, span{s.i, idx}, span{idx, s.j})
		}
	}
	out := make([][2]float64, 0, len(line))
	for k, p := range line {
		if keep[k] {
			out = append(out, p)
		}
	}
	return out
}

// segmentDistance is the planar distance from p to the segment a–b.
func segmentDistance(p, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return math.Hypot(p[0]-a[0], p[1]-a[1])
	}
	t := ((p[0]-a[0])*dx + (p[1]-a[1])*dy) / l2
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(p[0]-(a[0]+t*dx), p[1]-(a[1]+t*dy))
}

func round5(v float64) float64 { return math.Round(v*1e5) / 1e5 }
