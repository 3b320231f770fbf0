// Package place turns free-text addresses into places in Xiamen: it
// normalises the text and matches it against the gazetteer of districts,
// sub-districts and named places.
package place

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/xiamen-eeb/nuisance/internal/hanzi"
	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// districtShortNames are the short names of Xiamen's districts. A bare
// "厦门" prefix is dropped only before one of them, so that names that
// begin with the city's name (厦门大学, 厦门北站) keep it.
var districtShortNames = []string{"思明", "海沧", "湖里", "集美", "同安", "翔安"}

// Normalize folds an address into the form the gazetteer is matched on,
// so that "福建省厦门市 思明区，厦港街道１２号" and "思明区厦港街道12号" compare
// equal: full-width forms become half-width, traditional characters
// simplified ones (廈門市思明區 reads 厦门市思明区), spaces, punctuation and
// symbols go, Latin letters are lower-cased, and the province and city
// prefixes that every Xiamen address may or may not carry are stripped.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	// cuts are the offsets in b where the address had a separator,
	// dropped: where a word of its own begins (Lujiang Hotel, Tel: the t
	// of tel) or ends (电话：无，湖里区: after the 无).
	var buf [8]int
	cuts := buf[:0]
	cut := false
	// colons are the offsets in b where a colon followed: a label before
	// one that ends the address is one (殿前一路5号电话：).
	var colonBuf [2]int
	colons := colonBuf[:0]
	// pluses are the offsets in b where a plus went before: a number
	// after one is written with its country code (+86 138…).
	var plusBuf [2]int
	pluses := plusBuf[:0]
	// contact reports a run of longNumber digits or the first two
	// characters of a contact label: dropContacts has work to do.
	run, contact, prev := 0, false, rune(0)
	for _, r := range hanzi.Fold(s) {
		r = narrow(r)
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) {
			if r == ':' && (len(colons) == 0 || colons[len(colons)-1] != b.Len()) {
				colons = append(colons, b.Len())
			}
			if r == '+' {
				pluses = append(pluses, b.Len())
			}
			cut = true
			continue
		}
		if r < 0x80 {
			r = unicode.ToLower(r)
		}
		if cut && b.Len() > 0 {
			cuts = append(cuts, b.Len())
		}
		cut = false
		if r >= '0' && r <= '9' {
			run++
			contact = contact || run >= longNumber
		} else {
			run = 0
			contact = contact || labelStart(prev, r)
		}
		prev = r
		b.WriteRune(r)
	}
	n := cutContact(b.String())
	if contact {
		d := dropContacts(n, cuts, colons, pluses)
		if !strings.HasPrefix(n, d) {
			cuts = nil // offsets into n, not d
		}
		n = d
	}
	return stripPrefixes(dropTrailingName(n, cuts))
}

// dropTrailingName drops the caller's name that ends an address with no
// number after it (殿前一路5号 王先生, 殿前一路5号王女士, 殿前一路5号 佘先生, see
// nameStart), with a contact label before it: where it follows a house
// number, a digit or a separator the address had (at one of cuts), or is
// of a family name and 先生, 女士 or 小姐, which name no shop. A name with
// another title after a place's words (殿前一路王师傅, 殿前一路李大姐) may be
// the shop's and stays. A full name with no title goes after a house
// number only (金山街道XX路5号 王小明, 3栋2单元陈建国, see bareNameStart).
func dropTrailingName(s string, cuts []int) string {
	at := nameStart(s, 0, len(s), cuts)
	if at == len(s) {
		at = bareNameStart(s, 0, len(s))
		return s[:at]
	}
	if at == 0 {
		return s
	}
	name := s[at:]
	if !boundaryAt(s, at, cuts) && (pii.Title(name) || !politeTitle(name)) {
		return s
	}
	return s[:at-labelBefore(s, 0, at, cuts)]
}

// politeTitle reports whether name ends with 先生, 女士 or 小姐.
func politeTitle(name string) bool {
	return strings.HasSuffix(name, "先生") || strings.HasSuffix(name, "女士") || strings.HasSuffix(name, "小姐")
}

// unitEnds end a house number (5号, 3栋, 2单元, 1201室, A座): a name after one is
// no part of the place's name.
const unitEnds = pii.UnitEnds

// roles are the words before a title alone that name whose it is (物业经理,
// 项目经理, 工地老板): the person to call, no part of the place's name.
var roles = []string{"物业", "项目", "工地", "工程", "施工方"}

// boundaryAt reports whether a name may begin at s[at], the place's name
// ending before it: at the start, after a separator the address had (at
// one of cuts), a digit, a house number's unit or a contact label.
func boundaryAt(s string, at int, cuts []int) bool {
	if at == 0 || slices.Contains(cuts, at) {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:at])
	return r >= '0' && r <= '9' || strings.ContainsRune(unitEnds, r) || labelBefore(s, 0, at, cuts) > 0
}

// nameStart is where the caller's name that s[from:i] ends with begins, i
// when it ends with none: a name with a title or a familiar one (see
// pii.TrailingName), and before a title alone the role it is of (物业经理)
// or the family name pii's lists lack (佘先生: a Chinese character that
// ends no house number), where a boundary (see boundaryAt) comes before
// either and none between it and the title: 万科物业经理 keeps the
// company's 物业.
func nameStart(s string, from, i int, cuts []int) int {
	name := pii.TrailingName(s[from:i])
	if name == "" {
		return i
	}
	at := i - len(name)
	if at == from || !pii.Title(name) {
		return at
	}
	if slices.Contains(cuts, at) {
		return at
	}
	for _, r := range roles {
		if b := at - len(r); b >= from && strings.HasSuffix(s[:at], r) && (b == from || boundaryAt(s, b, cuts)) {
			return b
		}
	}
	x, size := utf8.DecodeLastRuneInString(s[from:at])
	if b := at - size; unicode.Is(unicode.Han, x) && !strings.ContainsRune(unitEnds, x) && (b == from || boundaryAt(s, b, cuts)) {
		return b
	}
	return at
}

// bareNameStart is where the full name with no title that s[from:i] ends
// with begins (see pii.BareName), i when it ends with none: right after a
// house number (5号, 3栋, 2单元, 1201室, a座, 5号楼: one or two of
// unitEnds after a digit or a Latin letter), the name being all that
// follows it. Where no house number comes before, the words may be the
// place's own (殿前一路王小明 stays); a name a place of the gazetteer
// begins with (高崎, 金山, 江头, 万达) is the place's too.
func bareNameStart(s string, from, i int) int {
	at := i
	for n := 1; n <= maxName && at > from; n++ {
		r, size := utf8.DecodeLastRuneInString(s[from:at])
		if !unicode.Is(unicode.Han, r) {
			break
		}
		at -= size
		if n >= 2 && houseNumberBefore(s, from, at) && pii.BareName(s[at:i]) && !placeNames()[s[at:i]] {
			return at
		}
	}
	return i
}

// houseNumberBefore reports whether s[from:at] ends with a house number
// (see pii.EndsWithHouseNumber).
func houseNumberBefore(s string, from, at int) bool {
	return pii.EndsWithHouseNumber(s[from:at])
}

// placeNames are the beginnings, of two to maxName characters, of the
// names of the gazetteer's districts, sub-districts and places
// (金山街道: 金山, 金山街; 高崎国际机场: 高崎, 高崎国), which are no
// caller's name after a house number however they read.
var placeNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	g, err := LoadGazetteer()
	if err != nil {
		return names
	}
	add := func(name string) {
		rs := []rune(name)
		for n := 2; n <= maxName && n <= len(rs); n++ {
			names[string(rs[:n])] = true
		}
	}
	for _, d := range g.Districts {
		add(d.Name)
		for _, a := range d.Aliases {
			add(a)
		}
	}
	for _, sd := range g.Subdistricts {
		add(sd.Name)
		for _, a := range sd.Aliases {
			add(a)
		}
	}
	for _, p := range g.Places {
		add(p.Name)
	}
	return names
})

// cutContact ends a normalized address where its contact part begins:
// at a contact label, not at the start, that begins with 联系 and goes on
// (联系人, 联系电话, 联系方式, 联系号码: "殿前一路5号 联系人：王小明 138…").
// Nothing after one names the place, and a name there is the caller's,
// which a place key, shown in reports, must not carry. 联系 alone is a
// place's word too (人大代表联系点).
func cutContact(s string) string {
	const head = "联系"
	for i := 0; ; i += len(head) {
		j := strings.Index(s[i:], head)
		if j < 0 {
			return s
		}
		if i += j; i > 0 && labelAt(s, i, nil) > len(head) {
			return s[:i]
		}
	}
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' }

// longNumber is the shortest run of digits dropped from a normalized
// address: no house or building number is that long, and a phone number
// (a landline without its area code has 7 digits) names a caller, not a
// place. A place key made of the address must not carry it into the
// hotspots, cases and reports that show the key.
const longNumber = 7

// contactWords are the words of a contact label, pii's contact words
// (pii.ContactWords: what introduces a number MaskText masks) of two
// characters or more, the longest first: one of one character (打, 拨)
// is a verb of a place's name too (打石场).
var contactWords = func() []string {
	var words []string
	for _, w := range pii.ContactWords() {
		if utf8.RuneCountInString(w) >= 2 {
			words = append(words, w)
		}
	}
	return words
}()

// numberWords end a contact label (电话号码, 手机号, see labelAt).
var numberWords = []string{"号码", "号"}

// noPhone are the words written after a label for a number not given
// (电话：无, 手机 未提供, Tel: N/A). One of a single character (无, 空) or
// Latin counts only as a word of its own, or before what comes after a
// contact part with nothing between (see noPhoneAt): 手机无线, 手机空调 are
// shops.
var noPhone = []string{"暂无", "不详", "未知", "未提供", "未留", "没有", "保密", "无", "空", "none", "na"}

// dropContacts removes every run of longNumber or more ASCII digits with
// a contact label just before one, and with the caller's name with a
// title or familiar name just before or after it (王先生138…, 138…王先生,
// see contactBefore); a contact label followed by a word for no number,
// with that word, or by the caller's name (电话：王先生, see nameAfter),
// with the name; and a label that ends the address as a
// word of its own ("殿前一路5号，电话："), not a place's (公用电话), or with
// a colon after it (殿前一路5号电话：), at one of colons, the offsets where
// the address had one. A label is dropped before nothing else: 电话局,
// 手机城 and A座机房 are places. A Latin label (tel, phone) is one only as
// a word of its own, not the end of one (hotel, iphone): it begins s,
// follows a character not a Latin letter, or begins after one of cuts,
// the offsets where the address had a separator. A house number that
// ends the address before a number stays (see numberAfterHouse).
func dropContacts(s string, cuts, colons, pluses []int) string {
	var b strings.Builder
	kept := 0 // s[:kept] is written to b, less what was dropped
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i >= longNumber {
			if b.Cap() == 0 {
				b.Grow(len(s))
			}
			from := contactBefore(s, kept, i, cuts)
			if from == i {
				from = numberAfterHouse(s, i, j, cuts, pluses)
			}
			b.WriteString(s[kept:from])
			i, kept = j, j
			if e := nameRun(s, j, cuts); e > j && tailEnd(s, e, cuts) && pii.TrailingName(s[j:e]) == s[j:e] {
				i, kept = e, e // 138…王先生
			}
			continue
		}
		if j > i {
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if labelFirst(r) {
			if n := labelAt(s, i, cuts); n > 0 {
				k := i + n
				m := noPhoneAt(s, k, cuts)
				if m == 0 {
					m = nameAfter(s, k, cuts, colons)
				}
				if m > 0 || k == len(s) && (i == 0 || slices.Contains(cuts, i) || slices.Contains(colons, k)) {
					if b.Cap() == 0 {
						b.Grow(len(s))
					}
					b.WriteString(s[kept:i])
					i, kept = k+m, k+m
					continue
				}
			}
		}
		i += size
	}
	if kept == 0 {
		return s
	}
	b.WriteString(s[kept:])
	return b.String()
}

// labelStart reports whether p and r are the first two characters of one
// of contactWords.
func labelStart(p, r rune) bool {
	if !labelFirst(p) {
		return false
	}
	for i := 0; i < len(wordPairs); i += 2 {
		if wordPairs[i] == p && wordPairs[i+1] == r {
			return true
		}
	}
	return false
}

// labelFirst reports whether r is the first character of one of
// contactWords.
func labelFirst(r rune) bool {
	return r < 1<<16 && wordFirsts[r>>6]&(1<<(r&63)) != 0
}

// wordFirsts holds the first characters of contactWords, of the Basic
// Multilingual Plane, as bits (Normalize asks of every character);
// wordPairs their first two characters, pair after pair.
var wordFirsts, wordPairs = func() (firsts *[1 << 16 / 64]uint64, pairs []rune) {
	firsts = new([1 << 16 / 64]uint64)
	for _, w := range contactWords {
		rs := []rune(w)
		firsts[rs[0]>>6] |= 1 << (rs[0] & 63)
		pairs = append(pairs, rs[0], rs[1])
	}
	return firsts, pairs
}()

// contactBefore is where the contact part ending at s[i], a long number,
// begins, no earlier than kept: the contact label just before the number
// (电话138…), the caller's name with a title or familiar name just before
// either (王先生138…, 陈女士电话138…, 佘先生138…, 物业经理138…, see
// nameStart), and the label before the name (电话王先生138…); or a full
// name with no title after a house number (5号王小明138…, see
// bareNameStart). i when there is none of them.
func contactBefore(s string, kept, i int, cuts []int) int {
	i -= labelBefore(s, kept, i, cuts)
	at := nameStart(s, kept, i, cuts)
	if at == i {
		return bareNameStart(s, kept, i)
	}
	return at - labelBefore(s, kept, at, cuts)
}

// labelBefore is the length of the contact label s[kept:i] ends with, 0
// when it ends with none.
func labelBefore(s string, kept, i int, cuts []int) int {
	e := i
	for _, w := range numberWords {
		if e-len(w) >= kept && strings.HasSuffix(s[:e], w) {
			e -= len(w)
			break
		}
	}
	b := e
	for b > kept {
		n := 0
		for _, w := range contactWords {
			if b-len(w) >= kept && strings.HasSuffix(s[:b], w) && (w[0] >= 0x80 || labelWord(s, b-len(w), cuts)) {
				n = len(w)
				break
			}
		}
		if n == 0 {
			break
		}
		b -= n
	}
	if b == e {
		return 0
	}
	return i - b
}

// maxName is the most characters of a name of any kind after a contact
// label and a colon (电话：王小明, 电话：欧阳娜娜).
const maxName = 4

// nameAfter is the length of the caller's name s[k:] begins with, right
// after a contact label, 0 when it begins with none: a run of Chinese
// characters up to what ends a contact part (see tailEnd) that is a name
// with a title or a familiar one (电话王先生, 手机：小张, see
// pii.TrailingName), a full name pii masks after a label (电话王小明, see
// pii.LabelledName), a familiar one of 阿 before a number (电话阿明138…,
// see pii.Familiar), or any run of 1 to maxName after a colon that
// follows the label (电话：王小明). A place's words after a label (电话局,
// 手机城二楼, 手机钟表店) are none of them.
func nameAfter(s string, k int, cuts, colons []int) int {
	e := nameRun(s, k, cuts)
	if e == k || !tailEnd(s, e, cuts) {
		return 0
	}
	if name := s[k:e]; pii.TrailingName(name) == name || pii.LabelledName(s[:e]) == name ||
		e < len(s) && s[e] >= '0' && s[e] <= '9' && pii.Familiar(name) ||
		slices.Contains(colons, k) && utf8.RuneCountInString(name) <= maxName {
		return e - k
	}
	return 0
}

// nameRun is the end of the run of Chinese characters from s[k], before
// any contact label.
func nameRun(s string, k int, cuts []int) int {
	e := k
	for e < len(s) {
		r, size := utf8.DecodeRuneInString(s[e:])
		if !unicode.Is(unicode.Han, r) || e > k && labelFirst(r) && labelAt(s, e, cuts) > 0 {
			break
		}
		e += size
	}
	return e
}

// tailEnd reports whether a name ending at s[e] ends a contact part: the
// address ends, or a number of longNumber digits or more or another
// contact label follows.
func tailEnd(s string, e int, cuts []int) bool {
	if e == len(s) {
		return true
	}
	j := e
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j-e >= longNumber {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[e:])
	return labelFirst(r) && labelAt(s, e, cuts) > 0
}

// wordsFrom holds contactWords by their first character, the longest
// first.
var wordsFrom = func() map[rune][]string {
	m := map[rune][]string{}
	for _, w := range contactWords {
		r, _ := utf8.DecodeRuneInString(w)
		m[r] = append(m[r], w)
	}
	return m
}()

// labelAt is the length of the contact label s[i:] begins with, 0 when
// none does. A contact label introduces a phone number in an address
// ("殿前一路5号，联系电话138…", "座机：无"): one or more contactWords
// (联系电话, 固定电话, 来电人) and one of numberWords or none (电话号码,
// 手机号). It is dropped with the number, or with the word that says there
// is none, so that the address keys the same place as the one written
// without them.
func labelAt(s string, i int, cuts []int) int {
	e := i
	for e < len(s) {
		r, _ := utf8.DecodeRuneInString(s[e:])
		n := 0
		for _, w := range wordsFrom[r] {
			if strings.HasPrefix(s[e:], w) && (w[0] >= 0x80 || labelWord(s, e, cuts)) {
				n = len(w)
				break
			}
		}
		if n == 0 {
			break
		}
		e += n
	}
	if e == i {
		return 0
	}
	for _, w := range numberWords {
		if strings.HasPrefix(s[e:], w) {
			return e + len(w) - i
		}
	}
	return e - i
}

// noPhoneAt is the length of the word for no number s[k:] begins with,
// 0 when none does.
func noPhoneAt(s string, k int, cuts []int) int {
	for _, w := range noPhone {
		if !strings.HasPrefix(s[k:], w) {
			continue
		}
		e := k + len(w)
		if utf8.RuneCountInString(w) > 1 && w[0] >= 0x80 || e == len(s) || slices.Contains(cuts, e) || contactEnds(s, e, cuts) {
			return len(w)
		}
	}
	return 0
}

// contactEnds reports whether s[e:], right after a word for no number,
// is what follows a contact part, not the rest of a word (手机无线): a
// number (电话无13812345678), another contact label (电话无手机138…), or
// the province, city or district an address begins with
// (电话无湖里区殿前一路5号).
func contactEnds(s string, e int, cuts []int) bool {
	j := e
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j-e >= longNumber {
		return true
	}
	if j > e {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[e:])
	if labelFirst(r) && labelAt(s, e, cuts) > 0 {
		return true
	}
	return strings.HasPrefix(s[e:], "福建") || strings.HasPrefix(s[e:], "厦门") || startsWithDistrict(s[e:])
}

// labelWord reports whether the Latin label at s[at:] is a word of its
// own (dropContacts).
func labelWord(s string, at int, cuts []int) bool {
	return at == 0 || !isLetter(rune(s[at-1])) || slices.Contains(cuts, at)
}

// narrow maps the full-width ASCII variants (U+FF01–U+FF5E) and the
// ideographic space to their ASCII forms. It is the part of Unicode's
// width folding that addresses use, written out to keep the module's
// dependencies as they are.
func narrow(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	}
	return r
}

// stripPrefixes drops the leading province and city names.
func stripPrefixes(s string) string {
	for {
		switch {
		case strings.HasPrefix(s, "福建省"):
			s = s[len("福建省"):]
		case strings.HasPrefix(s, "福建"):
			s = s[len("福建"):]
		case strings.HasPrefix(s, "厦门市"):
			s = s[len("厦门市"):]
		case strings.HasPrefix(s, "厦门") && startsWithDistrict(s[len("厦门"):]):
			s = s[len("厦门"):]
		default:
			return s
		}
	}
}

func startsWithDistrict(s string) bool {
	for _, d := range districtShortNames {
		if strings.HasPrefix(s, d) {
			return true
		}
	}
	return false
}

// maxPhone is the most digits of one phone number: a mobile with 0086
// before it (0086 138 1234 5678).
const maxPhone = 15

// numberAfterHouse is where the phone numbers of the run of digits
// s[i:j] begin, i when the whole run is one or more of them. The run
// lost its separators: a house number that ends the address joins the
// phone written after it (美溪道28 13812345678 reads 2813812345678, 13
// digits). Where the run's groups, as the address had them (between
// cuts), are not phones written in groups (138 1234 5678, 0592-5551234,
// 555 1234) while the groups after its first few are, those first groups
// are a house number and stay: under longNumber digits, the first not a
// 0 and no plus before it (+86 is a country code).
func numberAfterHouse(s string, i, j int, cuts, pluses []int) int {
	var buf [8]int
	bounds := append(buf[:0], i)
	for _, c := range cuts {
		if c > i && c < j {
			bounds = append(bounds, c)
		}
	}
	bounds = append(bounds, j)
	if len(bounds) < 3 || s[i] == '0' || slices.Contains(pluses, i) {
		return i
	}
	// phones[k] reports whether the groups from the k-th on are phones,
	// one after another.
	n := len(bounds) - 1
	phones := make([]bool, n+1)
	phones[n] = true
	for k := n - 1; k >= 0; k-- {
		for e := k + 1; e <= n && bounds[e]-bounds[k] <= maxPhone; e++ {
			if phones[e] && phoneGroups(s, bounds[k:e+1], slices.Contains(pluses, bounds[k]), e == n) {
				phones[k] = true
				break
			}
		}
	}
	if phones[0] {
		return i
	}
	for k := 1; k < n && bounds[k]-i < longNumber; k++ {
		if phones[k] {
			return bounds[k]
		}
	}
	return i
}

// phoneGroups reports whether the digits s[bounds[0]:bounds[len-1]],
// in the groups between bounds, are one phone number as people write it:
// a mobile (11 digits, 1 and 3 to 9) whose first group has 3 digits or
// more (1 400 123 4567 is a house number and a 400 number), with 86
// before it after a plus or joined to its digits, or 0086; a landline
// with its area code (0592, 010, 02x) written whole in the first group,
// or after +86 without its 0; a 400 or 800 number (10 digits); or a
// local number of 7 or 8 digits whose first is 2 to 9, in one group or
// two of 3 or 4 digits (555 1234, where 8 5551234 is a house number and a
// phone), the second beginning with 0 only where the run ends with it,
// last (28 555 0123, where 2828 0592 555 1234 is a house number and a
// landline with its area code).
func phoneGroups(s string, bounds []int, plus, last bool) bool {
	d := s[bounds[0]:bounds[len(bounds)-1]]
	first := bounds[1] - bounds[0]
	groups := len(bounds) - 1
	switch {
	case pii.Mobile(d):
		return first >= 3
	case pii.Landline(d, first):
		return true
	case len(d) == 10 && (strings.HasPrefix(d, "400") || strings.HasPrefix(d, "800")):
		return true
	case len(d) == 13 && strings.HasPrefix(d, "86") && pii.Mobile(d[2:]):
		return plus || first > 2
	case len(d) == 15 && strings.HasPrefix(d, "0086") && pii.Mobile(d[4:]):
		return first >= 4
	case plus && strings.HasPrefix(d, "86") && first == 2 && groups > 1:
		return pii.Landline("0"+d[2:], 1+bounds[2]-bounds[1])
	case len(d) == pii.LocalMin || len(d) == pii.LocalMax:
		if d[0] < '2' {
			return false
		}
		if groups == 1 {
			return true
		}
		second := bounds[2] - bounds[1]
		return groups == 2 && first >= 3 && first <= 4 && second >= 3 && second <= 4 && (d[first] != '0' || last)
	}
	return false
}
