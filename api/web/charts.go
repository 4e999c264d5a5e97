package web

import (
	"bytes"
	"fmt"
	"html/template"
	"regexp"
	"strconv"
	"strings"

	chart "github.com/wcharczuk/go-chart/v2"

	"github.com/sessiond/sessiond/models"
)

// The admin page's charts: drawn on the server as SVG by go-chart and put inline into the
// page. The pages' CSP allows no inline style, so every shape carries classes only and
// app.css colours them (light and dark). Each chart has a title, one sentence saying what it
// means for the limits, a legend, and a table with the same numbers for screen readers and
// for anyone who wants the figures.

// chartView is one chart as the admin template shows it.
type chartView struct {
	ID      string
	Title   string
	Meaning string
	SVG     template.HTML
	Legend  []option // Value: the series' class; Label: its name
	Table   chartTable
}

type chartTable struct {
	Head []string
	Rows [][]string // first cell: the row's header
}

// inlineStyle is what go-chart writes for a shape whose style names no class: replaced by a
// class, so that no style attribute reaches the page.
var inlineStyle = regexp.MustCompile(`style="[^"]*"`)

// svgOf renders c and makes it an accessible inline image titled title.
func svgOf(id, title string, render func(*bytes.Buffer) error) (template.HTML, error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return "", fmt.Errorf("draw chart %s: %w", id, err)
	}
	svg := inlineStyle.ReplaceAllString(b.String(), `class="chart-line"`)
	open := `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"`
	svg = strings.Replace(svg, open, open+` class="chart" role="img" aria-labelledby="`+id+`-title" focusable="false"`, 1)
	i := strings.Index(svg, ">")
	svg = svg[:i+1] + `<title id="` + id + `-title">` + template.HTMLEscapeString(title) + `</title>` + svg[i+1:]
	return template.HTML(svg), nil // #nosec G203 -- drawn by go-chart from numbers and our own labels, escaped by it
}

func classed(class string) chart.Style { return chart.Style{ClassName: class} }

// dailyChart: each day's sign-ins, evictions and refusals at the device limit, stacked.
func dailyChart(s models.Stats) (chartView, error) {
	v := chartView{ID: "chart-daily", Title: "Sign-ins, evictions and refusals per day (share of each day's total)",
		Legend: []option{{"s-logins", "Sign-ins"}, {"s-evictions", "Devices evicted"}, {"s-rejections", "Refused at the limit"}},
		Table:  chartTable{Head: []string{"Day", "Sign-ins", "Evictions", "Refused at the limit"}}}
	var logins, evictions, rejections int64
	bars := make([]chart.StackedBar, len(s.Daily))
	width := max(12, min(60, 640/max(1, len(s.Daily))-10))
	for i, d := range s.Daily {
		logins, evictions, rejections = logins+d.Logins, evictions+d.Evictions, rejections+d.LimitRejections
		bars[i] = chart.StackedBar{Name: dayLabel(d, len(s.Daily)), Width: width, Values: []chart.Value{
			{Value: float64(d.Logins), Style: classed("s-logins")},
			{Value: float64(d.Evictions), Style: classed("s-evictions")},
			{Value: float64(d.LimitRejections), Style: classed("s-rejections")},
		}}
		if d.Logins+d.Evictions+d.LimitRejections == 0 {
			bars[i].Values = []chart.Value{{Value: 1, Style: classed("s-none")}}
		}
		v.Table.Rows = append(v.Table.Rows, []string{d.Date.Format("Mon 2 Jan"), count(d.Logins), count(d.Evictions), count(d.LimitRejections)})
	}
	switch {
	case logins+rejections == 0:
		v.Meaning = fmt.Sprintf("Nobody signed in over the last %s: there is nothing to learn about the limits yet.", days(s.Days))
	default:
		v.Meaning = fmt.Sprintf("Over the last %s, %s %s evicted %s %s (%s per 100 sign-ins) and %s %s refused at the limit: "+
			"evictions and refusals are people running into a device limit.",
			days(s.Days), count(logins), plural(int(logins), "sign-in", "sign-ins"), count(evictions), plural(int(evictions), "device", "devices"),
			perHundred(evictions, logins), count(rejections), plural(int(rejections), "was", "were"))
	}
	c := chart.StackedBarChart{Width: 720, Height: 300, BarSpacing: 10,
		Background: classed("chart-bg"), Canvas: classed("chart-bg"), XAxis: classed("chart-axis"), YAxis: classed("chart-axis"), Bars: bars}
	var err error
	v.SVG, err = svgOf(v.ID, v.Title, func(b *bytes.Buffer) error { return c.Render(chart.SVG, b) })
	return v, err
}

// limitChart: per plan, the share of its accounts at their device (and stream) limit now.
func limitChart(s models.Stats) (chartView, error) {
	v := chartView{ID: "chart-limits", Title: "Share of each plan's accounts at their limit now",
		Legend: []option{{"s-devices", "At the device limit"}, {"s-streams", "At the stream limit"}},
		Table: chartTable{Head: []string{"Plan", "Accounts", "At the device limit", "Share", "At the stream limit",
			"Devices evicted", "Refused at the limit"}}}
	var bars []chart.Value
	var worst *models.PlanStats
	for i, p := range s.Plans {
		bars = append(bars, chart.Value{Label: p.Name, Value: percent(p.UsersAtDeviceLimit, p.Users), Style: classed("s-devices")})
		if p.MaxStreams > 0 {
			bars = append(bars, chart.Value{Label: p.Name + " ▶", Value: percent(p.UsersAtStreamLimit, p.Users), Style: classed("s-streams")})
		}
		v.Table.Rows = append(v.Table.Rows, []string{p.Name, count(p.Users), count(p.UsersAtDeviceLimit),
			strconv.FormatFloat(percent(p.UsersAtDeviceLimit, p.Users), 'f', 0, 64) + " %", count(p.UsersAtStreamLimit),
			count(p.Evictions), count(p.LimitRejections)})
		if p.Users > 0 && (worst == nil || percent(p.UsersAtDeviceLimit, p.Users) > percent(worst.UsersAtDeviceLimit, worst.Users)) {
			worst = &s.Plans[i]
		}
	}
	switch {
	case worst == nil || worst.UsersAtDeviceLimit == 0:
		v.Meaning = "No account is at its device limit now: the limits are not what holds people back."
	default:
		v.Meaning = fmt.Sprintf("%s %% of %s accounts are at their %d-device limit now; over the last %s their sign-ins evicted %s %s "+
			"and were refused %s %s: a limit of %d would have avoided most of those.",
			strconv.FormatFloat(percent(worst.UsersAtDeviceLimit, worst.Users), 'f', 0, 64), worst.Name, worst.MaxSessions, days(s.Days),
			count(worst.Evictions), plural(int(worst.Evictions), "device", "devices"),
			count(worst.LimitRejections), plural(int(worst.LimitRejections), "time", "times"), worst.MaxSessions+1)
	}
	c := chart.BarChart{Width: 720, Height: 300, BarWidth: 60, BarSpacing: 40,
		Background: classed("chart-bg"), Canvas: classed("chart-bg"), XAxis: classed("chart-axis"),
		YAxis: chart.YAxis{Style: classed("chart-axis"), Range: &chart.ContinuousRange{Min: 0, Max: 100},
			ValueFormatter: func(v any) string { return fmt.Sprintf("%.0f %%", v) }},
		Bars: bars}
	var err error
	v.SVG, err = svgOf(v.ID, v.Title, func(b *bytes.Buffer) error { return c.Render(chart.SVG, b) })
	return v, err
}

// activeChart: active sessions and streams by plan, beside each other.
func activeChart(s models.Stats) (chartView, error) {
	v := chartView{ID: "chart-active", Title: "Active sessions and streams by plan",
		Legend: []option{{"s-devices", "Signed-in devices"}, {"s-streams", "Playing streams"}},
		Table:  chartTable{Head: []string{"Plan", "Accounts", "Active sessions", "Active streams", "Device limit", "Sessions per account"}}}
	var bars []chart.Value
	top := 1.0
	var parts []string
	for _, p := range s.Plans {
		bars = append(bars, chart.Value{Label: p.Name, Value: float64(p.ActiveSessions), Style: classed("s-devices")},
			chart.Value{Label: p.Name + " ▶", Value: float64(p.ActiveStreams), Style: classed("s-streams")})
		top = max(top, float64(p.ActiveSessions), float64(p.ActiveStreams))
		avg := 0.0
		if p.Users > 0 {
			avg = float64(p.ActiveSessions) / float64(p.Users)
		}
		v.Table.Rows = append(v.Table.Rows, []string{p.Name, count(p.Users), count(p.ActiveSessions), count(p.ActiveStreams),
			strconv.Itoa(p.MaxSessions), strconv.FormatFloat(avg, 'f', 1, 64)})
		if p.Users > 0 {
			parts = append(parts, fmt.Sprintf("%s accounts use %.1f of their %d devices", p.Name, avg, p.MaxSessions))
		}
	}
	if len(parts) == 0 {
		v.Meaning = "No plan has accounts yet."
	} else {
		v.Meaning = "On average, " + strings.Join(parts, "; ") + ": a plan whose accounts sit near its limit is the one to raise."
	}
	c := chart.BarChart{Width: 720, Height: 300, BarWidth: 40, BarSpacing: 30,
		Background: classed("chart-bg"), Canvas: classed("chart-bg"), XAxis: classed("chart-axis"),
		YAxis: chart.YAxis{Style: classed("chart-axis"), Range: &chart.ContinuousRange{Min: 0, Max: top * 1.1},
			ValueFormatter: func(v any) string { return fmt.Sprintf("%.0f", v) }},
		Bars: bars}
	var err error
	v.SVG, err = svgOf(v.ID, v.Title, func(b *bytes.Buffer) error { return c.Render(chart.SVG, b) })
	return v, err
}

// charts draws the three insight charts of s.
func charts(s models.Stats) ([]chartView, error) {
	var out []chartView
	for _, draw := range []func(models.Stats) (chartView, error){dailyChart, limitChart, activeChart} {
		v, err := draw(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func dayLabel(d models.DayStats, n int) string {
	if n > 14 {
		return d.Date.Format("2/1")
	}
	return d.Date.Format("Mon 2")
}

func percent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func perHundred(part, whole int64) string {
	return strconv.FormatFloat(percent(part, whole), 'f', 1, 64)
}

func days(n int) string {
	if n == 1 {
		return "day"
	}
	return strconv.Itoa(n) + " days"
}

// count writes n with thousands separated by commas: 1,204.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
