package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"time"

	"github.com/xiamen-eeb/nuisance/seeds"
)

const day = 24 * time.Hour

// Params are the space-time neighbourhood of one category or subcategory:
// two complaints are neighbours when they are at most RadiusM metres apart
// (or name the same place) and at most Window apart in time; a complaint
// with at least MinCount complaints (itself included) in its
// neighbourhood is a core point of a hotspot. A complaint without a point
// is at every place its key names: it counts in its neighbours'
// neighbourhoods, but only complaints without a point count in its own,
// so sites with points that share its name do not make it a core point
// that would connect them (see counts).
type Params struct {
	RadiusM  float64
	Window   time.Duration
	MinCount int
}

// CategoryConfig holds a category's neighbourhood, the subcategories that
// override it, and the lifecycle thresholds of its hotspots.
type CategoryConfig struct {
	Params
	// EscalateCount complaints within EscalateWithin escalate a hotspot.
	EscalateCount  int
	EscalateWithin time.Duration
	// Cooling without a complaint turns a hotspot cooling; Close closes it.
	Cooling time.Duration
	Close   time.Duration
	// Subcategories override Params field by field; a zero field inherits.
	Subcategories map[string]Params
}

// Config is what the engine is tuned by, loaded from seeds/hotspots.json so
// that operators change radii and thresholds without a release.
type Config struct {
	Categories map[string]CategoryConfig
	// LateSlack is how late a complaint may arrive and still be clustered
	// from memory alone; older ones reload their surroundings from the Store.
	LateSlack time.Duration
}

type paramsJSON struct {
	RadiusM    float64 `json:"radius_m"`
	WindowDays float64 `json:"window_days"`
	MinCount   int     `json:"min_count"`
}

type categoryJSON struct {
	paramsJSON
	EscalateCount int                   `json:"escalate_count"`
	EscalateDays  float64               `json:"escalate_days"`
	CoolingDays   float64               `json:"cooling_days"`
	CloseDays     float64               `json:"close_days"`
	Subcategories map[string]paramsJSON `json:"subcategories"`
}

type configJSON struct {
	LateSlackHours float64                 `json:"late_slack_hours"`
	Categories     map[string]categoryJSON `json:"categories"`
}

func days(d float64) time.Duration { return time.Duration(d * float64(day)) }

// LoadConfig reads the embedded seeds/hotspots.json, the configuration every
// deployment starts from.
func LoadConfig() (Config, error) {
	b, err := fs.ReadFile(seeds.FS, "hotspots.json")
	if err != nil {
		return Config{}, fmt.Errorf("read hotspot seed: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig decodes and validates a configuration in the seed's JSON
// format, so that tests and tools can use variants of the seed.
func ParseConfig(b []byte) (Config, error) {
	var raw configJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("decode hotspot config: %w", err)
	}
	cfg := Config{
		Categories: make(map[string]CategoryConfig, len(raw.Categories)),
		LateSlack:  time.Duration(raw.LateSlackHours * float64(time.Hour)),
	}
	for name, c := range raw.Categories {
		cc := CategoryConfig{
			Params:         Params{RadiusM: c.RadiusM, Window: days(c.WindowDays), MinCount: c.MinCount},
			EscalateCount:  c.EscalateCount,
			EscalateWithin: days(c.EscalateDays),
			Cooling:        days(c.CoolingDays),
			Close:          days(c.CloseDays),
			Subcategories:  make(map[string]Params, len(c.Subcategories)),
		}
		for sub, p := range c.Subcategories {
			cc.Subcategories[sub] = Params{RadiusM: p.RadiusM, Window: days(p.WindowDays), MinCount: p.MinCount}
		}
		cfg.Categories[name] = cc
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports the first setting the engine cannot work with.
func (c Config) Validate() error {
	if len(c.Categories) == 0 {
		return fmt.Errorf("hotspot config: no categories")
	}
	if len(c.Categories) > math.MaxUint8 {
		return fmt.Errorf("hotspot config: %d categories, at most %d", len(c.Categories), math.MaxUint8)
	}
	if c.LateSlack < 0 {
		return fmt.Errorf("hotspot config: late slack %v is negative", c.LateSlack)
	}
	for _, name := range sortedKeys(c.Categories) {
		cc := c.Categories[name]
		if err := checkParams(cc.Params); err != nil {
			return fmt.Errorf("hotspot config: category %s: %w", name, err)
		}
		switch {
		case cc.EscalateCount < 1:
			return fmt.Errorf("hotspot config: category %s: escalate count %d below 1", name, cc.EscalateCount)
		case cc.EscalateWithin <= 0:
			return fmt.Errorf("hotspot config: category %s: escalate window must be positive", name)
		case cc.Cooling <= 0 || cc.Close <= cc.Cooling:
			return fmt.Errorf("hotspot config: category %s: need 0 < cooling (%v) < close (%v)", name, cc.Cooling, cc.Close)
		case len(cc.Subcategories) >= math.MaxUint8:
			return fmt.Errorf("hotspot config: category %s: too many subcategories", name)
		}
		for _, sub := range sortedKeys(cc.Subcategories) {
			if err := checkParams(cc.Sub(sub)); err != nil {
				return fmt.Errorf("hotspot config: %s/%s: %w", name, sub, err)
			}
		}
	}
	return nil
}

func checkParams(p Params) error {
	switch {
	case !(p.RadiusM > 0) || math.IsInf(p.RadiusM, 0):
		return fmt.Errorf("radius %v m must be positive", p.RadiusM)
	case p.Window <= 0:
		return fmt.Errorf("window %v must be positive", p.Window)
	case p.MinCount < 2:
		return fmt.Errorf("min count %d below 2", p.MinCount)
	}
	return nil
}

// Sub returns the parameters of a subcategory: the category's, with the
// subcategory's non-zero overrides applied.
func (cc CategoryConfig) Sub(subcategory string) Params {
	p := cc.Params
	o, ok := cc.Subcategories[subcategory]
	if !ok {
		return p
	}
	if o.RadiusM != 0 {
		p.RadiusM = o.RadiusM
	}
	if o.Window != 0 {
		p.Window = o.Window
	}
	if o.MinCount != 0 {
		p.MinCount = o.MinCount
	}
	return p
}

// maxWindow is the longest window of any category or subcategory.
func (c Config) maxWindow() time.Duration {
	var w time.Duration
	for _, cc := range c.Categories {
		w = max(w, cc.Window)
		for sub := range cc.Subcategories {
			w = max(w, cc.Sub(sub).Window)
		}
	}
	return w
}

// Horizon is the oldest complaint time the engine keeps in memory once it
// has seen a complaint at latest. A change in a core point's status reaches
// two windows back (its neighbours' neighbours), so memory holds two
// windows plus the late slack.
func (c Config) Horizon(latest time.Time) time.Time {
	return latest.Add(-2*c.maxWindow() - c.LateSlack)
}

// RestoreFrom is the oldest complaint time a restarting service must pass to
// Engine.Restore: two windows before the horizon, so that every point the
// engine keeps gets a complete neighbourhood and core status.
func (c Config) RestoreFrom(latest time.Time) time.Time {
	return c.Horizon(latest).Add(-2 * c.maxWindow())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
