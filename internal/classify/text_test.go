package classify

import (
	"math"
	"testing"
)

// TestClauseWeights checks that a cue scales the evidence of its own clause
// only: the weights come from the seed, the text around them is the same.
func TestClauseWeights(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	noise := c.catIndex["noise"]
	social := c.labelIndex["noise/social_life"]
	plain := c.score(normalise("楼下KTV很吵"))
	if plain.cat[noise] <= 0 || plain.sub[social] <= 0 {
		t.Fatalf("no evidence in the plain clause: %+v", plain)
	}
	tests := []struct {
		name, text string
		factor     float64
	}{
		{"emphasis", "主要是楼下KTV很吵", c.wEmphasis},
		{"aside", "另外楼下KTV很吵", c.wSecondary},
		{"settled", "楼下KTV很吵已经解决了", c.wDiscount},
		{"cue in another clause", "主要是灰大，楼下KTV很吵", 1},
		{"negated", "没有KTV很吵", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := c.score(normalise(tt.text))
			want := plain.sub[social] * tt.factor
			if tt.name == "negated" {
				// Only the negated keyword drops; the rest of the clause counts.
				want = plain.sub[social] - c.terms["ktv"].subs[0].w
			}
			if math.Abs(got.sub[social]-want) > 1e-9 {
				t.Errorf("%s: social-life evidence %v, want %v", tt.text, got.sub[social], want)
			}
		})
	}
}

func TestNegated(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	tests := []struct {
		before string
		want   bool
	}{
		{"", false},
		{"没有", true},
		{"不是", true},
		{"没有任何", true},   // two runes after a long cue
		{"没", true},      // one-rune cue
		{"没盖", true},     // one rune after a one-rune cue
		{"没完没了地", false}, // two runes after a one-rune cue
		{"晚上还在", false},
		{"睡不着", false},
		{"并非", true},
		// A question negates nothing: "请问他们有没有夜间施工许可".
		{"请问他们有没有", false},
		{"有没有", false},
		{"有无", false},
		{"是不是", false},
	}
	for _, tt := range tests {
		if got := c.negated(tt.before); got != tt.want {
			t.Errorf("negated(%q) = %v, want %v", tt.before, got, tt.want)
		}
	}
}

func TestNormalise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ＫＴＶ":   "ktv",
		"KTV":   "ktv",
		"BRT高架": "brt高架",
		"噪音，很大": "噪音,很大",
		"a　b":   "a b",
	} {
		if got := normalise(in); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
}
