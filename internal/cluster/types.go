// Package cluster finds repeat-complaint hotspots online: complaints of one
// category that keep coming from the same place. It runs ST-DBSCAN one
// complaint at a time: a complaint's neighbours are complaints of its
// category and district within a radius (or naming the same place) and a
// time window; a complaint with at least MinCount complaints in its
// neighbourhood is a core point; hotspots are the connected groups of core
// points, each non-core complaint joining the hotspot of its nearest core
// point. The partition depends only on the set of complaints, never on the
// order they arrive in, and it drives each hotspot's lifecycle (emerging,
// active, escalated, cooling, closed).
//
// The package is pure domain logic: the service around it persists what
// Add, Tick and MarkResolved decide, and answers the Store for history the
// engine no longer keeps in memory.
package cluster

import (
	"context"
	"errors"
	"time"
)

// Errors Add and Restore return for input the engine refuses; callers treat
// them as invalid input, never as a reason to retry.
var (
	ErrInvalidPoint   = errors.New("invalid point")
	ErrOtherDistrict  = errors.New("district outside this engine's partition")
	ErrUnknownHotspot = errors.New("unknown hotspot")
)

// Point is a located complaint, the unit the engine clusters.
type Point struct {
	ID          string // complaint id, unique
	Category    string
	Subcategory string
	District    string // slug
	// Lon and Lat are WGS-84, nil for an address-only complaint.
	Lon, Lat *float64
	// PlaceKey is the normalised address or named place: complaints with
	// the same non-empty key are at the same place whatever their
	// coordinates.
	PlaceKey string
	At       time.Time
}

// Member is a point with the hotspot it belongs to ("" when none), as it is
// persisted and read back from the Store.
type Member struct {
	Point
	HotspotID string
}

// Status is where a hotspot is in its lifecycle.
type Status string

// Hotspot statuses. Merged marks a hotspot absorbed into another one.
const (
	StatusEmerging  Status = "emerging"
	StatusActive    Status = "active"
	StatusEscalated Status = "escalated"
	StatusCooling   Status = "cooling"
	StatusClosed    Status = "closed"
	StatusMerged    Status = "merged"
)

// Hotspot is the persisted record of a hotspot, everything the service
// stores and publishes about it.
type Hotspot struct {
	ID       string
	Category string
	District string
	Status   Status
	// Count is the number of complaints in the hotspot.
	Count   int
	FirstAt time.Time
	LastAt  time.Time
	// Lon and Lat are the centroid of the members with coordinates, nil
	// when no member has any; Located is how many members have them.
	Lon, Lat *float64
	Located  int
	PlaceKey string
	// MergedInto is the surviving hotspot when Status is StatusMerged.
	MergedInto string
	// ResolvedAt is when the hotspot was last resolved by the team; a new
	// complaint after it escalates the hotspot as a repeat. Zero when not.
	ResolvedAt time.Time
}

// SameState reports whether two records of a hotspot agree on what its
// time-driven transitions depend on: status, count and last complaint.
func (h Hotspot) SameState(o Hotspot) bool {
	return h.Status == o.Status && h.Count == o.Count && h.LastAt.Equal(o.LastAt)
}

// ChangeKind names a lifecycle event; each is published as hotspot.<kind>.
type ChangeKind string

// Lifecycle events.
const (
	ChangeOpened    ChangeKind = "opened"
	ChangeUpdated   ChangeKind = "updated"
	ChangeMerged    ChangeKind = "merged"
	ChangeEscalated ChangeKind = "escalated"
	ChangeCooled    ChangeKind = "cooled"
	ChangeClosed    ChangeKind = "closed"
)

// Change is one lifecycle event of a hotspot.
type Change struct {
	Kind      ChangeKind
	HotspotID string
	Status    Status
	Count     int
	// Absorbed lists the hotspots merged into HotspotID (ChangeMerged only).
	Absorbed []string
	At       time.Time
}

// Result is what one Add decided, everything the caller persists in the
// transaction that records the processed event.
type Result struct {
	// HotspotID is the hotspot of the added point, "" when none.
	HotspotID string
	// Members lists the added point and every other point whose hotspot
	// changed. Points the engine no longer holds in memory keep the id of a
	// merged hotspot: the caller relabels them when it stores a Hotspot
	// whose MergedInto is set.
	Members []Member
	// Hotspots are the records created or changed, absorbed ones included.
	Hotspots []Hotspot
	// Changes are the lifecycle events, in a deterministic order.
	Changes []Change
}

// Store is how the engine reaches history it no longer holds in memory.
type Store interface {
	// PointsNear returns the persisted points of a category received in
	// [from, to] that lie inside the box (when minLon <= maxLon) or whose
	// PlaceKey equals placeKey (when placeKey is not empty).
	PointsNear(ctx context.Context, category string, minLon, minLat, maxLon, maxLat float64, from, to time.Time, placeKey string) ([]Member, error)
	// Hotspot returns the persisted record of a hotspot, false when none
	// is stored: a late complaint may meet the members of a hotspot the
	// engine has forgotten, and the record must count all of them.
	Hotspot(ctx context.Context, id string) (Hotspot, bool, error)
}
