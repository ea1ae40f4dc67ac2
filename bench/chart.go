package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var serverColor = map[string]color.Color{
	"kala":       color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"pocketbase": color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// bar is one category of a horizontal bar panel.
type bar struct {
	name, series, label string
	value               float64
}

// barPanel draws bars top-down in the order given, one colour per series; log draws
// log10 of the values on an axis labelled in the values themselves.
func barPanel(title, xlabel string, bars []bar, series []string, colors map[string]color.Color, log, legend bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	n := len(bars)
	names := make([]string, n)
	pos := func(i int) float64 { return float64(n - 1 - i) } // first bar on top
	hi, lo := 0.0, 0.0
	xs := make([]float64, n)
	for i, b := range bars {
		names[n-1-i] = b.name
		xs[i] = b.value
		if log {
			xs[i] = math.Log10(math.Max(b.value, 1e-3))
		}
		hi, lo = math.Max(hi, xs[i]), math.Min(lo, xs[i])
	}
	for _, s := range series {
		vals := make(plotter.Values, n)
		has := false
		for i, b := range bars {
			if b.series == s {
				vals[n-1-i] = xs[i]
				has = true
			}
		}
		if !has {
			continue
		}
		bc, err := plotter.NewBarChart(vals, vg.Points(11))
		if err != nil {
			return nil, err
		}
		bc.Horizontal = true
		bc.Color = colors[s]
		bc.LineStyle.Width = 0
		p.Add(bc)
		if legend {
			p.Legend.Add(s, bc)
		}
	}
	lx := make(plotter.XYs, n)
	ls := make([]string, n)
	for i, b := range bars {
		lx[i] = plotter.XY{X: math.Max(xs[i], 0), Y: pos(i) - 0.2}
		ls[i] = b.label
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: lx, Labels: ls})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(9)
	}
	labels.Offset = vg.Point{X: vg.Points(4)}
	p.Add(labels)
	p.NominalY(names...)
	p.X.Min, p.X.Max = lo, hi*1.18+0.01
	p.Add(plotter.NewGrid())
	if log {
		var ticks []plot.Tick
		for d := 1.0; d <= math.Pow(10, p.X.Max); d *= 10 {
			for _, m := range []float64{1, 2, 5} {
				label := ""
				if m == 1 {
					label = fmt.Sprintf("%g×", d)
				}
				if math.Log10(d*m) <= p.X.Max {
					ticks = append(ticks, plot.Tick{Value: math.Log10(d * m), Label: label})
				}
			}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	return p, nil
}

// chart draws the ratios: every call against bare net/http (CPU per request on a log
// axis, rps as a share), and Kala against PocketBase. Without a call besides the
// baseline there is nothing to draw: it reports false.
func (r *report) chart(path string) (bool, error) {
	bare := r.call(baseline)
	var cpuBars, rpsBars []bar
	for _, c := range r.Calls {
		if c == bare {
			continue
		}
		cpu, ok1 := ratio(c, bare, cpuOf)
		share, ok2 := ratio(c, bare, rpsOf)
		if !ok1 || !ok2 {
			continue
		}
		cpuBars = append(cpuBars, bar{c.Name, c.Server, num(cpu) + "×", cpu})
		rpsBars = append(rpsBars, bar{c.Name, c.Server, num(100*share) + "%", 100 * share})
	}
	if len(cpuBars) == 0 {
		return false, nil
	}
	servers := []string{"kala", "pocketbase"}
	top := [][]*plot.Plot{{nil, nil}}
	var err error
	if top[0][0], err = barPanel("CPU per request ÷ bare net/http's", "times (log scale; lower is better)", cpuBars, servers, serverColor, true, false); err != nil {
		return false, err
	}
	if top[0][1], err = barPanel("requests/s ÷ bare net/http's", "% (higher is better)", rpsBars, servers, serverColor, false, true); err != nil {
		return false, err
	}
	var pairBars []bar
	for _, pr := range pairs {
		k, pb := r.call(pr[0]), r.call(pr[1])
		if k == nil || pb == nil {
			continue
		}
		rv, ok1 := ratio(k, pb, rpsOf)
		cv, ok2 := ratio(k, pb, cpuOf)
		if !ok1 || !ok2 {
			continue
		}
		name := pr[0] + " ÷ " + pr[1]
		pairBars = append(pairBars, bar{name + " rps", "rps", num(rv) + "×", rv}, bar{name + " CPU/req", "CPU/request", num(cv) + "×", cv})
	}

	width := 13 * vg.Inch
	topH := vg.Length(len(cpuBars))*0.3*vg.Inch + 1.3*vg.Inch
	botH := vg.Length(0)
	if len(pairBars) > 0 {
		botH = vg.Length(len(pairBars))*0.3*vg.Inch + 1.3*vg.Inch
	}
	img := vgimg.NewWith(vgimg.UseWH(width, topH+botH), vgimg.UseDPI(96))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(30), PadY: vg.Points(10), PadTop: vg.Points(10),
		PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(20)}
	cs := plot.Align(top, tiles, draw.Crop(dc, 0, 0, botH, 0))
	top[0][0].Draw(cs[0][0])
	top[0][1].Draw(cs[0][1])
	if len(pairBars) > 0 {
		p, err := barPanel("Kala ÷ PocketBase, same round", "times (rps: higher is better for Kala; CPU/request: lower is)", pairBars,
			[]string{"rps", "CPU/request"}, map[string]color.Color{"rps": color.RGBA{G: 0x99, B: 0x55, A: 0xff}, "CPU/request": color.RGBA{R: 0xcc, G: 0x33, B: 0x33, A: 0xff}}, false, true)
		if err != nil {
			return false, err
		}
		cs := plot.Align([][]*plot.Plot{{p}}, draw.Tiles{Rows: 1, Cols: 1, PadTop: vg.Points(10), PadBottom: vg.Points(10),
			PadLeft: vg.Points(10), PadRight: vg.Points(20)}, draw.Crop(dc, 0, -width/3, 0, -topH))
		p.Draw(cs[0][0])
	}
	// what the picture is, in the corner the panels leave free
	info := draw.Crop(dc, 2*width/3+vg.Points(10), 0, 0, -topH)
	sty := draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, vg.Points(11)), Handler: plot.DefaultTextHandler,
		YAlign: draw.YTop}
	c := r.Config
	lines := []string{"make bench, " + r.Started.Format("2006-01-02 15:04 MST"), "commit " + r.Machine.Commit,
		fmt.Sprintf("%d rounds × %d s per call, interleaved;", c.rounds, c.seconds), "medians of per-round ratios",
		fmt.Sprintf("wrk -t%d -c%d, same machine", c.threads, c.connections),
		fmt.Sprintf("%s, %d cores", r.Machine.CPU, r.Machine.Cores), "Kala's CPU includes PostgreSQL's;",
		"PocketBase's its SQLite (in process)", "shared, busy machine: read ratios"}
	for i, l := range lines {
		info.FillText(sty, vg.Point{X: info.Min.X, Y: info.Max.Y - vg.Points(20) - vg.Length(i)*vg.Points(16)}, l)
	}
	f, err := os.Create(path)
	if err != nil {
		return false, err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}
