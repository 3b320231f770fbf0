// Package locate places a complaint in a district of Xiamen from the
// coordinates and the address text the hotline sends, and names the
// sub-district and the place it is about.
package locate

import (
	"fmt"
	"math"
	"strings"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/place"
)

// Methods by which a complaint was located, as carried in
// complaint.located.
const (
	MethodCoordinates        = "coordinates"
	MethodSnapped            = "snapped"
	MethodAddressPlace       = "address_place"
	MethodAddressSubdistrict = "address_subdistrict"
	MethodAddressDistrict    = "address_district"
)

// Reasons a complaint is left unlocated, as carried in
// complaint.unlocated for triage.
const (
	ReasonNoLocation     = "no location given"
	ReasonOutside        = "outside Xiamen"
	ReasonUnknownAddress = "address names no known place"
)

// Confidence of a point inside a district, and of a point snapped from
// the sea at the snapping distance; snapping confidence falls linearly
// between them.
const (
	confidenceInside      = 0.95
	confidenceSnapNear    = 0.8
	confidenceSnapFar     = 0.5
	confidenceDisagreeing = 0.8 // a point inside whose address names another district
)

// Input is what a complaint says about its location.
type Input struct {
	Address  string
	Lon, Lat *float64
	CRS      string // wgs84, gcj02 or bd09; "" means gcj02, the intake default
}

// Result is where a complaint was located. District == "" means it could
// not be, and Reason says why.
type Result struct {
	District, DistrictName string // slug and 思明区
	Subdistrict            string // name, 厦港街道
	SubdistrictCode        string // statistics code, 350203001
	SubdistrictApprox      bool   // nearest sub-district point, not named by the address
	Lon, Lat               *float64
	Method                 string  // one of the Method constants
	Confidence             float64 // 0..1
	Place                  string  // the named place the address mentions, if any
	PlaceKey               string  // groups complaints about the same place
	Disagreement           string  // coordinates and address name different districts
	Reason                 string  // why District is empty
}

// Located reports whether the complaint was placed in a district.
func (r Result) Located() bool {
	return r.District != ""
}

// subPoint is a sub-district with a representative point.
type subPoint struct {
	sub      *place.Subdistrict
	lon, lat float64
}

// Locator combines the district outlines and the gazetteer. It is safe
// for concurrent use.
type Locator struct {
	districts *geo.Districts
	matcher   *place.Matcher
	names     map[string]string     // slug -> 思明区
	subPoints map[string][]subPoint // slug -> sub-districts with a point
}

// New builds a Locator from the embedded seeds.
func New() (*Locator, error) {
	d, err := geo.LoadDistricts()
	if err != nil {
		return nil, fmt.Errorf("new locator: %w", err)
	}
	g, err := place.LoadGazetteer()
	if err != nil {
		return nil, fmt.Errorf("new locator: %w", err)
	}
	return NewFrom(d, g), nil
}

// NewFrom builds a Locator from outlines and a gazetteer already loaded.
func NewFrom(d *geo.Districts, g *place.Gazetteer) *Locator {
	l := &Locator{
		districts: d,
		matcher:   place.NewMatcher(g),
		names:     map[string]string{},
		subPoints: map[string][]subPoint{},
	}
	for _, dist := range d.List() {
		l.names[dist.Slug] = dist.Name
	}
	for i := range g.Subdistricts {
		s := &g.Subdistricts[i]
		if s.Lon != nil && s.Lat != nil {
			l.subPoints[s.District] = append(l.subPoints[s.District], subPoint{s, *s.Lon, *s.Lat})
		}
	}
	return l
}

// Locate places a complaint. Coordinates win over the address; the address
// still names the sub-district and the place, and a disagreement between
// the two is reported. The error is only for bad input: an unknown CRS or
// coordinates that are not numbers.
func (l *Locator) Locate(in Input) (Result, error) {
	var addr place.Address
	hasAddr := strings.TrimSpace(in.Address) != ""
	if hasAddr {
		addr = l.matcher.Geocode(in.Address)
	}
	if in.Lon != nil || in.Lat != nil {
		if in.Lon == nil || in.Lat == nil {
			return Result{}, fmt.Errorf("locate: coordinates need both lon and lat")
		}
		crs, err := geo.ParseCRS(in.CRS)
		if err != nil {
			return Result{}, fmt.Errorf("locate: %w", err)
		}
		lon, lat := *in.Lon, *in.Lat
		if math.IsNaN(lon) || math.IsNaN(lat) || math.IsInf(lon, 0) || math.IsInf(lat, 0) ||
			lon < -180 || lon > 180 || lat < -90 || lat > 90 {
			return Result{}, fmt.Errorf("locate: coordinates (%g, %g) out of range", lon, lat)
		}
		wLon, wLat := geo.ToWGS84(crs, lon, lat)
		if hit, ok := l.districts.Locate(wLon, wLat); ok {
			return l.fromPoint(hit, wLon, wLat, addr), nil
		}
		if !hasAddr || addr.District == "" {
			return Result{Reason: ReasonOutside}, nil // the point, and the address if any, are outside
		}
		// A point outside Xiamen with an address inside it: the address is
		// the better evidence, reported with the disagreement.
		r := l.fromAddress(addr)
		r.Disagreement = "coordinates outside Xiamen, address names " + r.District
		r.Confidence = math.Max(0, r.Confidence-0.2)
		return r, nil
	}
	if !hasAddr {
		return Result{Reason: ReasonNoLocation}, nil
	}
	if addr.Elsewhere != "" {
		return Result{Reason: ReasonOutside}, nil
	}
	if addr.District == "" {
		return Result{Reason: ReasonUnknownAddress, PlaceKey: addr.Normalized}, nil
	}
	return l.fromAddress(addr), nil
}

// fromPoint builds the result of a point placed in (or snapped to) a
// district, completed by what the address says.
func (l *Locator) fromPoint(hit geo.Hit, lon, lat float64, addr place.Address) Result {
	r := Result{
		District:     hit.District.Slug,
		DistrictName: hit.District.Name,
		Lon:          &lon,
		Lat:          &lat,
		Method:       MethodCoordinates,
		Confidence:   confidenceInside,
	}
	if hit.Snapped {
		r.Method = MethodSnapped
		r.Confidence = confidenceSnapNear - (confidenceSnapNear-confidenceSnapFar)*hit.Meters/geo.SnapMeters
	}
	if addr.District != "" && addr.District != r.District {
		r.Disagreement = "coordinates in " + r.District + ", address names " + addr.District
		r.Confidence = math.Min(r.Confidence, confidenceDisagreeing)
	}
	if addr.Elsewhere != "" {
		r.Disagreement = "coordinates in " + r.District + ", address names " + addr.Elsewhere
		r.Confidence = math.Min(r.Confidence, confidenceDisagreeing)
	}
	if addr.District == r.District {
		if addr.Subdistrict != nil {
			r.Subdistrict, r.SubdistrictCode = addr.Subdistrict.Name, addr.Subdistrict.Code
		}
		if addr.Place != nil {
			r.Place = addr.Place.Name
		}
	}
	r.PlaceKey = placeKey(r.District, addr.Key)
	if r.Subdistrict == "" {
		l.approximateSubdistrict(&r, lon, lat)
	}
	return r
}

// fromAddress builds the result of a complaint located by its address only.
func (l *Locator) fromAddress(addr place.Address) Result {
	r := Result{
		District:     addr.District,
		DistrictName: l.names[addr.District],
		Method:       MethodAddressDistrict,
		Confidence:   addr.Confidence,
		PlaceKey:     placeKey(addr.District, addr.Key),
	}
	if addr.Subdistrict != nil {
		r.Subdistrict, r.SubdistrictCode = addr.Subdistrict.Name, addr.Subdistrict.Code
		r.Method = MethodAddressSubdistrict
	}
	if addr.Place != nil {
		lon, lat := addr.Place.Lon, addr.Place.Lat
		r.Place = addr.Place.Name
		r.Lon, r.Lat = &lon, &lat
		r.Method = MethodAddressPlace
		if r.Subdistrict == "" {
			l.approximateSubdistrict(&r, lon, lat)
		}
	}
	// An address that names two districts (a place on their border) is
	// placed in the one its strongest name gives, and says so.
	if addr.Conflict != "" {
		r.Disagreement = "address names " + addr.District + " and " + addr.Conflict
	}
	return r
}

// placeKey scopes an address key to its district, so that the same street
// name in two districts stays two places.
func placeKey(district, key string) string {
	if key == "" {
		return ""
	}
	return district + "/" + key
}

// approximateSubdistrict sets the sub-district whose representative point
// is nearest within the result's district: no sub-district outlines are
// published, so this is the best estimate there is.
func (l *Locator) approximateSubdistrict(r *Result, lon, lat float64) {
	best := math.Inf(1)
	for _, sp := range l.subPoints[r.District] {
		if m := geo.DistanceMeters(lon, lat, sp.lon, sp.lat); m < best {
			best = m
			r.Subdistrict, r.SubdistrictCode = sp.sub.Name, sp.sub.Code
		}
	}
	r.SubdistrictApprox = r.Subdistrict != ""
}
