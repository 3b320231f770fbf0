package hotspots

import (
	"context"
	"testing"
)

// A supervisor corrects a complaint the router could not route (it was
// clustered already): the geocoder publishes its corrected location under
// <id>.located.c1, and the detector answers it with a complaint.clustered
// of its own, carrying the corrected district and category, so that the
// router sees the corrected complaint. A redelivery of the correction
// publishes nothing more.
func TestACorrectedComplaintIsClusteredAgainForTheRouter(t *testing.T) {
	e := setup(t)
	e.handle(t, located("c1", 0, 0, t0))
	fixed := located("c1", 0, 0, t0)
	fixed.EventID = "c1.located.c1"
	fixed.District, fixed.Category, fixed.Subcategory = "siming", "dust", "construction_site"
	e.handle(t, fixed)
	e.handle(t, fixed)
	rows, err := e.pool.Query(context.Background(), `SELECT event_id, subject, payload->>'district', payload->>'category'
		FROM outbox WHERE subject LIKE 'complaint.clustered.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][4]string
	for rows.Next() {
		var r [4]string
		if err := rows.Scan(&r[0], &r[1], &r[2], &r[3]); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[1] != [4]string{"c1.clustered.c1", "complaint.clustered.siming.dust", "siming", "dust"} {
		t.Errorf("clustered events %v, want the first and one for the correction (c1.clustered.c1, siming, dust)", got)
	}
}
