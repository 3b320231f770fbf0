package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
)

// GazetteerFile is the name of the gazetteer inside the seeds file system.
const GazetteerFile = "gazetteer.json"

// Gazetteer holds the named anchor points complaints are placed around: the
// districts, their sub-districts and well-known places, all in WGS-84. It
// mirrors seeds/gazetteer.json so that the simulated feed names the same
// places the geocoder knows.
type Gazetteer struct {
	Districts    []GazDistrict    `json:"districts"`
	Subdistricts []GazSubdistrict `json:"subdistricts"`
	Places       []GazPlace       `json:"places"`
}

// GazDistrict is one of Xiamen's six districts with a representative point.
type GazDistrict struct {
	Slug    string   `json:"slug"`
	Adcode  string   `json:"adcode"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
	Lon     float64  `json:"lon"`
	Lat     float64  `json:"lat"`
}

// GazSubdistrict is a sub-district (街道/镇) with a representative point,
// when one is known; its District names the parent by slug, adcode or name.
type GazSubdistrict struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	District string   `json:"district"`
	Aliases  []string `json:"aliases"`
	Lon      float64  `json:"lon"`
	Lat      float64  `json:"lat"`
}

// hasPoint tells a sub-district without a known point (zero coordinates)
// from one that has one; only the latter anchor complaints.
func (s GazSubdistrict) hasPoint() bool { return s.Lon != 0 || s.Lat != 0 }

// GazPlace is a named place (office building, park, mall, campus) that
// citizens cite in their complaints.
type GazPlace struct {
	Name     string  `json:"name"`
	District string  `json:"district"`
	Lon      float64 `json:"lon"`
	Lat      float64 `json:"lat"`
	Address  string  `json:"address"`
}

// LoadGazetteer reads GazetteerFile from fsys, normally seeds.FS.
func LoadGazetteer(fsys fs.FS) (*Gazetteer, error) {
	f, err := fsys.Open(GazetteerFile)
	if err != nil {
		return nil, fmt.Errorf("open gazetteer: %w", err)
	}
	defer f.Close()
	return ParseGazetteer(f)
}

// ParseGazetteer decodes a gazetteer in the seeds/gazetteer.json shape and
// checks that every anchor is usable: a known district, a name and a point
// in Xiamen.
func ParseGazetteer(r io.Reader) (*Gazetteer, error) {
	var g Gazetteer
	if err := json.NewDecoder(r).Decode(&g); err != nil {
		return nil, fmt.Errorf("decode gazetteer: %w", err)
	}
	if err := g.validate(); err != nil {
		return nil, fmt.Errorf("gazetteer: %w", err)
	}
	return &g, nil
}

// Xiamen's extent in WGS-84 with a margin; anchors outside are data errors.
const (
	minLon, maxLon = 117.8, 118.5
	minLat, maxLat = 24.3, 24.95
)

func inXiamen(lon, lat float64) bool {
	return lon >= minLon && lon <= maxLon && lat >= minLat && lat <= maxLat &&
		!math.IsNaN(lon) && !math.IsNaN(lat)
}

func (g *Gazetteer) validate() error {
	if len(g.Districts) == 0 {
		return errors.New("no districts")
	}
	for _, d := range g.Districts {
		if d.Slug == "" || d.Name == "" {
			return fmt.Errorf("district %q/%q: slug and name required", d.Slug, d.Name)
		}
		if !inXiamen(d.Lon, d.Lat) {
			return fmt.Errorf("district %s: point %.6f,%.6f outside Xiamen", d.Slug, d.Lon, d.Lat)
		}
	}
	for _, s := range g.Subdistricts {
		if g.districtIndex(s.District) < 0 {
			return fmt.Errorf("subdistrict %s: unknown district %q", s.Name, s.District)
		}
		if s.Name == "" || (s.hasPoint() && !inXiamen(s.Lon, s.Lat)) {
			return fmt.Errorf("subdistrict %q: name required, and a point in Xiamen if any", s.Name)
		}
	}
	for _, p := range g.Places {
		if g.districtIndex(p.District) < 0 {
			return fmt.Errorf("place %s: unknown district %q", p.Name, p.District)
		}
		if p.Name == "" || !inXiamen(p.Lon, p.Lat) {
			return fmt.Errorf("place %q: name and a point in Xiamen required", p.Name)
		}
	}
	return nil
}

// districtIndex resolves a district reference given as slug, adcode, name
// or alias, so the gazetteer may use any of them; -1 when unknown.
func (g *Gazetteer) districtIndex(ref string) int {
	for i, d := range g.Districts {
		if ref == d.Slug || ref == d.Adcode || ref == d.Name {
			return i
		}
		for _, a := range d.Aliases {
			if ref == a {
				return i
			}
		}
	}
	return -1
}
