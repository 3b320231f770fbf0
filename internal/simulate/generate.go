package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
)

// Output mix of the hotline feed.
const (
	addressOnlyShare = 0.05 // no location, the address text names the place
	wgs84Share       = 0.10
	bd09Share        = 0.15 // the rest, about 70 %, is GCJ-02
	noCRSShare       = 0.15 // of GCJ-02 points, sent without crs (the default)
	addressShare     = 0.85 // of located complaints, also carrying an address
	codedShare       = 0.45 // carrying category (and mostly subcategory) codes
	pathOnlyShare    = 0.35 // carrying only the hotline's category path
	callerShare      = 0.85
	asideShare       = 0.10 // descriptions mentioning a second nuisance
	regularShare     = 0.4  // of a hotspot's complaints, from its regular callers
	spotNamedShare   = 0.65 // of a hotspot's descriptions, naming its place
)

var channels = []struct {
	name   string
	weight float64
}{{"phone", 0.55}, {"app", 0.15}, {"wechat", 0.15}, {"web", 0.10}, {"other", 0.05}}

type generator struct {
	cfg   Config
	w     *world
	rng   *rand.Rand
	start time.Time
	out   []Complaint
}

// where is what a complaint says about its whereabouts.
type where struct {
	road, estate string
	number       int
}

// spot is a planted hotspot while its complaints are generated.
type spot struct {
	Planted
	sc       *subcat
	th       *theme
	site     site
	road     string
	estate   string
	number   int
	from     int // first active day
	span     int // active days
	regulars []Caller
}

func (g *generator) run() (Feed, error) {
	inSpots := 0
	if g.cfg.Planted > 0 {
		inSpots = int(math.Round(float64(g.cfg.Count) * g.cfg.HotspotShare))
	}
	sizes := g.spotSizes(inSpots, g.cfg.Planted)
	kinds, districts := g.spotKinds(sizes)
	g.out = make([]Complaint, 0, g.cfg.Count)

	feed := Feed{Planted: make([]Planted, 0, len(sizes))}
	taken := newCentres(gaps(g.cfg.Radii))
	for i, n := range sizes {
		sp := g.plant(i, n, kinds[i], districts[i], taken)
		taken.add(sp.Category, sp.Lon, sp.Lat)
		feed.Planted = append(feed.Planted, sp.Planted)
		for range n {
			day := sp.from + g.spotDay(sp)
			g.emit(sp.sc, sp.th, g.memberSite(sp), day, sp)
		}
	}
	for range g.cfg.Count - inSpots {
		sc := pickSubcat(g.rng)
		th := pickTheme(g.rng, sc, false)
		di := g.w.pickDistrict(g.rng, sc.category)
		g.emit(sc, th, g.w.backgroundSite(g.rng, di), g.pickDay(th, 0, g.cfg.Days), nil)
	}

	feed.Complaints = sortByReceived(g.out)
	seq, lastDay := 0, ""
	for i := range feed.Complaints {
		c := &feed.Complaints[i]
		day := c.ReceivedAt.Format("20060102")
		if day != lastDay {
			seq, lastDay = 0, day
		}
		seq++
		c.TicketID = fmt.Sprintf("12345-%s-%06d", day, seq)
	}
	return feed, nil
}

// sortByReceived returns the complaints in received_at order, ties in
// their original order; it sorts indices rather than moving the large
// structs around.
func sortByReceived(cs []Complaint) []Complaint {
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cs[a].ReceivedAt.Compare(cs[b].ReceivedAt) })
	out := make([]Complaint, len(cs))
	for i, j := range order {
		out[i] = cs[j]
	}
	return out
}

// spotSizes splits the hotspot complaints over the planted hotspots: each
// gets at least MinSpotSize, the rest is skewed so that a few hotspots are
// large, as real repeat complaints are.
func (g *generator) spotSizes(total, n int) []int {
	if n == 0 {
		return nil
	}
	sizes := make([]int, n)
	weights := make([]float64, n)
	sum := 0.0
	for i := range weights {
		weights[i] = g.rng.ExpFloat64()
		sum += weights[i]
	}
	rest := total - n*MinSpotSize
	given := 0
	for i := range sizes {
		extra := int(float64(rest) * weights[i] / sum)
		sizes[i] = MinSpotSize + extra
		given += extra
	}
	for i := 0; given < rest; i = (i + 1) % n {
		sizes[i]++
		given++
	}
	return sizes
}

// spotKinds gives each planted hotspot a subcategory and a district so
// that the hotspot complaints follow the overall category and district
// shares however skewed the sizes: largest hotspots first, each drawn in
// proportion to what its subcategory, then its district, still lacks.
func (g *generator) spotKinds(sizes []int) ([]*subcat, []int) {
	total := 0
	order := make([]int, len(sizes))
	for i, n := range sizes {
		total += n
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	lack := make([]float64, len(subcats))
	for i, sc := range subcats {
		lack[i] = sc.share * float64(total)
	}
	sumWeight := 0.0
	for _, d := range g.w.districts {
		sumWeight += d.weight
	}
	lackD := make([]float64, len(g.w.districts))
	for i, d := range g.w.districts {
		lackD[i] = d.weight / sumWeight * float64(total)
	}
	kinds := make([]*subcat, len(sizes))
	districts := make([]int, len(sizes))
	for _, i := range order {
		sum := 0.0
		for _, l := range lack {
			sum += math.Max(l, 0)
		}
		k := 0
		if sum > 0 {
			u := g.rng.Float64() * sum
			for k = range lack {
				u -= math.Max(lack[k], 0)
				if u < 0 {
					break
				}
			}
		} else {
			k = pickIndex(g.rng, len(subcats), func(j int) float64 { return subcats[j].share })
		}
		kinds[i] = &subcats[k]
		lack[k] -= float64(sizes[i])

		tilt := categoryTilt[kinds[i].category]
		di := pickIndex(g.rng, len(lackD), func(d int) float64 {
			return tiltOf(tilt, g.w.districts[d].slug) * math.Max(lackD[d], 0)
		})
		if lackD[di] <= 0 {
			di = g.w.pickDistrict(g.rng, kinds[i].category)
		}
		districts[i] = di
		lackD[di] -= float64(sizes[i])
	}
	return kinds, districts
}

func (g *generator) plant(i, n int, sc *subcat, di int, taken *centres) *spot {
	th := pickTheme(g.rng, sc, true)
	s, ok := g.w.spotSite(g.rng, di, sc.category, taken)
	if !ok {
		// The district is full of this category's hotspots: the next
		// likeliest district with room takes it, so that planted hotspots
		// never chain into each other.
		for _, other := range g.w.byWeight(sc.category) {
			if other == di {
				continue
			}
			if o, ok := g.w.spotSite(g.rng, other, sc.category, taken); ok {
				s = o
				break
			}
		}
	}
	d := &g.w.districts[s.district]
	sp := &spot{
		sc: sc, th: th, site: s,
		road:   pick(g.rng, d.roads),
		estate: estateName(g.rng),
		number: 1 + g.rng.IntN(300),
	}
	anchorName := d.name
	switch {
	case s.place >= 0:
		anchorName = d.places[s.place].name
	case s.sub >= 0:
		anchorName = d.subs[s.sub].name
	}
	place := strings.NewReplacer("{anchor}", anchorName, "{road}", sp.road).Replace(pick(g.rng, th.spots))
	sp.span = min(g.cfg.Days, 7+g.rng.IntN(24))
	sp.from = g.rng.IntN(g.cfg.Days - sp.span + 1)
	trend := trends[g.rng.IntN(len(trends))]
	for range 1 + g.rng.IntN(2) {
		sp.regulars = append(sp.regulars, g.caller())
	}
	sp.Planted = Planted{
		Key:         fmt.Sprintf("hs-%04d", i+1),
		Category:    sc.category,
		Subcategory: sc.code,
		District:    d.slug,
		Lon:         s.lon,
		Lat:         s.lat,
		Count:       n,
		Place:       place,
		Trend:       trend,
	}
	return sp
}

// Trends of a planted hotspot's complaints over its active days, so that
// weekly reports see hotspots appear, grow and fade.
const (
	TrendSteady  = "steady"
	TrendGrowing = "growing"
	TrendFading  = "fading"
)

var trends = []string{TrendSteady, TrendGrowing, TrendFading}

// spotDay draws the day of one of a hotspot's complaints, counted from its
// first active day: evenly for a steady hotspot, with a density rising
// (growing) or falling (fading) linearly over its span.
func (g *generator) spotDay(sp *spot) int {
	u := g.rng.Float64()
	switch sp.Trend {
	case TrendGrowing:
		u = math.Sqrt(u)
	case TrendFading:
		u = 1 - math.Sqrt(u)
	}
	return min(int(u*float64(sp.span)), sp.span-1)
}

// pickDay draws a day in [from, from+span), favouring weekends for themes
// people notice more when at home.
func (g *generator) pickDay(th *theme, from, span int) int {
	for range 16 {
		day := from + g.rng.IntN(span)
		wd := g.start.AddDate(0, 0, day).Weekday()
		weekend := wd == time.Saturday || wd == time.Sunday
		if th.weekend <= 1 || weekend || g.rng.Float64()*th.weekend < 1 {
			return day
		}
	}
	return from + g.rng.IntN(span)
}

// memberSite draws where one of a hotspot's complaints comes from: within
// SpotRadius of its centre, on the same district's land, so that a
// hotspot by a border is not split between districts.
func (g *generator) memberSite(sp *spot) site {
	di := sp.site.district
	for range maxDraws {
		lon, lat := offset(g.rng, sp.Lon, sp.Lat, SpotRadius)
		if g.w.belongs(di, lon, lat) {
			return g.w.site(di, lon, lat, sp.site.place)
		}
	}
	return sp.site
}

// emit generates one complaint at site s on the given day.
func (g *generator) emit(sc *subcat, th *theme, s site, day int, sp *spot) {
	rng := g.rng
	hour := pickIndex(rng, 24, func(h int) float64 { return th.hours[h] })
	minute, second := rng.IntN(60), rng.IntN(60)
	at := g.start.AddDate(0, 0, day).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute + time.Duration(second)*time.Second)

	c := Complaint{
		ReceivedAt: at,
		Channel:    channels[pickIndex(rng, len(channels), func(i int) float64 { return channels[i].weight })].name,
		Truth: Truth{
			Category: sc.category, Subcategory: sc.code,
			District: g.w.districts[s.district].slug,
			Lon:      s.lon, Lat: s.lat,
		},
	}
	if sp != nil {
		c.Truth.HotspotKey = sp.Key
	}
	// One road, estate and house number per complaint, shared by the
	// description and the address; a hotspot's callers all name its own.
	wh := where{road: pick(rng, g.w.districts[s.district].roads), estate: estateName(rng), number: 1 + rng.IntN(600)}
	if sp != nil {
		wh = where{road: sp.road, estate: sp.estate, number: sp.number}
	}
	c.Description = g.describe(sc, th, s, sp, wh, c.Channel, hour, minute)

	u := rng.Float64()
	switch {
	case u < addressOnlyShare:
		c.Address = g.address(s, sp, wh)
	default:
		crs := geo.GCJ02
		switch {
		case u < addressOnlyShare+wgs84Share:
			crs = geo.WGS84
		case u < addressOnlyShare+wgs84Share+bd09Share:
			crs = geo.BD09
		}
		lon, lat := geo.FromWGS84(crs, s.lon, s.lat)
		loc := &Location{Lon: round6(lon), Lat: round6(lat), CRS: string(crs)}
		if crs == geo.GCJ02 && rng.Float64() < noCRSShare {
			loc.CRS = ""
		}
		c.Location = loc
		if rng.Float64() < addressShare {
			c.Address = g.address(s, sp, wh)
		}
	}

	switch u := rng.Float64(); {
	case u < codedShare:
		c.Category = sc.category
		if rng.Float64() < 0.9 {
			c.Subcategory = sc.code
		}
		if rng.Float64() < 0.2 {
			c.HotlineCategory = pick(rng, sc.hotline)
		}
	case u < codedShare+pathOnlyShare:
		c.HotlineCategory = pick(rng, sc.hotline)
	}

	if rng.Float64() < callerShare {
		var who Caller
		if sp != nil && rng.Float64() < regularShare {
			who = pick(rng, sp.regulars)
		} else {
			who = g.caller()
		}
		c.Caller = &who
	}
	g.out = append(g.out, c)
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// describe writes the citizen's words: an opening, a body from the
// theme's templates, sometimes a second nuisance, and a closing.
func (g *generator) describe(sc *subcat, th *theme, s site, sp *spot, wh where, channel string, hour, minute int) string {
	rng := g.rng
	var b strings.Builder
	b.Grow(256)
	if channel == "phone" {
		b.WriteString(pick(rng, phoneOpenings))
	} else {
		b.WriteString(pick(rng, onlineOpenings))
	}
	tpl := pick(rng, th.templates)
	// A hotspot's callers often name its place; then a location phrase
	// right before it would only repeat its road.
	named := sp != nil && rng.Float64() < spotNamedShare
	for len(tpl) > 0 {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			break
		}
		j := strings.IndexByte(tpl[i:], '}')
		b.WriteString(tpl[:i])
		switch tpl[i+1 : i+j] {
		case "loc":
			switch {
			case !named:
				b.WriteString(g.locPhrase(s, wh))
			case !strings.HasPrefix(tpl[i+j+1:], "{src}"):
				b.WriteString(sp.estate)
			}
		case "src":
			if named {
				b.WriteString(sp.Place)
			} else {
				b.WriteString(pick(rng, th.sources))
			}
		case "when":
			b.WriteString(whenPhrase(rng, hour, minute))
		case "dur":
			b.WriteString(pick(rng, durations))
		case "hurt":
			b.WriteString(pick(rng, hurts[sc.category]))
		}
		tpl = tpl[i+j+1:]
	}
	if rng.Float64() < historyShare {
		b.WriteString(pick(rng, histories))
	}
	if rng.Float64() < asideShare {
		other := sc.category
		for other == sc.category {
			other = subcats[rng.IntN(len(subcats))].category
		}
		b.WriteString(pick(rng, asideLeads))
		b.WriteString(pick(rng, asides[other]))
	}
	if channel == "phone" && rng.Float64() < 0.2 {
		b.WriteString(pick(rng, phoneClosings))
	} else {
		b.WriteString(pick(rng, closings))
	}
	return b.String()
}

// locPhrase is how a caller says where: a road, a sub-district, an estate
// or a nearby landmark. A hotspot's callers name the same road and estate.
func (g *generator) locPhrase(s site, wh where) string {
	d := &g.w.districts[s.district]
	road, estate, number := wh.road, wh.estate, wh.number
	switch g.rng.IntN(6) {
	case 0:
		if s.sub >= 0 {
			return d.subs[s.sub].name + road
		}
		return d.name + road
	case 1:
		return road + "附近"
	case 2:
		return road + strconv.Itoa(number) + "号"
	case 3:
		return estate
	case 4:
		if s.place >= 0 {
			return d.places[s.place].name + "附近"
		}
		return road + estate
	default:
		return d.name + estate
	}
}

// address is the hotline's address field: it always names the district,
// and usually the sub-district, a road or a landmark.
func (g *generator) address(s site, sp *spot, wh where) string {
	rng := g.rng
	d := &g.w.districts[s.district]
	sub := ""
	if s.sub >= 0 {
		sub = d.subs[s.sub].name
	}
	if sp != nil {
		switch rng.IntN(3) {
		case 0:
			return "厦门市" + d.name + sub + sp.Place
		case 1:
			return d.name + sp.road + strconv.Itoa(sp.number) + "号附近"
		default:
			return "厦门市" + d.name + sp.road + sp.estate
		}
	}
	road := wh.road
	switch rng.IntN(5) {
	case 0:
		return "厦门市" + d.name + sub + road + strconv.Itoa(wh.number) + "号附近"
	case 1:
		return d.name + road + strconv.Itoa(wh.number) + "号"
	case 2:
		return "厦门市" + d.name + road + wh.estate
	case 3:
		if s.place >= 0 {
			return "厦门市" + d.name + d.places[s.place].name + "附近"
		}
		fallthrough
	default:
		return d.name + sub + road + "与" + pick(rng, d.roads) + "交叉口"
	}
}

var estatePrefixes = []string{"阳光", "金山", "海景", "翠苑", "鹭港", "碧湖", "万景", "东方", "书香", "锦绣", "嘉和", "龙湖", "滨海", "明发", "联发", "建发"}

func estateName(rng *rand.Rand) string {
	return pick(rng, estatePrefixes) + pick(rng, homes)
}

var clockHours = [12]string{"十二", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十", "十一"}

// whenPhrase says the time of day the way callers do, consistent with the
// time the call was received.
func whenPhrase(rng *rand.Rand, hour, minute int) string {
	if rng.Float64() < 0.2 {
		return pick(rng, []string{"现在", "刚才", "到现在"})
	}
	var period string
	switch {
	case hour < 5:
		period = "凌晨"
	case hour < 8:
		period = "早上"
	case hour < 11:
		period = "上午"
	case hour < 13:
		period = "中午"
	case hour < 18:
		period = "下午"
	case hour < 23:
		period = "晚上"
	default:
		period = "深夜"
	}
	suffix := "点多"
	switch {
	case minute < 10:
		suffix = "点"
	case minute >= 25 && minute < 35:
		suffix = "点半"
	case minute >= 50:
		suffix = "点左右"
	}
	return period + clockHours[hour%12] + suffix
}

func (g *generator) caller() Caller {
	return Caller{
		Name:  pick(g.rng, surnames) + pick(g.rng, givenNames),
		Phone: fmt.Sprintf("1380000%04d", g.rng.IntN(10000)),
	}
}

func pickSubcat(rng *rand.Rand) *subcat {
	return &subcats[pickIndex(rng, len(subcats), func(i int) float64 { return subcats[i].share })]
}

// pickTheme draws a theme of sc by weight; planted hotspots only take
// themes with a place to plant.
func pickTheme(rng *rand.Rand, sc *subcat, planted bool) *theme {
	i := pickIndex(rng, len(sc.themes), func(i int) float64 {
		if planted && len(sc.themes[i].spots) == 0 {
			return 0
		}
		return sc.themes[i].weight
	})
	return &sc.themes[i]
}

// pickIndex draws an index in [0, n) with the given weights.
func pickIndex(rng *rand.Rand, n int, weight func(int) float64) int {
	total := 0.0
	for i := range n {
		total += weight(i)
	}
	u := rng.Float64() * total
	for i := range n {
		w := weight(i)
		if w <= 0 {
			continue
		}
		u -= w
		if u < 0 {
			return i
		}
	}
	for i := n - 1; i > 0; i-- {
		if weight(i) > 0 {
			return i
		}
	}
	return 0
}

func pick[T any](rng *rand.Rand, xs []T) T {
	return xs[rng.IntN(len(xs))]
}
