package place

import (
	"sync"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"福建省厦门市思明区厦港街道12号", "思明区厦港街道12号"},
		{"福建省 厦门市 思明区，厦港街道１２号", "思明区厦港街道12号"},
		{"厦门思明区中山路", "思明区中山路"},
		{"福建厦门湖里区", "湖里区"},
		{"厦门大学附属第一医院", "厦门大学附属第一医院"},
		{"厦门北站", "厦门北站"},
		{"厦门市厦门大学", "厦门大学"},
		{"ＳＭ城市广场（Ａ座）", "sm城市广场a座"},
		{"水务大厦(莲前西路)", "水务大厦莲前西路"},
		{"湖里区　殿前一路536-538号", "湖里区殿前一路536538号"},
		{"  ", ""},
		{"集美区·杏林湾路《营运中心》", "集美区杏林湾路营运中心"},
		// A phone number names a caller, not a place: it is no part of
		// the address, nor so of a place key shown in reports; nor is
		// the word that introduced it, so the address keys the same
		// place as when written without it.
		{"思明区前埔路88号 联系电话13800138000", "思明区前埔路88号"},
		// Nor is a name the caller gives for a call-back.
		{"湖里区殿前一路5号 联系人：王小明 13800138000", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号（联系人王先生）", "湖里区殿前一路5号"},
		{"集美区杏林湾路1号 联系方式：微信wxid123", "集美区杏林湾路1号"},
		{"湖里区殿前一路5号，电话0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话138****8000", "湖里区殿前一路5号"},
		{"集美区杏林湾路1号 手机：13912345678", "集美区杏林湾路1号"},
		{"思明区电话局宿舍3号", "思明区电话局宿舍3号"},
		// A Latin label is a word of its own: the end of a name (hotel,
		// iPhone) before the number stays.
		{"思明区鹭江道Lujiang Hotel 0592-2022922", "思明区鹭江道lujianghotel"},
		{"思明区鹭江道Lujiang Hotel, Tel: 0592-2022922", "思明区鹭江道lujianghotel"},
		{"思明区中山路iPhone维修 13812345678", "思明区中山路iphone维修"},
		{"思明区中山路88号iPhone 13812345678", "思明区中山路88号iphone"},
		{"思明区中山路88号 phone 13812345678", "思明区中山路88号"},
		{"+86 138 1234 5678 集美区杏林湾路", "集美区杏林湾路"},
		{"同安区城南街道５５５１２３４号", "同安区城南街道号"},
		{"翔安区马巷街道123456号", "翔安区马巷街道123456号"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

var (
	matcherOnce sync.Once
	matcher     *Matcher
	matcherErr  error
)

// setup returns a matcher over the embedded gazetteer, shared by the tests
// since it is read-only.
func setup(t testing.TB) *Matcher {
	t.Helper()
	matcherOnce.Do(func() {
		var g *Gazetteer
		if g, matcherErr = LoadGazetteer(); matcherErr == nil {
			matcher = NewMatcher(g)
		}
	})
	if matcherErr != nil {
		t.Fatal(matcherErr)
	}
	return matcher
}

func TestLoadGazetteer(t *testing.T) {
	t.Parallel()
	g := setup(t).Gazetteer()
	if len(g.Districts) != 6 || len(g.Subdistricts) != 54 || len(g.Places) < 1000 {
		t.Fatalf("gazetteer has %d districts, %d sub-districts, %d places", len(g.Districts), len(g.Subdistricts), len(g.Places))
	}
	districts := map[string]bool{}
	for _, d := range g.Districts {
		districts[d.Slug] = true
	}
	for _, s := range g.Subdistricts {
		if !districts[s.District] {
			t.Errorf("sub-district %s in unknown district %q", s.Name, s.District)
		}
	}
	names := map[string]bool{}
	for _, p := range g.Places {
		if names[p.Name] {
			t.Errorf("place %s listed twice", p.Name)
		}
		names[p.Name] = true
		if !districts[p.District] || p.Lon < 117.8 || p.Lon > 118.5 || p.Lat < 24.3 || p.Lat > 25 {
			t.Errorf("place %s: district %q at (%f, %f)", p.Name, p.District, p.Lon, p.Lat)
		}
	}
}

func TestGeocode(t *testing.T) {
	t.Parallel()
	m := setup(t)
	tests := []struct {
		name        string
		address     string
		district    string
		subdistrict string
		place       string
		conflict    bool
		key         string
	}{
		{"district", "福建省厦门市思明区某小区", "siming", "", "", false, "某小区"},
		{"district alias", "湖里金尚小区", "huli", "", "", false, "金尚小区"},
		{"sub-district", "厦港街道沙坡尾12号", "siming", "厦港街道", "", false, "沙坡尾12号"},
		{"misspelt sub-district", "夏港街道沙坡尾12号", "siming", "厦港街道", "", false, "沙坡尾12号"},
		{"former town name", "同安区新民镇建设路", "tongan", "新民街道", "", false, "建设路"},
		{"merged name", "新沧街道工地", "haicang", "海沧街道", "", false, "工地"},
		{"short sub-district", "厦港社区3号楼", "siming", "厦港街道", "", false, "社区3号楼"},
		// A place said relative to its sub-district keeps it: without it,
		// the sites beside every sub-district would share one key.
		{"relative to a sub-district", "厦门市集美区集美街道集美街道旁的在建工地", "jimei", "集美街道", "", false, "集美街道旁的在建工地"},
		{"relative to a short sub-district name", "厦港附近的街心公园", "siming", "厦港街道", "", false, "厦港街道附近的街心公园"},
		{"relative to the district alone", "集美区楼下的音乐餐吧", "jimei", "", "", false, ""},
		{"place", "厦门大学附属第一医院门口", "siming", "", "厦门大学附属第一医院", false, "厦门大学附属第一医院"},
		{"place beats district alias", "集美大学附近", "jimei", "", "集美大学", false, "集美大学"},
		{"full width", "思明区　厦港街道１２号", "siming", "厦港街道", "", false, "12号"},
		// 莲花北路 is in Siming; 莲花 alone is the town in Tong'an.
		{"road named like a town", "思明区莲花北路", "siming", "", "", false, "莲花北路"},
		{"town short name", "莲花社区", "tongan", "莲花镇", "", false, "社区"},
		// A full district name outranks a place of another district.
		{"conflict", "湖里区厦门大学附属第一医院", "huli", "", "", true, "厦门大学附属第一医院"},
		{"nothing known", "某某路88号", "", "", "", false, "某某路88号"},
		{"empty", "", "", "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := m.Geocode(tt.address)
			if a.District != tt.district {
				t.Errorf("district %q, want %q (matches %+v)", a.District, tt.district, a.Matches)
			}
			sub := ""
			if a.Subdistrict != nil {
				sub = a.Subdistrict.Name
			}
			if sub != tt.subdistrict {
				t.Errorf("sub-district %q, want %q", sub, tt.subdistrict)
			}
			pl := ""
			if a.Place != nil {
				pl = a.Place.Name
			}
			if pl != tt.place {
				t.Errorf("place %q, want %q", pl, tt.place)
			}
			if (a.Conflict != "") != tt.conflict {
				t.Errorf("conflict %q, want one: %v", a.Conflict, tt.conflict)
			}
			if a.Key != tt.key {
				t.Errorf("key %q, want %q", a.Key, tt.key)
			}
			if a.District != "" && (a.Confidence <= 0 || a.Confidence > 1) {
				t.Errorf("confidence %v out of (0, 1]", a.Confidence)
			}
		})
	}
}

func TestMatchLongestFirst(t *testing.T) {
	t.Parallel()
	g := &Gazetteer{
		Districts: []District{{Slug: "a", Name: "甲区", Aliases: []string{"甲"}}},
		Places: []Place{
			{Name: "甲乙大厦", District: "a"},
			{Name: "乙大厦丙座", District: "a"},
			{Name: "丙座楼", District: "a"},
		},
	}
	m := NewMatcher(g)
	tests := []struct {
		text string
		want []string
	}{
		// The longer 乙大厦丙座 wins over the earlier, shorter 甲乙大厦.
		{"甲乙大厦丙座", []string{"甲", "乙大厦丙座"}},
		{"甲乙大厦", []string{"甲乙大厦"}},
		{"丙座楼甲区", []string{"丙座楼", "甲区"}},
		{"无", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, mt := range m.Match(Normalize(tt.text)) {
			got = append(got, tt.text[mt.Start:mt.End])
		}
		if len(got) != len(tt.want) {
			t.Errorf("Match(%q) = %q, want %q", tt.text, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("Match(%q) = %q, want %q", tt.text, got, tt.want)
				break
			}
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	for b.Loop() {
		Normalize("福建省厦门市思明区 厦港街道（沙坡尾）１２号楼下烧烤店")
	}
}

func BenchmarkGeocode(b *testing.B) {
	m := setup(b)
	addrs := []string{
		"福建省厦门市思明区厦港街道沙坡尾12号楼下烧烤店",
		"湖里区殿前一路536号附近工地夜间施工",
		"厦门大学附属第一医院门口",
		"同安区新民镇建设路88号",
		"某某路88号",
	}
	i := 0
	for b.Loop() {
		m.Geocode(addrs[i%len(addrs)])
		i++
	}
}

func TestVague(t *testing.T) {
	for key, want := range map[string]bool{
		"jimei/灌口镇旁的在建工地":     true,
		"灌口镇旁的在建工地":           true,
		"siming/梧村街道门口的促销摊位":  true,
		"siming/莲前西路沿街的ktv":   true,
		"haicang/东孚街道附近的酒吧街":  true,
		"xiangan/新圩镇附近的夜市烧烤摊": true,
		"tongan/同集中路122号附近":   false, // said from an address: one place
		"jimei/杏林西路阳光家园":      false,
		"huli/五缘湾广场旁的在建工地":    false, // a square is a point
		"jimei/阳光家园楼下的烧烤店":    false,
		"siming/环岛东路与交叉口":     false,
		"huli/悦华路地铁站施工现场":     false,
		"集美街道":                false,
		"":                    false,
		"jimei/孙坂南路拆迁工地":      false,
		"湖里区厦门大厦底商的烧腊快餐店":     false,
		"jimei/杏林街道楼下的音乐餐吧":   true,
		"tongan/五显镇旁边的小广场":    true,
		"jimei/后溪镇旁的在建工地":     true,
		"siming/莲前西路旁":        false, // nothing after the word: the road itself
	} {
		if got := Vague(key); got != want {
			t.Errorf("Vague(%q) = %v, want %v", key, got, want)
		}
	}
}
