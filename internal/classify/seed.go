package classify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Seed file names inside the seeds filesystem.
const (
	categoriesFile = "categories.json"
	priorityFile   = "priority.json"
)

// categoriesSeed is seeds/categories.json: the taxonomy, the weighted
// keywords that recognise each category and subcategory in a citizen's
// words, and the hotline's category path keywords.
type categoriesSeed struct {
	Version     int                `json:"version"`
	MinScore    float64            `json:"min_score"`
	MinSpecific float64            `json:"min_specific"`
	Categories  []categorySeed     `json:"categories"`
	Other       map[string]float64 `json:"other_keywords"`
	Controls    []string           `json:"controls"`
	NotKeywords []string           `json:"not_keywords"`
	Cues        struct {
		Negation  []string `json:"negation"`
		Emphasis  []string `json:"emphasis"`
		Secondary []string `json:"secondary"`
		Discount  []string `json:"discount"`
	} `json:"cues"`
	ClauseWeights struct {
		Emphasis  float64 `json:"emphasis"`
		Secondary float64 `json:"secondary"`
		Discount  float64 `json:"discount"`
	} `json:"clause_weights"`
	Hotline struct {
		Separators []string          `json:"separators"`
		Keywords   map[string]string `json:"keywords"`
	} `json:"hotline"`
	Overrides []overrideSeed `json:"overrides"`
}

// overrideSeed is a rule that takes a subcategory read from the citizen's
// words to another, or to triage, when the text names what the keyword
// weights cannot weigh: who makes the nuisance, or where it comes from.
// It applies when From ("category/subcategory") was read from the text, a
// word of every group of All is in one of its sentences and no word of
// None is in a sentence that names From's nuisance or none (a shop named
// about another nuisance is not the source of this one); To is another
// subcategory of the same category, or "" for triage. Why says for the
// bureau which rule of DOMAIN.md it applies.
type overrideSeed struct {
	From string     `json:"from"`
	To   string     `json:"to"`
	All  [][]string `json:"all"`
	None []string   `json:"none"`
	Why  string     `json:"why"`
}

type categorySeed struct {
	Code               string             `json:"code"`
	Name               string             `json:"name"`
	DefaultSubcategory string             `json:"default_subcategory"`
	Keywords           map[string]float64 `json:"keywords"`
	Subcategories      []subcategorySeed  `json:"subcategories"`
}

type subcategorySeed struct {
	Code     string             `json:"code"`
	Name     string             `json:"name"`
	Keywords map[string]float64 `json:"keywords"`
}

// prioritySeed is seeds/priority.json, and the layout of an operator's
// file of added plans: the bureau's priority plans by year.
type prioritySeed struct {
	Version   int        `json:"version"`
	Timezone  string     `json:"timezone"`
	Districts []string   `json:"districts"`
	Plans     []planSeed `json:"plans"`
}

// priorityVersion is the layout version of priority.json: 2 holds plans
// by year.
const priorityVersion = 2

// planSeed is one year's plan (点题整治): its priority districts and its
// night-time rules.
type planSeed struct {
	Year          int        `json:"year"`
	Source        string     `json:"source"`
	DistrictRules []ruleSeed `json:"district_rules"`
	NightRules    []ruleSeed `json:"night_rules"`
}

type ruleSeed struct {
	Category      string   `json:"category"`
	Subcategories []string `json:"subcategories"`
	Districts     []string `json:"districts"`
	From          string   `json:"from"`
	To            string   `json:"to"`
	Reason        string   `json:"reason"`
}

func readJSON(fsys fs.FS, name string, v any) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("read seed %s: %w", name, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode seed %s: %w", name, err)
	}
	return nil
}

// buildTaxonomy validates the categories seed and compiles it into the
// classifier's label table, term index and hotline keyword list.
func (c *Classifier) buildTaxonomy(s *categoriesSeed) error {
	if len(s.Categories) == 0 {
		return fmt.Errorf("%s: no categories", categoriesFile)
	}
	if s.MinScore <= 0 {
		return fmt.Errorf("%s: min_score must be positive", categoriesFile)
	}
	c.minScore = s.MinScore
	c.minSpecific = s.MinSpecific
	c.catIndex = map[string]int{}
	c.labelIndex = map[string]int{}
	c.terms = map[string]*term{}
	for ci, cs := range s.Categories {
		if cs.Code == "" {
			return fmt.Errorf("%s: category %d has no code", categoriesFile, ci)
		}
		if _, dup := c.catIndex[cs.Code]; dup {
			return fmt.Errorf("%s: duplicate category %q", categoriesFile, cs.Code)
		}
		if len(cs.Subcategories) == 0 {
			return fmt.Errorf("%s: category %q has no subcategories", categoriesFile, cs.Code)
		}
		cat := category{code: cs.Code, name: cs.Name, defaultLabel: -1, first: len(c.labels)}
		for _, ss := range cs.Subcategories {
			key := cs.Code + "/" + ss.Code
			if ss.Code == "" {
				return fmt.Errorf("%s: category %q has a subcategory without code", categoriesFile, cs.Code)
			}
			if _, dup := c.labelIndex[key]; dup {
				return fmt.Errorf("%s: duplicate subcategory %q", categoriesFile, key)
			}
			if ci, ok := c.subOwner(ss.Code); ok {
				return fmt.Errorf("%s: subcategory %q in both %q and %q", categoriesFile, ss.Code, c.cats[ci].code, cs.Code)
			}
			li := len(c.labels)
			c.labelIndex[key] = li
			c.labels = append(c.labels, label{cat: ci, code: ss.Code, name: ss.Name, key: key})
			if ss.Code == cs.DefaultSubcategory {
				cat.defaultLabel = li
			}
			for t, w := range ss.Keywords {
				if err := c.addTerm(t, w, func(tm *term) { tm.subs = append(tm.subs, weighted{li, w}) }); err != nil {
					return fmt.Errorf("%s: %s: %w", categoriesFile, key, err)
				}
			}
		}
		cat.end = len(c.labels)
		if cat.defaultLabel < 0 {
			return fmt.Errorf("%s: category %q: default_subcategory %q is not one of its subcategories", categoriesFile, cs.Code, cs.DefaultSubcategory)
		}
		c.catIndex[cs.Code] = ci
		c.cats = append(c.cats, cat)
		for t, w := range cs.Keywords {
			if err := c.addTerm(t, w, func(tm *term) { tm.cats = append(tm.cats, weighted{ci, w}) }); err != nil {
				return fmt.Errorf("%s: %s: %w", categoriesFile, cs.Code, err)
			}
		}
	}
	for t, w := range s.Other {
		if err := c.addTerm(t, w, func(tm *term) { tm.other += w }); err != nil {
			return fmt.Errorf("%s: other_keywords: %w", categoriesFile, err)
		}
	}
	for _, t := range s.Controls {
		tm, ok := c.terms[normalise(t)]
		if !ok {
			return fmt.Errorf("%s: control %q is not a keyword", categoriesFile, t)
		}
		tm.control = true
	}
	for _, t := range s.NotKeywords {
		if err := c.addNotKeyword(t); err != nil {
			return fmt.Errorf("%s: not_keywords: %w", categoriesFile, err)
		}
	}
	c.negations = normaliseAll(s.Cues.Negation)
	c.emphasis = normaliseAll(s.Cues.Emphasis)
	c.secondary = normaliseAll(s.Cues.Secondary)
	c.discount = normaliseAll(s.Cues.Discount)
	c.wEmphasis, c.wSecondary, c.wDiscount = s.ClauseWeights.Emphasis, s.ClauseWeights.Secondary, s.ClauseWeights.Discount
	for _, w := range []float64{c.wEmphasis, c.wSecondary, c.wDiscount} {
		if w < 0 {
			return fmt.Errorf("%s: clause weights must not be negative", categoriesFile)
		}
	}

	var pairs []string
	for _, sep := range s.Hotline.Separators {
		if sep = normalise(sep); sep != "" {
			pairs = append(pairs, sep, ">")
		}
	}
	c.splitter = strings.NewReplacer(pairs...)
	for kw, target := range s.Hotline.Keywords {
		cat, sub, _ := strings.Cut(target, "/")
		ci, ok := c.catIndex[cat]
		if !ok {
			return fmt.Errorf("%s: hotline keyword %q: unknown category %q", categoriesFile, kw, cat)
		}
		hk := hotlineKeyword{text: normalise(kw), cat: ci, label: -1}
		if sub != "" {
			li, ok := c.labelIndex[target]
			if !ok {
				return fmt.Errorf("%s: hotline keyword %q: unknown subcategory %q", categoriesFile, kw, target)
			}
			hk.label = li
		}
		c.hotline = append(c.hotline, hk)
	}
	if len(c.hotline) == 0 {
		return fmt.Errorf("%s: no hotline keywords", categoriesFile)
	}
	for i, ov := range s.Overrides {
		o, err := c.buildOverride(ov)
		if err != nil {
			return fmt.Errorf("%s: override %d: %w", categoriesFile, i, err)
		}
		c.overrides = append(c.overrides, o)
	}
	// Longest first, so a segment is read by its most specific keyword.
	sortHotline(c.hotline)
	return nil
}

// CategoryOf is the category a subcategory code belongs to.
func (c *Classifier) CategoryOf(sub string) (string, bool) {
	ci, ok := c.subOwner(strings.TrimSpace(sub))
	if !ok {
		return "", false
	}
	return c.cats[ci].code, true
}

func (c *Classifier) subOwner(code string) (int, bool) {
	for _, l := range c.labels {
		if l.code == code {
			return l.cat, true
		}
	}
	return 0, false
}

func (c *Classifier) addTerm(raw string, w float64, add func(*term)) error {
	t := normalise(raw)
	if t == "" {
		return fmt.Errorf("empty keyword")
	}
	if w < 0 {
		return fmt.Errorf("keyword %q: negative weight", raw)
	}
	tm, ok := c.terms[t]
	if !ok {
		tm = &term{}
		c.terms[t] = tm
		if n := utf8.RuneCountInString(t); n > c.maxTermRunes {
			c.maxTermRunes = n
		}
	}
	add(tm)
	return nil
}

// addNotKeyword adds a word of not_keywords. A word ("写作业") holds a
// keyword and is not it: where the text has it, every keyword inside
// counts for nothing. Two words with "|" where they meet ("在|建发" of
// "我住在建发花园", 在 and the name 建发) hold a keyword across that
// boundary (在建, under construction): where the text has them, the
// keywords across it count for nothing and those on either side count
// (在|建材 keeps 建材). Both count so in the scores and in the overrides.
// A word must not be a keyword itself.
func (c *Classifier) addNotKeyword(raw string) error {
	t := normalise(raw)
	cut := 0
	if before, after, ok := strings.Cut(t, "|"); ok {
		if before == "" || after == "" || strings.Contains(after, "|") {
			return fmt.Errorf("%q: one boundary \"|\" between two words", raw)
		}
		t, cut = before+after, len(before)
	}
	if t == "" {
		return fmt.Errorf("empty word")
	}
	if _, ok := c.terms[t]; ok {
		return fmt.Errorf("%q is a keyword or given twice", raw)
	}
	holds := false
	for kw := range c.terms {
		for i := 0; !holds && i < len(t); i++ {
			holds = strings.HasPrefix(t[i:], kw) && (cut == 0 || i < cut && cut < i+len(kw))
		}
	}
	switch {
	case !holds && cut > 0:
		return fmt.Errorf("%q holds no keyword across its boundary", raw)
	case !holds:
		return fmt.Errorf("%q holds no keyword", raw)
	}
	if err := c.addTerm(t, 0, func(tm *term) { tm.not, tm.cut = true, cut }); err != nil {
		return err
	}
	c.notKeywords = append(c.notKeywords, notKeyword{text: t, cut: cut})
	return nil
}

func normaliseAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if n := normalise(s); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// loadPlans reads the embedded priority.json and, when path is not
// empty, an operator's file of the same layout whose plans are added to
// the embedded ones, a year in both taking the operator's. Every plan is
// checked against the taxonomy and the districts; an error names the
// file, the plan's year and the field.
func loadPlans(fsys fs.FS, path string, catIndex, labelIndex map[string]int) (*Plans, error) {
	var base prioritySeed
	if err := readJSON(fsys, priorityFile, &base); err != nil {
		return nil, err
	}
	if base.Version != priorityVersion {
		return nil, fmt.Errorf("%s: version %d, want %d", priorityFile, base.Version, priorityVersion)
	}
	loc, err := loadLocation(base.Timezone)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", priorityFile, err)
	}
	if len(base.Districts) == 0 {
		return nil, fmt.Errorf("%s: no districts", priorityFile)
	}
	p := &Plans{loc: loc, districts: slices.Clone(base.Districts)}
	known := map[string]bool{}
	for _, d := range base.Districts {
		known[d] = true
	}
	byYear := map[int]plan{}
	add := func(file string, s *prioritySeed) error {
		seen := map[int]bool{}
		for i, ps := range s.Plans {
			if ps.Year < 2000 || ps.Year > 2200 {
				return fmt.Errorf("%s: plan %d: year %d, want a year such as 2025", file, i+1, ps.Year)
			}
			if seen[ps.Year] {
				return fmt.Errorf("%s: plan %d: year given twice", file, ps.Year)
			}
			seen[ps.Year] = true
			pl, err := compilePlan(ps, catIndex, labelIndex, known)
			if err != nil {
				return fmt.Errorf("%s: plan %d: %w", file, ps.Year, err)
			}
			byYear[ps.Year] = pl
		}
		return nil
	}
	if len(base.Plans) == 0 {
		return nil, fmt.Errorf("%s: no plans", priorityFile)
	}
	if err := add(priorityFile, &base); err != nil {
		return nil, err
	}
	if path != "" {
		op, err := readOperatorPlans(path)
		if err != nil {
			return nil, err
		}
		if op.Timezone != "" && op.Timezone != base.Timezone {
			return nil, fmt.Errorf("%s: timezone %q, want %q or none", path, op.Timezone, base.Timezone)
		}
		if op.Districts != nil && !slices.Equal(op.Districts, base.Districts) {
			return nil, fmt.Errorf("%s: districts %v differ from the built-in %v: leave them out", path, op.Districts, base.Districts)
		}
		if len(op.Plans) == 0 {
			return nil, fmt.Errorf("%s: no plans", path)
		}
		if err := add(path, op); err != nil {
			return nil, err
		}
	}
	for _, pl := range byYear {
		p.plans = append(p.plans, pl)
	}
	slices.SortFunc(p.plans, func(a, b plan) int { return a.year - b.year })
	return p, nil
}

// readOperatorPlans reads an operator's priority file strictly: a field
// misspelt would otherwise drop a rule silently.
func readOperatorPlans(path string) (*prioritySeed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("priority plans: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%s: empty file, want the layout of seeds/priority.json", path)
	}
	// The version first: a file of another layout has fields unknown
	// to this one, and its version is what is wrong.
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err == nil && v.Version != 0 && v.Version != priorityVersion {
		return nil, fmt.Errorf("%s: version %d, want %d", path, v.Version, priorityVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s prioritySeed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, fmt.Errorf("%s: content after the end of the plans' object (offset %d)", path, dec.InputOffset())
	}
	return &s, nil
}

// compilePlan validates one year's plan against the taxonomy and the
// districts.
func compilePlan(ps planSeed, catIndex, labelIndex map[string]int, known map[string]bool) (plan, error) {
	pl := plan{year: ps.Year, source: ps.Source}
	compile := func(kind string, n int, r ruleSeed, night bool) (rule, error) {
		where := fmt.Sprintf("%s_rules[%d]", kind, n)
		ci, ok := catIndex[r.Category]
		if !ok {
			return rule{}, fmt.Errorf("%s.category: unknown category %q", where, r.Category)
		}
		out := rule{cat: ci, labels: map[int]bool{}, districts: map[string]bool{}, reason: r.Reason}
		out.planReason, out.latestReason = planReasons(ps.Year, r.Reason)
		for _, sub := range r.Subcategories {
			li, ok := labelIndex[r.Category+"/"+sub]
			if !ok {
				return rule{}, fmt.Errorf("%s.subcategories: %q is not a subcategory of %q", where, sub, r.Category)
			}
			out.labels[li] = true
		}
		for _, d := range r.Districts {
			if !known[d] {
				return rule{}, fmt.Errorf("%s.districts: unknown district %q", where, d)
			}
			out.districts[d] = true
		}
		if !night && len(out.districts) == 0 {
			return rule{}, fmt.Errorf("%s.districts: %s rule for %q names no district", where, kind, r.Category)
		}
		if r.Reason == "" {
			return rule{}, fmt.Errorf("%s.reason: %s rule for %q has no reason", where, kind, r.Category)
		}
		if night {
			var err error
			if out.from, err = parseClock(r.From); err != nil {
				return rule{}, fmt.Errorf("%s.from: %w", where, err)
			}
			if out.to, err = parseClock(r.To); err != nil {
				return rule{}, fmt.Errorf("%s.to: %w", where, err)
			}
			if out.from == out.to {
				return rule{}, fmt.Errorf("%s: night rule from and to are equal", where)
			}
		} else if r.From != "" || r.To != "" {
			return rule{}, fmt.Errorf("%s: from and to are for night rules", where)
		}
		return out, nil
	}
	for i, r := range ps.DistrictRules {
		cr, err := compile("district", i, r, false)
		if err != nil {
			return plan{}, err
		}
		pl.districtRules = append(pl.districtRules, cr)
		pl.rules = append(pl.rules, PlanRule{Category: r.Category, Subcategories: slices.Clone(r.Subcategories), Districts: slices.Clone(r.Districts)})
	}
	for i, r := range ps.NightRules {
		cr, err := compile("night", i, r, true)
		if err != nil {
			return plan{}, err
		}
		pl.nightRules = append(pl.nightRules, cr)
	}
	return pl, nil
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("clock %q: %w", s, err)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// loadLocation loads the rules' time zone. China has kept UTC+8 without
// daylight saving since 1991, so Asia/Shanghai falls back to a fixed zone on
// hosts without a time zone database.
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return nil, fmt.Errorf("no timezone")
	}
	loc, err := time.LoadLocation(name)
	if err == nil {
		return loc, nil
	}
	if name == "Asia/Shanghai" {
		return time.FixedZone("CST", 8*60*60), nil
	}
	return nil, fmt.Errorf("timezone %q: %w", name, err)
}

func (c *Classifier) buildOverride(s overrideSeed) (override, error) {
	from, ok := c.labelIndex[s.From]
	if !ok {
		return override{}, fmt.Errorf("from: unknown subcategory %q", s.From)
	}
	o := override{from: from, to: -1, none: normaliseAll(s.None)}
	if s.To != "" {
		to, ok := c.labelIndex[s.To]
		if !ok {
			return override{}, fmt.Errorf("to: unknown subcategory %q", s.To)
		}
		if c.labels[to].cat != c.labels[from].cat || to == from {
			return override{}, fmt.Errorf("to %q: want another subcategory of %q's category", s.To, s.From)
		}
		o.to = to
	}
	if len(s.All) == 0 {
		return override{}, fmt.Errorf("%s: no words in all", s.From)
	}
	for _, g := range s.All {
		if g = normaliseAll(g); len(g) == 0 {
			return override{}, fmt.Errorf("%s: an empty group in all", s.From)
		}
		o.all = append(o.all, g)
	}
	return o, nil
}
