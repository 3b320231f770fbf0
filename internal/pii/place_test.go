package pii

import "testing"

// TestTrailingName: the name with a title or familiar name an address
// ends with is the caller's whole name, its family name with it, and
// nothing of the place before it (5号 stays).
func TestTrailingName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"殿前一路5号王先生", "王先生"},
		{"殿前一路5号欧阳女士", "欧阳女士"},
		{"殿前一路5号李师傅", "李师傅"},
		{"殿前一路5号王小姐", "王小姐"},
		{"殿前一路5号王总", "王总"},
		{"殿前一路5号李姐", "李姐"},
		{"殿前一路5号小张", "小张"},
		{"殿前一路5号老王", "老王"},
		{"殿前一路5号先生", "先生"},
		{"物业经理", "经理"},
		{"王先生", "王先生"},
		// No name.
		{"殿前一路5号", ""},
		{"王师傅烧烤", ""},
		{"殿前一路5号总", ""},
		{"殿前一路5号大姐", "大姐"},
		{"", ""},
	} {
		if got := TrailingName(tc.in); got != tc.want {
			t.Errorf("TrailingName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMaskPlace: a place shown by its key, made of a citizen's address,
// shows no phone and no caller's name with a title that keys stored
// before carry (殿前一路5号电话王先生), at the end or before a number.
func TestMaskPlace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"huli/殿前一路5号电话王先生", "huli/殿前一路5号电话王**"},
		{"huli/殿前一路5号王先生", "huli/殿前一路5号王**"},
		{"殿前一路5号欧阳女士", "殿前一路5号欧***"},
		{"殿前一路5号小张", "殿前一路5号小*"},
		{"huli/殿前一路5号电话王先生13800138000", "huli/殿前一路5号电话王**138****8000"},
		{"huli/殿前一路5号电话13800138000", "huli/殿前一路5号电话138****8000"},
		// A plain name after a contact word, from 电话：王小明 138….
		{"huli/殿前一路5号电话王小明", "huli/殿前一路5号电话王**"},
		{"huli/殿前一路5号联系人李娜", "huli/殿前一路5号联系人李*"},
		{"huli/殿前一路5号手机陈建国", "huli/殿前一路5号手机陈**"},
		{"huli/殿前一路5号联系电话林晓燕", "huli/殿前一路5号联系电话林**"},
		{"huli/殿前一路5号来电人黄志强", "huli/殿前一路5号来电人黄**"},
		{"huli/殿前一路5号座机郑芳", "huli/殿前一路5号座机郑*"},
		{"huli/殿前一路5号手机号：欧阳娜娜", "huli/殿前一路5号手机号：欧***"},
		{"huli/殿前一路5号电话 王小明", "huli/殿前一路5号电话 王**"},
		{"huli/殿前一路5号电话王小明13800138000", "huli/殿前一路5号电话王**138****8000"},
		// A given name after a contact word, before a phone.
		{"huli/殿前一路5号电话阿明13800138000", "huli/殿前一路5号电话阿*138****8000"},
		{"huli/殿前一路5号联系电话：建国 5551234", "huli/殿前一路5号联系电话：建* *******"},
		{"huli/殿前一路5号电话阿明", "huli/殿前一路5号电话阿明"},
		{"huli/殿前一路5号电话阿明5551234", "huli/殿前一路5号电话阿********"},
		{"huli/殿前一路5号手机号建国2022922", "huli/殿前一路5号手机号建********"},
		{"huli/殿前一路5号电话局宿舍13800138000", "huli/殿前一路5号电话局宿舍138****8000"},
		{"huli/殿前一路5号手机钟表店13800138000", "huli/殿前一路5号手机钟表店138****8000"},
		{"huli/殿前一路5号电话阿明3号", "huli/殿前一路5号电话阿明3号"},
		{"huli/殿前一路5号电话阿明201", "huli/殿前一路5号电话阿明201"},
		// A full name with no title after the house number, in a key
		// stored before such names left the keys.
		{"huli/殿前一路5号王小明", "huli/殿前一路5号王**"},
		{"huli/殿前一路3栋2单元欧阳娜娜", "huli/殿前一路3栋2单元欧***"},
		{"huli/殿前一路5号王小明13800138000", "huli/殿前一路5号王**138****8000"},
		{"huli/殿前一路王小明", "huli/殿前一路王小明"},
		{"huli/殿前一路5号李记", "huli/殿前一路5号李记"},
		{"huli/殿前一路5号金山社区", "huli/殿前一路5号金山社区"},
		// Places stay as they are.
		{"huli/殿前一路5号", "huli/殿前一路5号"},
		{"huli/殿前一路5号手机维修店", "huli/殿前一路5号手机维修店"},
		{"huli/殿前一路公用电话亭", "huli/殿前一路公用电话亭"},
		{"huli/嘉禾路手机城", "huli/嘉禾路手机城"},
		{"huli/殿前一路电话局宿舍", "huli/殿前一路电话局宿舍"},
		{"huli/人大代表联系点", "huli/人大代表联系点"},
		{"huli/殿前一路打石场", "huli/殿前一路打石场"},
		{"huli/殿前一路5号手机钟表店", "huli/殿前一路5号手机钟表店"},
		{"huli/殿前一路5号电话金山社区", "huli/殿前一路5号电话金山社区"},
		{"siming/环岛路联系黄厝", "siming/环岛路联系黄厝"},
		{"siming/环岛南路电话曾厝垵", "siming/环岛南路电话曾厝垵"},
		{"huli/殿前一路5号手机黄金维修", "huli/殿前一路5号手机黄金维修"},
		{"王师傅烧烤店", "王师傅烧烤店"},
		{"思明区电话局宿舍3号", "思明区电话局宿舍3号"},
		{"", ""},
	} {
		if got := MaskPlace(tc.in); got != tc.want {
			t.Errorf("MaskPlace(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// BenchmarkMaskPlace: the hotspots' API and the weekly report mask every
// place key they show.
func BenchmarkMaskPlace(b *testing.B) {
	keys := []string{"huli/殿前一路5号", "siming/厦港街道沙坡尾12号楼下烧烤店", "huli/殿前一路5号电话王小明13800138000", "huli/殿前一路5号手机钟表店"}
	i := 0
	for b.Loop() {
		MaskPlace(keys[i%len(keys)])
		i++
	}
}

// TestBareName: a full name with no title (王小明, 欧阳娜娜) may end an
// address after its house number; the words of a place, a shop or a
// position a family name's character begins (金山社区, 李记, 江边) are none.
func TestBareName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"王小明", true},
		{"陈建国", true},
		{"李娜", true},
		{"欧阳娜娜", true},
		{"欧阳娜", true},
		{"司马光", true},
		{"阮志明", true},
		{"卓雅琴", true},
		{"翁建华", true},
		// No name.
		{"金山社区", false},
		{"高林村", false},
		{"石材厂", false},
		{"黄厝", false},
		{"李记", false},
		{"陈记排档", false},
		{"王府井", false},
		{"金安大厦", false},
		{"龙华苑", false},
		{"江边", false},
		{"林后", false},
		{"江头", false},
		{"王家", false},
		{"王小明明", false},
		{"欧阳娜娜娜", false},
		{"建国", false},
		{"王", false},
		{"王 明", false},
		{"", false},
	} {
		if got := BareName(tc.in); got != tc.want {
			t.Errorf("BareName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
