package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/xiamen-eeb/nuisance/internal/geo"
)

// slugs names each district by adcode as the rest of the system does.
var slugs = map[string]string{
	"350203": "siming",
	"350205": "haicang",
	"350206": "huli",
	"350211": "jimei",
	"350212": "tongan",
	"350213": "xiangan",
}

// sources holds the reference files seedgen reads.
type sources struct {
	datav     *geojson.FeatureCollection
	districts []map[string]string // xiamen_districts_modood_2022.csv
	streets   []map[string]string // xiamen_streets_modood_2022.csv
	level4    []map[string]string // xiamen_areacity_level4_pinyin.csv
	centroids []map[string]string // xiamen_street_centroids_unattributed.csv
	pois      []map[string]string // xiamen_poi_ezioreturner.csv
}

func readSources(dir string) (*sources, error) {
	var s sources
	path := filepath.Join(dir, "xiamen_districts_datav_350200_full.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if s.datav, err = geojson.UnmarshalFeatureCollection(data); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	for _, f := range []struct {
		name string
		dst  *[]map[string]string
	}{
		{"xiamen_districts_modood_2022.csv", &s.districts},
		{"xiamen_streets_modood_2022.csv", &s.streets},
		{"xiamen_areacity_level4_pinyin.csv", &s.level4},
		{"xiamen_street_centroids_unattributed.csv", &s.centroids},
		{"xiamen_poi_ezioreturner.csv", &s.pois},
	} {
		if *f.dst, err = readCSV(filepath.Join(dir, f.name)); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// maxRoundTripMeters bounds the error of the converted, rounded outline
// vertices when converted back to GCJ-02.
const maxRoundTripMeters = 0.01

// buildDistricts converts the DataV outlines from GCJ-02 to WGS-84 and
// returns them as GeoJSON together with their index.
func buildDistricts(src *sources) ([]byte, *geo.Districts, error) {
	names := map[string]string{}
	for _, row := range src.districts {
		names[row["code"]] = row["name"]
	}
	var list []geo.District
	for i, f := range src.datav.Features {
		adcode := fmt.Sprintf("%.0f", f.Properties.MustFloat64("adcode", 0))
		slug, ok := slugs[adcode]
		if !ok {
			return nil, nil, fmt.Errorf("datav feature %d: unknown adcode %s", i, adcode)
		}
		name := names[adcode]
		if name == "" || name != f.Properties.MustString("name", "") {
			return nil, nil, fmt.Errorf("datav feature %d: name %q does not match the district list's %q",
				i, f.Properties.MustString("name", ""), name)
		}
		var shape orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.MultiPolygon:
			shape = g
		case orb.Polygon:
			shape = orb.MultiPolygon{g}
		default:
			return nil, nil, fmt.Errorf("datav feature %d: geometry %T", i, f.Geometry)
		}
		out := make(orb.MultiPolygon, len(shape))
		for pi, poly := range shape {
			out[pi] = make(orb.Polygon, len(poly))
			for ri, ring := range poly {
				r := make(orb.Ring, len(ring))
				for k, p := range ring {
					lon, lat := geo.GCJ02ToWGS84(p[0], p[1])
					lon, lat = round(lon, 7), round(lat, 7)
					gl, ga := geo.WGS84ToGCJ02(lon, lat)
					if m := geo.DistanceMeters(gl, ga, p[0], p[1]); m > maxRoundTripMeters {
						return nil, nil, fmt.Errorf("%s vertex %v: round trip off by %.4f m", slug, p, m)
					}
					r[k] = orb.Point{lon, lat}
				}
				out[pi][ri] = r
			}
		}
		list = append(list, geo.District{Slug: slug, Adcode: adcode, Name: name, Shape: out})
	}
	if len(list) != len(slugs) {
		return nil, nil, fmt.Errorf("datav: %d districts, want %d", len(list), len(slugs))
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Adcode < list[j].Adcode })
	idx, err := geo.NewDistricts(list)
	if err != nil {
		return nil, nil, err
	}

	var b bytes.Buffer
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i, d := range list {
		feat := struct {
			Type       string            `json:"type"`
			Properties map[string]string `json:"properties"`
			Geometry   *geojson.Geometry `json:"geometry"`
		}{"Feature", map[string]string{"slug": d.Slug, "adcode": d.Adcode, "name": d.Name}, geojson.NewGeometry(d.Shape)}
		line, err := json.Marshal(feat)
		if err != nil {
			return nil, nil, fmt.Errorf("marshal %s: %w", d.Slug, err)
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		b.Write(line)
	}
	b.WriteString("\n]}\n")
	return b.Bytes(), idx, nil
}
