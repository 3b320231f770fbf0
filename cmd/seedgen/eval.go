package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/place"
)

// evalSet is the locator's evaluation set: points and address texts whose
// district the sources state, independently of the derived gazetteer.
type evalSet struct {
	Points    []evalPoint
	Addresses []evalAddress
}

// evalPoint is a WGS-84 point with its district.
type evalPoint struct {
	Lon      float64 `json:"lon"`
	Lat      float64 `json:"lat"`
	District string  `json:"district"`
	Source   string  `json:"source"`
}

// evalAddress is an address as a citizen might give it, with its district.
type evalAddress struct {
	Text     string `json:"text"`
	District string `json:"district"`
	Source   string `json:"source"`
}

// streetTails are made-up remainders of an address after the sub-district
// name; they name no place the gazetteer knows.
var streetTails = []string{"建设路88号", "社区3号楼", " 幸福小区12栋", "附近工地", "菜市场旁"}

// toFullWidth turns ASCII digits and letters into their full-width forms,
// as some hotline operators type them.
func toFullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7F {
			return r + 0xFEE0
		}
		return r
	}, s)
}

func buildEval(src *sources, g *place.Gazetteer) (*evalSet, error) {
	ev := &evalSet{}
	slugByName := map[string]string{}
	for _, d := range g.Districts {
		slugByName[d.Name] = d.Slug
	}
	count := map[string]int{}
	for _, row := range src.pois {
		count[strings.TrimSpace(row["name"])]++
	}
	for i, row := range src.pois {
		name := strings.TrimSpace(row["name"])
		slug := slugByName[row["district_pip"]]
		glon, err1 := strconv.ParseFloat(row["lng"], 64)
		glat, err2 := strconv.ParseFloat(row["lat"], 64)
		if err1 != nil || err2 != nil || slug == "" {
			return nil, fmt.Errorf("poi row %d: bad coordinates or district", i+2)
		}
		lon, lat := geo.GCJ02ToWGS84(glon, glat)
		ev.Points = append(ev.Points, evalPoint{round(lon, 7), round(lat, 7), slug, "poi " + row["id"]})

		if d := row["district_in_address"]; d != "" {
			ev.Addresses = append(ev.Addresses, evalAddress{row["address"], slugByName[d], "poi address " + row["id"]})
		}
		if count[name] != 1 {
			continue // a name shared by several points locates none of them
		}
		addr := row["address"]
		var text string
		switch i % 4 {
		case 0:
			text = "厦门市" + addr + name
			if strings.Contains(addr, name) {
				text = addr
			}
		case 1:
			text = "福建省厦门" + name + "附近"
		case 2:
			text = toFullWidth(name) + " （" + toFullWidth(addr) + "）"
		case 3:
			text = name + "门口工地"
		}
		ev.Addresses = append(ev.Addresses, evalAddress{text, slug, "poi " + row["id"]})
	}

	for i, row := range src.centroids {
		slug := slugByName[row["district"]]
		p, err := gcjPoint(row)
		if err != nil {
			return nil, err
		}
		lon, lat := geo.GCJ02ToWGS84(p[0], p[1])
		name := row["street_or_town"]
		ev.Points = append(ev.Points, evalPoint{round(lon, 7), round(lat, 7), slug, "centroid " + row["district"] + name})
		if name == "" {
			name = row["district"]
		}
		ev.Addresses = append(ev.Addresses,
			evalAddress{"厦门市" + name + streetTails[i%len(streetTails)], slug, "centroid " + name},
			evalAddress{shortName(name) + streetTails[(i+1)%len(streetTails)], slug, "centroid short " + name})
	}
	for i, row := range src.streets {
		slug := slugs[row["areaCode"]]
		ev.Addresses = append(ev.Addresses, evalAddress{row["name"] + streetTails[i%len(streetTails)], slug, "street " + row["code"]})
	}
	for i, row := range src.level4 {
		if row["deep"] != "3" {
			continue
		}
		slug := slugs[row["pid"]]
		ev.Addresses = append(ev.Addresses, evalAddress{"福建省厦门市" + row["ext_name"] + streetTails[i%len(streetTails)], slug, "areacity " + row["id"]})
	}
	return ev, nil
}

func marshalEval(ev *evalSet) ([]byte, error) {
	var ps, as []any
	for _, p := range ev.Points {
		ps = append(ps, p)
	}
	for _, a := range ev.Addresses {
		as = append(as, a)
	}
	return marshalLines([]string{"points", "addresses"}, [][]any{ps, as})
}
