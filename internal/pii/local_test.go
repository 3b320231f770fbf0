package pii

import "testing"

// TestMaskTextLocalNumbers: a caller in Xiamen often gives a landline
// without its area code (0592), seven digits, and a number of another city
// has eight. Such a number is masked when the text introduces it (电话,
// 手机, 座机, 联系, 打 …, or a number masked just before it) or when it is
// written in the groups of a phone number (555-1234, 2022 922); other runs
// of seven or eight digits (a house or order number, a date, a work
// order) are kept as typed.
func TestMaskTextLocalNumbers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// Introduced by a contact word.
		{"电话5551234", "电话*******"},
		{"打5551234找他", "打*******找他"},
		{"联系 2022922", "联系 *******"},
		{"已拨打2022922，无人接听", "已拨打*******，无人接听"},
		{"请回电5551234", "请回电*******"},
		{"来电：5551234", "来电：*******"},
		{"座机号码是5551234", "座机号码是*******"},
		{"手机号：5551234", "手机号：*******"},
		{"固话(5551234)", "固话(*******)"},
		{"联系电话为 555-1234", "联系电话为 *******"},
		{"电话：555 1234", "电话：*******"},
		{"电话２０２２９２２", "电话*******"},
		{"电话22022922", "电话********"},
		{"Tel: 555-1234", "Tel: *******"},
		{"phone 5551234", "phone *******"},
		{"Telephone: 5551234", "Telephone: *******"},
		{"电话5551234转8001", "电话*******转8001"},
		// After a personal number masked just before it.
		{"电话13812345678或5551234", "电话138****5678或*******"},
		{"13812345678、2022922均可", "138****5678、*******均可"},
		{"0592-5551234 2022922", "059****1234 *******"},
		// Written like a phone number.
		{"555-1234找王先生", "*******找王先生"},
		{"请打给2022 922", "请打给*******"},
		{"号码 2022-9229", "号码 ********"},
		{"有事找5551-234", "有事找*******"},
		// Kept: no contact word and not written like a phone number.
		{"门牌号 23456789", "门牌号 23456789"},
		{"门牌号 12345678", "门牌号 12345678"},
		{"订单号5551234已退款", "订单号5551234已退款"},
		{"工单号 2026120", "工单号 2026120"},
		{"20261207复查", "20261207复查"},
		{"于20261207电话回访", "于20261207电话回访"},
		{"工单12345202612070001已回复", "工单12345202612070001已回复"},
		{"湖滨南路2201-2205室", "湖滨南路2201-2205室"},
		{"阳翟路2791-2799", "阳翟路2791-2799"},
		{"洪钟大道5088-5200", "洪钟大道5088-5200"},
		{"电话2791-2799", "电话********"},
		{"夜间2230-0600禁止施工", "夜间2230-0600禁止施工"},
		{"罚款2000 5000元", "罚款2000 5000元"},
		{"经纬度118.089 24.4791234", "经纬度118.089 24.4791234"},
		{"2024 0315复测", "2024 0315复测"},
		{"12-555-1234", "12-555-1234"},
		{"Lujiang Hotel 5551234", "Lujiang Hotel 5551234"},
		{"电话局5551234号", "电话局5551234号"},
		// Kept: what no local number can be (a first digit 0 or 1, a
		// date, a number not in a phone's groups).
		{"电话1234567", "电话1234567"},
		{"电话0551234", "电话0551234"},
		{"电话20261207", "电话20261207"},
		{"电话 2024-03-15 来电", "电话 2024-03-15 来电"},
		{"联系 2024-3-15", "联系 2024-3-15"},
		{"手机号 1385", "手机号 1385"},
		{"电话555123", "电话555123"},
	} {
		if got := MaskText(tc.in); got != tc.want {
			t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMaskTextLocalNumberAfterName: a caller or an officer often writes
// the name of the person to call between the contact word and the number
// (联系人：王先生，5551234). The number is introduced by the contact word as
// much as without the name: any name after 联系人, a name with a title (王先生,
// 陈女士, 李师傅, 王总) or a familiar one (小张, 老王) after another contact
// word. The words of a place or an order after a contact word (电话局,
// 业主，工单号) still make no phone of the number after them.
func TestMaskTextLocalNumberAfterName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"联系人王先生 5551234", "联系人王先生 *******"},
		{"联系人：王先生，5551234", "联系人：王先生，*******"},
		{"联系人：王五 2022922", "联系人：王五 *******"},
		{"联系人欧阳娜娜5551234", "联系人欧阳娜娜*******"},
		{"联系人（王先生）5551234", "联系人（王先生）*******"},
		{"联系人：李师傅 555 1234", "联系人：李师傅 *******"},
		{"联系电话陈女士5551234", "联系电话陈女士*******"},
		{"联系电话陈女士22022922", "联系电话陈女士********"},
		{"已电话联系小张，5551234", "已电话联系小张，*******"},
		{"请打给老王：2022922", "请打给老王：*******"},
		{"致电王总5551234未接", "致电王总*******未接"},
		{"电话：欧阳先生 5551234", "电话：欧阳先生 *******"},
		{"联系物业经理5551234", "联系物业经理*******"},
		// A full name without a title after a contact word of two
		// characters or more.
		{"电话王小明5551234", "电话王小明*******"},
		{"联系电话：王小明，5551234", "联系电话：王小明，*******"},
		{"手机号欧阳娜娜 2022922", "手机号欧阳娜娜 *******"},
		{"请打给陈建国5551234", "请打给陈建国*******"},
		{"已联系林晓燕 22022922", "已联系林晓燕 ********"},
		// A given name alone, without the family name, after a contact
		// word of two characters or more: both its characters a given
		// name's (see givenChars), which the words written after one
		// (反映, 告知, 回访, 工单) are not.
		{"电话建国5551234", "电话建国*******"},
		{"联系电话：志强，5551234", "联系电话：志强，*******"},
		{"手机号丽华 2022922", "手机号丽华 *******"},
		{"请打给秀英22022922", "请打给秀英********"},
		{"已联系海燕 5551234", "已联系海燕 *******"},
		// A familiar name of 阿 and a given name's character.
		{"电话阿明5551234", "电话阿明*******"},
		{"联系阿珍，2022922", "联系阿珍，*******"},
		// The contact word alone, a person's: 联系人, 联系方式, 来电人.
		{"联系人5551234", "联系人*******"},
		{"联系人：5551234", "联系人：*******"},
		{"联系方式：5551234", "联系方式：*******"},
		{"来电人：5551234", "来电人：*******"},
		// A mobile or a landline with its area code was masked anyway.
		{"联系电话陈女士13812345678", "联系电话陈女士138****5678"},
		{"联系人：王先生 0592-5551234", "联系人：王先生 059****1234"},
		// Kept: no name between the contact word and the number.
		{"电话局5551234号", "电话局5551234号"},
		{"已电话联系业主，工单号2026120", "已电话联系业主，工单号2026120"},
		{"已联系王先生，门牌号 2345678", "已联系王先生，门牌号 2345678"},
		{"联系人不在，工单号2026120", "联系人不在，工单号2026120"},
		{"来电人反映2026120工单未处理", "来电人反映2026120工单未处理"},
		{"联系小区2345678", "联系小区2345678"},
		{"联系王先生，于20261207回访", "联系王先生，于20261207回访"},
		{"联系人王先生 2024-03-15", "联系人王先生 2024-03-15"},
		{"联系人王先生 20261207", "联系人王先生 20261207"},
		{"联系人王先生 1234567", "联系人王先生 1234567"},
		{"手机钟表店5551234", "手机钟表店5551234"},
		{"联系金山社区2345678", "联系金山社区2345678"},
		// Xiamen's villages and places end in 厝, 垵, 埔, 尾 …: no names.
		{"电话黄厝2345678", "电话黄厝2345678"},
		{"联系曾厝垵2345678", "联系曾厝垵2345678"},
		{"电话江头街道2345678", "电话江头街道2345678"},
		{"电话黄金维修2345678", "电话黄金维修2345678"},
		{"打王小明5551234", "打王小明5551234"},
		{"打建国5551234", "打建国5551234"},
		{"电话告知2026120", "电话告知2026120"},
		{"电话回访2345678", "电话回访2345678"},
		{"已电话通知，工单2026120", "已电话通知，工单2026120"},
		{"电话建国 20261207", "电话建国 20261207"},
		{"电话阿里巴巴5551234", "电话阿里巴巴5551234"},
		{"电话王小明 20261207", "电话王小明 20261207"},
	} {
		if got := MaskText(tc.in); got != tc.want {
			t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMaskTextHouseNumberBeforePhone: an address often ends with a house
// number and the caller's phone right after it (美溪道28 13812345678). The
// phone is masked and the house number kept as typed, whatever the
// groups of either: joined to the mobile, 86 read as a country code, four
// digits as an old ID card, and a local number after one was not alone.
func TestMaskTextHouseNumberBeforePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"美溪道思明工业园28号 13812345678", "美溪道思明工业园28号 138****5678"},
		{"美溪道思明工业园28 13812345678", "美溪道思明工业园28 138****5678"},
		{"美溪道思明工业园28 138 1234 5678", "美溪道思明工业园28 138****5678"},
		{"美溪道思明工业园28-138-1234-5678", "美溪道思明工业园28-138****5678"},
		{"美溪道思明工业园28，0592-5551234", "美溪道思明工业园28，059****1234"},
		{"美溪道思明工业园28 0592 555 1234", "美溪道思明工业园28 059****1234"},
		{"美溪道86 13812345678", "美溪道86 138****5678"},
		{"美溪道86 138 1234 5678", "美溪道86 138****5678"},
		{"阳翟路1234 13801011234", "阳翟路1234 138****1234"},
		{"美溪道28 555-1234", "美溪道28 *******"},
		{"美溪道28 2022 922", "美溪道28 *******"},
		{"美溪道28 555 0123", "美溪道28 *******"},
		{"美溪道28 5555 0123", "美溪道28 ********"},
		{"美溪道 555-1234", "美溪道 *******"},
		// A country code, an area code and an ID card stay what they were.
		{"回访+86 138 1234 5678", "回访+86138****5678"},
		{"回访0086 13812345678", "回访0086138****5678"},
		{"座机0592 5551234", "座机059****1234"},
		{"身份证 350203 19900101123X", "身份证 350***********123X"},
		{"12-555-1234", "12-555-1234"},
	} {
		if got := MaskText(tc.in); got != tc.want {
			t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
