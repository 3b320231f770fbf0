package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/place"
)

// pointDecimals is the precision of gazetteer points (about 10 cm).
const pointDecimals = 6

// gazetteerReport counts what the derivation dropped or flagged.
type gazetteerReport struct {
	subdistrictPoints int
	duplicates        int
	outside           int
	pipDiffers        int
}

func buildGazetteer(src *sources, idx *geo.Districts) (*place.Gazetteer, gazetteerReport, error) {
	var rep gazetteerReport
	g := &place.Gazetteer{}
	slugByName := map[string]string{}
	for _, d := range idx.List() {
		slugByName[d.Name] = d.Slug
	}

	// District-level points of the centroid file, by district name.
	districtPoint := map[string]orb.Point{}
	for _, row := range src.centroids {
		if row["street_or_town"] != "" {
			continue
		}
		p, err := gcjPoint(row)
		if err != nil {
			return nil, rep, err
		}
		lon, lat := geo.GCJ02ToWGS84(p[0], p[1])
		districtPoint[row["district"]] = orb.Point{lon, lat}
	}
	datavProps := map[string][2]orb.Point{}
	for _, f := range src.datav.Features {
		adcode := fmt.Sprintf("%.0f", f.Properties.MustFloat64("adcode", 0))
		datavProps[adcode] = [2]orb.Point{propPoint(f.Properties["center"]), propPoint(f.Properties["centroid"])}
	}
	for _, d := range idx.List() {
		candidates := []orb.Point{districtPoint[d.Name]}
		for _, p := range datavProps[d.Adcode] {
			if p != (orb.Point{}) {
				lon, lat := geo.GCJ02ToWGS84(p[0], p[1])
				candidates = append(candidates, orb.Point{lon, lat})
			}
		}
		pt := d.InteriorPoint()
		for _, c := range candidates {
			if in, ok := idx.Contains(c[0], c[1]); ok && in.Slug == d.Slug {
				pt = c
				break
			}
		}
		g.Districts = append(g.Districts, place.District{
			Slug:    d.Slug,
			Adcode:  d.Adcode,
			Name:    d.Name,
			Aliases: []string{strings.TrimSuffix(d.Name, "区")},
			Lon:     round(pt[0], pointDecimals),
			Lat:     round(pt[1], pointDecimals),
		})
	}

	subs, err := buildSubdistricts(src, &rep)
	if err != nil {
		return nil, rep, err
	}
	g.Subdistricts = subs

	seen := map[string]bool{}
	for i, row := range src.pois {
		name := strings.TrimSpace(row["name"])
		if name == "" {
			continue
		}
		if seen[name] {
			rep.duplicates++
			continue
		}
		seen[name] = true
		glon, err1 := strconv.ParseFloat(row["lng"], 64)
		glat, err2 := strconv.ParseFloat(row["lat"], 64)
		if err1 != nil || err2 != nil {
			return nil, rep, fmt.Errorf("poi row %d (%s): bad coordinates", i+2, name)
		}
		slug, ok := slugByName[row["district_pip"]]
		if !ok {
			return nil, rep, fmt.Errorf("poi row %d (%s): unknown district %q", i+2, name, row["district_pip"])
		}
		lon, lat := geo.GCJ02ToWGS84(glon, glat)
		in, ok := idx.Contains(lon, lat)
		if !ok {
			rep.outside++
			continue
		}
		if in.Slug != slug {
			rep.pipDiffers++
		}
		g.Places = append(g.Places, place.Place{
			Name:     name,
			District: slug,
			Lon:      round(lon, pointDecimals),
			Lat:      round(lat, pointDecimals),
			Address:  trimProvinceCity(row["address"]),
		})
	}
	return g, rep, nil
}

// trimProvinceCity drops the 福建省厦门市 prefix that some source
// addresses carry; every place is in Xiamen.
func trimProvinceCity(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"福建省", "福建", "厦门市"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// renameNote finds the current name in a centroid row's note, such as
// "typo in source; official name 厦港街道" or "now 新民街道 (2022 NBS)".
var renameNote = regexp.MustCompile(`(?:official name|merged into|now)\s+(\S+)`)

// shortName is a sub-district's name without 街道 or 镇, as people say it.
func shortName(name string) string {
	for _, suf := range []string{"街道", "镇"} {
		if s, ok := strings.CutSuffix(name, suf); ok && s != "" {
			return s
		}
	}
	return name
}

func buildSubdistricts(src *sources, rep *gazetteerReport) ([]place.Subdistrict, error) {
	var subs []place.Subdistrict
	byCode := map[string]int{}
	byName := map[string]int{}     // current full name
	byShort := map[[2]string]int{} // district code, short name
	for _, row := range src.streets {
		slug, ok := slugs[row["areaCode"]]
		if !ok {
			return nil, fmt.Errorf("streets: %s has unknown district %s", row["code"], row["areaCode"])
		}
		s := place.Subdistrict{Code: row["code"], Name: row["name"], District: slug}
		byCode[s.Code] = len(subs)
		byName[s.Name] = len(subs)
		byShort[[2]string{row["areaCode"], shortName(s.Name)}] = len(subs)
		subs = append(subs, s)
	}
	addAlias := func(i int, alias string) {
		s := &subs[i]
		if alias == "" || alias == s.Name {
			return
		}
		for _, a := range s.Aliases {
			if a == alias {
				return
			}
		}
		s.Aliases = append(s.Aliases, alias)
	}
	for i := range subs {
		addAlias(i, shortName(subs[i].Name))
		if rest, ok := strings.CutPrefix(subs[i].Name, "厦门"); ok {
			addAlias(i, rest)
		}
	}

	// Older names: rows of the AreaCity list at town level, matched by
	// code when the short names agree, else by short name in the district.
	for _, row := range src.level4 {
		if row["deep"] != "3" {
			continue
		}
		i, ok := byCode[row["id"]]
		if !ok || shortName(subs[i].Name) != shortName(row["ext_name"]) {
			i, ok = byShort[[2]string{row["pid"], shortName(row["ext_name"])}]
		}
		if !ok {
			return nil, fmt.Errorf("areacity: %s %s matches no 2022 sub-district", row["id"], row["ext_name"])
		}
		addAlias(i, row["ext_name"])
		addAlias(i, row["name"])
	}

	// Representative points, and the outdated or misspelt names of the
	// centroid file.
	districtCode := map[string]string{}
	for _, row := range src.districts {
		districtCode[row["name"]] = row["code"]
	}
	exact := map[int]bool{}
	for _, row := range src.centroids {
		name := row["street_or_town"]
		if name == "" {
			continue
		}
		i, ok := byName[name]
		if !ok {
			if m := renameNote.FindStringSubmatch(row["note"]); m != nil {
				i, ok = byName[m[1]]
			}
		}
		if !ok {
			i, ok = byShort[[2]string{districtCode[row["district"]], shortName(name)}]
		}
		if !ok {
			return nil, fmt.Errorf("centroids: %s %s matches no 2022 sub-district", row["district"], name)
		}
		if subs[i].District != slugs[districtCode[row["district"]]] {
			return nil, fmt.Errorf("centroids: %s is in %s, not %s", name, subs[i].District, row["district"])
		}
		addAlias(i, name)
		addAlias(i, shortName(name))
		p, err := gcjPoint(row)
		if err != nil {
			return nil, err
		}
		// A point listed under the current name beats one listed under a
		// former name that was merged in.
		if subs[i].Lon != nil && (exact[i] || name != subs[i].Name) {
			continue
		}
		exact[i] = name == subs[i].Name
		lon, lat := geo.GCJ02ToWGS84(p[0], p[1])
		lon, lat = round(lon, pointDecimals), round(lat, pointDecimals)
		subs[i].Lon, subs[i].Lat = &lon, &lat
	}
	for _, s := range subs {
		if s.Lon != nil {
			rep.subdistrictPoints++
		}
	}
	return subs, nil
}

// gcjPoint reads the GCJ-02 columns of a centroid row.
func gcjPoint(row map[string]string) (orb.Point, error) {
	lon, err1 := strconv.ParseFloat(row["lng_gcj02"], 64)
	lat, err2 := strconv.ParseFloat(row["lat_gcj02"], 64)
	if err1 != nil || err2 != nil {
		return orb.Point{}, fmt.Errorf("centroids: %s %s: bad coordinates", row["district"], row["street_or_town"])
	}
	return orb.Point{lon, lat}, nil
}

// propPoint reads a [lon, lat] property of the DataV export.
func propPoint(v any) orb.Point {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return orb.Point{}
	}
	lon, ok1 := a[0].(float64)
	lat, ok2 := a[1].(float64)
	if !ok1 || !ok2 {
		return orb.Point{}
	}
	return orb.Point{lon, lat}
}

func marshalGazetteer(g *place.Gazetteer) ([]byte, error) {
	var ds, ss, ps []any
	for _, d := range g.Districts {
		ds = append(ds, d)
	}
	for _, s := range g.Subdistricts {
		if s.Aliases == nil {
			s.Aliases = []string{}
		}
		ss = append(ss, s)
	}
	for _, p := range g.Places {
		ps = append(ps, p)
	}
	return marshalLines([]string{"districts", "subdistricts", "places"}, [][]any{ds, ss, ps})
}
