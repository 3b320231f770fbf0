package hotspots

import (
	"testing"
)

// A supervisor moves a clustered complaint from Siming to Huli (分拣
// correction). With one instance per district, the Huli instance has never
// seen the complaint; the Siming hotspot keeps counting it. Whatever the
// Huli instance does with it must leave both districts' hotspots as they
// are across restarts: the Siming instance, restarted, must not touch a
// Huli hotspot, and a Huli hotspot must not be reborn under a new id.
func TestADistrictCorrectionAcrossPartitionsKeepsHotspots(t *testing.T) {
	t.Parallel()
	e := setup(t, "siming")
	huli := newService(t, e.pool, e.clock, "huli")

	handleWith(t, e.pool, e.svc, located("s1", 0, 0, t0), located("s2", 10, 0, t0.Add(hours(1))), located("s3", 0, 10, t0.Add(hours(2))))
	hs, _ := member(t, e.pool, "s1")
	handleWith(t, e.pool, huli, inHuli(located("h1", 0, 0, t0.Add(hours(3)))), inHuli(located("h2", 10, 0, t0.Add(hours(4)))))

	// s3 corrected to Huli, next to h1 and h2.
	fixed := inHuli(located("s3", 5, 5, t0.Add(hours(2))))
	fixed.EventID = "s3.located.c1"
	handleWith(t, e.pool, huli, fixed)
	hh, _ := member(t, e.pool, "h1")

	// Every stored hotspot counts exactly the members stored under it.
	check := func(when string) {
		t.Helper()
		for _, id := range []string{hs, hh} {
			if id == "" {
				continue
			}
			h, _ := hotspot(t, e.pool, id)
			n := count(t, e.pool, `SELECT count(*) FROM hotspot_members WHERE hotspot_id = $1`, id)
			if h.Status == "merged" || h.Count != n {
				t.Errorf("%s: hotspot %s (%s) is %s with %d complaints, %d members stored under it", when, id, h.District, h.Status, h.Count, n)
			}
		}
	}
	check("after the correction")

	// Both instances restart (a deploy), then each district gets one more
	// complaint at its place.
	simingAgain := newService(t, e.pool, e.clock, "siming")
	huliAgain := newService(t, e.pool, e.clock, "huli")
	handleWith(t, e.pool, simingAgain, located("s4", 5, 0, t0.Add(hours(5))))
	handleWith(t, e.pool, huliAgain, inHuli(located("h3", 5, 0, t0.Add(hours(6)))))
	check("after the restart")
	if got, _ := member(t, e.pool, "s3"); got != hs {
		t.Errorf("s3 is stored in %q, want Siming's %s, which counts it", got, hs)
	}
	if got, _ := member(t, e.pool, "s4"); got != hs {
		t.Errorf("s4 joined %q, want Siming's %s", got, hs)
	}
	if hh != "" {
		if got, _ := member(t, e.pool, "h3"); got != hh {
			t.Errorf("h3 joined %q, want Huli's %s (the place's hotspot before the restart)", got, hh)
		}
	}
	if h, _ := hotspot(t, e.pool, hh); hh != "" && h.District != "huli" {
		t.Errorf("Huli's hotspot %s now says district %s", hh, h.District)
	}
}
