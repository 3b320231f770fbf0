package report

// The Chinese labels the HTML report and the CSV use for codes.
var (
	trendNames = map[string]string{
		TrendNew:        "新出现",
		TrendGrowing:    "加剧",
		TrendPersistent: "持续",
		TrendResolved:   "已化解",
	}
	classNames = map[string]string{
		"new":          "新热点",
		"intensifying": "加剧热点",
		"persistent":   "持续热点",
		"diminishing":  "减弱热点",
		"sporadic":     "零星热点",
		"cooled":       "已冷却",
	}
	hotspotStatusNames = map[string]string{
		"emerging":  "初现",
		"active":    "活跃",
		"escalated": "升级",
		"cooling":   "降温",
		"closed":    "关闭",
		"merged":    "已合并",
	}
	caseStatusNames = map[string]string{
		"open":     "待派单",
		"assigned": "已派单",
		"accepted": "已签收",
		"resolved": "已办结",
		"returned": "已退单",
		"closed":   "已销号",
	}
	deadlineNames = map[string]string{
		"sign":    "签收",
		"resolve": "办结",
	}
)

// label returns the name of code in names, or the code when it has none.
func label(names map[string]string, code string) string {
	if n, ok := names[code]; ok {
		return n
	}
	return code
}
