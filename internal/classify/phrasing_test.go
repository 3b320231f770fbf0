package classify

import (
	"strings"
	"testing"
)

// TestLeadInCueWeighsItsSentence: an aside introduced by a cue in a
// clause of its own ("另外，…", as people write it) weighs less than the
// complaint it follows, to the end of its sentence and no further.
func TestLeadInCueWeighsItsSentence(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tt := range []struct{ text, cat, sub, also string }{
		{"楼下的沙茶面店油烟味很重。另外，路面灰尘也很多，没人洒水。", "cooking_smoke", "restaurant", "dust/road"},
		{"小区旁边的主干道车流量大，吵得睡不着。还有，工地的扬尘也很大，窗台都是灰。", "noise", "traffic", "dust"},
		{"楼上邻居装修砸墙很吵。同时附近渣土车经过灰尘很大。", "noise", "social_life", "dust/road"},
		{"顺便反映一下，路边烧烤摊烟很大。楼上装修砸墙吵得睡不着，已经好几天了。", "noise", "social_life", "cooking_smoke/open_air_bbq"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub {
				t.Errorf("got %s/%s (also %v), want %s/%s", got.Category, got.Subcategory, got.AlsoMentioned, tt.cat, tt.sub)
			}
			found := false
			for _, m := range got.AlsoMentioned {
				found = found || m == tt.also || strings.HasPrefix(m, tt.also+"/") || strings.HasPrefix(tt.also, m+"/")
			}
			if !found {
				t.Errorf("also mentioned %v, want %s", got.AlsoMentioned, tt.also)
			}
		})
	}
}
