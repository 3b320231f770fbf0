// Package place turns free-text addresses into places in Xiamen: it
// normalises the text and matches it against the gazetteer of districts,
// sub-districts and named places.
package place

import (
	"slices"
	"strings"
	"unicode"
)

// districtShortNames are the short names of Xiamen's districts. A bare
// "厦门" prefix is dropped only before one of them, so that names that
// begin with the city's name (厦门大学, 厦门北站) keep it.
var districtShortNames = []string{"思明", "海沧", "湖里", "集美", "同安", "翔安"}

// Normalize folds an address into the form the gazetteer is matched on,
// so that "福建省厦门市 思明区，厦港街道１２号" and "思明区厦港街道12号" compare
// equal: full-width forms become half-width, spaces, punctuation and
// symbols go, Latin letters are lower-cased, and the province and city
// prefixes that every Xiamen address may or may not carry are stripped.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	// words are the offsets in b where a Latin word begins after a
	// separator dropped (Lujiang Hotel, Tel: the t of tel).
	var words []int
	cut := false
	for _, r := range s {
		r = narrow(r)
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) {
			cut = true
			continue
		}
		if r < 0x80 {
			r = unicode.ToLower(r)
		}
		if cut && isLetter(r) {
			words = append(words, b.Len())
		}
		cut = false
		b.WriteRune(r)
	}
	return stripPrefixes(dropLongNumbers(cutContact(b.String()), words))
}

// contactHeads begin the contact part a caller may add after the address
// ("殿前一路5号 联系人：王小明 138…"): nothing after one names the place, and
// a name there is the caller's, which a place key, shown in reports,
// must not carry.
var contactHeads = []string{"联系人", "联系电话", "联系方式"}

// cutContact ends a normalized address where its contact part begins.
func cutContact(s string) string {
	for _, h := range contactHeads {
		if i := strings.Index(s, h); i > 0 {
			s = s[:i]
		}
	}
	return s
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' }

// longNumber is the shortest run of digits dropped from a normalized
// address: no house or building number is that long, and a phone number
// (a landline without its area code has 7 digits) names a caller, not a
// place. A place key made of the address must not carry it into the
// hotspots, cases and reports that show the key.
const longNumber = 7

// contactLabels are the words that introduce a phone number in an
// address ("殿前一路5号，联系电话138…"): dropped with the number, so that the
// address keys the same place as the one written without it.
var contactLabels = []string{"联系电话", "联系方式", "电话号码", "手机号码", "手机号", "电话", "手机", "tel", "phone"}

// dropLongNumbers removes every run of longNumber or more ASCII digits,
// and a contact label just before one. A Latin label (tel, phone) is
// one only as a word of its own, not the end of one (hotel, iphone): it
// begins s, follows a character not a Latin letter, or begins one of
// words, the offsets where the address had a separator before a letter.
func dropLongNumbers(s string, words []int) string {
	run, found := 0, false
	for i := 0; i < len(s) && !found; i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			found = run >= longNumber
		} else {
			run = 0
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i < longNumber {
			b.WriteString(s[i:j])
		} else if out := b.String(); out != "" {
			for _, l := range contactLabels {
				if strings.HasSuffix(out, l) && (l[0] >= 0x80 || strings.HasSuffix(s[:i], l) && labelWord(s, i-len(l), words)) {
					b.Reset()
					b.WriteString(strings.TrimSuffix(out, l))
					break
				}
			}
		}
		if j == len(s) {
			break
		}
		if j == i {
			b.WriteByte(s[i])
			j++
		}
		i = j
	}
	return b.String()
}

// labelWord reports whether the Latin label at s[at:] is a word of its
// own (dropLongNumbers).
func labelWord(s string, at int, words []int) bool {
	return at == 0 || !isLetter(rune(s[at-1])) || slices.Contains(words, at)
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
