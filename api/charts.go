package api

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// Server-rendered SVG charts of the dashboard (issue 12): no script, no CDN, no build
// step. Each chart is drawn from one grouped store query; every chart also has a data
// table (inside <details>) for keyboards and screen readers.

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartW, chartH         = 640, 220
	padLeft, padRight      = 44, 8
	padTop, padBottom      = 10, 34
	defaultChartDays       = 30
	maxChartTypes          = 6
	noisySourcesShown      = 8
	noisyBarH, noisyLabelW = 22, 130
)

type svgBar struct {
	X, Y, W, H float64
	Class      string
	Tip        string
}

type svgLabel struct {
	X, Y   float64
	Text   string
	Anchor string
}

type legendItem struct{ Class, Name string }

// svgChart is one chart ready for the template.
type svgChart struct {
	ID, Title, Desc string
	W, H            int
	Bars            []svgBar
	Labels          []svgLabel
	Grid            []svgLabel // y-axis ticks: Y and text
	Legend          []legendItem
	// Table is the chart's data: a header row, then one row per x value.
	Table [][]string
	Empty bool
}

type chartsView struct {
	Range                     string
	BySeverity, ByType, Times svgChart
	Noisy                     svgChart
}

// charts computes the four charts for the filter (severity, component, since; without
// since, the last 30 days).
func (d *Dashboard) charts(ctx context.Context, f dashFilter, now time.Time) (chartsView, error) {
	cf := store.ChartFilter{Since: f.since, Severity: schemas.Severity(f.Severity), Component: f.Component}
	v := chartsView{Range: "since " + f.Since}
	if cf.Since.IsZero() {
		cf.Since = now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(defaultChartDays - 1))
		v.Range = fmt.Sprintf("last %d days", defaultChartDays)
	}
	st := d.deps.Store
	bySev, err := st.IncidentsPerDay(ctx, cf, "severity")
	if err != nil {
		return v, err
	}
	byType, err := st.IncidentsPerDay(ctx, cf, "type")
	if err != nil {
		return v, err
	}
	weeks, err := st.ResponseTimesByWeek(ctx, cf)
	if err != nil {
		return v, err
	}
	noisy, err := st.NoisySources(ctx, cf, noisySourcesShown)
	if err != nil {
		return v, err
	}
	days := dayRange(cf.Since, now)
	var sevKeys []string
	for i := len(schemas.Severities) - 1; i >= 0; i-- {
		sevKeys = append(sevKeys, string(schemas.Severities[i]))
	}
	v.BySeverity = stackedDays("chart-severity", "Incidents per day by severity", days, bySev, sevKeys, func(k string, _ int) string { return "sev-" + k })
	v.ByType = stackedDays("chart-type", "Incidents per day by type", days, byType, topKeys(byType, maxChartTypes),
		func(_ string, i int) string { return fmt.Sprintf("series-%d", i) })
	v.Times = weekChart(weeks)
	v.Noisy = noisyChart(noisy)
	return v, nil
}

// dayRange lists the UTC days from since to now, at most 90.
func dayRange(since, now time.Time) []string {
	start := since.UTC().Truncate(24 * time.Hour)
	end := now.UTC().Truncate(24 * time.Hour)
	if end.Sub(start) > 89*24*time.Hour {
		start = end.AddDate(0, 0, -89)
	}
	var days []string
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format("2006-01-02"))
	}
	return days
}

// topKeys returns the most frequent keys (at most n; the rest become "other").
func topKeys(rows []store.DayCount, n int) []string {
	totals := map[string]int{}
	for _, r := range rows {
		totals[r.Key] += r.N
	}
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if totals[a] != totals[b] {
			return totals[b] - totals[a]
		}
		return compareStrings(a, b)
	})
	if len(keys) > n {
		keys = append(keys[:n-1], "other")
	}
	return keys
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func yGrid(max float64, format func(float64) string) []svgLabel {
	var out []svgLabel
	plotH := float64(chartH - padTop - padBottom)
	for i := 0; i <= 4; i++ {
		val := max * float64(i) / 4
		out = append(out, svgLabel{X: padLeft - 4, Y: padTop + plotH - plotH*float64(i)/4, Text: format(val), Anchor: "end"})
	}
	return out
}

// stackedDays draws one stacked bar per day, one segment per key.
func stackedDays(id, title string, days []string, rows []store.DayCount, keys []string, class func(string, int) string) svgChart {
	c := svgChart{ID: id, Title: title, W: chartW, H: chartH}
	idx := map[string]int{}
	for i, k := range keys {
		idx[k] = i
		c.Legend = append(c.Legend, legendItem{Class: class(k, i), Name: k})
	}
	counts := map[string][]int{}
	for _, d := range days {
		counts[d] = make([]int, len(keys))
	}
	total := 0
	for _, r := range rows {
		i, ok := idx[r.Key]
		if !ok {
			i, ok = idx["other"]
		}
		if per, found := counts[r.Day]; found && ok {
			per[i] += r.N
			total += r.N
		}
	}
	max := 0
	for _, d := range days {
		sum := 0
		for _, n := range counts[d] {
			sum += n
		}
		max = int(math.Max(float64(max), float64(sum)))
	}
	top := niceMax(float64(max))
	c.Grid = yGrid(top, func(v float64) string { return fmt.Sprintf("%g", v) })
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBottom)
	slot := plotW / float64(max1(len(days)))
	c.Table = [][]string{append([]string{"day"}, keys...)}
	for di, d := range days {
		x := padLeft + slot*float64(di) + slot*0.15
		y := float64(padTop) + plotH
		row := []string{d}
		for ki, k := range keys {
			n := counts[d][ki]
			row = append(row, fmt.Sprint(n))
			if n == 0 {
				continue
			}
			h := plotH * float64(n) / top
			y -= h
			c.Bars = append(c.Bars, svgBar{X: x, Y: y, W: slot * 0.7, H: h, Class: class(k, ki), Tip: fmt.Sprintf("%s: %d %s", d, n, k)})
		}
		c.Table = append(c.Table, row)
		if len(days) <= 10 || di%max1(len(days)/6) == 0 || di == len(days)-1 {
			c.Labels = append(c.Labels, svgLabel{X: padLeft + slot*(float64(di)+0.5), Y: chartH - padBottom + 16, Text: d[5:], Anchor: "middle"})
		}
	}
	c.Empty = total == 0
	c.Desc = fmt.Sprintf("%d incidents over %d days", total, len(days))
	return c
}

// weekChart draws MTTA and MTTR side by side per week, in minutes.
func weekChart(weeks []store.WeekTimes) svgChart {
	c := svgChart{ID: "chart-times", Title: "MTTA and MTTR by week (minutes)", W: chartW, H: chartH,
		Legend: []legendItem{{"series-mtta", "MTTA"}, {"series-mttr", "MTTR"}}}
	max := 0.0
	for _, w := range weeks {
		for _, v := range []*float64{w.MTTASeconds, w.MTTRSeconds} {
			if v != nil {
				max = math.Max(max, *v/60)
			}
		}
	}
	top := niceMax(max)
	c.Grid = yGrid(top, func(v float64) string { return fmt.Sprintf("%g", v) })
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBottom)
	slot := plotW / float64(max1(len(weeks)))
	c.Table = [][]string{{"week of", "incidents", "MTTA", "MTTR"}}
	for i, w := range weeks {
		for j, s := range []struct {
			v     *float64
			class string
			name  string
		}{{w.MTTASeconds, "series-mtta", "MTTA"}, {w.MTTRSeconds, "series-mttr", "MTTR"}} {
			if s.v == nil {
				continue
			}
			h := plotH * (*s.v / 60) / top
			c.Bars = append(c.Bars, svgBar{X: padLeft + slot*float64(i) + slot*(0.1+0.4*float64(j)), Y: padTop + plotH - h,
				W: slot * 0.38, H: h, Class: s.class, Tip: fmt.Sprintf("week of %s: %s %s", w.Week, s.name, fmtDuration(*s.v))})
		}
		c.Table = append(c.Table, []string{w.Week, fmt.Sprint(w.Incidents), secsOrDash(w.MTTASeconds), secsOrDash(w.MTTRSeconds)})
		c.Labels = append(c.Labels, svgLabel{X: padLeft + slot*(float64(i)+0.5), Y: chartH - padBottom + 16, Text: w.Week[5:], Anchor: "middle"})
	}
	c.Empty = len(weeks) == 0
	c.Desc = fmt.Sprintf("%d weeks", len(weeks))
	return c
}

// noisyChart draws one horizontal bar per source, by attached events.
func noisyChart(rows []store.SourceCount) svgChart {
	h := padTop + noisyBarH*max1(len(rows)) + 10
	c := svgChart{ID: "chart-noisy", Title: "Top noisy sources (events attached to incidents)", W: chartW, H: h}
	max := 0
	for _, r := range rows {
		max = int(math.Max(float64(max), float64(r.Events)))
	}
	top := niceMax(float64(max))
	plotW := float64(chartW - noisyLabelW - 60)
	c.Table = [][]string{{"source", "incidents", "events"}}
	for i, r := range rows {
		y := float64(padTop + noisyBarH*i)
		w := plotW * float64(r.Events) / top
		c.Bars = append(c.Bars, svgBar{X: noisyLabelW, Y: y + 3, W: math.Max(w, 1), H: noisyBarH - 6, Class: "series-0",
			Tip: fmt.Sprintf("%s: %d events in %d incidents", r.Source, r.Events, r.Incidents)})
		c.Labels = append(c.Labels,
			svgLabel{X: noisyLabelW - 6, Y: y + noisyBarH/2 + 4, Text: r.Source, Anchor: "end"},
			svgLabel{X: noisyLabelW + math.Max(w, 1) + 6, Y: y + noisyBarH/2 + 4, Text: fmt.Sprintf("%d (%d inc.)", r.Events, r.Incidents), Anchor: "start"})
		c.Table = append(c.Table, []string{r.Source, fmt.Sprint(r.Incidents), fmt.Sprint(r.Events)})
	}
	c.Empty = len(rows) == 0
	c.Desc = fmt.Sprintf("%d sources", len(rows))
	return c
}

func secsOrDash(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmtDuration(*v)
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}
