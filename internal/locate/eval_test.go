package locate

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/geo"
)

// evalSet is testdata/eval.json, derived by cmd/seedgen from the public
// sources: the districts there come from the sources, not from the seeds.
type evalSet struct {
	Points []struct {
		Lon      float64 `json:"lon"`
		Lat      float64 `json:"lat"`
		District string  `json:"district"`
		Source   string  `json:"source"`
	} `json:"points"`
	Addresses []struct {
		Text     string `json:"text"`
		District string `json:"district"`
		Source   string `json:"source"`
	} `json:"addresses"`
}

func loadEval(t testing.TB) evalSet {
	t.Helper()
	data, err := os.ReadFile("testdata/eval.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev evalSet
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Points) < 1000 || len(ev.Addresses) < 1000 {
		t.Fatalf("eval set too small: %d points, %d addresses", len(ev.Points), len(ev.Addresses))
	}
	return ev
}

// TestAccuracy locates the evaluation set's points, sent in each of the
// three coordinate systems, and its address texts alone.
func TestAccuracy(t *testing.T) {
	t.Parallel()
	l := setup(t)
	ev := loadEval(t)

	for _, crs := range []geo.CRS{geo.WGS84, geo.GCJ02, geo.BD09} {
		right, shown := 0, 0
		for _, p := range ev.Points {
			lon, lat := geo.FromWGS84(crs, p.Lon, p.Lat)
			r, err := l.Locate(Input{Lon: &lon, Lat: &lat, CRS: string(crs)})
			if err != nil {
				t.Fatal(err)
			}
			if r.District == p.District {
				right++
			} else if shown < 5 {
				shown++
				t.Logf("%s %s: got %q (%s), want %s", crs, p.Source, r.District, r.Method, p.District)
			}
		}
		acc := float64(right) / float64(len(ev.Points))
		t.Logf("coordinates %s: %d/%d = %.2f%%", crs, right, len(ev.Points), 100*acc)
		if acc < 0.995 {
			t.Errorf("coordinates %s: accuracy %.2f%%, want at least 99.5%%", crs, 100*acc)
		}
	}

	right, shown := 0, 0
	for _, a := range ev.Addresses {
		r, err := l.Locate(Input{Address: a.Text})
		if err != nil {
			t.Fatal(err)
		}
		if r.District == a.District {
			right++
		} else if shown < 20 {
			shown++
			t.Logf("address %q (%s): got %q (%s), want %s", a.Text, a.Source, r.District, r.Method, a.District)
		}
	}
	acc := float64(right) / float64(len(ev.Addresses))
	t.Logf("address text: %d/%d = %.2f%%", right, len(ev.Addresses), 100*acc)
	if acc < 0.95 {
		t.Errorf("address text: accuracy %.2f%%, want at least 95%%", 100*acc)
	}
}
