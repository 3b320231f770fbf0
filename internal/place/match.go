package place

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Kind says what a gazetteer name refers to.
type Kind uint8

// The kinds of names an address can contain.
const (
	KindDistrict Kind = iota + 1
	KindSubdistrict
	KindPlace
)

// String names the kind for logs and tests.
func (k Kind) String() string {
	switch k {
	case KindDistrict:
		return "district"
	case KindSubdistrict:
		return "subdistrict"
	case KindPlace:
		return "place"
	}
	return "unknown"
}

// strength ranks how much a matched name says about the district. A full
// district name is what the citizen states outright; a named place is more
// specific than a sub-district (an area such as an industrial zone less so
// than a building), and short aliases ("思明", "厦港") are the
// weakest because they also occur inside road and building names.
type strength uint8

const (
	subdistrictAlias strength = iota + 1
	districtAlias
	subdistrictFull
	placeArea
	placeName
	districtFull
)

// minPlaceRunes is the shortest place name matched: two-character names
// occur by chance inside other words.
const minPlaceRunes = 3

// roadRunes follow a short sub-district alias when it is part of a road,
// building or area name rather than the sub-district itself: 莲花北路 is in
// Siming, 莲花镇 in Tong'an; 大同路 is in Siming, 大同街道 in Tong'an.
const roadRunes = "路街道巷弄桥里村东西南北中大一二三四五六七八九十"

// entry is one name in the automaton.
type entry struct {
	kind     Kind
	index    int    // into the gazetteer's slice of that kind
	district string // slug
	strength strength
	guarded  bool // rejected when a roadRunes rune follows
}

// Match is a gazetteer name found in a normalised address.
type Match struct {
	Kind       Kind
	Start, End int    // byte offsets in the normalised text
	Index      int    // into Gazetteer.Districts, Subdistricts or Places by Kind
	District   string // slug
	Alias      bool   // a short alias rather than a full name
	strength   strength
}

// Matcher finds gazetteer names in addresses. It is a trie over the
// normalised names, walked from every position of the text, so a lookup
// costs a few map probes per character whatever the gazetteer's size. It
// is safe for concurrent use.
type Matcher struct {
	g       *Gazetteer
	edges   map[uint64]int32 // node<<32 | rune -> child node
	term    []int32          // node -> entry index + 1, 0 when no name ends there
	entries []entry
}

// NewMatcher builds the matcher of a gazetteer. When two entries share a
// normalised name the stronger one keeps it (the district "海沧" over the
// sub-district alias "海沧"; the first of two places).
func NewMatcher(g *Gazetteer) *Matcher {
	m := &Matcher{g: g, edges: map[uint64]int32{}, term: []int32{0}}
	for i, d := range g.Districts {
		m.add(d.Name, entry{kind: KindDistrict, index: i, district: d.Slug, strength: districtFull})
		for _, a := range d.Aliases {
			m.add(a, entry{kind: KindDistrict, index: i, district: d.Slug, strength: districtAlias})
		}
	}
	for i, s := range g.Subdistricts {
		m.add(s.Name, entry{kind: KindSubdistrict, index: i, district: s.District, strength: subdistrictFull})
		for _, a := range s.Aliases {
			e := entry{kind: KindSubdistrict, index: i, district: s.District, strength: subdistrictFull}
			if isShortAlias(a) {
				e.strength, e.guarded = subdistrictAlias, true
			}
			m.add(a, e)
		}
	}
	for i, p := range g.Places {
		if utf8.RuneCountInString(Normalize(p.Name)) < minPlaceRunes {
			continue
		}
		st := placeName
		if strings.HasSuffix(p.Name, "区") {
			st = placeArea // 工业区, 开发区, 高新区: an area, not a building
		}
		m.add(p.Name, entry{kind: KindPlace, index: i, district: p.District, strength: st})
	}
	return m
}

// isShortAlias reports whether a sub-district alias lacks the suffix that
// marks it as an administrative name (厦港 rather than 厦港街道).
func isShortAlias(a string) bool {
	for _, suf := range []string{"街道", "镇", "乡", "场", "区"} {
		if strings.HasSuffix(a, suf) {
			return false
		}
	}
	return true
}

func (m *Matcher) add(name string, e entry) {
	key := Normalize(name)
	if key == "" {
		return
	}
	node := int32(0)
	for _, r := range key {
		k := uint64(node)<<32 | uint64(uint32(r))
		next, ok := m.edges[k]
		if !ok {
			next = int32(len(m.term))
			m.term = append(m.term, 0)
			m.edges[k] = next
		}
		node = next
	}
	if old := m.term[node]; old != 0 && m.entries[old-1].strength >= e.strength {
		return
	}
	m.entries = append(m.entries, e)
	m.term[node] = int32(len(m.entries))
}

// Gazetteer returns the gazetteer the matcher was built from.
func (m *Matcher) Gazetteer() *Gazetteer {
	return m.g
}

// Match finds the gazetteer names in normalised text (see Normalize),
// longest first: of all the names found anywhere, the longest are kept,
// then shorter ones that overlap none kept (the earlier first on a tie).
// The result is in text order.
func (m *Matcher) Match(norm string) []Match {
	var cands []Match
	for start := 0; start < len(norm); {
		_, size := utf8.DecodeRuneInString(norm[start:])
		cands = m.matchesAt(norm, start, cands)
		start += size
	}
	if len(cands) < 2 {
		return cands
	}
	sort.SliceStable(cands, func(i, j int) bool {
		li, lj := cands[i].End-cands[i].Start, cands[j].End-cands[j].Start
		if li != lj {
			return li > lj
		}
		return cands[i].Start < cands[j].Start
	})
	kept := cands[:0:0]
	for _, c := range cands {
		overlaps := false
		for _, k := range kept {
			if c.Start < k.End && k.Start < c.End {
				overlaps = true
				break
			}
		}
		if !overlaps {
			kept = append(kept, c)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Start < kept[j].Start })
	return kept
}

// matchesAt walks the trie from start and appends every acceptable name
// that begins there.
func (m *Matcher) matchesAt(norm string, start int, out []Match) []Match {
	node := int32(0)
	for i := start; i < len(norm); {
		r, size := utf8.DecodeRuneInString(norm[i:])
		next, ok := m.edges[uint64(node)<<32|uint64(uint32(r))]
		if !ok {
			break
		}
		node = next
		i += size
		t := m.term[node]
		if t == 0 {
			continue
		}
		e := m.entries[t-1]
		if e.guarded && i < len(norm) {
			if after, _ := utf8.DecodeRuneInString(norm[i:]); strings.ContainsRune(roadRunes, after) {
				continue
			}
		}
		out = append(out, Match{
			Kind: e.kind, Start: start, End: i, Index: e.index, District: e.district,
			Alias: e.strength == districtAlias || e.strength == subdistrictAlias, strength: e.strength,
		})
	}
	return out
}
