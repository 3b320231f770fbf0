package classify

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/xiamen-eeb/nuisance/seeds"
)

// seedFS returns the real seed files with one replacement applied to one
// of them, so each case breaks exactly one thing.
func seedFS(t *testing.T, file, old, new string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, name := range []string{categoriesFile, priorityFile} {
		b, err := fs.ReadFile(seeds.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if name == file {
			if !strings.Contains(s, old) {
				t.Fatalf("%s does not contain %q", name, old)
			}
			s = strings.Replace(s, old, new, 1)
		}
		m[name] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

func TestSeedsValid(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	if got := len(c.labels); got != len(allLabels) {
		t.Errorf("%d subcategories, want %d", got, len(allLabels))
	}
	for _, key := range allLabels {
		if _, ok := c.labelIndex[key]; !ok {
			t.Errorf("subcategory %s missing from the seed", key)
		}
	}
}

func TestSeedsInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, old, new, wantErr string
	}{
		{"unknown field", categoriesFile, `"min_score"`, `"minimum_score"`, "unknown field"},
		{"no min score", categoriesFile, `"min_score": 2`, `"min_score": 0`, "min_score"},
		{"duplicate category", categoriesFile, `"code": "dust"`, `"code": "noise"`, "duplicate category"},
		{"subcategory in two categories", categoriesFile, `"code": "road"`, `"code": "construction"`, "in both"},
		{"default not a subcategory", categoriesFile, `"default_subcategory": "restaurant"`, `"default_subcategory": "bbq"`, "default_subcategory"},
		{"negative weight", categoriesFile, `"打桩": 3`, `"打桩": -3`, "negative weight"},
		{"not-keyword is a keyword", categoriesFile, `"在|建发"`, `"在建"`, "is a keyword"},
		{"not-keyword holds no keyword", categoriesFile, `"在|建发"`, `"建发"`, "holds no keyword"},
		{"not-keyword's boundary cuts no keyword", categoriesFile, `"在|建发"`, `"在建|发"`, "no keyword across"},
		{"not-keyword with two boundaries", categoriesFile, `"在|建发"`, `"在|建|发"`, "boundary"},
		{"not-keyword's boundary at its end", categoriesFile, `"在|建发"`, `"在建发|"`, "boundary"},
		{"control not a keyword", categoriesFile, `"覆盖", "遮盖"`, `"覆盖", "罩布"`, "not a keyword"},
		{"hotline to unknown category", categoriesFile, `"餐饮油烟": "cooking_smoke/restaurant"`, `"餐饮油烟": "smoke/restaurant"`, "unknown category"},
		{"hotline to unknown subcategory", categoriesFile, `"餐饮油烟": "cooking_smoke/restaurant"`, `"餐饮油烟": "cooking_smoke/canteen"`, "unknown subcategory"},
		{"unknown district", priorityFile, `["siming", "huli", "jimei"]`, `["siming", "gulangyu", "jimei"]`, "unknown district"},
		{"rule for unknown subcategory", priorityFile, `["construction_site", "road"]`, `["construction_site", "street"]`, "not a subcategory"},
		{"rule for unknown category", priorityFile, `"category": "dust"`, `"category": "smoke"`, "unknown category"},
		{"bad clock", priorityFile, `"from": "22:00"`, `"from": "22h"`, "clock"},
		{"empty night", priorityFile, `"to": "06:00"`, `"to": "22:00"`, "equal"},
		{"unknown timezone", priorityFile, `"Asia/Shanghai"`, `"Asia/Xiamen"`, "timezone"},
		{"old layout", priorityFile, `"version": 2`, `"version": 1`, "version 1, want 2"},
		{"night clock on a district rule", priorityFile, `"districts": ["siming", "huli", "jimei"],`, `"districts": ["siming", "huli", "jimei"], "from": "22:00",`, "district_rules[0]: from and to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newFromFS(seedFS(t, tt.file, tt.old, tt.new), "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
