package classify

import (
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/xiamen-eeb/nuisance/internal/hanzi"
)

// scores is the evidence a description gives for each category and
// subcategory, and for a complaint about something else.
type scores struct {
	cat   [maxLabels]float64
	sub   [maxLabels]float64
	other float64
}

// normalise folds full-width ASCII to half-width, ASCII to lower case and
// traditional characters to simplified, so "ＫＴＶ", "KTV" and "ktv" read
// the same, and so do "油煙" and "油烟".
func normalise(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '！' && r <= '～':
			r = r - '！' + '!'
		case r == '\u3000':
			r = ' '
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}, hanzi.Fold(s))
}

// isClauseBreak reports whether r ends a clause: cues such as negation,
// "mainly" or "also" reach only as far as the clause they stand in.
func isClauseBreak(r rune) bool {
	switch r {
	case '。', ',', '.', ';', '!', '?', ':', '\n', '\r', '\t', ' ', '…', '~':
		return true
	}
	return false
}

// isSentenceEnd reports whether r ends a sentence: a lead-in cue standing
// alone in its clause ("另外，…") reaches as far as that.
func isSentenceEnd(r rune) bool {
	switch r {
	case '。', '.', ';', '!', '?', '\n', '\r':
		return true
	}
	return false
}

// score reads a normalised description clause by clause. In each clause it
// takes the longest keyword at each position, drops keywords inside a
// longer one, drops negated keywords ("没有噪音") unless they name a missing
// control measure ("没有覆盖"), and weighs the clause by its cues: the main
// complaint ("主要是…") counts more, an aside ("另外…") or a settled matter
// ("…已经解决了") less. A cue that stands in a clause of its own, as
// people write it ("另外，路面灰尘也很多"), weighs the rest of its sentence.
func (c *Classifier) score(text string) scores {
	var sc scores
	start, lead := 0, 1.0
	for i, r := range text {
		if isClauseBreak(r) {
			if i > start {
				lead = c.scoreClause(text[start:i], lead, &sc)
			}
			if isSentenceEnd(r) {
				lead = 1
			}
			start = i + utf8.RuneLen(r)
		}
	}
	if start < len(text) {
		c.scoreClause(text[start:], lead, &sc)
	}
	return sc
}

// scoreClause adds a clause's evidence to sc, weighed by its own cue or
// else by lead, the weight of a lead-in cue before it in its sentence. It
// returns the weight of the clauses after it: its own cue's when the
// clause is a lead-in (a cue and no keyword), else lead.
func (c *Classifier) scoreClause(clause string, lead float64, sc *scores) float64 {
	m, cue := lead, 0.0
	switch {
	case containsAny(clause, c.emphasis):
		cue = c.wEmphasis
	case containsAny(clause, c.secondary):
		cue = c.wSecondary
	}
	if cue > 0 {
		m = cue
	}
	if containsAny(clause, c.discount) {
		m *= c.wDiscount
	}
	if m == 0 {
		return lead
	}
	found := false
	var ends [64]int
	maxN := min(c.maxTermRunes, len(ends))
	lastEnd := 0
	cut := 0 // where two words of a not-keyword meet: no keyword spans it
	for i := 0; i < len(clause); {
		// Byte offsets of the next maxN rune ends from i.
		n, e := 0, i
		for n < maxN && e < len(clause) {
			_, size := utf8.DecodeRuneInString(clause[e:])
			e += size
			ends[n] = e
			n++
		}
		for k := n - 1; k >= 0; k-- {
			if i < cut && ends[k] > cut {
				continue
			}
			tm, ok := c.terms[clause[i:ends[k]]]
			if !ok {
				continue
			}
			if tm.not && tm.cut > 0 {
				// Two words: read each, and no keyword across them.
				cut = max(cut, i+tm.cut)
				continue
			}
			if ends[k] > lastEnd {
				lastEnd = ends[k]
				if tm.not {
					// The keyword inside is no keyword here.
					break
				}
				found = true
				if tm.control || !c.negated(clause[:i]) {
					for _, w := range tm.cats {
						sc.cat[w.idx] += w.w * m
					}
					for _, w := range tm.subs {
						sc.sub[w.idx] += w.w * m
					}
					sc.other += tm.other * m
				}
			}
			break
		}
		i = ends[0]
	}
	if cue > 0 && !found {
		return cue
	}
	return lead
}

// notNegations are words that hold a negation and negate nothing: 无证施工
// is work without a permit, 没日没夜 day and night, and a question
// (有没有, 有无, 是不是) asks: "请问他们有没有夜间施工许可" complains of
// night work.
var notNegations = []string{"无证", "无照", "无牌", "无资质", "无手续", "无许可", "没日没夜", "无休止", "无时无刻", "无日无夜", "有没有", "有无", "是不是"}

// negated reports whether the text before a keyword ends in a negation
// cue, allowing one rune between a one-rune cue and the keyword ("没盖")
// and two after a longer one ("没有任何"); a word of notNegations there is
// no cue.
func (c *Classifier) negated(before string) bool {
	p := before
	for gap := 0; gap <= 2; gap++ {
		for _, w := range notNegations {
			if strings.HasSuffix(p, w) {
				return false
			}
		}
		for _, cue := range c.negations {
			if strings.HasSuffix(p, cue) && (gap <= 1 || utf8.RuneCountInString(cue) > 1) {
				return true
			}
		}
		if p == "" {
			return false
		}
		_, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
	}
	return false
}

// containsAnyWord reports whether s holds one of words other than inside
// a word of the seed's not_keywords: "在建" is no word of "我住在建发花园".
func (c *Classifier) containsAnyWord(s string, words []string) bool {
	for _, w := range words {
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], w)
			if j < 0 {
				break
			}
			if !c.insideNotKeyword(s, i+j, i+j+len(w)) {
				return true
			}
			_, size := utf8.DecodeRuneInString(s[i+j:])
			i += j + size
		}
	}
	return false
}

// insideNotKeyword reports whether s[from:to] lies inside a word of the
// seed's not_keywords, or starts in the first of two and ends in the
// second.
func (c *Classifier) insideNotKeyword(s string, from, to int) bool {
	for _, nk := range c.notKeywords {
		lo := to - len(nk.text)
		if nk.cut > 0 {
			lo = from - nk.cut + 1
		}
		for q := max(0, lo); q <= from; q++ {
			if strings.HasPrefix(s[q:], nk.text) && (nk.cut == 0 || q+nk.cut < to) {
				return true
			}
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// total is the evidence for label li: its category's and its own.
func (c *Classifier) total(sc *scores, li int) float64 {
	return sc.cat[c.labels[li].cat] + sc.sub[li]
}

// confidence turns the winner's evidence and the strongest rival's into
// 0..1: high when the winner has much evidence and the rival little.
func confidence(best, rival float64) float64 {
	if best <= 0 {
		return 0
	}
	return best / (best + rival) * (1 - math.Exp(-best/4))
}

// best picks the label with the most evidence, or -1 when the text is
// about none of the nuisances: too little evidence, evidence only of
// context ("工地") without the nuisance itself, or more evidence of another
// kind of complaint. The confidence is in the label, or for -1 in none.
func (c *Classifier) best(sc *scores) (int, float64) {
	// A complaint names its nuisance ("吵", "灰", "油烟"); where some
	// category is named, context alone ("公交站", "工地") cannot win.
	named := false
	for ci := range c.cats {
		named = named || sc.cat[ci] > 0
	}
	best, bestTotal := -1, 0.0
	for li, l := range c.labels {
		if named && sc.cat[l.cat] <= 0 {
			continue
		}
		if t := c.total(sc, li); best < 0 || t > bestTotal {
			best, bestTotal = li, t
		}
	}
	l := c.labels[best]
	if bestTotal < c.minScore || bestTotal <= sc.other ||
		(sc.cat[l.cat] <= 0 && sc.sub[best] < c.minSpecific) {
		if bestTotal <= 0 {
			return -1, 1
		}
		return -1, round3(max(0, 1-bestTotal/(2*c.minScore)))
	}
	if sc.sub[best] <= 0 {
		// Only the category is known: every subcategory ties.
		best = c.cats[l.cat].defaultLabel
	}
	rival := sc.other
	for li := range c.labels {
		if li != best && (sc.sub[best] > 0 || c.labels[li].cat != l.cat) {
			rival = max(rival, c.total(sc, li))
		}
	}
	return best, confidence(bestTotal, rival)
}

// bestWithin picks the subcategory of category ci with the most evidence,
// or its default when the text says nothing about it.
func (c *Classifier) bestWithin(sc *scores, ci int) (int, float64) {
	cat := c.cats[ci]
	best, bestScore, rival := cat.defaultLabel, 0.0, 0.0
	for li := cat.first; li < cat.end; li++ {
		switch s := sc.sub[li]; {
		case s > bestScore:
			rival, best, bestScore = bestScore, li, s
		case s > rival:
			rival = s
		}
	}
	return best, round3(confidence(bestScore, rival))
}

// mentions lists the other nuisances the normalised text speaks of,
// strongest first: for each other category it names, its subcategory with
// the most evidence (or the bare category when no subcategory shows), and
// another subcategory of the chosen category when the text is specific
// about it. A subcategory is read through the seed's overrides as a
// result is: a neighbour's kitchen named beside the main complaint is out
// of scope and no mention, mud a site's vehicles carry out is the site's.
func (c *Classifier) mentions(text string, sc *scores, chosen int) []string {
	type mention struct {
		key   string
		score float64
	}
	var out []mention
	add := func(li int, score float64) {
		to := c.overridden(text, li, false)
		if to < 0 || to == chosen {
			return
		}
		for _, m := range out {
			if m.key == c.labels[to].key {
				return
			}
		}
		out = append(out, mention{c.labels[to].key, score})
	}
	chosenCat := -1
	if chosen >= 0 {
		chosenCat = c.labels[chosen].cat
	}
	for ci, cat := range c.cats {
		if ci == chosenCat {
			for li := cat.first; li < cat.end; li++ {
				if li != chosen && sc.sub[li] >= c.minSpecific {
					add(li, c.total(sc, li))
				}
			}
			continue
		}
		if sc.cat[ci] <= 0 || sc.cat[ci] <= sc.other {
			continue
		}
		best := cat.first
		for li := cat.first + 1; li < cat.end; li++ {
			if sc.sub[li] > sc.sub[best] {
				best = li
			}
		}
		switch t := c.total(sc, best); {
		case sc.sub[best] > 0 && t >= c.minScore && t > sc.other:
			add(best, t)
		case sc.cat[ci] >= c.minScore:
			out = append(out, mention{cat.code, sc.cat[ci]})
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	keys := make([]string, len(out))
	for i, m := range out {
		keys[i] = m.key
	}
	return keys
}
