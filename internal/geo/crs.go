// Package geo converts between the coordinate systems complaints arrive in
// and locates points in Xiamen's districts.
package geo

import (
	"fmt"
	"math"
)

// CRS names a coordinate reference system used by Chinese map providers.
type CRS string

// The coordinate systems a complaint's location may carry.
const (
	WGS84 CRS = "wgs84"
	GCJ02 CRS = "gcj02"
	BD09  CRS = "bd09"
)

// ParseCRS accepts the hotline's crs field; empty means GCJ-02, the
// default of the intake contract.
func ParseCRS(s string) (CRS, error) {
	switch CRS(s) {
	case "":
		return GCJ02, nil
	case WGS84, GCJ02, BD09:
		return CRS(s), nil
	}
	return "", fmt.Errorf("unknown crs %q (want wgs84, gcj02 or bd09)", s)
}

const (
	earthA  = 6378245.0              // Krasovsky 1940 semi-major axis used by GCJ-02
	earthEE = 0.00669342162296594323 // its eccentricity squared
	xPi     = math.Pi * 3000.0 / 180.0
)

func transformLat(x, y float64) float64 {
	ret := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	ret += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	ret += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	ret += (160.0*math.Sin(y/12.0*math.Pi) + 320*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	return ret
}

func transformLon(x, y float64) float64 {
	ret := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	ret += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	ret += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	ret += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	return ret
}

// WGS84ToGCJ02 applies the published GCJ-02 obfuscation. It is defined
// everywhere; China's maps apply it only inside China, which covers Xiamen.
func WGS84ToGCJ02(lon, lat float64) (float64, float64) {
	dLat := transformLat(lon-105.0, lat-35.0)
	dLon := transformLon(lon-105.0, lat-35.0)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - earthEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((earthA * (1 - earthEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (earthA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return lon + dLon, lat + dLat
}

// GCJ02ToWGS84 inverts WGS84ToGCJ02 by fixed-point iteration until the
// round trip is within 1e-9 degrees (about 0.1 mm), far below the 1 cm the
// boundaries need.
func GCJ02ToWGS84(lon, lat float64) (float64, float64) {
	wLon, wLat := lon, lat
	for range 30 {
		gLon, gLat := WGS84ToGCJ02(wLon, wLat)
		dLon, dLat := gLon-lon, gLat-lat
		wLon -= dLon
		wLat -= dLat
		if math.Abs(dLon) < 1e-10 && math.Abs(dLat) < 1e-10 {
			break
		}
	}
	return wLon, wLat
}

// GCJ02ToBD09 applies Baidu's further offset.
func GCJ02ToBD09(lon, lat float64) (float64, float64) {
	z := math.Sqrt(lon*lon+lat*lat) + 0.00002*math.Sin(lat*xPi)
	theta := math.Atan2(lat, lon) + 0.000003*math.Cos(lon*xPi)
	return z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006
}

// bd09ToGCJ02Approx is Baidu's published approximate inverse, used as the
// starting point of the exact iteration.
func bd09ToGCJ02Approx(lon, lat float64) (float64, float64) {
	x, y := lon-0.0065, lat-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*xPi)
	return z * math.Cos(theta), z * math.Sin(theta)
}

// BD09ToGCJ02 inverts GCJ02ToBD09 exactly (iterated to 1e-10 degrees).
func BD09ToGCJ02(lon, lat float64) (float64, float64) {
	gLon, gLat := bd09ToGCJ02Approx(lon, lat)
	for range 30 {
		bLon, bLat := GCJ02ToBD09(gLon, gLat)
		dLon, dLat := bLon-lon, bLat-lat
		gLon -= dLon
		gLat -= dLat
		if math.Abs(dLon) < 1e-10 && math.Abs(dLat) < 1e-10 {
			break
		}
	}
	return gLon, gLat
}

// ToWGS84 converts a point in crs to WGS-84, the system of the boundaries.
func ToWGS84(crs CRS, lon, lat float64) (float64, float64) {
	switch crs {
	case GCJ02, "":
		return GCJ02ToWGS84(lon, lat)
	case BD09:
		return GCJ02ToWGS84(BD09ToGCJ02(lon, lat))
	}
	return lon, lat
}

// FromWGS84 converts a WGS-84 point to crs (for maps and feeds).
func FromWGS84(crs CRS, lon, lat float64) (float64, float64) {
	switch crs {
	case GCJ02, "":
		return WGS84ToGCJ02(lon, lat)
	case BD09:
		return GCJ02ToBD09(WGS84ToGCJ02(lon, lat))
	}
	return lon, lat
}

// DistanceMeters is the great-circle distance between two WGS-84 points.
func DistanceMeters(lon1, lat1, lon2, lat2 float64) float64 {
	const r = 6371008.8
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp := p2 - p1
	dl := (lon2 - lon1) * math.Pi / 180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
