package classify

import (
	"errors"
	"slices"
	"testing"
)

func newClassifier(t testing.TB) *Classifier {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatalf("new classifier: %v", err)
	}
	return c
}

func TestClassifyCode(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	tests := []struct {
		name          string
		in            Input
		cat, sub      string
		exactScore    bool
		alsoMentioned string
	}{
		{"full code", Input{Category: "noise", Subcategory: "traffic", Description: "高架上的车很吵"}, "noise", "traffic", true, ""},
		{"code beats text", Input{Category: "dust", Subcategory: "yard", Description: "楼下KTV唱歌声音太大"}, "dust", "yard", true, "noise/social_life"},
		{"code beats hotline path", Input{Category: "cooking_smoke", Subcategory: "open_air_bbq", HotlineCategory: "生态环境>噪声污染>工业噪声"}, "cooking_smoke", "open_air_bbq", true, ""},
		{"subcategory names its category", Input{Subcategory: "construction_site", Description: "工地灰尘很大"}, "dust", "construction_site", true, ""},
		{"category only, subcategory from text", Input{Category: "noise", Description: "小区广场上跳广场舞的音响太大"}, "noise", "social_life", false, ""},
		{"category only, muck trucks", Input{Category: "dust", Description: "渣土车沿路撒漏"}, "dust", "road", false, ""},
		{"category only, text of another category", Input{Category: "dust", Description: "路边烧烤摊烟很大，工地也有灰"}, "dust", "construction_site", false, "cooking_smoke/open_air_bbq"},
		{"category only, nothing said", Input{Category: "cooking_smoke"}, "cooking_smoke", "restaurant", false, ""},
		{"category only, text names no kind", Input{Category: "noise", Description: "太吵了"}, "noise", "social_life", false, ""},
		{"codes with spaces", Input{Category: " noise ", Subcategory: " industrial", Description: ""}, "noise", "industrial", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub || got.Method != MethodCode {
				t.Errorf("got %s/%s by %s, want %s/%s by code", got.Category, got.Subcategory, got.Method, tt.cat, tt.sub)
			}
			if tt.exactScore && got.Score != 1 {
				t.Errorf("score %v, want 1 for a full code", got.Score)
			}
			if !tt.exactScore && (got.Score < 0.5 || got.Score >= 1) {
				t.Errorf("score %v, want in [0.5, 1) when the text chose the subcategory", got.Score)
			}
			if tt.alsoMentioned != "" && !slices.Contains(got.AlsoMentioned, tt.alsoMentioned) {
				t.Errorf("also mentioned %v, want %q among them", got.AlsoMentioned, tt.alsoMentioned)
			}
		})
	}
}

func TestClassifyInvalidCode(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, in := range []Input{
		{Category: "smell", Description: "工地很吵"},
		{Category: "noise", Subcategory: "road"},
		{Category: "dust", Subcategory: "construction"},
		{Category: "noise", Subcategory: "neighbours"},
		{Subcategory: "karaoke"},
		{Category: "Noise"},
	} {
		t.Run(in.Category+"/"+in.Subcategory, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(in)
			if !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("got %+v, %v; want an error wrapping ErrInvalidCode", got, err)
			}
		})
	}
}

func TestClassifyHotlineCategory(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	tests := []struct {
		path, description string
		cat, sub, method  string
	}{
		{"生态环境>噪声污染>建筑施工噪声", "楼下饭店油烟很大", "noise", "construction", MethodHotlineCategory},
		{"城市管理>市容环境>餐饮油烟", "", "cooking_smoke", "restaurant", MethodHotlineCategory},
		{"环境保护>扬尘污染>道路扬尘", "工地灰大", "dust", "road", MethodHotlineCategory},
		{"生态环境>噪声污染>社会生活噪声", "", "noise", "social_life", MethodHotlineCategory},
		{"生态环境>噪声污染>交通运输噪声", "", "noise", "traffic", MethodHotlineCategory},
		{"生态环境>噪声污染>工业噪声", "", "noise", "industrial", MethodHotlineCategory},
		{"城乡建设>建筑工地>施工扬尘", "", "dust", "construction_site", MethodHotlineCategory},
		{"生态环境>大气污染>堆场扬尘", "", "dust", "yard", MethodHotlineCategory},
		{"城市管理>市容环境>露天烧烤", "", "cooking_smoke", "open_air_bbq", MethodHotlineCategory},
		{"城市管理>市容环境>烧烤油烟", "", "cooking_smoke", "open_air_bbq", MethodHotlineCategory},
		{"城市管理>油烟污染>露天烧烤", "", "cooking_smoke", "open_air_bbq", MethodHotlineCategory},
		{"城市管理>油烟污染>其他", "楼下夜市露天烧烤", "cooking_smoke", "open_air_bbq", MethodHotlineCategory},
		{"生态环境＞噪声污染＞交通噪声", "", "noise", "traffic", MethodHotlineCategory},
		{"生态环境 / 噪声污染 / 装修噪声", "", "noise", "social_life", MethodHotlineCategory},
		{"噪声扰民", "晚上工地一直在打桩", "noise", "construction", MethodHotlineCategory},
		{"生态环境>噪声污染", "厂里的冲床一直响", "noise", "industrial", MethodHotlineCategory},
		{"生态环境>噪声污染>其他", "", "noise", "social_life", MethodHotlineCategory},
		{"环境保护>扬尘污染", "沙场没有覆盖", "dust", "yard", MethodHotlineCategory},
		{"城市管理>市政设施>路灯", "楼下餐馆油烟直排", "cooking_smoke", "restaurant", MethodDescription},
		{"城市管理>市政设施>路灯", "路灯坏了", "", "", MethodDescription},
		{"", "楼上邻居装修砸墙太吵", "noise", "social_life", MethodDescription},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.description, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{HotlineCategory: tt.path, Description: tt.description})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub || got.Method != tt.method {
				t.Errorf("got %s/%s by %s, want %s/%s by %s", got.Category, got.Subcategory, got.Method, tt.cat, tt.sub, tt.method)
			}
		})
	}
}

// TestClassifyDescription covers how the citizen's words are read:
// negation, the main complaint among several, asides, settled matters,
// missing control measures and texts about something else.
func TestClassifyDescription(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	tests := []struct {
		name, text string
		cat, sub   string
		also       []string
	}{
		{"keyword", "隔壁工地凌晨还在打桩", "noise", "construction", nil},
		{"full-width latin", "楼下ＫＴＶ半夜唱歌", "noise", "social_life", nil},
		{"negated nuisance", "路边占道经营，没有噪音", "", "", nil},
		{"negated nuisance, the other counts", "不是噪音问题，是楼下饭店油烟太大", "cooking_smoke", "restaurant", nil},
		{"missing cover is still dust", "工地土方没有覆盖，风一吹全是灰", "dust", "construction_site", nil},
		{"missing purifier is still smoke", "饭店没有装油烟净化器", "cooking_smoke", "restaurant", nil},
		{"main complaint wins", "工地晚上打桩，也有点灰，主要是吵得睡不着", "noise", "construction", []string{"dust/construction_site"}},
		{"aside counts less", "渣土车沿路撒土灰很大，另外工地晚上也有施工噪声", "dust", "road", []string{"noise/construction"}},
		{"settled matter counts less", "广场舞的问题已经解决了，现在是楼下饭店油烟呛人", "cooking_smoke", "restaurant", nil},
		{"context alone is not a complaint", "工地门口乱停车", "", "", nil},
		{"another kind of pollution", "有人焚烧垃圾冒黑烟", "", "", nil},
		{"off-topic", "路灯不亮", "", "", nil},
		{"off-topic rubbish", "垃圾没清运", "", "", nil},
		{"empty", "", "", "", nil},
		{"category only, default subcategory", "灰尘太大了", "dust", "construction_site", nil},
		// Words that begin with a negation's character and negate nothing.
		{"piling without a permit", "工地无证打桩", "noise", "construction", nil},
		{"day and night", "没日没夜打桩", "noise", "construction", nil},
		{"unlicensed stall", "无证烧烤摊", "cooking_smoke", "open_air_bbq", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub || got.Method != MethodDescription {
				t.Errorf("%s: got %s/%s by %s, want %s/%s by description", tt.text, got.Category, got.Subcategory, got.Method, tt.cat, tt.sub)
			}
			for _, a := range tt.also {
				if !slices.Contains(got.AlsoMentioned, a) {
					t.Errorf("%s: also mentioned %v, want %q among them", tt.text, got.AlsoMentioned, a)
				}
			}
			key := got.Category + "/" + got.Subcategory
			if slices.Contains(got.AlsoMentioned, key) || slices.Contains(got.AlsoMentioned, got.Category) && got.Category != "" {
				t.Errorf("%s: also mentioned %v repeats the result %s", tt.text, got.AlsoMentioned, key)
			}
			if got.Score < 0 || got.Score > 1 {
				t.Errorf("%s: score %v out of 0..1", tt.text, got.Score)
			}
		})
	}
}

// TestScoreOrdersConfidence checks that a clear complaint scores higher
// than a vague one and that every score is in 0..1.
func TestScoreOrdersConfidence(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	clear, err := c.Classify(Input{Description: "工地每天半夜打桩浇筑混凝土，噪音太大，吵得睡不着"})
	if err != nil {
		t.Fatal(err)
	}
	vague, err := c.Classify(Input{Description: "工地有点吵"})
	if err != nil {
		t.Fatal(err)
	}
	if clear.Category != "noise" || vague.Category != "noise" {
		t.Fatalf("got %s and %s, want noise for both", clear.Category, vague.Category)
	}
	if clear.Score <= vague.Score {
		t.Errorf("clear complaint scores %v, vague one %v; want clear higher", clear.Score, vague.Score)
	}
	for _, d := range readLabelled(t, "descriptions.csv") {
		got, err := c.Classify(Input{Description: d.text})
		if err != nil {
			t.Fatal(err)
		}
		if got.Score < 0 || got.Score > 1 {
			t.Errorf("line %d: score %v out of 0..1", d.line, got.Score)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	tests := []struct{ cat, sub, want string }{
		{"noise", "", "噪声"},
		{"noise", "construction", "建筑施工噪声"},
		{"dust", "yard", "堆场扬尘"},
		{"cooking_smoke", "open_air_bbq", "露天烧烤"},
		{"noise", "road", ""},
		{"smell", "", ""},
	}
	for _, tt := range tests {
		if got := c.Name(tt.cat, tt.sub); got != tt.want {
			t.Errorf("Name(%q, %q) = %q, want %q", tt.cat, tt.sub, got, tt.want)
		}
	}
}

// FuzzClassify checks that any text classifies without error into a known
// subcategory or none, with a score in 0..1 and no repeat of the result
// among the mentions.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"", "工地打桩", "没有没有噪音", "主要是，，，另外", "ＫＴＶ\u3000吵", "\xff\xfe烧烤", "生态环境>>噪声"} {
		f.Add(s, s)
	}
	c := newClassifier(f)
	f.Fuzz(func(t *testing.T, description, hotline string) {
		got, err := c.Classify(Input{Description: description, HotlineCategory: hotline})
		if err != nil {
			t.Fatal(err)
		}
		if got.Score < 0 || got.Score > 1 {
			t.Errorf("score %v", got.Score)
		}
		key := got.Category + "/" + got.Subcategory
		if got.Category != "" {
			if _, ok := c.labelIndex[key]; !ok {
				t.Errorf("unknown result %s", key)
			}
		} else if got.Subcategory != "" {
			t.Errorf("subcategory %q without category", got.Subcategory)
		}
		if slices.Contains(got.AlsoMentioned, key) {
			t.Errorf("mentions repeat the result %s", key)
		}
	})
}

// Social-life noise says who it is from, which decides the department: a
// bar or KTV (the police at night), neighbours (the police), or neither.
func TestSocialLifeDetail(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tc := range []struct {
		in     Input
		detail string
	}{
		{Input{Description: "楼上邻居每天半夜拖椅子、蹦跳，严重影响休息"}, DetailNeighbour},
		{Input{Description: "楼下ＫＴＶ深夜音响声音太大"}, DetailBarKTV},
		{Input{Description: "隔壁酒吧唱歌到凌晨两点"}, DetailBarKTV},
		{Input{Description: "小区广场舞音响太吵"}, ""},
		{Input{HotlineCategory: "生态环境>噪声污染>邻里噪声", Description: "太吵了"}, DetailNeighbour},
		// The hotline's 邻里噪声 stands whatever shop the citizen names.
		{Input{HotlineCategory: "生态环境>噪声污染>邻里噪声", Description: "楼下商铺旁边那户人家天天吵架"}, DetailNeighbour},
		{Input{HotlineCategory: "生态环境>噪声污染>社会生活噪声", Description: "超市门口搞促销，楼上住户更难受"}, ""},
		{Input{Description: "隔壁工地晚上打桩，楼上都能听到"}, ""}, // construction noise has no detail
	} {
		got, err := c.Classify(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Detail != tc.detail {
			t.Errorf("%+v: %s/%s detail %q, want %q", tc.in, got.Category, got.Subcategory, got.Detail, tc.detail)
		}
	}
}
