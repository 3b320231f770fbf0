// Package classify decides which nuisance a citizen's complaint is about —
// noise, dust or cooking smoke, and which kind of each — and whether the
// bureau's plan of its year makes it a priority. The hotline's own code is trusted
// first, then its category path, then the citizen's words; a complaint about
// none of the nuisances gets an empty category and goes to triage. The
// words are weighed keyword by keyword; a few rules (the seed's overrides)
// then read who or what the text names: a household's kitchen is no
// restaurant and goes to triage, mud a site's lorries carry out of its
// exit is the site's dust, not the road's, and so is the sand and gravel a
// site keeps in the open, not a storage yard's. The other nuisances a
// complaint mentions are read by the same rules.
//
// Everything the classifier knows comes from seeds/categories.json and
// seeds/priority.json, so the bureau can adjust keywords, weights and
// priority districts without a code change.
package classify

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strings"

	"github.com/xiamen-eeb/nuisance/seeds"
)

// Methods a Result can be decided by, strongest first.
const (
	// MethodCode means the hotline sent a category code.
	MethodCode = "code"
	// MethodHotlineCategory means the hotline's category path named the nuisance.
	MethodHotlineCategory = "hotline_category"
	// MethodDescription means the citizen's description decided.
	MethodDescription = "description"
)

// ErrInvalidCode is wrapped by Classify when the hotline sends a category or
// subcategory code that does not exist, so callers can treat the complaint
// as invalid input rather than retry it.
var ErrInvalidCode = errors.New("invalid category code")

// maxLabels bounds the number of subcategories so scoring runs on fixed
// arrays without allocating.
const maxLabels = 32

// Input is what the hotline says about a complaint's kind.
type Input struct {
	Category        string
	Subcategory     string
	HotlineCategory string
	Description     string
}

// Result is the classification of one complaint.
type Result struct {
	// Category and Subcategory are empty when the complaint is about none
	// of the nuisances; such a complaint goes to triage.
	Category    string
	Subcategory string
	// Method tells which part of the input decided: MethodCode,
	// MethodHotlineCategory or MethodDescription.
	Method string
	// Score is the confidence in the result, 0..1; for an empty category it
	// is the confidence that the text is about none of the nuisances.
	Score float64
	// AlsoMentioned lists other nuisances the description mentions, as
	// "category/subcategory" or "category", strongest first, so a mixed
	// complaint can be followed up on every count; the seed's overrides
	// read them as they read the result (a neighbour's kitchen is none).
	AlsoMentioned []string
	// Detail is a finer kind of social-life noise that decides who acts
	// on it, read from the hotline's category and the description:
	// DetailBarKTV (a bar, KTV or dance hall), DetailNeighbour (between
	// neighbours: the police's), or "".
	Detail string
}

// The details of social-life noise, as the routing rules name them.
const (
	DetailNeighbour = "neighbour"
	DetailBarKTV    = "bar_ktv"
)

// barKTVWords tell a venue; a venue is looked for first ("楼下KTV" is a
// venue, not a neighbour).
var barKTVWords = []string{"ktv", "酒吧", "歌厅", "歌舞厅", "夜总会", "清吧", "酒馆", "练歌房", "livehouse", "迪厅", "夜店", "夜场", "驻唱"}

// The words that tell noise between neighbours, read sentence by
// sentence: a sentence names a neighbour by neighbourWords, a household
// near the caller's (nearWords with a householdWords after it, "楼下的
// 人家", "隔壁那户"), or a place near it with what people do at home
// (nearWords and homeWords: "楼下蹦跳拖椅子"). No sentence that names a
// shop, stall, eatery, public place, site or factory (notHouseholdWords)
// names a neighbour: "超市门口搞促销…楼上住户更难受" is the shop's, and
// so is the caller's own flat (callerWords: "…住在楼上睡不着"). Renovation
// (renovationWords) is urban management's, whoever does it (seeds/
// routing.json's noise.social_life): a sentence that names it names no
// neighbour, so "隔壁装修的住户" and "楼上邻居装修砸墙" stay urban
// management's.
var (
	neighbourWords = []string{"邻居", "邻里", "楼上住户", "楼下住户", "隔壁住户", "对门住户", "楼上", "对门"}
	nearWords      = []string{"楼上", "楼下", "隔壁", "对门", "对面", "同单元", "同一单元", "同楼层", "同一层"}
	householdWords = []string{"住户", "人家", "那户", "那家", "家的", "家里", "家人", "家小孩", "家孩子", "家大人", "一家"}
	homeWords      = []string{"蹦跳", "跑跳", "跳来跳去", "拖椅子", "拖凳子", "拖桌椅", "拖拉桌椅", "拖动桌椅", "拉椅子", "跺脚", "打麻将", "搓麻将", "麻将声", "洗牌", "吵架", "打架", "摔东西", "砸东西", "拍皮球", "弹钢琴", "练琴", "高跟鞋", "敲地板"}
	// atHomeWords say where something happens, at home, and are the
	// caller's as often as the neighbour's ("楼下有人弹吉他唱歌，在家都睡
	// 不着"): they name a neighbour only in the clause of a nearWords
	// ("隔壁每天在家里唱歌"), never in the caller's own.
	atHomeWords       = []string{"在家", "屋里"}
	notHouseholdWords = []string{"店", "铺", "商户", "商家", "门面", "摊", "超市", "市场", "商场", "广场", "公园", "球场", "餐馆", "餐厅", "餐饮", "餐吧", "快餐", "馆", "棋牌室", "会所", "喇叭", "叫卖", "促销", "工地", "厂", "学校", "幼儿园", "健身", "培训", "琴行"}
	renovationWords   = []string{"装修", "电钻", "电锤", "冲击钻", "打墙", "砸墙", "敲墙", "切瓷砖", "切割瓷砖", "施工", "工程"}
	// callerWords are where the caller lives, and the compound next to
	// it, replaced before reading: neither is a neighbour's flat.
	callerWords = strings.NewReplacer("住在楼上", "|", "住在楼下", "|", "住在隔壁", "|", "住在对面", "|", "住楼上", "|", "住楼下", "|",
		"隔壁小区", "|小区", "对面小区", "|小区")
	// placeNames hold a word of notHouseholdWords and name no shop:
	// Xiang'an's 新店 (镇, 街道).
	placeNames = strings.NewReplacer("新店", "|")
	// householdPhrases are nearWords each followed by a householdWords,
	// with or without 的 between.
	householdPhrases = func() []string {
		var out []string
		for _, n := range nearWords {
			for _, h := range householdWords {
				out = append(out, n+h, n+"的"+h)
			}
		}
		return out
	}()
)

// socialLifeDetail reads the detail of a social-life noise complaint
// from its normalised text.
func socialLifeDetail(text string) string {
	if containsAny(text, barKTVWords) {
		return DetailBarKTV
	}
	text = callerWords.Replace(text)
	for sentence := range strings.FieldsFuncSeq(text, isSentenceEnd) {
		if containsAny(placeNames.Replace(sentence), notHouseholdWords) {
			continue
		}
		if containsAny(sentence, renovationWords) {
			continue
		}
		if containsAny(sentence, neighbourWords) {
			return DetailNeighbour
		}
		if containsAny(sentence, householdPhrases) ||
			(containsAny(sentence, nearWords) && containsAny(sentence, homeWords)) {
			return DetailNeighbour
		}
		for clause := range strings.FieldsFuncSeq(sentence, isClauseBreak) {
			if !strings.Contains(clause, "我") && containsAny(clause, nearWords) && containsAny(clause, atHomeWords) {
				return DetailNeighbour
			}
		}
	}
	return ""
}

// Priority tells how the plan of its year ranks a complaint.
type Priority struct {
	// Priority is set for a complaint in one of the plan's priority
	// districts for its kind, and for every urgent complaint.
	Priority bool
	// Urgent is set for nuisances that must be stopped now, such as
	// construction noise at night.
	Urgent bool
	// Reason says which rules applied, for officers and reports.
	Reason string
}

// Classifier classifies complaints with the rules of the seed files. It is
// safe for concurrent use.
type Classifier struct {
	cats       []category
	catIndex   map[string]int
	labels     []label
	labelIndex map[string]int

	terms        map[string]*term
	maxTermRunes int
	notKeywords  []notKeyword // the terms that are no keyword, see term.not
	minScore     float64
	minSpecific  float64

	negations, emphasis, secondary, discount []string
	wEmphasis, wSecondary, wDiscount         float64

	splitter *strings.Replacer // turns every path separator into ">"
	hotline  []hotlineKeyword

	overrides []override

	plans *Plans
}

type category struct {
	code, name   string
	defaultLabel int
	first, end   int // labels[first:end] are its subcategories
}

type label struct {
	cat        int
	code, name string
	key        string // "category/subcategory"
}

type weighted struct {
	idx int
	w   float64
}

// term is one keyword of the description vocabulary with its weights.
type term struct {
	cats    []weighted // evidence of a category
	subs    []weighted // evidence of a subcategory
	other   float64    // evidence of a complaint about something else
	control bool       // a control measure: "no cover" is still a complaint
	not     bool       // a word that holds a keyword and is not it ("写作业")
	cut     int        // for a not-word, where its two words meet ("在|建发"), in bytes; 0 for one word
}

// notKeyword is a word of the seed's not_keywords: a word that holds a
// keyword and is not it, or two words ("在|建发") that meet inside a
// keyword, which is then none: 在建 (under construction) is no word of
// 住在建发花园, where 在 meets the name 建发.
type notKeyword struct {
	text string
	cut  int // where its two words meet, in bytes; 0 for one word
}

type hotlineKeyword struct {
	text  string
	cat   int
	label int // -1 for a category-only keyword
}

// without returns keys without key, nil when none is left.
func without(keys []string, key string) []string {
	var out []string
	for _, k := range keys {
		if k != key {
			out = append(out, k)
		}
	}
	return out
}

// override takes label from, read from the text, to label to, or to
// triage when to is -1, when a word of each group of all is in one
// sentence of the text and no word of none is in a sentence that may
// speak of from's nuisance (see namesNone).
type override struct {
	from, to int
	all      [][]string
	none     []string
}

// overridden returns the label a text's words take li to: li itself, a
// label of its category, or -1 for triage. With sameCategory set (the
// hotline named the category), a rule that would triage is passed over.
func (c *Classifier) overridden(text string, li int, sameCategory bool) int {
	for _, o := range c.overrides {
		if o.from != li || (sameCategory && o.to < 0) {
			continue
		}
		// The words of all name one thing: they are looked for in one
		// sentence ("…带泥上路。还有，旁边工地…" ties no mud to a site).
		for sentence := range strings.FieldsFuncSeq(text, isSentenceEnd) {
			all := true
			for _, g := range o.all {
				all = all && c.containsAnyWord(sentence, g)
			}
			if all {
				if !c.namesNone(text, &o) {
					return o.to
				}
				break
			}
		}
	}
	return li
}

// namesNone reports whether a word of o's none is in a sentence of the
// text that may speak of o.from's nuisance: one that names it, or names
// no nuisance ("楼下新开了一家饭店。"). A sentence about another nuisance
// only says nothing of this one's source: the shop of "楼下商铺的音响很吵。
// 另外，邻居家做饭油烟也很大。" is the noise's, and the smoke a household's.
func (c *Classifier) namesNone(text string, o *override) bool {
	ci := c.labels[o.from].cat
	for sentence := range strings.FieldsFuncSeq(text, isSentenceEnd) {
		if !c.containsAnyWord(sentence, o.none) {
			continue
		}
		sc := c.score(sentence)
		other := false
		for cj := range c.cats {
			other = other || (cj != ci && sc.cat[cj] > 0)
		}
		if sc.cat[ci] > 0 || !other {
			return true
		}
	}
	return false
}

type rule struct {
	cat       int
	labels    map[int]bool    // empty: every subcategory
	districts map[string]bool // empty: every district
	from, to  int             // minutes after midnight, night rules only
	reason    string
	// planReason and latestReason are the reason first of a complaint's,
	// after its plan's year (see Prioritise).
	planReason, latestReason string
}

// New builds a Classifier from the seeds embedded in the binary.
func New() (*Classifier, error) {
	return newFromFS(seeds.FS, "")
}

// NewWith builds a Classifier from the embedded seeds with the priority
// plans of an operator's file (NUISANCE_PRIORITY) added: the bureau adopts
// a plan each year, and installing it must not wait for a new build. An
// empty path adds nothing. See LoadPlans for the file.
func NewWith(priorityPath string) (*Classifier, error) {
	return newFromFS(seeds.FS, priorityPath)
}

func newFromFS(fsys fs.FS, priorityPath string) (*Classifier, error) {
	var cs categoriesSeed
	if err := readJSON(fsys, categoriesFile, &cs); err != nil {
		return nil, err
	}
	c := &Classifier{}
	if err := c.buildTaxonomy(&cs); err != nil {
		return nil, err
	}
	if len(c.labels) > maxLabels {
		return nil, fmt.Errorf("%s: %d subcategories, at most %d", categoriesFile, len(c.labels), maxLabels)
	}
	plans, err := loadPlans(fsys, priorityPath, c.catIndex, c.labelIndex)
	if err != nil {
		return nil, err
	}
	c.plans = plans
	return c, nil
}

// Classify decides the category of a complaint: from the hotline's code
// when given, else from its category path, else from the description. It
// returns an error wrapping ErrInvalidCode for a code that does not exist.
func (c *Classifier) Classify(in Input) (Result, error) {
	res, err := c.classify(in)
	if err == nil && res.Category == "noise" && res.Subcategory == "social_life" {
		// The hotline's category is a sentence of its own: a shop the
		// citizen names does not undo its 邻里噪声.
		res.Detail = socialLifeDetail(normalise(in.HotlineCategory + "。" + in.Description))
	}
	return res, err
}

func (c *Classifier) classify(in Input) (Result, error) {
	ci, li, err := c.lookupCode(in.Category, in.Subcategory)
	if err != nil {
		return Result{}, err
	}
	text := normalise(in.Description)
	sc := c.score(text)

	if ci >= 0 {
		res := Result{Category: c.cats[ci].code, Method: MethodCode, Score: 1}
		read := li
		if li < 0 {
			var conf float64
			read, conf = c.bestWithin(&sc, ci)
			li = c.overridden(text, read, true)
			res.Score = 0.5 + 0.5*conf
		}
		res.Subcategory = c.labels[li].code
		res.AlsoMentioned = without(c.mentions(text, &sc, li), c.labels[read].key)
		return res, nil
	}

	if hci, hli := c.hotlineCategory(in.HotlineCategory); hci >= 0 {
		res := Result{Category: c.cats[hci].code, Method: MethodHotlineCategory, Score: 0.9}
		read := hli
		if hli < 0 {
			var conf float64
			read, conf = c.bestWithin(&sc, hci)
			hli = c.overridden(text, read, true)
			res.Score = 0.45 + 0.45*conf
		}
		res.Subcategory = c.labels[hli].code
		res.AlsoMentioned = without(c.mentions(text, &sc, hli), c.labels[read].key)
		return res, nil
	}

	best, conf := c.best(&sc)
	res := Result{Method: MethodDescription, Score: round3(conf)}
	if best < 0 {
		res.AlsoMentioned = c.mentions(text, &sc, -1)
		return res, nil
	}
	to := c.overridden(text, best, false)
	if to < 0 {
		// The words name the nuisance and rule it out of every
		// subcategory (a household's kitchen): triage, without the
		// category they resemble among the mentions.
		cat := c.cats[c.labels[best].cat].code
		for _, m := range c.mentions(text, &sc, -1) {
			if m != cat && !strings.HasPrefix(m, cat+"/") {
				res.AlsoMentioned = append(res.AlsoMentioned, m)
			}
		}
		return res, nil
	}
	l := c.labels[to]
	res.Category, res.Subcategory = c.cats[l.cat].code, l.code
	// A subcategory a rule overrode is no mention of another.
	res.AlsoMentioned = without(c.mentions(text, &sc, to), c.labels[best].key)
	return res, nil
}

// lookupCode resolves the hotline's codes to a category and label index;
// -1 means not given. A subcategory alone names its category, since
// subcategory codes are unique across categories.
func (c *Classifier) lookupCode(cat, sub string) (int, int, error) {
	cat, sub = strings.TrimSpace(cat), strings.TrimSpace(sub)
	if cat == "" && sub == "" {
		return -1, -1, nil
	}
	if cat == "" {
		ci, ok := c.subOwner(sub)
		if !ok {
			return -1, -1, fmt.Errorf("subcategory %q: %w", sub, ErrInvalidCode)
		}
		cat = c.cats[ci].code
	}
	ci, ok := c.catIndex[cat]
	if !ok {
		return -1, -1, fmt.Errorf("category %q: %w", cat, ErrInvalidCode)
	}
	if sub == "" {
		return ci, -1, nil
	}
	li, ok := c.labelIndex[cat+"/"+sub]
	if !ok {
		return -1, -1, fmt.Errorf("subcategory %q of category %q: %w", sub, cat, ErrInvalidCode)
	}
	return ci, li, nil
}

// hotlineCategory reads the hotline's category path, most specific segment
// first. It returns the category and label, or -1 when the path names none
// of the nuisances.
func (c *Classifier) hotlineCategory(path string) (int, int) {
	path = normalise(strings.TrimSpace(path))
	if path == "" {
		return -1, -1
	}
	segments := strings.Split(c.splitter.Replace(path), ">")
	ci, li := -1, -1
	for i := len(segments) - 1; i >= 0; i-- {
		seg := strings.TrimSpace(segments[i])
		if seg == "" {
			continue
		}
		// The longest keyword names the segment's category; any keyword
		// of that category may name the subcategory ("烧烤油烟").
		segCat := -1
		for _, hk := range c.hotline {
			if !strings.Contains(seg, hk.text) {
				continue
			}
			if segCat < 0 {
				segCat = hk.cat
			}
			if ci < 0 {
				ci = segCat
			}
			if segCat == ci && hk.cat == ci && hk.label >= 0 {
				li = hk.label
				break
			}
		}
		if li >= 0 {
			break
		}
	}
	return ci, li
}

func sortHotline(h []hotlineKeyword) {
	sort.SliceStable(h, func(i, j int) bool {
		if len(h[i].text) != len(h[j].text) {
			return len(h[i].text) > len(h[j].text)
		}
		return h[i].text < h[j].text
	})
}

func round3(x float64) float64 {
	return math.Round(x*1000) / 1000
}

// Name returns the Chinese name of a category, or of a subcategory when
// one is given ("建筑施工噪声"), so reports and consoles speak the bureau's
// language; "" for an unknown code.
func (c *Classifier) Name(category, subcategory string) string {
	if subcategory == "" {
		if ci, ok := c.catIndex[category]; ok {
			return c.cats[ci].name
		}
		return ""
	}
	if li, ok := c.labelIndex[category+"/"+subcategory]; ok {
		return c.labels[li].name
	}
	return ""
}
