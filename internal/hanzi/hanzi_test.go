package hanzi

import (
	"testing"
	"unicode/utf8"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"飯店油煙很大，嗆得不行😡":   "饭店油烟很大，呛得不行😡",
		"廈門市思明區中山路":      "厦门市思明区中山路",
		"樓上鄰居夜間噪聲擾民":     "楼上邻居夜间噪声扰民",
		"工地夜间施工，吵得睡不着":   "工地夜间施工，吵得睡不着",
		"乾元路著名的於家饭店 KTV": "乾元路著名的於家饭店 KTV",
		"":               "",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// Characters outside GB 2312 that the standard table of simplified
// characters (通用规范汉字表, 2013) holds are simplified text's own: a
// name (李昇, 陞), a place (氾水), 二噁英 are left as written, and the
// place keys made of them before stay the same.
func TestStandardCharactersStay(t *testing.T) {
	for _, s := range []string{"湖里区昇平路1号", "陈陞", "甦醒", "氾水镇", "蒐集", "垃圾焚烧排放二噁英"} {
		if got := Fold(s); got != s {
			t.Errorf("Fold(%q) = %q, want it as written", s, got)
		}
	}
}

// Every pair is a character outside the simplified text's set folded to
// one in it: nothing is folded twice, and the table is whole.
func TestTable(t *testing.T) {
	if n := utf8.RuneCountInString(pairs); n%2 != 0 || n < 4000 {
		t.Fatalf("%d characters in pairs", n)
	}
	for tr, s := range fold {
		if _, again := fold[s]; again {
			t.Errorf("%c folds to %c, which is folded again", tr, s)
		}
		if tr < first || tr > last || s < first || s > last {
			t.Errorf("%c → %c out of the CJK Unified Ideographs", tr, s)
		}
	}
}

func BenchmarkFoldSimplified(b *testing.B) {
	s := "小区旁边工地半夜还在打桩，吵得睡不着，厦门市思明区莲前街道前埔路"
	for b.Loop() {
		_ = Fold(s)
	}
}
