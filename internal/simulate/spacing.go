package simulate

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
)

// HotspotConfigFile is the detector's configuration inside the seeds file
// system; the generator reads its radii so that planted hotspots stay
// apart by the distances the detector clusters over.
const HotspotConfigFile = "hotspots.json"

// defaultGap spaces the centres of a category the radii do not name.
const defaultGap = 400.0

// LargestRadii reads the largest clustering radius of each category,
// subcategory overrides included, from a configuration in the shape of
// seeds/hotspots.json.
func LargestRadii(fsys fs.FS) (map[string]float64, error) {
	b, err := fs.ReadFile(fsys, HotspotConfigFile)
	if err != nil {
		return nil, fmt.Errorf("read hotspot config: %w", err)
	}
	var raw struct {
		Categories map[string]struct {
			RadiusM       float64 `json:"radius_m"`
			Subcategories map[string]struct {
				RadiusM float64 `json:"radius_m"`
			} `json:"subcategories"`
		} `json:"categories"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode hotspot config: %w", err)
	}
	out := make(map[string]float64, len(raw.Categories))
	for name, c := range raw.Categories {
		r := c.RadiusM
		for _, s := range c.Subcategories {
			r = math.Max(r, s.RadiusM)
		}
		if !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("hotspot config: category %s: radius %v m", name, r)
		}
		out[name] = r
	}
	return out, nil
}

// SpotGap is how far apart the centres of two planted hotspots of a
// category with the given largest clustering radius stay: the radius, plus
// a margin of the radius again and twice SpotRadius. Their complaints then
// lie more than two radii apart, so not even one unrelated complaint
// between them is within the radius of both, and the detector can only
// join them through a chain of two or more chance complaints.
func SpotGap(radius float64) float64 {
	return 2*radius + 2*SpotRadius
}

// gaps spaces the planted centres of each category by SpotGap.
func gaps(radii map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(radii))
	for name, r := range radii {
		out[name] = SpotGap(r)
	}
	return out
}
