package classify

import "testing"

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
