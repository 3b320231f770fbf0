// Package pii masks personal data: the callers' phone numbers and names,
// and phone numbers written into free text, wherever text a citizen typed
// is shown.
package pii

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaskPhone hides the middle of a phone number the way Chinese services
// print them, 138****5678: enough for an officer to recognise a repeat
// caller, not enough to call. Separators are dropped; a number too short
// to keep anything of is starred out whole.
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

// phoneInText finds phone numbers citizens type into their description:
// mainland mobiles (1[3-9]x xxxx xxxx, with optional +86 and separators)
// and landlines with an area code (0592-1234567, (0592)1234567), in ASCII
// or full-width digits (a Chinese input method in full-width mode), with
// spaces (ideographic too), hyphens or dots between the groups.
var phoneInText = regexp.MustCompile(`(?:[+＋]?[8８][6６]` + sep + `?)?[1１][3-9３-９]` + digit + `(?:` + sep + `?` + digit + `){8}` +
	`|[(（]?[0０]` + digit + `{2,3}[)）]?` + sep + `?` + digit + `{7,8}`)

const (
	digit = `[0-9０-９]`
	sep   = `[ \-.\x{3000}－．]`
)

// narrow maps a full-width ASCII variant (U+FF01–U+FF5E) to ASCII.
func narrow(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		return r - 0xFEE0
	}
	return r
}

// MaskText masks every phone number inside free text, so a description
// that quotes the caller's number shows it masked like the caller field.
func MaskText(s string) string {
	digits := 0
	for _, r := range s {
		if r = narrow(r); r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 10 { // the shortest number the pattern matches
		return s
	}
	return phoneInText.ReplaceAllStringFunc(s, func(m string) string {
		m = strings.Map(narrow, m)
		// Keep a +86 prefix out of the masked digits.
		if rest, ok := strings.CutPrefix(m, "+86"); ok {
			return "+86" + MaskPhone(rest)
		}
		return MaskPhone(m)
	})
}
