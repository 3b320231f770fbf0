package event

// SubjTriageCorrected is the subject a supervisor's triage correction is
// published on; the geocoder consumes it and puts the complaint back into
// the pipeline.
const SubjTriageCorrected = "triage.corrected"

// TriageCorrected is a supervisor's correction of a complaint the geocoder
// could not locate or classify (or located or classified wrongly). Empty
// fields keep what the geocoder found; Lon and Lat are WGS-84. Officer is
// the officer's id, never a name.
type TriageCorrected struct {
	EventID     string   `json:"event_id"`
	ComplaintID string   `json:"complaint_id"`
	District    string   `json:"district,omitempty"`
	Subdistrict string   `json:"subdistrict,omitempty"`
	Lon         *float64 `json:"lon,omitempty"`
	Lat         *float64 `json:"lat,omitempty"`
	Category    string   `json:"category,omitempty"`
	Subcategory string   `json:"subcategory,omitempty"`
	Officer     string   `json:"officer"`
}

// ID returns the event id consumers record for idempotency.
func (e TriageCorrected) ID() string { return e.EventID }
