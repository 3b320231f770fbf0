package classify

import (
	"slices"
	"strings"
	"testing"
)

// TestCommonPhrasings holds the words citizens use for each nuisance,
// each alone in a short complaint, so that one of them missing from the
// seeds sends the complaint to triage and fails here.
func TestCommonPhrasings(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tt := range []struct{ text, cat, sub, detail string }{
		// Neighbours: the police's.
		{"楼下蹦跳拖椅子，孩子没法写作业", "noise", "social_life", DetailNeighbour},
		// 写作业 is homework, no 作业 (work on a site).
		{"楼上每天晚上蹦跳，孩子没法写作业", "noise", "social_life", DetailNeighbour},
		{"楼上每天晚上蹦跳，孩子做作业都没法集中精神", "noise", "social_life", DetailNeighbour},
		{"楼上住户半夜还在蹦跳拖椅子", "noise", "social_life", DetailNeighbour},
		{"楼上小孩每天晚上跑跳，咚咚的", "noise", "social_life", DetailNeighbour},
		{"楼上每天晚上拖拉桌椅", "noise", "social_life", DetailNeighbour},
		{"楼上住户深夜打麻将，还在洗牌喧哗", "noise", "social_life", DetailNeighbour},
		{"隔壁邻居半夜打麻将", "noise", "social_life", DetailNeighbour},
		// Renovation is social-life noise (DOMAIN.md) and urban
		// management's (seeds/routing.json), whoever does it.
		{"楼上装修电钻响个不停", "noise", "social_life", ""},
		{"楼上邻居天天装修，电锤声很大", "noise", "social_life", ""},
		{"隔壁在装修，中午也不停", "noise", "social_life", ""},
		// Square dancing, loudspeakers, venues: urban management's.
		{"小区门口跳广场舞", "noise", "social_life", ""},
		{"附近广场上跳舞的阿姨们跳到很晚，严重影响休息", "noise", "social_life", ""},
		{"商铺门口高音喇叭循环播放", "noise", "social_life", ""},
		{"楼下KTV营业到凌晨", "noise", "social_life", DetailBarKTV},
		{"沿街的清吧驻唱声音很大", "noise", "social_life", DetailBarKTV},
		{"对面的夜场营业到凌晨，驻唱声音很大", "noise", "social_life", DetailBarKTV},
		// Other noise.
		{"道路改造工程夜间违规施工，十点了还没停", "noise", "construction", ""},
		// Works in a household's or a shop's own rooms are renovation,
		// social-life noise; a site, road or municipal works is not.
		{"楼上在做防水工程，电锤声很大", "noise", "social_life", ""},
		{"楼上在施工，电钻声很大", "noise", "social_life", ""},
		{"隔壁商铺在做工程，天天电钻声", "noise", "social_life", ""},
		{"楼上住户说是楼下工地晚上还在施工", "noise", "construction", ""},
		{"邻居反映小区旁边的工地夜间施工", "noise", "construction", ""},
		{"小区在做外墙改造工程，脚手架上敲敲打打很吵", "noise", "construction", ""},
		// 工程车 are vehicles on the road: their noise passing is traffic's.
		{"工程车半夜经过，声音很大", "noise", "traffic", ""},
		{"工地连夜施工，窗户关着都听得到", "noise", "construction", ""},
		// Municipal and road works are construction, whatever machine
		// or crossing they are at; asking after a permit negates nothing.
		{"路口的市政工程工人还在大声喊叫，机器也不停，整晚失眠", "noise", "construction", ""},
		{"楼下道路改造工程凌晨一点多机器轰鸣，请问他们有没有夜间施工许可？", "noise", "construction", ""},
		{"我住在工业园附近，对面的地铁施工围挡晚上十点多机器轰鸣，请问他们有没有夜间施工许可？", "noise", "construction", ""},
		{"小区门口的管网改造工程半夜还在挖，机器声音很大", "noise", "construction", ""},
		{"路口车辆呼啸而过，根本没法休息", "noise", "traffic", ""},
		// Heavy lorries shaking the houses are traffic noise, whatever
		// the crossing is named after or the road's dust beside them.
		{"路口路面坑洼，重车经过震动很大，晚上尤其明显。另外，附近渣土车经过还掉土。", "noise", "traffic", ""},
		{"环城北路与思明工业园交叉口路面坑洼，重车经过震动很大，吵得睡不着", "noise", "traffic", ""},
		{"工地打桩震动很大，家里墙都有裂缝了", "noise", "construction", ""},
		{"厂房的设备有低频嗡鸣，晚上特别明显", "noise", "industrial", ""},
		{"冷链仓库的设备有低频嗡鸣，晚上特别明显，孩子没法写作业", "noise", "industrial", ""},
		{"附近的工地混凝土泵车半夜还在作业，孩子没法写作业", "noise", "construction", ""},
		// 在建 (under construction) inside 住在建发花园, an estate's
		// name, is no site; 在建 of a site still is.
		{"小区旁边在建的楼盘半夜还在作业", "noise", "construction", ""},
		{"我住在建发花园，每天晚上都很吵", "noise", "social_life", ""},
		// Nor is 在建 where 建 begins a name: 在建业大厦, 在建行 (a
		// bank), 在建材城 (a building-materials market, whose 建材 still
		// counts).
		{"我办公室在建业大厦，楼下空地堆了很多沙子，风一吹全是灰", "dust", "yard", ""},
		{"我在建行上班，门口空地堆着沙子，风一吹全是灰", "dust", "yard", ""},
		{"我在建材城上班，粉尘很大", "dust", "yard", ""},
		// Dust.
		{"渣土车沿路撒漏", "dust", "road", ""},
		{"渣土车没有盖篷布，一路掉土", "dust", "road", ""},
		{"渣土外运没有密闭，沿路撒落", "dust", "road", ""},
		{"工地扬尘很大", "dust", "construction_site", ""},
		// Roadworks are a site (施工扬尘), not the road's dust.
		{"投诉道路施工现场扬尘污染，一直没有洒水", "dust", "construction_site", ""},
		{"道路施工现场扬尘严重，灰尘满天飞", "dust", "construction_site", ""},
		{"这段道路施工扬尘很大，路过都要捂鼻子", "dust", "construction_site", ""},
		{"道路施工现场半夜还在用切割机，吵得睡不着", "noise", "construction", ""},
		{"这条路道路扬尘很严重", "dust", "road", ""},
		{"工地黄土裸露也不覆盖", "dust", "construction_site", ""},
		{"基坑开挖工地的土堆没有盖防尘网", "dust", "construction_site", ""},
		{"混凝土搅拌站的水泥粉末到处飘", "dust", "yard", ""},
		{"我家在建发花园，路口的混凝土搅拌站灰很大", "dust", "yard", ""},
		{"我家在建发花园，旁边的砂石露天堆着，风一吹全是灰", "dust", "yard", ""},
		{"废品回收站灰很大", "dust", "yard", ""},
		// A yard's lorries leaving unwashed and its loaders are its own
		// dust, not a site's: a mixing plant, a disposal yard for
		// construction waste (消纳场), a recycling station.
		{"混凝土搅拌站的运输车进出不冲洗，灰尘满天飞", "dust", "yard", ""},
		{"建筑垃圾消纳场的运输车进出不冲洗，灰很大", "dust", "yard", ""},
		{"废品回收站的运输车进出不冲洗，灰尘满天飞", "dust", "yard", ""},
		{"混凝土搅拌站刚才在筛沙，粉尘很大", "dust", "yard", ""},
		{"混凝土搅拌站的喷淋设施坏了，好几天都没修", "dust", "yard", ""},
		{"搅拌站的机器噪音很大，晚上也不停", "noise", "industrial", ""},
		// Mud a site's vehicles carry out of its exit unwashed is the
		// site's dust (施工扬尘: no wheel washing); muck trucks spilling
		// on the road are the road's, even from a site.
		{"工地出口路面全是泥，车一过呛得人咳嗽", "dust", "construction_site", ""},
		{"工地车辆带泥上路", "dust", "construction_site", ""},
		{"工地出口没有洗车，路面全是泥", "dust", "construction_site", ""},
		{"施工现场进出车辆不冲洗，轮胎带泥上路，灰尘满天飞", "dust", "construction_site", ""},
		{"渣土车撒落在路上，路面全是泥", "dust", "road", ""},
		{"工地出来的泥头车带泥上路", "dust", "road", ""},
		{"工地的渣土外运没有密闭，沿路撒落", "dust", "road", ""},
		{"这条路路面全是泥，车一过灰很大", "dust", "road", ""},
		// A lorry carrying sand or gravel on the road is road dust
		// (transport), not a storage yard's: its 砂石 is its load.
		{"运砂石的货车开得飞快，后面一路尘土", "dust", "road", ""},
		{"反映运砂石的货车扬尘问题，空气非常差", "dust", "road", ""},
		{"拉沙车来来往往，灰尘满天飞", "dust", "road", ""},
		{"砂石车经过的时候扬尘很大", "dust", "road", ""},
		{"运沙石的大货车没盖篷布，沙子一路往下掉", "dust", "road", ""},
		{"砂石料场的铲车装卸的时候灰很大", "dust", "yard", ""},
		// Sand and gravel a site keeps in the open is the site's own
		// stockpile, its dust 施工扬尘; a storage yard's, even beside a
		// site, is 堆场扬尘.
		{"工地的砂石料露天堆放，起风时灰尘满天飞", "dust", "construction_site", ""},
		{"旁边在建楼盘的沙子石子露天堆放，也不盖网，全是灰", "dust", "construction_site", ""},
		{"施工现场堆了很多砂石，风一吹全是灰", "dust", "construction_site", ""},
		{"工地旁边的砂石料场露天堆放，灰很大", "dust", "yard", ""},
		{"给工地供料的混凝土搅拌站砂石露天堆放，粉尘很大", "dust", "yard", ""},
		{"附近的砂石料场露天堆放沙子石子，风一吹灰尘满天飞", "dust", "yard", ""},
		// Cooking smoke.
		{"楼下饭店油烟很大", "cooking_smoke", "restaurant", ""},
		{"我住在建发花园，楼下饭店油烟很大", "cooking_smoke", "restaurant", ""},
		{"我家在建达花园，楼下饭店油烟很大", "cooking_smoke", "restaurant", ""},
		// A household named beside an eatery: the eatery's smoke.
		{"邻居家楼下的饭店油烟很大", "cooking_smoke", "restaurant", ""},
		{"楼下住户说是隔壁小吃店炒菜的油烟", "cooking_smoke", "restaurant", ""},
		{"邻居家旁边的烧烤摊烟很大", "cooking_smoke", "open_air_bbq", ""},
		// An eatery named in a sentence of its own is the smoke's.
		{"楼下新开了一家饭店。每天晚上油烟很大，邻居们都受不了。", "cooking_smoke", "restaurant", ""},
		// A neighbour grilling out in the open, not at home.
		{"邻居在楼下空地烧烤，烟很大", "cooking_smoke", "open_air_bbq", ""},
		{"餐馆的排烟管道直接对着居民楼", "cooking_smoke", "restaurant", ""},
		{"面馆的油烟管道漏油", "cooking_smoke", "restaurant", ""},
		{"路边烧烤摊烟很大", "cooking_smoke", "open_air_bbq", ""},
		{"楼下有人烧烤到半夜", "cooking_smoke", "open_air_bbq", ""},
		// A barbecue restaurant's kitchen and flue are 餐饮油烟; it is 露天烧烤
		// when it grills outside.
		{"楼下烧烤店油烟很大", "cooking_smoke", "restaurant", ""},
		{"小区底商的烤肉店排烟管道对着我家窗户，烟味很重", "cooking_smoke", "restaurant", ""},
		{"楼下烧烤店每天晚上在店外人行道上摆炉子烤串，烟很大", "cooking_smoke", "open_air_bbq", ""},
		{"烧烤店在门口露天烧烤，烟熏得窗户都不能开", "cooking_smoke", "open_air_bbq", ""},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub || got.Detail != tt.detail {
				t.Errorf("got %s/%s detail %q (%.2f, also %v), want %s/%s detail %q",
					got.Category, got.Subcategory, got.Detail, got.Score, got.AlsoMentioned, tt.cat, tt.sub, tt.detail)
			}
		})
	}
}

// TestNearMisses holds texts that use a nuisance's words and are no
// complaint about it, or about one the bureau does not handle: each must
// go to triage, not to the category its words resemble.
func TestNearMisses(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tt := range []struct{ why, text string }{
		{"an entry form, no noise", "跳舞比赛报名"},
		{"asks how to join a dance group", "社区广场舞队怎么报名"},
		{"a household appliance, no restaurant", "我家油烟机坏了，售后一直不来修"},
		{"a household appliance, no restaurant", "想问一下抽油烟机的安装标准"},
		// Animal noise is no social-life noise: the noise law's is noise
		// people make, and DOMAIN.md names no animal; a supervisor decides.
		{"animal noise", "隔壁邻居养的狗整晚叫个不停，沟通过也没用"},
		{"animal noise, even called noisy", "楼下住户家里养的狗一直叫，吵得根本睡不着"},
		{"animal noise", "小区里犬吠声不断"},
		{"gambling, not noise", "楼下棋牌室聚众赌博"},
		{"renovation waste, not noise", "楼道里堆满了装修垃圾"},
		{"a jump alone names no nuisance", "孩子在家里蹦床上玩"},
		{"negated", "楼上没有蹦跳，是楼下的问题，已经解决了"},
		// A household's kitchen is neither 餐饮油烟 nor 露天烧烤
		// (DOMAIN.md): a supervisor decides. So is its balcony: a
		// household grilling at home is no street or stall barbecue.
		{"a household's kitchen", "邻居家做饭油烟很大"},
		{"a household's kitchen", "楼下住户炒菜的油烟飘到我家"},
		{"a household's kitchen", "隔壁那户人家厨房的油烟天天飘进来"},
		{"a household's balcony barbecue", "邻居家在阳台烧烤，烟很大"},
		{"a household's balcony barbecue", "楼上住户周末在阳台上烤肉，烟熏得衣服都不能晾"},
		// A shop named only about another nuisance is no eatery the
		// smoke comes from.
		{"a household's kitchen, and a shop's noise", "邻居家做饭油烟很大，天天飘进我家。另外，楼下小卖店门口的喇叭也很吵。"},
		// Works named with no noise or dust are some other department's
		// matter (a road dug up, a lane taken, works not finished): a
		// works' name is where a nuisance comes from, not one.
		{"works not finished", "市政工程什么时候完工"},
		{"works not finished", "门口的道路改造工程一直没完工"},
		{"a road dug up and not restored", "管网改造工程把路挖开了一直没恢复，出行不便"},
		{"a lane taken by works", "市政工程占道，出行不便"},
		{"a lane taken by roadworks", "道路施工占道，出行不便"},
		{"traffic jammed by roadworks", "门口道路施工，交通拥堵"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != "" {
				t.Errorf("%s: got %s/%s (%.2f), want triage", tt.why, got.Category, got.Subcategory, got.Score)
			}
		})
	}
}

// TestLeadInCueWeighsItsSentence: an aside introduced by a cue in a
// clause of its own ("另外，…", as people write it) weighs less than the
// complaint it follows, to the end of its sentence and no further.
func TestLeadInCueWeighsItsSentence(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tt := range []struct{ text, cat, sub, also string }{
		{"楼下的沙茶面店油烟味很重。另外，路面灰尘也很多，没人洒水。", "cooking_smoke", "restaurant", "dust/road"},
		{"小区旁边的主干道车流量大，吵得睡不着。还有，工地的扬尘也很大，窗台都是灰。", "noise", "traffic", "dust"},
		{"楼上邻居装修砸墙很吵。同时附近渣土车经过灰尘很大。", "noise", "social_life", "dust/road"},
		{"顺便反映一下，路边烧烤摊烟很大。楼上装修砸墙吵得睡不着，已经好几天了。", "noise", "social_life", "cooking_smoke/open_air_bbq"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub {
				t.Errorf("got %s/%s (also %v), want %s/%s", got.Category, got.Subcategory, got.AlsoMentioned, tt.cat, tt.sub)
			}
			found := false
			for _, m := range got.AlsoMentioned {
				found = found || m == tt.also || strings.HasPrefix(m, tt.also+"/") || strings.HasPrefix(tt.also, m+"/")
			}
			if !found {
				t.Errorf("also mentioned %v, want %s", got.AlsoMentioned, tt.also)
			}
		})
	}
}

// TestOverridesFollowTheHotline: where the hotline names the category, a
// rule of the seed's overrides may choose its subcategory from the words
// but never sends the complaint to triage.
func TestOverridesFollowTheHotline(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tt := range []struct{ path, text, cat, sub string }{
		{"生态环境>大气污染>扬尘", "工地出口路面全是泥，车一过呛得人咳嗽", "dust", "construction_site"},
		{"城市管理>渣土管理>渣土车撒漏", "工地出口路面全是泥", "dust", "road"},
		{"生态环境>大气污染>油烟", "邻居家做饭油烟很大", "cooking_smoke", "restaurant"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{HotlineCategory: tt.path, Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub {
				t.Errorf("got %s/%s, want %s/%s", got.Category, got.Subcategory, tt.cat, tt.sub)
			}
			for _, m := range got.AlsoMentioned {
				if m == "dust/road" && tt.sub == "construction_site" {
					t.Errorf("also mentioned %v: the road reading was overridden", got.AlsoMentioned)
				}
			}
		})
	}
}

// TestMentionsFollowTheOverrides: a nuisance a mixed complaint mentions
// beside its main one is read by the seed's overrides as the main one
// is: a neighbour's household cooking smoke is out of scope and no
// restaurant smoke, and mud a site's vehicles carry out unwashed is the
// site's dust.
func TestMentionsFollowTheOverrides(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tt := range []struct {
		text, cat, sub string
		also, notAlso  string
	}{
		{"楼上装修砸墙很吵，吵得睡不着。另外，邻居家做饭油烟也很大。", "noise", "social_life", "", "cooking_smoke"},
		{"小区楼下的广场舞音响很大。还有，楼下住户炒菜的油烟飘到我家。", "noise", "social_life", "", "cooking_smoke"},
		{"楼上装修砸墙很吵，吵得睡不着。另外，邻居家在阳台烧烤，烟很大。", "noise", "social_life", "", "cooking_smoke"},
		{"楼上装修砸墙很吵，吵得睡不着。另外，楼下饭店的油烟也很大。", "noise", "social_life", "cooking_smoke/restaurant", ""},
		// A shop named in the sentence about the noise says nothing of
		// whose kitchen the smoke comes from.
		{"楼下商铺的音响很吵，吵得睡不着。另外，邻居家做饭油烟也很大。", "noise", "social_life", "", "cooking_smoke"},
		{"附近的工厂机器一直在运转，嗡嗡声不断。另外，旁边工地出口路面全是泥，车一过灰尘满天飞。", "noise", "industrial", "dust/construction_site", "dust/road"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			got, err := c.Classify(Input{Description: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if got.Category != tt.cat || got.Subcategory != tt.sub {
				t.Errorf("got %s/%s (also %v), want %s/%s", got.Category, got.Subcategory, got.AlsoMentioned, tt.cat, tt.sub)
			}
			for _, m := range got.AlsoMentioned {
				if tt.notAlso != "" && (m == tt.notAlso || strings.HasPrefix(m, tt.notAlso+"/")) {
					t.Errorf("also mentioned %v, want no %s", got.AlsoMentioned, tt.notAlso)
				}
			}
			if tt.also != "" && !slices.Contains(got.AlsoMentioned, tt.also) {
				t.Errorf("also mentioned %v, want %s among them", got.AlsoMentioned, tt.also)
			}
		})
	}
}
