package classify_test

import (
	"testing"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// TestNeighbourNoise holds the ways citizens name a neighbour — a
// household upstairs, downstairs, next door or across the landing, or
// such a place with what people do at home — and the shops, stalls,
// squares, parlours and renovations named beside the same words, which
// stay urban management's. Each text is routed as the router routes it:
// a neighbour's noise goes to the police (公安), the rest of social-life
// noise to urban management (城市管理综合执法).
func TestNeighbourNoise(t *testing.T) {
	t.Parallel()
	c, err := classify.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := routing.Load()
	if err != nil {
		t.Fatal(err)
	}
	const police, urban = "公安", "城市管理综合执法"
	// Afternoon: no night rule for a venue applies.
	at := time.Date(2025, time.November, 12, 15, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for _, tc := range []struct {
		text, detail, department string
	}{
		// An officer's review: both went to urban management.
		{"楼下的人家深夜十一点多还在蹦跳拖椅子，吵得根本睡不着。", classify.DetailNeighbour, police},
		{"楼下的人家这半个月深夜打麻将，凌晨一点还在洗牌喧哗，严重影响休息。", classify.DetailNeighbour, police},
		{"新店街道楼下的人家深夜打麻将，吵得睡不着。", classify.DetailNeighbour, police},
		{"隔壁那户人家天天半夜吵架摔东西，吵得没法睡。", classify.DetailNeighbour, police},
		{"隔壁家的小孩每天晚上弹钢琴弹到十点多，太吵了。", classify.DetailNeighbour, police},
		{"对面的人家在家里唱卡拉OK到半夜，沟通无果。", classify.DetailNeighbour, police},
		{"同单元的住户每天深夜拖桌椅，咚咚响。", classify.DetailNeighbour, police},
		{"楼下每天半夜跺脚，咚咚响，根本睡不着。", classify.DetailNeighbour, police},
		{"楼上的人家每天晚餐后就开始跳舞蹦迪，音乐震天响。", classify.DetailNeighbour, police},
		{"隔壁每天在家里唱歌开音响到半夜，沟通无果。", classify.DetailNeighbour, police},
		// At home in the caller's own clause is the caller's home: the
		// music downstairs is a shop's or the street's until a household
		// is named.
		{"楼下有人弹吉他唱歌，在家都睡不着。", "", urban},
		{"楼下有人放音乐跳舞，我在家根本没法休息。", "", urban},
		{"楼下有人用音响放歌，屋里都听得清清楚楚。", "", urban},
		{"对面楼有人开音响唱歌，在家没法休息。", "", urban},
		{"楼下的人家天天深夜打麻将，还在洗牌喧哗，吵得睡不着。顺便反映一下，楼下饭店的油烟也很大。", classify.DetailNeighbour, police},
		// Shops, stalls, squares, parlours: the caller living upstairs
		// makes none of them a neighbour.
		{"沿街商铺音乐开得很大声，路过都受不了，住在楼上吵得根本睡不着。", "", urban},
		{"超市门口搞促销，音响声音开得太大，路过都受不了，楼上住户更难受。", "", urban},
		{"楼下的服装店用大喇叭循环播放促销广告，吵死了。", "", urban},
		{"小区楼下的广场舞队伍用的大功率音箱，晚上九点还在放。", "", urban},
		{"楼下广场每晚跳舞的音响太大。我住在楼上，天天睡不着。", "", urban},
		{"小区里的棋牌室每天晚上打麻将，洗牌声和说话声很吵。", "", urban},
		{"楼下的烤肉店门口有人弹吉他唱歌，用的音响很吵。", "", urban},
		{"隔壁小区有人半夜打麻将，吵得睡不着。", "", urban},
		{"楼下有人弹吉他唱歌，音响很吵。", "", urban},
		// Renovation is urban management's, whoever's flat it is in.
		{"隔壁装修的住户早上七点多就电钻打墙，吵得睡不着。", "", urban},
		{"同单元在装修的人家中午休息时间也在装修，敲个不停。", "", urban},
		{"楼下那户装修已经搞了三个月了，每天电锤响个不停。", "", urban},
		{"楼下的商铺装修噪音很大，还在砸墙。", "", urban},
	} {
		got, err := c.Classify(classify.Input{Description: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if got.Category != "noise" || got.Subcategory != "social_life" || got.Detail != tc.detail {
			t.Errorf("%s: %s/%s detail %q, want noise/social_life detail %q", tc.text, got.Category, got.Subcategory, got.Detail, tc.detail)
			continue
		}
		d, err := r.Route(routing.Request{Category: got.Category, Subcategory: got.Subcategory, Detail: got.Detail, District: "siming", At: at})
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if d.Team.Department != tc.department {
			t.Errorf("%s: routed to %s by %s, want %s", tc.text, d.Team.Department, d.Rule, tc.department)
		}
	}
}
