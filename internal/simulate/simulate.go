// Package simulate generates a realistic, reproducible feed of 12345
// hotline complaints about noise, dust and cooking smoke in Xiamen, with
// repeat-complaint hotspots planted at known places. The feed drives demos
// and load tests, and its ground truth measures the geocoder, the
// classifier and the hotspot detector.
//
// The model: subcategories in fixed shares (noise 55 %, dust 25 %, cooking
// smoke 20 %), each with themes that set the hours people call at and the
// words they use; districts weighted by population and tilted towards the
// 2024 work plan's priority districts; repeat complaints dominating
// (DefaultHotspotShare), from planted hotspots of at least MinSpotSize
// complaints within SpotRadius of a centre and within 30 days, centres of
// one category SpotGap apart so that no two chain into one; one-off
// background complaints spread uniformly over their district's land.
// Points are sent mostly in GCJ-02, some in BD-09 and WGS-84, a few as
// address text only.
package simulate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/seeds"
)

// Defaults of Config's zero fields.
const (
	DefaultDays  = 30
	DefaultCount = 1000
	// DefaultHotspotShare is the share of complaints from planted repeat
	// sites. On a 12345 nuisance line the same construction site, bar or
	// restaurant is reported again and again by the same neighbours, and
	// repeat complaints (重复投诉) make up most of the volume. 0.88, in the
	// middle of the 0.85-0.9 the detector is evaluated over, leaves 12 % of
	// one-off complaints spread over the city.
	DefaultHotspotShare = 0.88
	// DefaultHotspotSize is the mean number of complaints per planted
	// hotspot used to scale Planted to Count: sizes are skewed, most sites
	// drawing a handful of complaints a month and a few drawing many, and
	// a mean of 20 keeps the planted sites of a month of 50,000 complaints
	// spaced apart by SpotGap even in Siming and Huli.
	DefaultHotspotSize = 20
	// SpotRadius is how far from its centre a planted hotspot's complaints
	// fall: half the smallest clustering radius the detector uses.
	SpotRadius = 50.0
)

// Shanghai is the hotline's time zone. China has kept UTC+8 without daylight
// saving since 1991, so a fixed zone is exact and needs no tzdata.
var Shanghai = time.FixedZone("CST", 8*3600)

// DefaultStart is the first day of a feed when Config.Start is zero: a
// Monday, so weekly reports cover whole ISO weeks.
var DefaultStart = time.Date(2024, time.March, 4, 0, 0, 0, 0, Shanghai)

// Config says what feed to generate. The same Config gives byte-identical
// output.
type Config struct {
	Seed  int64
	Start time.Time // first day (its date in Asia/Shanghai); zero: DefaultStart
	Days  int       // length of the period; zero: DefaultDays
	Count int       // complaints in all; zero: DefaultCount
	// HotspotShare is the share of complaints in planted hotspots; zero:
	// DefaultHotspotShare.
	HotspotShare float64
	// Planted is the number of planted hotspots; zero: scaled to Count.
	Planted int
	// Radii is the largest clustering radius of each category in metres;
	// planted centres of a category stay that far apart plus SpotMargin,
	// so that planted hotspots never chain into each other. Nil: the radii
	// of seeds/hotspots.json.
	Radii map[string]float64
	// Gazetteer holds the anchor points; nil: seeds/gazetteer.json.
	Gazetteer *Gazetteer
	// Locate returns the district slug of a WGS-84 point (false at sea or
	// outside Xiamen); nil: the outlines of seeds/districts.geojson.
	// Generated points are redrawn until Locate puts them on their own
	// district's land, so the truth agrees with the boundaries the
	// geocoder uses.
	Locate func(lon, lat float64) (district string, ok bool)
}

// Location is a point as the hotline sends it, in the system named by CRS
// (empty means GCJ-02).
type Location struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	CRS string  `json:"crs,omitempty"`
}

// Caller is the citizen who called; personal data, synthetic here but
// handled as if real.
type Caller struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// String masks the caller so that formatting a complaint never prints
// personal data.
func (c Caller) String() string {
	return "caller(masked)"
}

// GoString masks the caller under %#v as well.
func (c Caller) GoString() string { return c.String() }

// Complaint is one hotline work order as the hotline posts it, plus the
// ground truth the evaluation compares the pipeline against.
type Complaint struct {
	TicketID        string    `json:"ticket_id"`
	ReceivedAt      time.Time `json:"received_at"`
	Description     string    `json:"description"`
	Category        string    `json:"category,omitempty"`
	Subcategory     string    `json:"subcategory,omitempty"`
	HotlineCategory string    `json:"hotline_category,omitempty"`
	Address         string    `json:"address,omitempty"`
	Location        *Location `json:"location,omitempty"`
	Caller          *Caller   `json:"caller,omitempty"`
	Channel         string    `json:"channel,omitempty"`
	Truth           Truth     `json:"-"`
}

// Truth is what really happened behind a complaint: never sent to the
// pipeline, used to score it.
type Truth struct {
	HotspotKey            string // Planted.Key, empty for background complaints
	Category, Subcategory string
	District              string  // slug
	Lon, Lat              float64 // WGS-84
}

// Planted is a repeat-complaint hotspot the feed contains: its centre
// (WGS-84) and how many complaints it received.
type Planted struct {
	Key, Category, Subcategory, District string
	Lon, Lat                             float64
	Count                                int
	Place                                string
	// Trend is how its complaints spread over its active days:
	// TrendSteady, TrendGrowing or TrendFading.
	Trend string
}

// Feed is a generated feed: complaints sorted by received_at, and the
// hotspots planted in it.
type Feed struct {
	Complaints []Complaint
	Planted    []Planted
}

// Generate builds the feed cfg describes.
func Generate(cfg Config) (Feed, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Feed{}, err
	}
	gaz := cfg.Gazetteer
	if gaz == nil {
		if gaz, err = LoadGazetteer(seeds.FS); err != nil {
			return Feed{}, fmt.Errorf("simulate: %w", err)
		}
	}
	locate := cfg.Locate
	if locate == nil {
		districts, err := geo.LoadDistricts()
		if err != nil {
			return Feed{}, fmt.Errorf("simulate: %w", err)
		}
		locate = func(lon, lat float64) (string, bool) {
			d, ok := districts.Contains(lon, lat)
			if !ok {
				return "", false
			}
			return d.Slug, true
		}
	}
	g := &generator{
		cfg:   cfg,
		w:     newWorld(gaz, locate),
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		start: time.Date(cfg.Start.In(Shanghai).Year(), cfg.Start.In(Shanghai).Month(), cfg.Start.In(Shanghai).Day(), 0, 0, 0, 0, Shanghai),
	}
	return g.run()
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Days == 0 {
		cfg.Days = DefaultDays
	}
	if cfg.Count == 0 {
		cfg.Count = DefaultCount
	}
	if cfg.HotspotShare == 0 {
		cfg.HotspotShare = DefaultHotspotShare
	}
	if cfg.Radii == nil {
		radii, err := LargestRadii(seeds.FS)
		if err != nil {
			return cfg, fmt.Errorf("simulate: %w", err)
		}
		cfg.Radii = radii
	}
	switch {
	case cfg.Days < 0:
		return cfg, fmt.Errorf("simulate: days %d is negative", cfg.Days)
	case cfg.Count < 0:
		return cfg, fmt.Errorf("simulate: count %d is negative", cfg.Count)
	case cfg.HotspotShare < 0 || cfg.HotspotShare > 1 || math.IsNaN(cfg.HotspotShare):
		return cfg, fmt.Errorf("simulate: hotspot share %v outside (0, 1]", cfg.HotspotShare)
	case cfg.Planted < 0:
		return cfg, fmt.Errorf("simulate: planted %d is negative", cfg.Planted)
	}
	inSpots := int(math.Round(float64(cfg.Count) * cfg.HotspotShare))
	if cfg.Planted == 0 {
		cfg.Planted = inSpots / DefaultHotspotSize
		if cfg.Planted == 0 && inSpots >= MinSpotSize {
			cfg.Planted = 1
		}
	}
	if cfg.Planted*MinSpotSize > inSpots {
		return cfg, fmt.Errorf("simulate: %d planted hotspots need at least %d complaints in hotspots, have %d",
			cfg.Planted, cfg.Planted*MinSpotSize, inSpots)
	}
	return cfg, nil
}

// MinSpotSize is the fewest complaints a planted hotspot gets: one more
// than the detector's minimum count in seeds/hotspots.json (3), so that a
// planted hotspot is a repeat-complaint site by the bureau's rule with a
// complaint to spare.
const MinSpotSize = 4

// WriteNDJSON writes the hotline payloads, one JSON object a line, in
// received_at order. The ground truth is not written.
func (f Feed) WriteNDJSON(w io.Writer) error {
	cs := f.Complaints
	if !slices.IsSortedFunc(cs, func(a, b Complaint) int { return a.ReceivedAt.Compare(b.ReceivedAt) }) {
		cs = sortByReceived(cs)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range cs {
		if err := enc.Encode(&cs[i]); err != nil {
			return fmt.Errorf("write complaint %s: %w", cs[i].TicketID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write feed: %w", err)
	}
	return nil
}
