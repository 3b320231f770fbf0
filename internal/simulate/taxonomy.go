package simulate

// Hour profiles: relative weight of each hour of the day (Asia/Shanghai) at
// which citizens call about a kind of nuisance.
var (
	// Night work on sites: the peak of construction-noise calls is 22:00-02:00.
	hoursNightWork = [24]float64{12, 10, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 10, 12}
	// Day work that starts too early, works through the noon rest or runs late.
	hoursDayWork = [24]float64{0, 0, 0, 0, 0, 1, 4, 5, 3, 2, 2, 2, 5, 5, 2, 2, 2, 2, 3, 4, 4, 3, 1, 0}
	// Square dancing in the evening, a little at dawn.
	hoursSquareDance = [24]float64{0, 0, 0, 0, 0, 1, 3, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 8, 10, 9, 3, 1}
	// Bars, KTV and late drinking.
	hoursLateNight = [24]float64{8, 6, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 7, 9}
	// Shops' loudspeakers during opening hours.
	hoursShop = [24]float64{0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 5, 5, 3, 3, 4, 4, 4, 4, 5, 5, 4, 2, 1, 0}
	// Renovation in working hours and in the forbidden noon rest.
	hoursRenovation = [24]float64{0, 0, 0, 0, 0, 0, 1, 3, 6, 7, 6, 5, 6, 5, 6, 6, 5, 4, 2, 2, 1, 1, 0, 0}
	// Neighbours at night.
	hoursNeighbour = [24]float64{6, 3, 2, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 5, 8, 8}
	// Rush hours and heavy lorries at night.
	hoursTraffic = [24]float64{3, 3, 3, 2, 2, 3, 6, 7, 5, 2, 2, 2, 2, 2, 2, 2, 3, 5, 6, 3, 2, 2, 3, 3}
	// Factories run day and night; calls come mostly when people try to sleep.
	hoursIndustrial = [24]float64{5, 4, 3, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 6}
	// Site dust in daylight working hours.
	hoursDaylight = [24]float64{0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 5, 6, 8, 8, 7, 6, 3, 1, 1, 0, 0, 0}
	// Muck trucks run at night, sweepers in the morning.
	hoursMuckTruck = [24]float64{6, 6, 5, 4, 3, 2, 3, 4, 4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 5, 6, 6}
	// Restaurants at meal times.
	hoursMeals = [24]float64{1, 0, 0, 0, 0, 0, 1, 2, 2, 3, 6, 10, 10, 5, 2, 2, 3, 8, 10, 8, 4, 2, 2, 1}
	// Barbecue stalls from evening to the small hours.
	hoursBarbecue = [24]float64{7, 5, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 9, 9, 8}
)

// theme is one kind of situation inside a subcategory: what the source is,
// when people call about it and how they describe it.
type theme struct {
	weight    float64
	hours     [24]float64
	weekend   float64  // how many times likelier a weekend day is than a weekday; 0: as likely
	sources   []string // the nuisance's source as a background caller names it
	spots     []string // planted hotspot place patterns with {anchor} {road}; none: never planted
	templates []string // description bodies with {loc} {src} {when} {dur} {hurt}
}

// subcat is a subcategory with its share of all complaints.
type subcat struct {
	category, code string
	share          float64
	hotline        []string // hotline_category paths the hotline uses for it
	themes         []theme
}

// Categories' impact phrases, by category code.
var hurts = map[string][]string{
	"noise": {
		"吵得根本睡不着", "严重影响休息", "家里老人心脏受不了", "孩子被吵醒好几次", "窗户关着都听得到",
		"震耳欲聋", "根本没法休息", "第二天上班都没精神", "吵得人心烦意乱", "神经衰弱都快犯了",
		"孩子没法写作业", "整晚失眠",
	},
	"dust": {
		"灰尘满天飞", "家里窗台一层灰", "衣服都不敢晾", "出门都要戴口罩", "呛得人咳嗽",
		"停在楼下的车上全是灰", "孩子鼻炎又犯了", "窗户都不敢开", "空气非常差",
	},
	"cooking_smoke": {
		"油烟味熏得家里到处都是", "窗户都不敢开", "呛得喘不过气", "衣服上全是油烟味",
		"墙面都被熏黑了", "家里老人咳嗽不止", "晒的被子都是油烟味", "孩子闻了直咳嗽",
		"空调外机上都是油污",
	},
}

var durations = []string{
	"最近一周", "连续好几天", "这半个月", "一个多月来", "这几天", "这段时间", "从上个月开始",
	"近两个星期", "最近",
}

// subcats lists every subcategory of DOMAIN.md with its share: noise about
// 55 % (social life largest, construction next), dust 25 %, cooking smoke 20 %.
var subcats = []subcat{
	{
		category: "noise", code: "construction", share: 0.16,
		hotline: []string{"生态环境>噪声污染>建筑施工噪声", "住房建设>建筑工地>夜间施工扰民", "生态环境>噪声污染"},
		themes: []theme{
			{weight: 0.75, hours: hoursNightWork, spots: []string{"{anchor}旁的在建工地", "{road}道路改造工程", "{anchor}附近的安置房项目工地", "{road}地铁站施工现场", "{anchor}对面的商业综合体工地"},
				sources: []string{"附近的工地", "小区旁边在建的楼盘", "对面的地铁施工围挡", "路口的市政工程", "旁边的安置房工地", "楼下道路改造工程", "附近学校扩建工地", "隔壁的管网改造工地"},
				templates: []string{
					"{loc}{src}{when}还在施工，打桩机声音{hurt}。",
					"{src}{dur}夜间施工，{when}还在浇筑混凝土，噪音非常大，{hurt}。",
					"我住在{loc}，{src}{when}机器轰鸣，{hurt}，请问他们有没有夜间施工许可？",
					"{loc}的{src}{when}用电钻、切割机作业，{hurt}。",
					"反映{loc}{src}{dur}连夜施工，渣土车进出、挖掘机作业，噪声扰民严重。",
					"{src}{when}还在搅拌混凝土，泵车声音很大，{hurt}，家里有老人小孩。",
					"{when}{src}敲敲打打，钢筋碰撞声不断，{hurt}。",
					"{loc}{src}夜间违规施工，{when}了还没停，{hurt}。",
					"投诉{loc}{src}：{dur}晚上施工，噪音超标，{hurt}。",
					"{src}{when}吊塔和切割机一直在响，{hurt}，之前打过电话说会处理但没有改善。",
					"{loc}附近{src}{when}施工，灯火通明，机械噪音很大，{hurt}。",
					"{src}夜里赶工，{when}还在卸钢管，哐当哐当的，{hurt}。",
					"家住{loc}，对面{src}{dur}都在夜间作业，{hurt}，请查一下是否办理了夜间施工证明。",
					"{src}的混凝土泵车{when}还在作业，{hurt}，孩子明天还要上学。",
				}},
			{weight: 0.25, hours: hoursDayWork, spots: []string{"{anchor}旁的在建工地", "{road}拆迁工地"},
				sources: []string{"附近的工地", "旁边的拆迁工地", "路口的市政工程", "小区对面的楼盘工地"},
				templates: []string{
					"{src}每天{when}就开始施工，打桩声一下一下的，{hurt}。",
					"{src}{when}破碎锤作业，整栋楼都在震，{hurt}。",
					"{when}{src}工人还在大声喊叫，机器也不停，{hurt}。",
					"{loc}{src}中午午休时间也在施工，{when}电锯声不断，{hurt}。",
					"{loc}{src}{dur}一大早就开工，{when}挖掘机就响了，{hurt}。",
				}},
		},
	},
	{
		category: "noise", code: "social_life", share: 0.29,
		hotline: []string{"生态环境>噪声污染>社会生活噪声", "城市管理>噪声扰民>娱乐场所噪声", "城市管理>噪声扰民>商业经营噪声", "公安>治安管理>噪声扰民"},
		themes: []theme{
			{weight: 0.28, hours: hoursSquareDance, weekend: 1.2, spots: []string{"{anchor}旁边的小广场", "{road}口的广场舞场地", "{anchor}附近的街心公园"},
				sources: []string{"小区楼下的广场舞队伍", "公园里跳广场舞的", "附近广场上跳舞的阿姨们", "小区篮球场的广场舞"},
				templates: []string{
					"{loc}{src}{when}音响开得特别大，{hurt}。",
					"{src}{dur}每天{when}都在放音乐，跟她们沟通过没用，{hurt}。",
					"{loc}广场舞噪音扰民，{src}{when}音响声还很大，{hurt}，希望管一管。",
					"{src}用的大功率音箱，{when}低音炮震得窗户响，{hurt}。",
					"投诉{src}：{when}就放起广场舞音乐，跳到很晚，{hurt}，家里有高考生。",
				}},
			{weight: 0.22, hours: hoursLateNight, weekend: 1.6, spots: []string{"{anchor}附近的酒吧街", "{road}沿街的KTV", "{anchor}楼下的音乐餐吧"},
				sources: []string{"楼下的酒吧", "附近的KTV", "沿街的清吧", "对面的夜场", "底商的音乐餐吧"},
				templates: []string{
					"{loc}{src}{when}还在放重低音音乐，{hurt}。",
					"{src}{dur}营业到凌晨，驻唱声音很大，{hurt}。",
					"{src}{when}客人在门口喝酒划拳大声喧哗，{hurt}。",
					"我家在{loc}，{src}的音响{when}都还在响，楼板都在震，{hurt}。",
					"{src}噪音扰民，{when}还在唱歌，报警过几次还是这样，{hurt}。",
				}},
			{weight: 0.18, hours: hoursShop, weekend: 1.3, spots: []string{"{road}的步行商业街", "{anchor}门口的促销摊位"},
				sources: []string{"沿街商铺", "楼下的服装店", "附近的手机店", "菜市场门口的摊贩", "超市门口"},
				templates: []string{
					"{loc}{src}用大喇叭循环播放促销广告，{when}一直在喊，{hurt}。",
					"{src}门口放着音箱招揽顾客，{dur}都这样，{hurt}。",
					"{src}的喇叭叫卖声太吵了，{when}还在放，{hurt}。",
					"反映{loc}{src}高音喇叭扰民，{hurt}，请城管处理。",
					"{src}{when}音乐开得很大声，路过都受不了，住在楼上{hurt}。",
				}},
			{weight: 0.17, hours: hoursRenovation, weekend: 1.8, sources: []string{"楼上邻居家", "隔壁装修的住户", "同单元在装修的人家", "楼下的商铺装修"},
				templates: []string{
					"{src}装修{when}还在电钻打墙，{hurt}。",
					"{loc}{src}中午休息时间也在装修，{when}敲个不停，{hurt}。",
					"{src}{dur}都在装修，周末一大早就开始切瓷砖，{hurt}。",
					"投诉{src}违规时间装修，{when}还有电锤声，物业管不了，{hurt}。",
					"{src}装修噪音很大，{when}还在砸墙，{hurt}。",
				}},
			{weight: 0.15, hours: hoursNeighbour, weekend: 1.4, sources: []string{"楼上住户", "隔壁邻居", "对门的住户", "楼下的人家"},
				templates: []string{
					"{src}{when}还在蹦跳拖椅子，{hurt}。",
					"{src}{dur}深夜打麻将，{when}还在洗牌喧哗，{hurt}。",
					"{src}的小孩{when}还在屋里跑跳、拍皮球，{hurt}。",
					"{loc}{src}{when}放音乐唱卡拉OK，{hurt}，沟通无果。",
					"{src}在家里开音响{when}还在放，{hurt}。",
				}},
		},
	},
	{
		category: "noise", code: "traffic", share: 0.06,
		hotline: []string{"生态环境>噪声污染>交通运输噪声", "交通运输>道路交通>交通噪声"},
		themes: []theme{
			{weight: 1, hours: hoursTraffic, spots: []string{"{road}高架桥路段", "{road}与{anchor}交叉口", "{road}公交场站"},
				sources: []string{"门口的高架桥", "小区旁的主干道", "附近的公交场站", "路口", "旁边的快速路", "过往的大货车"},
				templates: []string{
					"{loc}{src}{when}大货车来往不断，{hurt}。",
					"{src}车辆鸣笛声不断，{when}也在按喇叭，{hurt}。",
					"{src}{dur}晚上有改装车炸街，{when}轰油门，{hurt}。",
					"{loc}{src}车流量大，没有隔音屏，{hurt}，希望加装声屏障。",
					"{src}{when}渣土车、水泥罐车经过，轰隆隆的，{hurt}。",
					"{src}的减速带被车压过去哐哐响，{when}也不停，{hurt}。",
					"投诉{loc}{src}交通噪声，{when}摩托车飙车，{hurt}。",
					"{src}的公交车{when}就开始发动怠速，{hurt}。",
					"{loc}{src}{when}车辆呼啸而过，{hurt}，能否限速或禁鸣。",
					"{src}路面坑洼，重车经过震动很大，{when}尤其明显，{hurt}。",
					"我住在{loc}，{src}噪音{dur}都很大，{hurt}。",
					"{src}有人{when}飙车，声浪特别大，{hurt}。",
					"{src}的井盖松动，车一压就响，{when}也一样，{hurt}。",
					"{loc}{src}{when}货车鸣笛，{hurt}，这里明明是禁鸣路段。",
					"{src}的车流噪音{dur}明显变大，{when}也吵，{hurt}。",
					"反映{src}夜间重型车辆通行噪声扰民，{hurt}。",
				}},
		},
	},
	{
		category: "noise", code: "industrial", share: 0.04,
		hotline: []string{"生态环境>噪声污染>工业噪声", "生态环境>噪声污染"},
		themes: []theme{
			{weight: 1, hours: hoursIndustrial, spots: []string{"{anchor}附近的五金加工厂", "{road}的石材加工厂", "{anchor}旁的冷链仓库"},
				sources: []string{"附近的工厂", "园区里的加工厂", "隔壁的厂房", "旁边的汽修厂", "附近的石材加工厂", "楼下的冷却塔"},
				templates: []string{
					"{loc}{src}{when}机器一直在运转，嗡嗡声不断，{hurt}。",
					"{src}{dur}夜间生产，冲压机的声音{hurt}。",
					"{src}的风机{when}还在响，低频噪音{hurt}。",
					"{loc}{src}切割石材的声音很刺耳，{when}也在作业，{hurt}。",
					"投诉{src}噪声超标，{when}还在生产，{hurt}。",
					"{src}的冷却塔和空压机{dur}24小时开着，{hurt}。",
					"我家在{loc}，{src}{when}开始敲打金属，{hurt}。",
					"{src}的车间门不关，机器声{when}传得很远，{hurt}。",
					"{src}{when}还在用叉车装卸货，{hurt}。",
					"{loc}{src}的设备{dur}都有低频嗡鸣，晚上特别明显，{hurt}。",
					"{src}喷漆房的排风机{when}一直响，{hurt}。",
					"反映{src}工业噪声扰民，{when}还在加班生产，{hurt}。",
					"{src}的发电机{when}开着，轰隆隆的，{hurt}。",
					"{src}{dur}在夜里开机生产，噪音很大，{hurt}，请环保部门来测一下。",
					"{loc}{src}的锅炉和泵房{when}噪音很大，{hurt}。",
				}},
		},
	},
	{
		category: "dust", code: "construction_site", share: 0.12,
		hotline: []string{"生态环境>大气污染>施工扬尘", "住房建设>建筑工地>扬尘污染", "生态环境>大气污染"},
		themes: []theme{
			{weight: 1, hours: hoursDaylight, spots: []string{"{anchor}旁的在建工地", "{road}拆迁工地", "{anchor}附近的基坑开挖工地", "{road}地铁站施工现场"},
				sources: []string{"附近的工地", "旁边在建楼盘", "道路施工现场", "拆迁工地", "地铁站施工现场", "基坑开挖工地"},
				templates: []string{
					"{loc}{src}裸露土方没有覆盖，{when}风一吹{hurt}。",
					"{src}进出车辆不冲洗，轮胎带泥上路，{hurt}。",
					"{src}{dur}在破碎拆除，不洒水降尘，{hurt}。",
					"{loc}{src}围挡破损，扬尘很大，{hurt}。",
					"{src}的土堆没有盖防尘网，{hurt}，请环保部门处理。",
					"{src}{when}在切割水泥，粉尘飘进小区，{hurt}。",
					"投诉{src}扬尘污染：{dur}一直没有洒水，{hurt}。",
					"{src}雾炮机从来不开，{when}尘土飞扬，{hurt}。",
					"我住在{loc}，{src}{dur}扬尘严重，{hurt}。",
					"{src}出口路面全是泥，车一过{hurt}。",
					"{src}的砂石料露天堆放，{when}起风时{hurt}。",
					"{loc}{src}在挖土方，{when}灰尘很大，{hurt}。",
					"{src}的车辆出来不冲洗轮胎，门口满路泥印，{hurt}。",
					"{src}{when}打磨墙面，粉尘到处飘，{hurt}。",
					"反映{loc}{src}施工扬尘问题，{hurt}，之前投诉过一直没改善。",
					"{src}拆旧房子没有喷淋，{when}一片灰蒙蒙的，{hurt}。",
				}},
		},
	},
	{
		category: "dust", code: "road", share: 0.09,
		hotline: []string{"城市管理>市容环境>道路扬尘", "城市管理>渣土管理>渣土车撒漏", "生态环境>大气污染"},
		themes: []theme{
			{weight: 1, hours: hoursMuckTruck, spots: []string{"{road}渣土车运输路线", "{road}（{anchor}路段）", "{road}与{anchor}之间的运输便道"},
				sources: []string{"过往的渣土车", "路上的泥头车", "晚上的渣土车队", "工地出来的泥头车", "运砂石的货车"},
				templates: []string{
					"{loc}{src}{when}沿路撒漏渣土，{hurt}。",
					"{src}没有盖篷布，{when}一路掉土，{hurt}。",
					"{loc}路面积尘很厚，{src}一过{hurt}。",
					"{src}{dur}晚上成群结队经过，{when}轰隆隆还掉土，{hurt}。",
					"{loc}的清扫车清扫不洒水，干扫扬起一大片灰，{hurt}。",
					"投诉{loc}道路扬尘，{src}带泥上路，{hurt}。",
					"{src}超载超速，泥土洒得满路都是，{hurt}。",
					"{loc}被{src}弄得路面全是黄泥，晴天{hurt}。",
					"{src}{when}经过都是一阵灰，{hurt}，希望多安排洒水车。",
					"我每天走{loc}，{src}扬尘{dur}都很严重，{hurt}。",
					"{src}车斗密闭不严，{when}还在撒漏，{hurt}。",
					"{loc}路面破损，{src}经过沙土到处撒，{hurt}。",
					"{src}外运渣土没有密闭，{when}沿路撒落，{hurt}。",
					"反映{src}扬尘问题：{dur}一直这样，{hurt}。",
					"{src}{when}开得飞快，后面一路尘土，{hurt}。",
					"{loc}{src}来来往往，绿化带都全是灰，{hurt}。",
				}},
		},
	},
	{
		category: "dust", code: "yard", share: 0.04,
		hotline: []string{"生态环境>大气污染>堆场扬尘", "生态环境>大气污染"},
		themes: []theme{
			{weight: 1, hours: hoursDaylight, spots: []string{"{anchor}附近的砂石料堆场", "{road}的混凝土搅拌站", "{anchor}旁的建筑垃圾消纳场"},
				sources: []string{"附近的砂石料场", "旁边的堆场", "码头的煤堆", "混凝土搅拌站", "建材市场的沙场", "废品回收站"},
				templates: []string{
					"{loc}{src}露天堆放沙子石子，{when}风一吹{hurt}。",
					"{src}没有围挡和苫盖，{hurt}。",
					"{src}{dur}装卸作业粉尘很大，{hurt}。",
					"{src}的铲车{when}一直在倒料，{hurt}。",
					"投诉{loc}{src}扬尘，{hurt}，请环保局来查。",
					"{src}的水泥粉末到处飘，{when}最严重，{hurt}。",
					"我家在{loc}，{src}{dur}灰很大，{hurt}。",
					"{src}堆得比围墙还高，也不盖网，{hurt}。",
					"{src}的运输车进出不冲洗，{hurt}。",
					"{loc}{src}{when}在筛沙，粉尘弥漫，{hurt}。",
					"{src}的喷淋设施坏了，{dur}都没修，{hurt}。",
					"{src}违规堆放建筑垃圾，{when}风大{hurt}。",
					"反映{src}堆场扬尘扰民：{hurt}。",
					"{src}{when}装车时灰尘冲天，{hurt}。",
					"{loc}{src}的煤灰飘到小区里，{hurt}。",
				}},
		},
	},
	{
		category: "cooking_smoke", code: "restaurant", share: 0.15,
		hotline: []string{"生态环境>大气污染>餐饮油烟", "城市管理>市容环境>餐饮油烟扰民"},
		themes: []theme{
			{weight: 1, hours: hoursMeals, spots: []string{"{anchor}楼下的沙茶面馆", "{road}的重庆火锅店", "{anchor}附近的湘菜馆", "{road}的海鲜大排档", "{anchor}底商的烧腊快餐店"},
				sources: []string{"楼下的饭店", "隔壁的餐馆", "底商的火锅店", "小区门口的快餐店", "沿街的烧腊店", "附近的大排档", "楼下的沙茶面店", "一楼的小炒店"},
				templates: []string{
					"{loc}{src}油烟直排，{when}{hurt}。",
					"{src}没有安装油烟净化器，{hurt}。",
					"{src}的排烟管道直接对着居民楼，{when}做饭时{hurt}。",
					"{src}{dur}每到饭点油烟就很大，{hurt}。",
					"投诉{loc}{src}油烟扰民，{hurt}，请城管执法处理。",
					"{src}的油烟机好像从来不清洗，{when}油烟冒出来{hurt}。",
					"我住在{src}楼上，{when}炒菜的油烟和味道都飘上来，{hurt}。",
					"{src}的烟囱高度不够，油烟直接飘进窗户，{hurt}。",
					"{loc}{src}在后门炸东西，{when}满巷子的油烟，{hurt}。",
					"{src}违规在住宅楼底下开餐饮，油烟没处排，{hurt}。",
					"{src}{when}排风机又响又冒油烟，{hurt}。",
					"{src}的油烟管道漏油，{dur}都没人修，{hurt}。",
					"反映{src}餐饮油烟问题：{when}最严重，{hurt}。",
					"{loc}{src}在门口支锅炒菜，油烟直往楼上冒，{hurt}。",
					"{src}的净化器形同虚设，{when}油烟还是很大，{hurt}。",
					"{src}开业以后油烟就一直扰民，{when}{hurt}。",
				}},
		},
	},
	{
		category: "cooking_smoke", code: "open_air_bbq", share: 0.05,
		hotline: []string{"城市管理>市容环境>露天烧烤", "生态环境>大气污染>餐饮油烟"},
		themes: []theme{
			{weight: 1, hours: hoursBarbecue, weekend: 1.5, spots: []string{"{anchor}附近的夜市烧烤摊", "{road}路边烧烤摊", "{anchor}旁的露天烧烤大排档"},
				sources: []string{"路边的烧烤摊", "夜市的烧烤摊", "小区门口的露天烧烤", "沙滩边的烧烤摊", "大排档门口的烤串摊", "城中村里的烧烤摊"},
				templates: []string{
					"{loc}{src}{when}烟雾缭绕，{hurt}。",
					"{src}占道经营露天烧烤，{when}还在烤，{hurt}。",
					"{src}用木炭烧烤，{dur}每天晚上都这样，{hurt}。",
					"投诉{loc}{src}，{when}浓烟滚滚，{hurt}。",
					"{src}烤串的烟直接往楼上飘，{hurt}。",
					"{src}{when}还在营业，烟熏火燎的，{hurt}，还有人喝酒吵闹。",
					"我家在{loc}，{src}{dur}晚上出摊，{hurt}。",
					"{src}在人行道上摆桌烧烤，{when}烟很大，{hurt}。",
					"{loc}{src}的炭火烟{when}飘进家里，{hurt}。",
					"反映{src}露天烧烤油烟扰民，{hurt}，城管来了就跑，走了又来。",
					"{src}{when}烤生蚝烤鱿鱼，整条街都是烟，{hurt}。",
					"{src}没有任何油烟处理，{when}{hurt}。",
					"{src}把烧烤炉摆在楼道口，{when}烟往楼里灌，{hurt}。",
					"{loc}{src}{dur}一到晚上就冒烟，{hurt}。",
					"{src}{when}还在烧炭，{hurt}，担心有安全隐患。",
				}},
		},
	},
}

// A second nuisance some callers mention, by the category it belongs to.
var asides = map[string][]string{
	"noise":         {"晚上还有广场舞音响很吵。", "旁边工地晚上也在施工，很吵。", "附近酒吧的音乐也很大声。", "楼上装修也一直在打钻。"},
	"dust":          {"工地的扬尘也很大，窗台都是灰。", "附近渣土车经过还掉土。", "路面灰尘也很多，没人洒水。"},
	"cooking_smoke": {"楼下饭店的油烟也很大。", "晚上还有烧烤摊的烟飘上来。", "隔壁餐馆的排烟也对着我家窗户。"},
}

// Background some callers add: history, neighbours, escalation.
var histories = []string{
	"之前已经反映过好几次，工作人员来看过之后好了两天又恢复原样。",
	"我们小区很多业主都有意见，已经在业主群里联名投诉。",
	"找过物业和社区，都说管不了，让我们打12345。",
	"家里有刚出生的宝宝和八十多岁的老人，实在是扛不住了。",
	"上周也打过电话，回复说已经处理，但根本没有改变。",
	"我拍了视频，可以提供给执法人员。",
	"希望执法人员晚上过来现场看一下，白天来是看不到的。",
	"如果再不处理，我们准备向媒体反映。",
}

const historyShare = 0.15 // of descriptions, adding some history

var asideLeads = []string{"另外，", "还有，", "同时", "顺便反映一下，"}

// Openings: operators summarise phone calls in the third person; citizens
// write online in the first.
var (
	phoneOpenings  = []string{"市民来电反映：", "来电人反映，", "市民来电称，", "来电反映：", "", "市民反映："}
	onlineOpenings = []string{"您好，", "你好，我要投诉。", "", "我要反映一个问题：", "【投诉】", "领导好，"}
	closings       = []string{
		"请相关部门尽快处理。", "希望尽快解决！", "已经投诉过多次，一直没有解决，要求彻查。",
		"诉求：请职能部门核实处理。", "麻烦管一管，谢谢！", "", "", "请尽快派人来看看。",
		"实在受不了了！！", "希望政府重视一下。",
	}
	phoneClosings = []string{"来电人要求回复处理结果。", "来电人要求尽快处理并回复。"}
)

// Real roads per district slug (from the addresses of the reference points
// of interest), so address texts name streets that exist in the district.
var roads = map[string][]string{
	"siming":  {"厦禾路", "湖滨南路", "湖滨北路", "嘉禾路", "莲前西路", "湖滨东路", "观日路", "莲岳路", "龙山中路", "思明南路", "中山路", "环岛东路", "体育路", "前埔中路", "文屏路", "斗西路"},
	"haicang": {"海沧大道", "翁角路", "海景中路", "钟林路", "海景东路", "阳明路", "东孚大道", "南海三路", "新美路", "后祥路", "建港路", "新园路", "霞飞路"},
	"huli":    {"湖里大道", "安岭路", "兴隆路", "悦华路", "华昌路", "火炬路", "东渡路", "金湖路", "长乐路", "禾山路", "马垄路", "殿前一路", "长岸路", "象屿路", "岐山北路", "金尚路"},
	"jimei":   {"杏前路", "孙坂南路", "天马路", "灌口中路", "九天湖路", "天安路", "集美大道", "杏林西路", "银江路", "乐海路", "集源路", "环珠路", "海凤路", "日新路", "浔江路"},
	"tongan":  {"同集北路", "同集中路", "洪塘路", "通福路", "环城南路", "城南路", "城西路", "环城西路", "环城北路", "滨海西大道", "同龙二路", "集和路", "新民大道", "西洲路", "银湖路"},
	"xiangan": {"翔明路", "翔星路", "洪钟大道", "民安大道", "界头路", "翔安大道", "翔岳路", "翔安北路", "翔安西路", "后仓路", "新城中路", "巷西路", "鸿翔西路", "海翔大道", "春风路"},
}

// Residential wording callers use for where they live.
var homes = []string{"小区", "花园", "新村", "公寓", "家园", "苑"}

// Synthetic callers: common surnames and given names, phones in the
// reserved-looking 1380000xxxx block so tests can grep logs for them.
var (
	surnames   = []string{"陈", "林", "黄", "王", "李", "张", "吴", "郑", "刘", "蔡", "杨", "许", "洪", "苏", "庄", "谢", "曾", "叶"}
	givenNames = []string{"志强", "丽华", "建国", "秀英", "明", "海燕", "伟", "婷婷", "文博", "雅琴", "俊杰", "淑芬", "晓东", "美玲", "国平", "佳怡"}
)

// District weights by resident population (2020 census), Siming and Huli
// the densest; the tilts raise the priority districts of the 2024 work
// plan for the nuisances the plan names there.
var (
	districtWeight = map[string]float64{"siming": 0.25, "huli": 0.22, "jimei": 0.17, "tongan": 0.13, "haicang": 0.11, "xiangan": 0.12}
	categoryTilt   = map[string]map[string]float64{
		"noise": {"siming": 1.2, "huli": 1.2, "jimei": 1.1},
		"dust":  {"xiangan": 1.8, "tongan": 1.6, "jimei": 1.3},
	}
)
