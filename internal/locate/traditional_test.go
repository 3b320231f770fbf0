package locate

import "testing"

// An address in traditional characters is located as its simplified
// form: the same district, sub-district, place and place key, so that its
// complaints count towards the same hotspot as the others of the place.
func TestAnAddressInTraditionalCharactersIsLocatedAsSimplified(t *testing.T) {
	t.Parallel()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for trad, simp := range map[string]string{
		"廈門市湖里區江頭街道台灣街": "厦门市湖里区江头街道台湾街",
		"廈門市思明區鷺江道":     "厦门市思明区鹭江道",
		"集美區杏林街道杏林灣路":   "集美区杏林街道杏林湾路",
		"翔安區新店鎮":        "翔安区新店镇",
	} {
		want, err := l.Locate(Input{Address: simp})
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.Locate(Input{Address: trad})
		if err != nil {
			t.Fatal(err)
		}
		if !want.Located() || got.District != want.District || got.Subdistrict != want.Subdistrict || got.Place != want.Place ||
			got.PlaceKey != want.PlaceKey || got.Method != want.Method {
			t.Errorf("%s located as %+v, want it as %s: %+v", trad, got, simp, want)
		}
	}
}
