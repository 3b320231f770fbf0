package classify

import "testing"

// A description, a category path or a social-life detail written in
// traditional characters, as many of Xiamen's residents from Taiwan, Hong
// Kong and Macao type them on the app, the web or WeChat, is read as its
// simplified form: it was classified as nothing, and the work order
// waited on the triage list for a supervisor.
func TestTraditionalCharactersReadAsSimplified(t *testing.T) {
	t.Parallel()
	c := newClassifier(t)
	for _, tc := range []struct {
		in       Input
		cat, sub string
		detail   string
	}{
		{Input{Description: "飯店油煙很大，嗆得不行"}, "cooking_smoke", "restaurant", ""},
		{Input{Description: "隔壁工地淩晨還在打樁"}, "noise", "construction", ""},
		{Input{Description: "工地土方沒有覆蓋，風一吹全是灰"}, "dust", "construction_site", ""},
		{Input{Description: "樓上鄰居每天半夜拖椅子、蹦跳，嚴重影響休息"}, "noise", "social_life", DetailNeighbour},
		{Input{Description: "隔壁酒吧唱歌到淩晨兩點"}, "noise", "social_life", DetailBarKTV},
		{Input{HotlineCategory: "生態環境>噪聲污染>建築施工噪聲", Description: "太吵了"}, "noise", "construction", ""},
	} {
		got, err := c.Classify(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Category != tc.cat || got.Subcategory != tc.sub || got.Detail != tc.detail {
			t.Errorf("%+v: %s/%s detail %q, want %s/%s detail %q", tc.in, got.Category, got.Subcategory, got.Detail, tc.cat, tc.sub, tc.detail)
		}
	}
}
