package place

import (
	"strings"
	"testing"

	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// TestContactTails: callers add a contact part after the address under
// many labels, with a number or without one (电话：无). Whatever the label
// and whether a number follows, the address keys the same place as when
// written without it; the words of places that hold a label's characters
// (电话局, 手机城, A座机房, 人大代表联系点) stay whole.
func TestContactTails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// Labels before a number.
		{"湖里区殿前一路5号，电话号0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号，电话号码：0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 座机：5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 座机号码 0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 座机号5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 手机号13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 固话0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 固定电话0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 移动电话13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 联系号码13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 联系手机13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号，联系：13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 Telephone: 0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 Mobile 13912345678", "湖里区殿前一路5号"},
		// pii's contact words, and several of them in a row.
		{"湖里区殿前一路5号 来电人：王小明", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 致电13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 回电：5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 Call 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 固定电话号码：0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话手机：13812345678", "湖里区殿前一路5号"},
		{"集美区致电大厦3号", "集美区致电大厦3号"},
		{"湖里区殿前一路打石场", "湖里区殿前一路打石场"},
		// Labels with no number.
		{"湖里区殿前一路5号，电话：无", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话: 不详", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 手机 未提供", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号（电话号码：暂无）", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 座机：无。", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 固话 未知", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 手机号：保密", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 联系号码：无", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 Tel: N/A", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号，电话：", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话：无 手机：13912345678", "湖里区殿前一路5号"},
		{"电话：无，湖里区殿前一路5号", "湖里区殿前一路5号"},
		// Labels with nothing between them and what is around them: a
		// colon ends the address after one, and a word for no number
		// runs into the number, the label or the address after it.
		{"湖里区殿前一路5号电话：", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号手机: ", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话号码：", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号Tel:", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话：联系人王先生", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话无", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话无13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话：无13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话无手机13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号座机空5551234", "湖里区殿前一路5号"},
		{"电话无湖里区殿前一路5号", "湖里区殿前一路5号"},
		{"电话无厦门市湖里区殿前一路5号", "湖里区殿前一路5号"},
		// The caller's name after a label, and a name with a title or a
		// familiar one before or after a number, go with the number.
		{"湖里区殿前一路5号 电话：王先生 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号，王先生13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 王先生 138-1234-5678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话：王先生", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话王先生13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 手机：欧阳女士 13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 联系 李师傅 5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话：王小明 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话：王小明", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 小张 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 王总 0592-5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 陈女士 电话13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话13812345678（王先生）", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 手机：老王 电话：无", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 先生 13812345678", "湖里区殿前一路5号"},
		// The caller's name ending the address, with no number after it,
		// goes: after a house number or a separator, or with 先生, 女士 or
		// 小姐; a title alone with the character of a rare family name or
		// the role before it (佘先生, 物业经理), a number after it or not.
		{"湖里区殿前一路5号 王先生", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号王女士", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 欧阳女士", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号李师傅", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号，小张", "湖里区殿前一路5号"},
		{"湖里区殿前一路3栋2单元王总", "湖里区殿前一路3栋2单元"},
		{"湖里区殿前一路王女士", "湖里区殿前一路"},
		{"湖里区殿前一路5号先生", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 佘先生", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号佘女士", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话佘先生", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号佘先生13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 佘先生 5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 物业经理 5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号物业经理13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 物业经理", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 项目经理 电话：无", "湖里区殿前一路5号"},
		{"湖里区殿前一路王师傅", "湖里区殿前一路王师傅"},
		{"湖里区殿前一路李大姐", "湖里区殿前一路李大姐"},
		{"湖里区殿前一路万科物业经理", "湖里区殿前一路万科物业经理"},
		{"湖里区殿前一路万科物业经理 13812345678", "湖里区殿前一路万科物业"},
		// A full name with no title right after a contact label of two
		// characters or more, as pii masks one (pii.LabelledName), with
		// no colon between, a number after it or none.
		{"湖里区殿前一路5号 电话王小明", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 电话 陈建国 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 手机号欧阳娜娜13912345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路 联系电话林晓燕 0592-5551234", "湖里区殿前一路"},
		{"湖里区殿前一路5号 手机钟表店", "湖里区殿前一路5号手机钟表店"},
		// A familiar name of 阿 and a given name's character after a
		// label, a number after it; with none it cannot be told from a
		// place's words, as pii says.
		{"湖里区殿前一路5号 电话阿明 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 联系阿珍5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号电话阿明", "湖里区殿前一路5号电话阿明"},
		{"湖里区殿前一路5号电话金山社区", "湖里区殿前一路5号电话金山社区"},
		{"思明区环岛路联系黄厝", "思明区环岛路联系黄厝"},
		// Names of shops and places with a title in them stay, at the start
		// of an address or anywhere not followed by a number or after a
		// label.
		{"王师傅烧烤 湖里区殿前一路5号", "王师傅烧烤湖里区殿前一路5号"},
		{"湖里区殿前一路王师傅烧烤店 13812345678", "湖里区殿前一路王师傅烧烤店"},
		{"湖里区殿前一路老王牛肉面", "湖里区殿前一路老王牛肉面"},
		{"思明区电话局王先生13812345678", "思明区电话局"},
		{"思明区中山路手机城二楼 13812345678", "思明区中山路手机城二楼"},
		// Places whose names hold a label's characters stay whole.
		{"思明区电话局宿舍3号", "思明区电话局宿舍3号"},
		{"思明区中山路手机城2楼", "思明区中山路手机城2楼"},
		{"湖里区殿前一路附近的手机店", "湖里区殿前一路附近的手机店"},
		{"思明区中山路手机无线充电体验店", "思明区中山路手机无线充电体验店"},
		{"集美区杏林湾路手机空调维修部", "集美区杏林湾路手机空调维修部"},
		{"思明区莲花大厦A座机房", "思明区莲花大厦a座机房"},
		{"思明区莲花大厦A座 机电公司", "思明区莲花大厦a座机电公司"},
		{"思明区公用电话亭旁", "思明区公用电话亭旁"},
		{"湖里区殿前一路公用电话", "湖里区殿前一路公用电话"},
		{"思明区人大代表联系点", "思明区人大代表联系点"},
		{"湖里区固话营业厅门口", "湖里区固话营业厅门口"},
		{"思明区Hotel Tel Aviv", "思明区hoteltelaviv"},
		{"湖里区Lujiang Hotel:", "湖里区lujianghotel"},
		{"手机无线充电体验店", "手机无线充电体验店"},
		{"手机空调维修部集美区", "手机空调维修部集美区"},
		{"湖里区手机城：", "湖里区手机城"},
		// A house number ending the address stays before the number
		// written after it, however its groups are written; the phone
		// alone after an address with no house number goes whole.
		{"湖里区殿前一路28号 13812345678", "湖里区殿前一路28号"},
		{"湖里区殿前一路28 13812345678", "湖里区殿前一路28"},
		{"湖里区殿前一路28 138 1234 5678", "湖里区殿前一路28"},
		{"湖里区殿前一路28 138-1234-5678", "湖里区殿前一路28"},
		{"湖里区殿前一路28，0592-5551234", "湖里区殿前一路28"},
		{"湖里区殿前一路28 (0592) 555 1234", "湖里区殿前一路28"},
		{"湖里区殿前一路28 5551234", "湖里区殿前一路28"},
		{"湖里区殿前一路28 555-1234", "湖里区殿前一路28"},
		{"湖里区殿前一路8 5551234", "湖里区殿前一路8"},
		{"湖里区殿前一路28 555 0123", "湖里区殿前一路28"},
		{"湖里区殿前一路28 555-0123", "湖里区殿前一路28"},
		{"湖里区殿前一路28 5555 0123", "湖里区殿前一路28"},
		{"湖里区殿前一路2828 0592 555 1234", "湖里区殿前一路2828"},
		{"湖里区殿前一路28 0592 555 0123", "湖里区殿前一路28"},
		{"湖里区殿前一路28 +86 138 1234 5678", "湖里区殿前一路28"},
		{"湖里区殿前一路86 13812345678", "湖里区殿前一路86"},
		{"湖里区殿前一路28 400-123-4567", "湖里区殿前一路28"},
		{"湖里区殿前一路28-30 13812345678", "湖里区殿前一路2830"},
		{"湖里区殿前一路28 13812345678 13698765432", "湖里区殿前一路28"},
		{"美溪道思明工业园28 13812345678", "美溪道思明工业园28"},
		{"厦门湖里万达广场-C1 13812345678", "湖里万达广场c1"},
		{"湖里区殿前一路 138 1234 5678", "湖里区殿前一路"},
		{"湖里区殿前一路 138-1234-5678", "湖里区殿前一路"},
		{"湖里区殿前一路 1381234 5678", "湖里区殿前一路"},
		{"湖里区殿前一路，0592-5551234", "湖里区殿前一路"},
		{"湖里区殿前一路 (0592) 555 1234", "湖里区殿前一路"},
		{"湖里区殿前一路 555 1234", "湖里区殿前一路"},
		{"湖里区殿前一路 2022-922", "湖里区殿前一路"},
		{"湖里区殿前一路 +86 138 1234 5678", "湖里区殿前一路"},
		{"湖里区殿前一路 0086 13812345678", "湖里区殿前一路"},
		{"湖里区殿前一路 +86 592 555 1234", "湖里区殿前一路"},
		{"湖里区殿前一路 400 123 4567", "湖里区殿前一路"},
		{"湖里区殿前一路 0592-5551234-8001", "湖里区殿前一路"},
		{"湖里区殿前一路 13812345678 13698765432", "湖里区殿前一路"},
		// What a label or a name introduces is the contact part's.
		{"湖里区殿前一路5号 手机 86 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 王先生 28 13812345678", "湖里区殿前一路5号"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestContactTailsKeySamePlace: an address keys the same place with a
// contact part after it as without, and the gazetteer's names are not
// cut into by one.
func TestContactTailsKeySamePlace(t *testing.T) {
	t.Parallel()
	m := setup(t)
	tails := []string{"，电话：无", " 电话号0592-5551234", " 座机：5551234", " 手机 未提供", " 固话 不详", " 联系号码13912345678",
		"电话：", "手机号：", "电话无", "电话无13812345678", "电话无手机13912345678",
		" 电话：王先生 13812345678", "，王先生13812345678", "电话王先生", " 手机：王小明", " 联系 李师傅 5551234",
		" 欧阳女士 13912345678", " 小张 0592-5551234", " 陈女士，电话13812345678", " 电话13812345678（王先生）",
		" 来电人：王小明", " 致电13812345678", " 王先生", "王女士", " 李师傅", " 佘先生", " 佘女士 13912345678", " 物业经理 5551234", " 物业经理",
		" 电话王小明", " 电话 陈建国 13812345678", " 手机号欧阳娜娜13912345678", " 电话阿明 13812345678"}
	addrs := []string{"湖里区殿前一路5号", "厦港街道沙坡尾12号楼下烧烤店", "集美区杏林湾路1号"}
	for _, p := range m.Gazetteer().Places {
		addrs = append(addrs, p.Name)
	}
	for _, a := range addrs {
		want := m.Geocode(a)
		for _, tail := range tails {
			if got := m.Geocode(a + tail); got.Key != want.Key || got.Normalized != want.Normalized {
				t.Errorf("%q keyed %q (%q), want %q (%q) as without %q", a+tail, got.Key, got.Normalized, want.Key, want.Normalized, tail)
			}
		}
	}
}

// TestHouseNumberBeforePhoneKeysSamePlace: a house number ending the
// address keys the same place with a phone written after it, in any of
// the ways people group one, as without; an address with no house number
// keys the same with a phone in groups after it as without, across the
// gazetteer's names; and two house numbers of a road, or one and none,
// key different places.
func TestHouseNumberBeforePhoneKeysSamePlace(t *testing.T) {
	t.Parallel()
	m := setup(t)
	tails := []string{" 13812345678", " 138 1234 5678", " 138-1234-5678", " 1381234 5678", "，0592-5551234",
		" 0592 555 1234", " (0592)5551234", " 5551234", " 555 1234", " 555 0123", " 2022-922", " +86 138 1234 5678", " 400-123-4567",
		" 13812345678 0592-5551234"}
	addrs := []string{"湖里区殿前一路", "美溪道", "厦港街道沙坡尾"}
	for _, p := range m.Gazetteer().Places {
		addrs = append(addrs, p.Name)
	}
	for _, a := range addrs {
		for _, h := range []string{"", "28", "3"} {
			want := m.Geocode(a + h)
			for _, tail := range tails {
				if got := m.Geocode(a + h + tail); got.Key != want.Key || got.Normalized != want.Normalized {
					t.Errorf("%q keyed %q (%q), want %q (%q) as without %q", a+h+tail, got.Key, got.Normalized, want.Key, want.Normalized, tail)
				}
			}
		}
	}
	for _, place := range [][]string{
		{"湖里区殿前一路28", "湖里区殿前一路28 13812345678", "湖里区殿前一路28 138 1234 5678", "湖里区殿前一路28，0592-5551234"},
		{"湖里区殿前一路30", "湖里区殿前一路30 13812345678", "湖里区殿前一路30，0592-5551234"},
		{"湖里区殿前一路", "湖里区殿前一路 13812345678", "湖里区殿前一路 138 1234 5678"},
	} {
		want := m.Geocode(place[0]).Key
		for _, a := range place[1:] {
			if got := m.Geocode(a).Key; got != want {
				t.Errorf("%q keyed %q, want %q as %q", a, got, want, place[0])
			}
		}
	}
	if m.Geocode("湖里区殿前一路28").Key == m.Geocode("湖里区殿前一路30").Key || m.Geocode("湖里区殿前一路28").Key == m.Geocode("湖里区殿前一路").Key {
		t.Error("湖里区殿前一路28, 30 and 湖里区殿前一路 keyed the same place")
	}
}

// TestContactWordsArePII: a place key drops what pii masks after: each of
// pii's contact words of two characters or more, before a number, a word
// for none or the caller's name, goes from the address with them.
func TestContactWordsArePII(t *testing.T) {
	t.Parallel()
	for _, w := range pii.ContactWords() {
		if len([]rune(w)) < 2 {
			continue
		}
		for _, tail := range []string{" 13812345678", "：5551234", "：无", "：王小明"} {
			if got := Normalize("湖里区殿前一路5号 " + w + tail); got != "湖里区殿前一路5号" {
				t.Errorf("Normalize(%q) = %q, want 湖里区殿前一路5号", "湖里区殿前一路5号 "+w+tail, got)
			}
		}
	}
}

// TestBareNameAfterHouseNumber: a caller often adds a full name with no
// title and no contact label after the house number of the address
// (湖里区金山街道XX路5号 王小明), or before the phone given after it. The
// name goes with the phone; the place's own words after a house number
// (a community, a shop, a brand, a building, a position, a place of
// Xiamen the gazetteer names) stay, and so do a name's characters where no
// house number comes before them.
func TestBareNameAfterHouseNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"湖里区金山街道XX路5号 王小明", "湖里区金山街道xx路5号"},
		{"思明区莲前西路101号3栋2单元 陈建国", "思明区莲前西路101号3栋2单元"},
		{"湖里区殿前一路5号王小明", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号，李娜", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 欧阳娜娜", "湖里区殿前一路5号"},
		{"湖里区殿前一路88号1201室 林晓燕", "湖里区殿前一路88号1201室"},
		{"湖里区殿前一路5号楼 郑芳", "湖里区殿前一路5号楼"},
		{"思明区SM城市广场A座 蔡丽华", "思明区sm城市广场a座"},
		{"同安区城南街道3幢 庄秀英", "同安区城南街道3幢"},
		{"湖里区殿前一路5号 王小明 13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号王小明13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 黄志强 电话13812345678", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 郑芳 5551234", "湖里区殿前一路5号"},
		{"湖里区殿前一路5号 陈建国 0592-5551234 王先生", "湖里区殿前一路5号"},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// What stays.
	for _, in := range []string{
		"湖里区殿前一路5号金山社区", "湖里区殿前一路5号高林村", "湖里区殿前一路5号李记",
		"湖里区殿前一路5号王府井", "湖里区殿前一路5号陈记排档", "湖里区殿前一路5号金安大厦",
		"湖里区殿前一路5号龙华苑", "湖里区殿前一路5号黄厝", "湖里区殿前一路5号石材厂",
		"湖里区殿前一路5号江边", "湖里区殿前一路5号林后", "湖里区殿前一路5号王家",
		"湖里区殿前一路5号东侧", "湖里区殿前一路5号旁边", "湖里区殿前一路5号楼下",
		"嘉禾路1299号高崎", "湖里区殿前一路5号江头", "湖里区殿前一路5号金山",
		"湖里区殿前一路5号万达", "湖里区殿前一路5号洪文",
		"湖里区殿前一路王小明", "湖里区殿前一路王小明13812345678", "王小明湖里区殿前一路5号",
		"湖里区殿前一路5号王小明明",
	} {
		want := in
		if i := strings.Index(want, "13812345678"); i >= 0 {
			want = want[:i]
		}
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBareNameKeysSamePlace: across the gazetteer's names, an address
// with a house number keys the same place with a caller's full name after
// it, a phone after the name or none, as without; a place's word after it
// stays in the address.
func TestBareNameKeysSamePlace(t *testing.T) {
	t.Parallel()
	m := setup(t)
	tails := []string{" 王小明", "陈建国", " 欧阳娜娜", "，李娜", " 黄志强 13812345678", " 郑芳 5551234", " 林晓燕 电话：无"}
	addrs := []string{"湖里区殿前一路", "美溪道", "厦港街道沙坡尾"}
	for _, p := range m.Gazetteer().Places {
		addrs = append(addrs, p.Name)
	}
	for _, a := range addrs {
		for _, h := range []string{"28号", "3栋2单元", "1201室"} {
			want := m.Geocode(a + h)
			for _, tail := range tails {
				if got := m.Geocode(a + h + tail); got.Key != want.Key || got.Normalized != want.Normalized {
					t.Errorf("%q keyed %q (%q), want %q (%q) as without %q", a+h+tail, got.Key, got.Normalized, want.Key, want.Normalized, tail)
				}
			}
			if got := m.Geocode(a + h + " 金山社区"); got.Normalized == want.Normalized {
				t.Errorf("%q normalized to %q, as without 金山社区", a+h+" 金山社区", got.Normalized)
			}
		}
	}
}
