package place

import "testing"

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
		"电话：", "手机号：", "电话无", "电话无13812345678", "电话无手机13912345678"}
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
