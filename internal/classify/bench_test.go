package classify

import (
	"testing"
	"time"
)

func BenchmarkClassify(b *testing.B) {
	c := newClassifier(b)
	set := readLabelled(b, "descriptions.csv")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Classify(Input{Description: set[i%len(set)].text}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassifyHotlineCategory(b *testing.B) {
	c := newClassifier(b)
	in := Input{HotlineCategory: "生态环境>噪声污染>建筑施工噪声", Description: "小区旁边的工地每天晚上十一点多还在打桩，吵得根本睡不着。"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Classify(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrioritise ranks a priority complaint of a year with its own
// plan and one of a later year that falls back to the latest plan.
func BenchmarkPrioritise(b *testing.B) {
	c := newClassifier(b)
	at := []time.Time{
		time.Date(2024, 3, 12, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 12, 23, 0, 0, 0, time.UTC),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if p := c.Prioritise("noise", "construction", "siming", at[i%2]); !p.Priority {
			b.Fatal("not a priority")
		}
	}
}
