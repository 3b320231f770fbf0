package place

import (
	"encoding/json"
	"fmt"

	"github.com/xiamen-eeb/nuisance/seeds"
)

// GazetteerFile is the seed that holds the place names of Xiamen.
const GazetteerFile = "gazetteer.json"

// Gazetteer is the set of names a complaint's address can be located by.
// Its JSON form is seeds/gazetteer.json, which the feed simulator also
// reads. All coordinates are WGS-84.
type Gazetteer struct {
	Districts    []District    `json:"districts"`
	Subdistricts []Subdistrict `json:"subdistricts"`
	Places       []Place       `json:"places"`
}

// District is a district's names and a representative point on its land.
type District struct {
	Slug    string   `json:"slug"`
	Adcode  string   `json:"adcode"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
	Lon     float64  `json:"lon"`
	Lat     float64  `json:"lat"`
}

// Subdistrict is a 街道 or 镇 (or a farm or zone at the same level) with the
// names citizens use for it, current and former. Its point is missing when
// no source gives one.
type Subdistrict struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	District string   `json:"district"`
	Aliases  []string `json:"aliases"`
	Lon      *float64 `json:"lon,omitempty"`
	Lat      *float64 `json:"lat,omitempty"`
}

// Place is a named point of interest (office building, industrial park,
// mall, university, hospital) that addresses often name instead of a street.
type Place struct {
	Name     string  `json:"name"`
	District string  `json:"district"`
	Lon      float64 `json:"lon"`
	Lat      float64 `json:"lat"`
	Address  string  `json:"address"`
}

// ParseGazetteer decodes seeds/gazetteer.json.
func ParseGazetteer(data []byte) (*Gazetteer, error) {
	var g Gazetteer
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("parse gazetteer: %w", err)
	}
	if len(g.Districts) == 0 {
		return nil, fmt.Errorf("parse gazetteer: no districts")
	}
	return &g, nil
}

// LoadGazetteer reads the gazetteer embedded in the seeds.
func LoadGazetteer() (*Gazetteer, error) {
	data, err := seeds.FS.ReadFile(GazetteerFile)
	if err != nil {
		return nil, fmt.Errorf("load gazetteer: %w", err)
	}
	return ParseGazetteer(data)
}
