package place

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Address is what an address text says about where a complaint is.
type Address struct {
	Normalized string // the text as matched, see Normalize
	// District is the slug the address names, "" when it names no known
	// district, sub-district or place.
	District    string
	Subdistrict *Subdistrict // the sub-district named, if any
	Place       *Place       // the named place, if any
	Confidence  float64      // 0..1, how sure the text is about District
	// Conflict names another district the text also points to, when its
	// names disagree (e.g. a 思明区 address with a place of Huli).
	Conflict string
	// Key identifies the place complained about within its district: the
	// named place, or the rest of the address once the district and
	// sub-district names are removed, normalised (with the sub-district
	// kept when the rest is said relative to it, see key). Empty when the
	// address holds nothing but administrative names, or a place relative
	// to the district alone.
	Key     string
	Matches []Match
	// Elsewhere names the other city or province the address begins with
	// (泉州, 漳州, 广东省...): its names that Xiamen shares (a 开元街道 is in
	// Quanzhou too) are not matched, and District is "".
	Elsewhere string
}

// elsewhere are the cities and counties around Xiamen, and the rest of
// Fujian's, whose addresses reach the hotline: an address that begins
// with one is not in Xiamen, whatever sub-district names it shares.
var elsewhere = []string{
	"福州", "莆田", "三明", "泉州", "漳州", "南平", "龙岩", "宁德", "平潭",
	"南安", "晋江", "石狮", "安溪", "惠安", "永春", "德化", "金门",
	"长泰", "龙海", "漳浦", "华安", "南靖", "平和", "云霄", "诏安", "东山", "角美",
}

// elsewhereOf is the other city or province a normalized address begins
// with, or "". A city counts with its 市, 县, 区 or 镇 only: Xiamen has
// roads named after its neighbours.
func elsewhereOf(normalized string) string {
	for _, c := range elsewhere {
		if rest, ok := strings.CutPrefix(normalized, c); ok {
			for _, unit := range []string{"市", "县", "区", "镇"} {
				if strings.HasPrefix(rest, unit) {
					return c + unit
				}
			}
		}
	}
	// Another province: two or three characters and 省 (福建省 is gone by
	// now, see stripPrefixes).
	if i := strings.Index(normalized, "省"); i > 0 {
		if n := utf8.RuneCountInString(normalized[:i]); n >= 2 && n <= 3 {
			return normalized[:i+len("省")]
		}
	}
	return ""
}

// KeyReach is how far apart, in metres, two complaints with points may be
// and still be at the place their common Key names. A key is the address
// less its district and sub-district, so one key can name places in two
// sub-districts: "旁的在建工地" of "集美街道旁的在建工地" and of
// "后溪镇旁的在建工地", a site beside each. Named places and roads are
// smaller than this; sub-districts' sites are usually farther apart.
const KeyReach = 2000.0

// Confidence of an address located by its strongest name.
var baseConfidence = map[strength]float64{
	districtFull:     0.7,
	placeName:        0.85,
	placeArea:        0.8,
	subdistrictFull:  0.8,
	districtAlias:    0.55,
	subdistrictAlias: 0.65,
}

// Geocode locates an address by the gazetteer names it contains. The
// strongest name decides the district (a full district name, then a
// place, a sub-district, a district's short name, a sub-district's short
// name; the longer and then the earlier on a tie); the sub-district and
// place are kept when they lie in that district.
func (m *Matcher) Geocode(address string) Address {
	a := Address{Normalized: Normalize(address)}
	if a.Elsewhere = elsewhereOf(a.Normalized); a.Elsewhere != "" {
		return a
	}
	a.Matches = m.Match(a.Normalized)
	if len(a.Matches) == 0 {
		a.Key = a.Normalized
		return a
	}
	ranked := make([]Match, len(a.Matches))
	copy(ranked, a.Matches)
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].strength != ranked[j].strength {
			return ranked[i].strength > ranked[j].strength
		}
		return ranked[i].End-ranked[i].Start > ranked[j].End-ranked[j].Start
	})
	best := ranked[0]
	a.District = best.District
	a.Confidence = baseConfidence[best.strength]
	agree := 0
	for _, mt := range ranked {
		if mt.District != a.District {
			if a.Conflict == "" {
				a.Conflict = mt.District
			}
			continue
		}
		agree++
		switch mt.Kind {
		case KindPlace:
			if a.Place == nil {
				a.Place = &m.g.Places[mt.Index]
			}
		case KindSubdistrict:
			if a.Subdistrict == nil {
				a.Subdistrict = &m.g.Subdistricts[mt.Index]
			}
		}
	}
	if agree > 1 {
		a.Confidence += 0.05
	}
	if a.Conflict != "" {
		a.Confidence -= 0.15
	}
	a.Key = m.key(a)
	return a
}

// key builds Address.Key. What is left of the address once its
// administrative names go names the place, unless it is said relative to
// them ("集美街道旁的在建工地", "后溪镇附近的街心公园"): then the
// sub-district stays, by its full name, and without one the rest names no
// place of its own.
func (m *Matcher) key(a Address) string {
	if a.Place != nil {
		return Normalize(a.Place.Name)
	}
	var b strings.Builder
	last := 0
	for _, mt := range a.Matches {
		if mt.Kind == KindPlace {
			continue
		}
		b.WriteString(a.Normalized[last:mt.Start])
		last = mt.End
	}
	b.WriteString(a.Normalized[last:])
	rest := b.String()
	if !relative(rest) {
		return rest
	}
	if a.Subdistrict == nil {
		return ""
	}
	return Normalize(a.Subdistrict.Name) + rest
}

// relativeWords begin a description of a place by where it is from
// another: beside, near, opposite, downstairs of...
var relativeWords = []string{"旁边", "旁", "附近", "对面", "楼下", "楼上", "隔壁", "周边", "周围", "底商", "沿街", "后面", "门口", "边上"}

// lineOrArea ends the names of anchors that are lines or areas: roads,
// streets, sub-districts, towns.
var lineOrArea = []string{"路", "道", "街", "镇", "乡"}

// Vague reports whether a place key (with or without its "district/"
// prefix) describes a place by where it lies from an anchor that is a
// line or an area ("灌口镇旁的在建工地", "龙山中路沿街的KTV", "梧村街道门口的
// 促销摊位"): such a key fits any place of its kind along or near the
// anchor, kilometres apart, and names no one place. A key said from a
// point ("同集中路122号附近", "阳光家园楼下的烧烤店", "五缘湾广场旁的工地")
// names one place.
func Vague(key string) bool {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		key = key[i+1:]
	}
	for _, w := range relativeWords {
		for off := 0; ; {
			i := strings.Index(key[off:], w)
			if i < 0 {
				break
			}
			i += off
			anchor, after := key[:i], key[i+len(w):]
			if after != "" && anchor != "" {
				for _, suffix := range lineOrArea {
					if strings.HasSuffix(anchor, suffix) {
						return true
					}
				}
			}
			off = i + len(w)
		}
	}
	return false
}

// relative reports whether rest describes a place from an anchor the
// address named before it.
func relative(rest string) bool {
	for _, w := range relativeWords {
		if strings.HasPrefix(rest, w) {
			return true
		}
	}
	return false
}

// ShownSQL is the SQL expression of a place as people are shown it, from
// a row's place name (column place) and place key (column key): the name,
// or else the key less its "district/" prefix (华昌路鹭港苑, never
// huli/华昌路鹭港苑), or the empty string when neither is set. It is made of citizens'
// addresses: whoever shows it masks it (pii.MaskPlace).
func ShownSQL(place, key string) string {
	return "COALESCE(NULLIF(" + place + ", ''), regexp_replace(COALESCE(" + key + ", ''), '^[a-z]+/', ''))"
}
