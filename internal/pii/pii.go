// Package pii masks personal data: the callers' phone numbers and names,
// and the phone and ID-card numbers and callers' names written into free
// text, wherever text a citizen or an officer typed is shown or kept.
package pii

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaskPhone hides the middle of a phone number the way Chinese services
// print them, 138****5678: enough for an officer to recognise a repeat
// caller, not enough to call. Separators are dropped; at least four
// digits are starred: a number of 8 to 10 digits (a landline without its
// area code, 2202 2922) keeps its last four only, and one too short to
// keep anything of is starred out whole.
func MaskPhone(phone string) string {
	var digits []byte
	for _, r := range phone {
		if r = narrow(r); (r >= '0' && r <= '9') || r == '+' {
			digits = append(digits, byte(r))
		}
	}
	n := len(digits)
	switch {
	case n == 0:
		return ""
	case n < 8:
		return strings.Repeat("*", n)
	case n < 11:
		return strings.Repeat("*", n-4) + string(digits[n-4:])
	}
	return string(digits[:3]) + strings.Repeat("*", n-7) + string(digits[n-4:])
}

// MaskName keeps the family name and stars the rest, 王**, as on Chinese
// work orders; a one-character name is starred whole.
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	switch n {
	case 0:
		return ""
	case 1:
		return "*"
	}
	first, _ := utf8.DecodeRuneInString(name)
	return string(first) + strings.Repeat("*", n-1)
}

// narrow maps a full-width ASCII variant (U+FF01–U+FF5E) to ASCII.
func narrow(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFEE0
	}
	return r
}

func isDigit(r rune) bool { r = narrow(r); return r >= '0' && r <= '9' }

// isSep reports whether r may stand between the digit groups of one
// number as people write them: spaces (ideographic too), hyphens and
// dashes, dots, and the brackets of an area code, in ASCII or full width.
func isSep(r rune) bool {
	switch narrow(r) {
	case ' ', '\u00a0', '\u3000', '-', '\u2010', '\u2013', '\u2014', '.', '(', ')':
		return true
	}
	return false
}

// isIdent reports whether r belongs to an identifier (a case or complaint
// id, a credit code): digits next to one are part of it, not a number a
// person wrote.
func isIdent(r rune) bool {
	r = narrow(r)
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

// maxSep is the most separator characters between two groups of one
// number: "0592 - 1234567", "(0592) 1234567".
const maxSep = 3

// group is a run of digits in the text: its runes [start, end) and its
// digits in ASCII.
type group struct {
	start, end int
	digits     string
}

// MaskText masks the personal numbers inside free text (a citizen's
// description, an officer's note): mainland mobiles (1[3-9]x xxxx xxxx,
// with +86, 86 or 0086 before them), landlines with an area code
// (0592-1234567, (0592)1234567, 010 1234 5678), and ID-card numbers (18
// characters whose check digit holds, or fails on a birth date too old
// for a permit's (see mistypedID), or the old 15 digits, each with a
// birth date), in ASCII or full-width digits (a Chinese input method in
// full-width mode), with spaces, hyphens or dots between the groups as
// people type them. Phones keep the first three and last four digits, like
// the caller field; ID cards the first three and last four characters.
//
// A local number, the 7 or 8 digits of a landline without its area code
// (5551234, as callers in Xiamen give theirs), is starred whole, but only
// where it is one: introduced by a contact word (电话, 手机, 座机, 联系, 打,
// tel …, see contactWords), by a contact word and the name of the person
// it gives the number of (联系人：王先生，5551234, 电话陈女士5551234,
// 电话王小明5551234, 电话建国5551234, see named) or by a personal number
// masked just before it (138…或5551234), or written alone in a phone's two groups
// (555-1234, 2022 922) that are no range of house numbers or times
// (阳翟路2791-2799, 2230-0600) and have no unit after them (2201-2205室),
// or after a house number and a space (美溪道28 555-1234). Its first digit is 2 to 9, and eight digits that
// read as a date (20261207) are a date.
//
// A house number written before a phone (美溪道28 13812345678, 美溪道86
// 13812345678, 阳翟路1234 13801011234), of 1 to 6 digits, the first not
// 0 and no plus before it, stays as typed and the phone after it is
// masked: joined to the mobile, 86 read as a country code and four digits
// as an old ID card of 15 digits. An ID card of 18 characters keeps its
// first group (350203 19900101124X).
//
// Everything else is left as typed: a number is only ever matched whole
// (from one group to another, never from inside a group), so dates, times,
// ticket ids (12345-20240315-000123), decibels, counts, addresses, house
// and order numbers and longer numbers are not partly masked, and digits
// followed by a Latin letter or joined by an underscore or a hyphen to one
// (a case id, a UUID, a credit code) belong to an identifier and are never
// a phone.
func MaskText(s string) string {
	digits := 0
	for _, r := range s {
		if isDigit(r) {
			digits++
		}
	}
	if digits < LocalMin { // the shortest number masked, a local one
		return s
	}
	rs := []rune(s)
	var b strings.Builder
	done := 0 // rs[:done] is written to b
	for i := 0; i < len(rs); {
		if !isDigit(rs[i]) {
			i++
			continue
		}
		end, n := runEnd(rs, i)
		if n >= LocalMin && !identifier(rs, i, end) {
			groups := scanRun(rs, i)
			for g := 0; g < len(groups); {
				prev := done // where the personal number masked last ends
				if done == 0 {
					prev = -1
				}
				start, stop, masked, next := match(rs, groups, g, prev)
				if next == 0 {
					g++
					continue
				}
				b.WriteString(string(rs[done:start]))
				b.WriteString(masked)
				done, g = stop, next
			}
		}
		i = end
	}
	if done == 0 {
		return s
	}
	b.WriteString(string(rs[done:]))
	return b.String()
}

// runEnd reads, from rs[i], a digit, the groups of digits joined by at
// most maxSep separators each: it returns where the last ends and how many
// digits they hold, without allocating (most runs are a count or a house
// number).
func runEnd(rs []rune, i int) (end, digits int) {
	for {
		for i < len(rs) && isDigit(rs[i]) {
			i++
			digits++
		}
		end = i
		for i < len(rs) && i-end < maxSep && isSep(rs[i]) {
			i++
		}
		if i == end || i == len(rs) || !isDigit(rs[i]) {
			return end, digits
		}
	}
}

// scanRun reads the groups of digits from rs[i], a digit, joined by at
// most maxSep separators each.
func scanRun(rs []rune, i int) []group {
	var groups []group
	for {
		j := i
		var d []byte
		for j < len(rs) && isDigit(rs[j]) {
			d = append(d, byte(narrow(rs[j])))
			j++
		}
		groups = append(groups, group{start: i, end: j, digits: string(d)})
		k := j
		for k < len(rs) && k-j < maxSep && isSep(rs[k]) {
			k++
		}
		if k == j || k == len(rs) || !isDigit(rs[k]) {
			return groups
		}
		i = k
	}
}

// identifier reports whether the digits rs[start:end] are part of an
// identifier: an underscore before them, a Latin letter or an underscore
// after them, or either across a hyphen (case_0190f3a2-…-013812345678). A
// letter right before them is not enough: people write tel13812345678 and
// wx13812345678.
func identifier(rs []rune, start, end int) bool {
	if start > 0 && narrow(rs[start-1]) == '_' {
		return true
	}
	if start > 1 && narrow(rs[start-1]) == '-' && isIdent(rs[start-2]) {
		return true
	}
	if end < len(rs) {
		r := narrow(rs[end])
		if r == 'X' || r == 'x' { // an ID card's check character, unless a word goes on
			return end+1 < len(rs) && isIdent(rs[end+1])
		}
		if isIdent(r) || (r == '-' && end+1 < len(rs) && isIdent(rs[end+1])) {
			return true
		}
	}
	return false
}

// match finds the longest personal number that starts at group g: the
// runes [start, stop) it covers (with a + or the bracket of an area code
// before it), the masked text, and the group after it; next is 0 when
// none starts there. prev is where the personal number masked before it
// in the text ends, or -1.
func match(rs []rune, groups []group, g, prev int) (start, stop int, masked string, next int) {
	first := groups[g]
	plus := first.start > 0 && narrow(rs[first.start-1]) == '+'
	bracket := first.start > 0 && narrow(rs[first.start-1]) == '(' && first.end < len(rs) && narrow(rs[first.end]) == ')'
	// The longest first: an ID card before the phone it might hold.
	var d string
	last := g
	for last < len(groups)-1 && len(d)+len(groups[last].digits) <= 18 {
		d += groups[last].digits
		last++
	}
	if len(d)+len(groups[last].digits) <= 18 {
		d += groups[last].digits
	} else {
		last--
	}
	house := houseNumber(rs, groups, g)
	for j := last; j >= g; j-- {
		end := groups[j].end
		if m, x := classify(d, len(first.digits), plus, checkChar(rs, end)); m != "" && !(house && j > g && len(d) < 17 && personal(rs, groups, g+1, j)) {
			start = first.start
			switch {
			case plus && strings.HasPrefix(m, "+"):
				start--
			case bracket && j > g: // the closing bracket is inside
				start--
			}
			if x {
				end++
			}
			return start, end, m, j + 1
		}
		if localNumber(rs, groups, g, j, d, prev) {
			// Starred whole, as MaskPhone stars a number of 7 digits: it
			// would keep 7 of 8.
			return first.start, end, strings.Repeat("*", len(d)), j + 1
		}
		d = d[:len(d)-len(groups[j].digits)]
	}
	return 0, 0, "", 0
}

// houseNumber reports whether groups[g], followed by another group, may
// be a house number written before a phone (美溪道28 13812345678):
// shorter than a local number, its first digit not 0 (0592 is an area
// code) and no plus before it (+86 is a country code).
func houseNumber(rs []rune, groups []group, g int) bool {
	d := groups[g].digits
	return g < len(groups)-1 && len(d) < LocalMin && d[0] != '0' &&
		(groups[g].start == 0 || narrow(rs[groups[g].start-1]) != '+')
}

// personal reports whether the digits of groups[a:j+1] alone are a
// personal number (see classify).
func personal(rs []rune, groups []group, a, j int) bool {
	var d strings.Builder
	for _, gr := range groups[a : j+1] {
		d.WriteString(gr.digits)
	}
	plus := groups[a].start > 0 && narrow(rs[groups[a].start-1]) == '+'
	m, _ := classify(d.String(), len(groups[a].digits), plus, checkChar(rs, groups[j].end))
	return m != ""
}

// LocalMin and LocalMax are the lengths of a local number, a landline
// without its area code: 7 digits in Xiamen, 8 in the largest cities.
const LocalMin, LocalMax = 7, 8

// localNumber reports whether d, the digits of groups[g:j+1], is a local
// number (see MaskText): one group, or two of a phone's (3 or 4 digits
// each), introduced by a contact word or the personal number masked
// before it (ending at prev), or two groups alone in their run, joined by
// a space or a hyphen, no unit after them, and no range.
func localNumber(rs []rune, groups []group, g, j int, d string, prev int) bool {
	if len(d) < LocalMin || len(d) > LocalMax || d[0] < '2' || (len(d) == 8 && birthDate(d)) {
		return false
	}
	if j == g {
		return introduced(rs, groups[g].start, prev)
	}
	a, b := len(groups[g].digits), len(groups[j].digits)
	if j > g+1 || a < 3 || a > 4 || b < 3 || b > 4 {
		return false
	}
	if introduced(rs, groups[g].start, prev) {
		return true
	}
	// Alone, or after a house number and a space (美溪道28 555-1234): not
	// 12-555-1234.
	alone := (g == 0 || groups[g-1].end <= prev ||
		g == 1 && houseNumber(rs, groups, 0) && spaces(rs[groups[0].end:groups[1].start])) && j == len(groups)-1
	return alone && phoneSeps(rs[groups[g].end:groups[j].start]) && !unitAfter(rs, groups[j].end) &&
		!numberRange(groups[g].digits, groups[j].digits)
}

// numberRange reports whether two groups read as a range of house or room
// numbers (阳翟路2791-2799, 5088-5200): as long as each other, the first
// digit the same, the second higher; or of times of day (2230-0600).
func numberRange(a, b string) bool {
	return len(a) == len(b) && a[0] == b[0] && a < b || clock(a) && clock(b)
}

// clock reports whether d is a time of day written HHMM.
func clock(d string) bool {
	return len(d) == 4 && d[:2] <= "23" && d[2:] <= "59"
}

// maxBridge is the most runes between a contact word and the number it
// introduces: "电话号码为：", "座机号码是 ".
const maxBridge = 5

// bridge reports whether r may stand between a contact word and its
// number: a space, a colon, a bracket, a hyphen or a dot, the 号码 of
// 电话号码, a copula (是, 为), or a conjunction after the number before
// (或, 、, 和, /).
func bridge(r rune) bool {
	switch narrow(r) {
	case ' ', '\u00a0', '\u3000', ':', '(', '-', '\u2010', '\u2013', '\u2014', '.',
		'号', '码', '是', '为', '或', '、', ',', '，', ';', '；', '/', '和', '及':
		return true
	}
	return false
}

// contactWords introduce a phone number: the number after one is the
// caller's or another person's, not a house or order number. A Latin one
// is a word of its own (hotel is not tel).
var contactWords = [][]rune{
	[]rune("电话"), []rune("手机"), []rune("座机"), []rune("固话"), []rune("联系"),
	[]rune("固定电话"), []rune("移动电话"),
	[]rune("联系人"), []rune("联系方式"), []rune("来电人"),
	[]rune("打"), []rune("打给"), []rune("拨"), []rune("致电"), []rune("回电"), []rune("来电"),
	[]rune("tel"), []rune("telephone"), []rune("phone"), []rune("mobile"), []rune("call"),
}

// ContactWords returns the words that introduce a phone number (see
// MaskText), the longest first, Latin ones in lower case: the one list of
// them, so that what drops a caller's number from a place key is what
// masks it in text.
func ContactWords() []string {
	words := make([]string, len(contactWords))
	for i, w := range contactWords {
		words[i] = string(w)
	}
	slices.SortStableFunc(words, func(a, b string) int {
		return utf8.RuneCountInString(b) - utf8.RuneCountInString(a)
	})
	return words
}

// personWords are the contact words a person's name follows (联系人：王五),
// whatever the name: see named. 来电人 is not one: 来电人反映 is what the
// caller said.
var personWords = [][]rune{[]rune("联系人")}

// introduced reports whether the number at rs[start] follows a contact
// word or the personal number masked before it, ending at prev, with at
// most maxBridge bridge runes between; or follows the name of the person
// a contact word introduces (联系人王先生 5551234, 联系电话陈女士5551234,
// see named).
func introduced(rs []rune, start, prev int) bool {
	k := start
	for n := 0; k > 0 && n < maxBridge && bridge(rs[k-1]); n++ {
		k--
	}
	if k == prev {
		return true
	}
	for _, w := range contactWords {
		if endsWithWord(rs[:k], w) {
			return true
		}
	}
	// The name may be bracketed: 联系人（王先生）5551234.
	for n := 0; k > 0 && n < maxBridge && (bridge(rs[k-1]) || narrow(rs[k-1]) == ')'); n++ {
		k--
	}
	return named(rs[:k])
}

// maxName is the most characters of a name between a contact word and
// its number: 欧阳先生, 欧阳娜娜.
const maxName = 4

// named reports whether rs ends with a person's name of 1 to maxName
// Chinese characters that a contact word introduces, with at most
// maxBridge bridge runes (a colon, a space, a bracket) between them.
// After 联系人 any such name counts; after another contact word (电话, 联系,
// 打 …) a name with a title (王先生, 陈女士, 李师傅, 王总) or a familiar one
// (小张, 老王), or after one of two characters or more a full name
// (电话王小明, see plainName) or a given name alone (电话建国, see
// givenName), so that the words of a place or an order after one (电话局,
// 联系业主，工单号, 来电人反映, 手机钟表店) do not make the number after them a
// phone.
func named(rs []rune) bool {
	for n := 1; n <= maxName && n <= len(rs); n++ {
		name := rs[len(rs)-n:]
		if !unicode.Is(unicode.Han, name[0]) {
			return false
		}
		k := len(rs) - n
		for b := 0; k > 0 && b < maxBridge && bridge(rs[k-1]); b++ {
			k--
		}
		for _, w := range personWords {
			if endsWithWord(rs[:k], w) {
				return true
			}
		}
		plain := !titled(name)
		if plain && !plainName(name) && !givenName(name) {
			continue
		}
		for _, w := range contactWords {
			if (!plain || len(w) >= 2) && endsWithWord(rs[:k], w) {
				return true
			}
		}
	}
	return false
}

// titles follow a family name (王先生, 欧阳女士) or stand alone (师傅); a
// title of one character only after a family name of one (王总, 李姐).
var titles = [][]rune{
	[]rune("先生"), []rune("女士"), []rune("小姐"), []rune("师傅"), []rune("老师"),
	[]rune("阿姨"), []rune("大爷"), []rune("大妈"), []rune("大姐"), []rune("大哥"),
	[]rune("经理"), []rune("老板"), []rune("主任"), []rune("总"), []rune("姐"),
	[]rune("哥"), []rune("叔"), []rune("伯"),
}

// familyNames are common family names, Xiamen's among them, that 小 or
// 老 before one makes a name (小张, 老王). 于 is left out: 小于 is "less
// than".
const familyNames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤洪庄柯颜施詹游纪"

// titled reports whether name, Chinese characters, is a name with a
// title or a familiar name (see named): 小 or 老 and a family name, or 阿
// and a given name's character (阿明, 阿珍), as people in Xiamen call one
// another.
func titled(name []rune) bool {
	if len(name) == 2 && (name[0] == '小' || name[0] == '老') && strings.ContainsRune(familyNames, name[1]) {
		return true
	}
	if familiar(name) {
		return true
	}
	for _, t := range titles {
		if len(name) < len(t) || !slices.Equal(name[len(name)-len(t):], t) {
			continue
		}
		family := len(name) - len(t)
		if len(t) == 1 && family == 1 || len(t) > 1 && family <= 2 {
			return true
		}
	}
	return false
}

// givenName reports whether name, Chinese characters, may be a given name
// of two characters written without the family name (建国, 志强, 丽华), as
// a caller gives the name to ask for: both characters are among
// givenChars. The words written after a contact word (反映, 告知, 回访, 业主,
// 工单, 无人接听, 高峰期) hold a character no given name is made of.
func givenName(name []rune) bool {
	return len(name) == 2 && strings.ContainsRune(givenChars, name[0]) && strings.ContainsRune(givenChars, name[1]) && !placeWords(name)
}

// givenChars are the characters given names are commonly made of, less
// those of the words an officer writes after a contact word (通知, 时间,
// 中心, 人员, 先生, 公司, 社区 …).
const givenChars = "" +
	"伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福龙元全国胜学祥才发武新利清飞彬富顺信杰涛昌成康星光达岩茂进林坚彪博诚敬震振壮思群豪邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固翰朗宏鸣朋斌梁栋维启克伦翔旭鹏泽晨辰致树炎德泰盛雄琛钧冠策腾楠榕航弘家建" +
	"秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓仪荷丹蓉眉君琴蕊薇菁梦岚婕馨瑗琰韵融艺咏卿聪澜纯毓悦昭冰爽琬茗羽希欣飘滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜姬舒影荔枝丽小阳宇轩睿涵"

// endsWithWord reports whether rs ends with w, Latin letters in any case
// and width; a Latin w only as a word of its own.
func endsWithWord(rs, w []rune) bool {
	if len(rs) < len(w) {
		return false
	}
	at := len(rs) - len(w)
	for i, c := range w {
		r := narrow(rs[at+i])
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r != c {
			return false
		}
	}
	return w[0] >= 0x80 || at == 0 || !isIdent(rs[at-1])
}

// phoneSeps reports whether seps, between two groups, are how a phone's
// groups are joined: spaces and hyphens, not the dot of a decimal.
func phoneSeps(seps []rune) bool {
	for _, r := range seps {
		switch narrow(r) {
		case ' ', '\u00a0', '\u3000', '-', '\u2010', '\u2013', '\u2014':
		default:
			return false
		}
	}
	return true
}

// spaces reports whether seps, between two groups, are spaces only.
func spaces(seps []rune) bool {
	for _, r := range seps {
		switch narrow(r) {
		case ' ', '\u00a0', '\u3000':
		default:
			return false
		}
	}
	return true
}

// unitAfter reports whether the rune at rs[end] makes the digits before it
// a quantity, a room or a range (2201-2205室, 2000 5000元), not a phone.
func unitAfter(rs []rune, end int) bool {
	if end >= len(rs) {
		return false
	}
	return strings.ContainsRune(units, narrow(rs[end]))
}

// units are the words that follow a quantity or a number of a place.
const units = "号室楼栋幢层座单户间套元米年月日时分秒点次个件台辆吨平天周岁块万千百亿度%"

// checkChar is the X (or x) right after an ID card's seventeen digits at
// rs[end], or 0.
func checkChar(rs []rune, end int) byte {
	if end < len(rs) {
		if r := narrow(rs[end]); r == 'X' || r == 'x' {
			return byte(r)
		}
	}
	return 0
}

// classify masks d, the digits of one or more groups of which the first
// has firstLen digits, when they are a personal number; x reports that
// the ID card's check character x, after the digits, is part of it.
func classify(d string, firstLen int, plus bool, x byte) (masked string, withX bool) {
	switch {
	case Mobile(d):
		return MaskPhone(d), false
	case len(d) == 13 && strings.HasPrefix(d, "86") && Mobile(d[2:]) && firstLen >= 2:
		if plus {
			return "+86" + MaskPhone(d[2:]), false
		}
		return "86" + MaskPhone(d[2:]), false
	case len(d) == 15 && strings.HasPrefix(d, "0086") && Mobile(d[4:]) && firstLen >= 4:
		return "0086" + MaskPhone(d[4:]), false
	case Landline(d, firstLen):
		return MaskPhone(d), false
	case plus && strings.HasPrefix(d, "86") && firstLen == 2 && Landline("0"+d[2:], len(d)):
		return "+86" + MaskPhone(d[2:]), false
	case len(d) == 18 && (idCard(d) || mistypedID(d)):
		return maskID(d), false
	case len(d) == 17 && x != 0 && (idCard(d+string(rune(x))) || mistypedID(d+string(rune(x)))):
		return maskID(d + string(rune(x))), true
	case len(d) == 15 && birthDate("19"+d[6:12]) && d[0] >= '1' && d[0] <= '8':
		return maskID(d), false
	}
	return "", false
}

// Mobile reports whether d is a mainland mobile number.
func Mobile(d string) bool {
	return len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}

// Landline reports whether d is a landline with its area code (010, 02x
// or 0xxx) and a local number of 7 or 8 digits, the area code written
// whole in the first group (its firstLen digits): "03-15 1381234" is a
// date and a number, not a phone of the area 0315.
func Landline(d string, firstLen int) bool {
	if len(d) < 10 || d[0] != '0' {
		return false
	}
	area := 4
	switch {
	case d[1] == '1' && d[2] == '0', d[1] == '2':
		area = 3
	case d[1] < '3':
		return false
	}
	local := len(d) - area
	return firstLen >= area && (local == LocalMin || local == LocalMax) && d[area] != '0'
}

// idCard reports whether d, 17 digits and a check character, is a
// resident ID-card number: a region, a birth date, and the ISO 7064
// MOD 11-2 check character of GB 11643. The check tells it from other
// 18-digit numbers an officer may copy (a permit, an order).
func idCard(d string) bool {
	if d[0] < '1' || d[0] > '8' || !birthDate(d[6:14]) {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
		sum += int(d[i]-'0') * w
	}
	c := d[17]
	if c == 'x' {
		c = 'X'
	}
	return "10X98765432"[sum%11] == c
}

// mistypedID reports whether d, 17 digits and a check character whose
// check fails, is an ID-card number with a typo all the same: a
// province's code, and a birth date at least adultAge years ago. A
// permit or an order of the last years holds the date it was issued
// where an ID card holds the birth date (a construction permit
// 350203201912010101) and stays; one of a typed ID card, 17 of its
// digits right, would show the card.
func mistypedID(d string) bool {
	if !province(d[:2]) || !birthDate(d[6:14]) {
		return false
	}
	for i := 0; i < 17; i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	c := d[17]
	if (c < '0' || c > '9') && c != 'X' && c != 'x' {
		return false
	}
	year, _ := strconv.Atoi(d[6:10])
	return year <= time.Now().Year()-adultAge
}

// adultAge is the age below which a caller's ID card is not expected:
// the birth years of the last adultAge years are read as the dates of
// permits and orders.
const adultAge = 14

// province reports whether p is the code of a province-level region of
// GB/T 2260, the first two digits of an ID card.
func province(p string) bool {
	switch p[0] {
	case '1':
		return p[1] >= '1' && p[1] <= '5'
	case '2':
		return p[1] >= '1' && p[1] <= '3'
	case '3':
		return p[1] >= '1' && p[1] <= '7'
	case '4':
		return p[1] >= '1' && p[1] <= '6'
	case '5':
		return p[1] >= '0' && p[1] <= '4'
	case '6':
		return p[1] >= '1' && p[1] <= '5'
	case '7':
		return p[1] == '1'
	case '8':
		return p[1] == '1' || p[1] == '2'
	}
	return false
}

// birthDate reports whether d is a plausible YYYYMMDD of birth.
func birthDate(d string) bool {
	y, m, day := d[0:4], d[4:6], d[6:8]
	return (y >= "1900" && y <= "2099") && (m >= "01" && m <= "12") && (day >= "01" && day <= "31")
}

// maskID keeps the first three and last four characters of an ID card.
func maskID(d string) string {
	return d[:3] + strings.Repeat("*", len(d)-7) + d[len(d)-4:]
}

// MaskNames masks, in free text, each of names written whole, as MaskName
// does: an officer copies the caller's name from the case into a note.
// Names of one character, and the placeholders the hotline writes for a
// caller who gave none, are not searched for: they are ordinary words.
func MaskNames(s string, names ...string) string {
	var found []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if utf8.RuneCountInString(n) < 2 || slices.Contains(placeholders, n) || !strings.Contains(s, n) {
			continue
		}
		found = append(found, n)
	}
	// The longest first: 欧阳娜娜 before 欧阳.
	slices.SortFunc(found, func(a, b string) int { return utf8.RuneCountInString(b) - utf8.RuneCountInString(a) })
	for _, n := range found {
		s = strings.ReplaceAll(s, n, MaskName(n))
	}
	return s
}

// placeholders are what stands in the caller's name when the caller gave
// none.
var placeholders = []string{"匿名", "市民", "未知", "不详", "先生", "女士", "无名"}

// compoundFamilies are family names of two characters: 欧阳先生 is one
// name, not 阳先生 after 欧.
var compoundFamilies = [][]rune{
	[]rune("欧阳"), []rune("司马"), []rune("上官"), []rune("诸葛"), []rune("东方"),
	[]rune("皇甫"), []rune("司徒"), []rune("夏侯"), []rune("慕容"), []rune("公孙"),
}

// TrailingName is the name with a title or the familiar name s ends with
// (殿前一路5号王先生: 王先生), "" when s ends with none. The family name
// before a title is one of familyNames or compoundFamilies; a title of
// two characters (先生, 师傅) counts alone after any other character, so
// that 5号 stays whole (殿前一路5号先生: 先生), and one of one character
// (总, 姐) only after a family name.
func TrailingName(s string) string {
	// The longest name is a family name of two and a title of two.
	var buf [maxName]rune
	n := 0
	for e := len(s); e > 0 && n < maxName; n++ {
		r, size := utf8.DecodeLastRuneInString(s[:e])
		buf[maxName-1-n] = r
		e -= size
	}
	rs := buf[maxName-n:]
	if n >= 2 && (rs[n-2] == '小' || rs[n-2] == '老') && strings.ContainsRune(familyNames, rs[n-1]) {
		return string(rs[n-2:])
	}
	for _, t := range titles {
		if n < len(t) || !slices.Equal(rs[n-len(t):], t) {
			continue
		}
		before := rs[:n-len(t)]
		for _, f := range compoundFamilies {
			if len(before) >= len(f) && slices.Equal(before[len(before)-len(f):], f) {
				return string(rs[n-len(t)-len(f):])
			}
		}
		if len(before) > 0 && strings.ContainsRune(familyNames, before[len(before)-1]) {
			return string(rs[n-len(t)-1:])
		}
		if len(t) > 1 {
			return string(t)
		}
	}
	return ""
}

// Familiar reports whether s is a familiar name of 阿 and a given name's
// character (阿明, 阿珍), which MaskText takes for a person's after a
// contact word: a place key drops one there, before a number, as pii
// masks the number after it.
func Familiar(s string) bool { return familiar([]rune(s)) }

func familiar(name []rune) bool {
	return len(name) == 2 && name[0] == '阿' && unicode.Is(unicode.Han, name[1]) && !strings.ContainsRune(placeEnds, name[1])
}

// Title reports whether s is a title alone (先生, 经理), as TrailingName
// returns one after a character that is no family name of its lists: the
// caller's family name, when the character is a rare one (佘先生), or the
// place's word before it (5号先生, 物业经理), which only its context tells.
func Title(s string) bool {
	rs := []rune(s)
	for _, t := range titles {
		if len(t) > 1 && slices.Equal(rs, t) {
			return true
		}
	}
	return false
}

// MaskPlace masks the personal data a place shown by its key may hold,
// the key being made of a citizen's address: the numbers MaskText masks,
// and the name that ends it or stands just before a number ending it, as
// MaskName does (王**): a name with a title or familiar name (see
// TrailingName), or a plain name after a contact word (see LabelledName).
// Keys stored before addresses lost them carry the caller's name that way
// (殿前一路5号电话王先生 from 殿前一路5号 电话：王先生 138…, 殿前一路5号电话王小明
// from 殿前一路5号 电话：王小明 138…).
//
// A given name without a family name (阿明, 建国) after a contact word is
// masked too where a phone ends the key (殿前一路5号电话阿明13800138000);
// without one it cannot be told from a place's words. A run of LocalMin
// digits or more after such a name is starred whole (电话阿明5551234): a
// key holds no such run but a phone, keys having lost them.
func MaskPlace(s string) string {
	s = MaskText(s)
	body := strings.TrimRightFunc(s, func(r rune) bool { return isDigit(r) || r == '*' || isSep(r) })
	tail := s[len(body):]
	name := TrailingName(body)
	if name == "" {
		name = labelledName(body, false)
	}
	if name == "" {
		// A key stored before names with no title left the key.
		name = trailingBareName(body)
	}
	if name == "" && phoneTail(tail) {
		if name = labelledName(body, true); name != "" && !strings.ContainsRune(tail, '*') {
			tail = starDigits(tail)
		}
	}
	if name == "" || utf8.RuneCountInString(name) < 2 {
		return s
	}
	return strings.TrimSuffix(body, name) + MaskName(name) + tail
}

// phoneTail reports whether tail, the digits, stars and separators that
// end a key, holds a phone: one MaskText masked, or a run of LocalMin
// digits or more.
func phoneTail(tail string) bool {
	if strings.ContainsRune(tail, '*') {
		return true
	}
	run := 0
	for _, r := range tail {
		if !isDigit(r) {
			run = 0
		} else if run++; run >= LocalMin {
			return true
		}
	}
	return false
}

// starDigits stars the digits of tail.
func starDigits(tail string) string {
	return strings.Map(func(r rune) rune {
		if isDigit(r) {
			return '*'
		}
		return r
	}, tail)
}

// LabelledName is the plain name s ends with right after a contact word
// (殿前一路5号电话王小明: 王小明, 联系人李娜: 李娜, 手机号：欧阳娜娜: 欧阳娜娜),
// "" when s ends with none: 2 to maxName Chinese characters, the first a
// family name of familyNames or the first two one of compoundFamilies,
// after one of contactWords of two characters or more (打 and 拨 alone are
// verbs of a place's name too: 打石场) with at most maxBridge bridge runes
// between (a colon, a space, the 号码 of 电话号码). A place's words after a
// contact word (手机维修店, 电话亭, 手机城) do not begin with a family name,
// or end as a place's name does (手机钟表店, 电话金山社区, see plainName), and
// stay.
func LabelledName(s string) string { return labelledName(s, false) }

// labelledName is LabelledName; with given, a name of 2 to maxName
// Chinese characters that no family name begins counts too, no word of a
// place or a trade (see plainName) all the same.
func labelledName(s string, given bool) string {
	var buf [maxName + maxBridge + 8]rune // the name, the bridge, the longest contact word
	n := 0
	for e := len(s); e > 0 && n < len(buf); n++ {
		r, size := utf8.DecodeLastRuneInString(s[:e])
		buf[len(buf)-1-n] = r
		e -= size
	}
	rs := buf[len(buf)-n:]
	for l := 2; l <= maxName && l <= len(rs); l++ {
		name := rs[len(rs)-l:]
		if !slices.ContainsFunc(name, func(r rune) bool { return unicode.Is(unicode.Han, r) }) ||
			slices.ContainsFunc(name, func(r rune) bool { return !unicode.Is(unicode.Han, r) }) {
			break
		}
		if !plainName(name) && !(given && !placeWords(name)) {
			continue
		}
		k := len(rs) - l
		for b := 0; k > 0 && b < maxBridge && bridge(rs[k-1]); b++ {
			k--
		}
		for _, w := range contactWords {
			if len(w) >= 2 && endsWithWord(rs[:k], w) {
				return string(name)
			}
		}
	}
	return ""
}

// plainName reports whether name, Chinese characters, may be a person's
// full name given without a title (王小明, 欧阳娜娜): it begins with a family
// name (see family) and holds no word of a place or a trade, which a
// family name's character may begin too (钟表店, 石材厂, 江头街道, 金山社区).
func plainName(name []rune) bool {
	return len(name) >= 2 && len(name) <= maxName && family(name) && !placeWords(name)
}

// placeWords reports whether name, Chinese characters, ends as a place's
// or a shop's name does or holds a trade's word.
func placeWords(name []rune) bool {
	return strings.ContainsRune(placeEnds, name[len(name)-1]) ||
		slices.ContainsFunc(name, func(r rune) bool { return strings.ContainsRune(tradeChars, r) })
}

// placeEnds end the names of places and shops (店, 厂, 场, 街, 区 …, and
// Xiamen's villages and places: 黄厝, 曾厝垵, 后埔, 沙坡尾) and no given name; tradeChars are the trade's words (维修, 销售, 专卖) found in
// a shop's name and no person's.
const (
	placeEnds  = "店铺厂馆厅亭局站部室屋舍场所社街道巷路村区楼院城园库坊房司厝垵埔埭墩寮埕寨坂垄坑尾湾岛港宫庙寺"
	tradeChars = "修售卖批"
)

// BareName reports whether s may be a person's full name written with no
// title and no contact word (王小明, 陈建国, 欧阳娜娜), as a caller adds it
// after the house number of the address: a family name of familyNames and
// one or two Chinese characters, or one of compoundFamilies and one or
// two, and no word of a place, a shop or a position, which a family name's
// character may begin too: a place's or a shop's ending (金山社区, 高林村,
// 万达店, see placeWords), a brand's or an estate's word (李记, 王府井,
// 金安大厦, 龙华苑, see bareWords) or a home's or a position's last (王家,
// 江边, 林后, 江头, see bareEnds). A place named like a person (高崎, 金山)
// it cannot tell: its caller checks the names of the places it knows.
func BareName(s string) bool {
	var buf [maxName + 1]rune
	n := 0
	for _, r := range s {
		if n == len(buf) || !unicode.Is(unicode.Han, r) {
			return false
		}
		buf[n] = r
		n++
	}
	name := buf[:n]
	if n < 2 || placeWords(name) || strings.ContainsRune(bareEnds, name[n-1]) ||
		slices.ContainsFunc(name, func(r rune) bool { return strings.ContainsRune(bareWords, r) }) {
		return false
	}
	for _, f := range compoundFamilies {
		if n > len(f) && slices.Equal(name[:len(f)], f) {
			return n-len(f) <= 2
		}
	}
	return n <= 3 && (strings.ContainsRune(familyNames, name[0]) || strings.ContainsRune(bareFamilies, name[0]))
}

// bareFamilies are family names common in Xiamen and southern Fujian that
// familyNames leaves out, read as a full name's first only (阮志明, 卓雅琴,
// 翁建华): no word a place's or a shop's name after a house number begins
// with, and kept apart from familyNames, whose 小X and 老X would take them
// in words too.
const bareFamilies = "阮卓翁"

// UnitEnds end a house number (5号, 3栋, 2单元, 1201室, A座): a name after
// one is no part of the place's name.
const UnitEnds = "号室栋幢楼层座元户"

// EndsWithHouseNumber reports whether s ends with a house number: one or
// two of UnitEnds (单元 one of them) after a digit or a Latin letter.
func EndsWithHouseNumber(s string) bool {
	at := len(s)
	for n := 0; n < 2 && at > 0; n++ {
		r, size := utf8.DecodeLastRuneInString(s[:at])
		if !strings.ContainsRune(UnitEnds, r) {
			break
		}
		at -= size
		if r == '元' && strings.HasSuffix(s[:at], "单") {
			at -= len("单")
		}
		if at > 0 {
			if p, _ := utf8.DecodeLastRuneInString(s[:at]); isDigit(p) || unicode.IsLetter(p) && p < utf8.RuneSelf {
				return true
			}
		}
	}
	return false
}

// trailingBareName is the full name with no title (see BareName) that s
// ends with right after a house number (殿前一路5号王小明: 王小明), "" when
// it ends with none.
func trailingBareName(s string) string {
	at := len(s)
	for n := 1; n <= maxName && at > 0; n++ {
		r, size := utf8.DecodeLastRuneInString(s[:at])
		if !unicode.Is(unicode.Han, r) {
			break
		}
		at -= size
		if n >= 2 && EndsWithHouseNumber(s[:at]) && BareName(s[at:]) {
			return s[at:]
		}
	}
	return ""
}

// bareWords are the characters of a shop's, a brand's or an estate's
// name (李记, 陈记排档, 王府井, 林氏, 金安大厦, 龙华苑, 阳光里) that a full
// name written without a title holds too rarely to take the risk; bareEnds
// the last characters of a family's home (王家, 李家) and of a position's
// words (江边, 林后, 江头, 门口, 楼下, 东侧, 内, 外).
const (
	bareWords = "记府井氏厦苑里号园寓邸墅居阁庭座层栋幢"
	bareEnds  = "家边旁侧面近内外口下上前后头角间处"
)

// family reports whether name, Chinese characters, begins with a family
// name (familyNames, compoundFamilies) with more after it.
func family(name []rune) bool {
	for _, f := range compoundFamilies {
		if len(name) > len(f) && slices.Equal(name[:len(f)], f) {
			return true
		}
	}
	return strings.ContainsRune(familyNames, name[0])
}

// MaskError is an error's text (err.Error(), or a reason kept from one)
// as it may be logged, sent in a message header or a NATS termination
// reason, or kept where the callers' data is not: its phone and ID-card
// numbers masked (MaskText) and names, the callers' the code at hand
// knows of (those CallerNames reads from the message the error is
// about), masked (MaskNames). An error quotes the value it failed on:
// PostgreSQL's (invalid input syntax for type date: "王小明
// 13812345678"; value "13812345678" is out of range for type integer),
// Go's JSON decoder's (cannot unmarshal number 13812345678 into ... of
// type int32), a stage's own (unknown category "..."). The rest, the
// kind of error and the ids it names, stays as it was. A name no caller
// field gives cannot be told from other words and stays.
func MaskError(s string, names ...string) string {
	return MaskText(MaskNames(s, names...))
}

// CallerNames returns the callers' names a decoded JSON value (an event,
// a work order) carries in its caller fields, at any depth: caller_name,
// caller as a text, and caller.name.
func CallerNames(v any) []string {
	var names []string
	collectNames(v, &names)
	return names
}

// PayloadNames is CallerNames of a JSON payload; none when it is not
// JSON.
func PayloadNames(payload []byte) []string {
	var v any
	if json.Unmarshal(payload, &v) != nil {
		return nil
	}
	return CallerNames(v)
}

func collectNames(v any, names *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, f := range x {
			switch {
			case k == "caller_name":
				if s, ok := f.(string); ok {
					*names = append(*names, s)
				}
			case k == "caller":
				switch c := f.(type) {
				case string:
					*names = append(*names, c)
				case map[string]any:
					if s, ok := c["name"].(string); ok {
						*names = append(*names, s)
					}
				}
			default:
				collectNames(f, names)
			}
		}
	case []any:
		for _, f := range x {
			collectNames(f, names)
		}
	}
}
