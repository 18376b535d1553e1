// Package chart draws simple line and bar charts as PNG images with the
// standard library only (a built-in 5x7 pixel font for the labels), small
// enough to commit next to the documents that show them.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Series is one line of a line chart.
type Series struct {
	Name string
	X, Y []float64
}

// Tick is an axis mark at Value, labelled Label.
type Tick struct {
	Value float64
	Label string
}

// Line is a line chart.
type Line struct {
	Title, XLabel, YLabel string
	Series                []Series
	// XTicks, when set, replace the automatic ticks of the x axis (for a
	// transformed axis such as percentiles).
	XTicks []Tick
	// YMin, YMax fix the y range; both zero: from 0 (or the smallest y if
	// negative) to the largest y.
	YMin, YMax    float64
	Width, Height int // 800 x 450
}

// Bars is a grouped bar chart: one group of bars per label, one bar per
// series in each group.
type Bars struct {
	Title, YLabel string
	Labels        []string
	Series        []BarSeries
	Width, Height int // 800 x 450
}

// BarSeries is one bar in each group.
type BarSeries struct {
	Name   string
	Values []float64 // one per label
}

var palette = color.Palette{
	color.RGBA{0xff, 0xff, 0xff, 0xff}, // 0 background
	color.RGBA{0x20, 0x20, 0x20, 0xff}, // 1 text, axes
	color.RGBA{0xe4, 0xe4, 0xe4, 0xff}, // 2 grid
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, // 3.. series
	color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff},
	color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
}

const (
	cBG, cText, cGrid, cSeries = 0, 1, 2, 3
	nSeriesColors              = 7
)

type canvas struct{ img *image.Paletted }

func newCanvas(w, h int) *canvas {
	return &canvas{image.NewPaletted(image.Rect(0, 0, w, h), palette)}
}

func (c *canvas) set(x, y int, ci uint8) {
	if image.Pt(x, y).In(c.img.Rect) {
		c.img.SetColorIndex(x, y, ci)
	}
}

func (c *canvas) rect(x0, y0, x1, y1 int, ci uint8) {
	for y := min(y0, y1); y <= max(y0, y1); y++ {
		for x := min(x0, x1); x <= max(x0, x1); x++ {
			c.set(x, y, ci)
		}
	}
}

// line draws a line width pixels thick (Bresenham).
func (c *canvas) line(x0, y0, x1, y1 int, ci uint8, width int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		for i := 0; i < width; i++ {
			for j := 0; j < width; j++ {
				c.set(x0+i-width/2, y0+j-width/2, ci)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

// text draws s with its top left corner at (x, y), each font pixel scale
// pixels wide; it returns the width drawn.
func (c *canvas) text(x, y int, s string, scale int, ci uint8) int {
	for _, r := range s {
		g := glyph(r)
		for col, bitsCol := range g {
			for row := 0; row < 7; row++ {
				if bitsCol&(1<<row) != 0 {
					c.rect(x+col*scale, y+row*scale, x+col*scale+scale-1, y+row*scale+scale-1, ci)
				}
			}
		}
		x += 6 * scale
	}
	return textWidth(s, scale)
}

// vtext draws s rotated a quarter turn counter-clockwise, reading upwards,
// with its bottom left corner at (x, y).
func (c *canvas) vtext(x, y int, s string, ci uint8) {
	for _, r := range s {
		g := glyph(r)
		for col, bitsCol := range g {
			for row := 0; row < 7; row++ {
				if bitsCol&(1<<row) != 0 {
					c.set(x+row, y-col, ci)
				}
			}
		}
		y -= 6
	}
}

func textWidth(s string, scale int) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (n*6 - 1) * scale
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []Tick {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if step/math.Pow(10, math.Floor(math.Log10(step))) == 2.5 {
		decimals++
	}
	var ticks []Tick
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, Tick{v, formatNum(v, decimals)})
	}
	if last := ticks[len(ticks)-1].Value; last < hi-step*1e-9 {
		ticks = append(ticks, Tick{last + step, formatNum(last+step, decimals)})
	}
	return ticks
}

// formatNum formats v with the given decimals, grouping the digits of
// large numbers by three.
func formatNum(v float64, decimals int) string {
	if math.Abs(v) < 1e-12 {
		v = 0
	}
	// Round thousands and millions read better as 400k and 2M than with
	// separators a 5x7 font draws like decimal points.
	if math.Abs(v) >= 1e4 && decimals == 0 {
		switch {
		case math.Abs(v) >= 1e6 && math.Mod(v, 1e5) == 0:
			return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
		case math.Mod(v, 1e2) == 0:
			return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
		}
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, r := range intPart {
		// A space, not a comma: at 5x7 a comma looks like a decimal point.
		if i > 0 && len(intPart) > 4 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

// frame is the plot area and how data maps into it.
type frame struct {
	c                     *canvas
	left, top, right, bot int
	xlo, xhi, ylo, yhi    float64
	width, height         int
	title, xlabel, ylabel string
	legend                []string
	xticks, yticks        []Tick
	drawXTicks, drawXGrid bool
}

func (f *frame) px(x float64) int {
	return f.left + int(math.Round((x-f.xlo)/(f.xhi-f.xlo)*float64(f.right-f.left)))
}

func (f *frame) py(y float64) int {
	return f.bot - int(math.Round((y-f.ylo)/(f.yhi-f.ylo)*float64(f.bot-f.top)))
}

// axes draws the title, grid, ticks, labels and legend.
func (f *frame) axes() {
	c := f.c
	c.rect(0, 0, f.width-1, f.height-1, cBG)
	tw := textWidth(f.title, 2)
	c.text((f.width-tw)/2, 10, f.title, 2, cText)
	for _, t := range f.yticks {
		y := f.py(t.Value)
		if y < f.top-1 || y > f.bot+1 {
			continue
		}
		c.line(f.left, y, f.right, y, cGrid, 1)
		c.text(f.left-8-textWidth(t.Label, 1), y-3, t.Label, 1, cText)
	}
	if f.drawXTicks {
		lastEnd := -1000
		for _, t := range f.xticks {
			x := f.px(t.Value)
			if x < f.left-1 || x > f.right+1 {
				continue
			}
			if f.drawXGrid {
				c.line(x, f.top, x, f.bot, cGrid, 1)
			}
			c.line(x, f.bot, x, f.bot+4, cText, 1)
			w := textWidth(t.Label, 1)
			if x-w/2 > lastEnd+6 {
				c.text(x-w/2, f.bot+8, t.Label, 1, cText)
				lastEnd = x + w/2
			}
		}
	}
	c.line(f.left, f.top, f.left, f.bot, cText, 1)
	c.line(f.left, f.bot, f.right, f.bot, cText, 1)
	xw := textWidth(f.xlabel, 1)
	c.text(f.left+(f.right-f.left-xw)/2, f.bot+24, f.xlabel, 1, cText)
	c.vtext(8, f.top+(f.bot-f.top+textWidth(f.ylabel, 1))/2, f.ylabel, cText)
}

func encode(w io.Writer, c *canvas) error {
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	return enc.Encode(w, c.img)
}

// WritePNG draws the chart.
func (l *Line) WritePNG(w io.Writer) error {
	if len(l.Series) == 0 {
		return errors.New("chart: no series")
	}
	width, height := l.Width, l.Height
	if width <= 0 {
		width = 800
	}
	if height <= 0 {
		height = 450
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := 0.0, math.Inf(-1)
	points := 0
	for _, s := range l.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("chart: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		for i := range s.X {
			if bad(s.X[i]) || bad(s.Y[i]) {
				continue
			}
			xlo, xhi = math.Min(xlo, s.X[i]), math.Max(xhi, s.X[i])
			ylo, yhi = math.Min(ylo, s.Y[i]), math.Max(yhi, s.Y[i])
			points++
		}
	}
	if points == 0 {
		xlo, xhi, yhi = 0, 1, 1
	}
	if l.YMin != 0 || l.YMax != 0 {
		ylo, yhi = l.YMin, l.YMax
	}
	if xhi <= xlo {
		xhi = xlo + 1
	}
	if yhi <= ylo {
		yhi = ylo + 1
	}
	yticks := niceTicks(ylo, yhi*1.05, 6)
	yhi = math.Max(yhi, yticks[len(yticks)-1].Value)
	xticks := l.XTicks
	if len(xticks) == 0 {
		xticks = niceTicks(xlo, xhi, 8)
	}
	lw := 0
	for _, t := range yticks {
		lw = max(lw, textWidth(t.Label, 1))
	}
	var names []string
	for _, s := range l.Series {
		names = append(names, s.Name)
	}
	_, lh := legendRows(names, 28+lw, width-20, 36)
	f := &frame{c: newCanvas(width, height), left: 28 + lw, top: 44 + lh, right: width - 20, bot: height - 44,
		xlo: xlo, xhi: xhi, ylo: ylo, yhi: yhi, width: width, height: height, legend: names,
		title: l.Title, xlabel: l.XLabel, ylabel: l.YLabel, xticks: xticks, yticks: yticks, drawXTicks: true, drawXGrid: true}
	f.axes()
	for si, s := range l.Series {
		ci := uint8(cSeries + si%nSeriesColors)
		havePrev := false
		var px, py int
		for i := range s.X {
			if bad(s.X[i]) || bad(s.Y[i]) {
				havePrev = false
				continue
			}
			x, y := f.px(s.X[i]), f.py(s.Y[i])
			if havePrev {
				f.c.line(px, py, x, y, ci, 2)
			} else if len(s.X) == 1 {
				f.c.rect(x-2, y-2, x+2, y+2, ci)
			}
			px, py, havePrev = x, y, true
		}
	}
	f.legendOnly()
	return encode(w, f.c)
}

// legendRows lays the legend out in rows between the title and the plot:
// it returns each entry's position and the height the rows take.
func legendRows(names []string, left, right, top int) (pos [][2]int, height int) {
	if len(names) == 0 || (len(names) == 1 && names[0] == "") {
		return nil, 0
	}
	x, y := left, top
	for _, s := range names {
		w := 22 + textWidth(s, 1) + 18
		if x+w > right && x > left {
			x, y = left, y+14
		}
		pos = append(pos, [2]int{x, y})
		x += w
	}
	return pos, y - top + 14
}

func (f *frame) legendOnly() {
	pos, _ := legendRows(f.legend, f.left, f.right, 36)
	for i, s := range f.legend {
		if i >= len(pos) {
			break
		}
		x0, y := pos[i][0], pos[i][1]
		ci := uint8(cSeries + i%nSeriesColors)
		f.c.rect(x0, y+2, x0+16, y+5, ci)
		f.c.text(x0+22, y, s, 1, cText)
	}
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// WritePNG draws the chart.
func (b *Bars) WritePNG(w io.Writer) error {
	if len(b.Series) == 0 || len(b.Labels) == 0 {
		return errors.New("chart: no bars")
	}
	width, height := b.Width, b.Height
	if width <= 0 {
		width = 800
	}
	if height <= 0 {
		height = 450
	}
	yhi := 0.0
	for _, s := range b.Series {
		if len(s.Values) != len(b.Labels) {
			return fmt.Errorf("chart: series %q has %d values for %d labels", s.Name, len(s.Values), len(b.Labels))
		}
		for _, v := range s.Values {
			if !bad(v) {
				yhi = math.Max(yhi, v)
			}
		}
	}
	if yhi <= 0 {
		yhi = 1
	}
	yticks := niceTicks(0, yhi*1.12, 6)
	yhi = math.Max(yhi, yticks[len(yticks)-1].Value)
	lw := 0
	for _, t := range yticks {
		lw = max(lw, textWidth(t.Label, 1))
	}
	var names []string
	for _, s := range b.Series {
		names = append(names, s.Name)
	}
	_, lh := legendRows(names, 28+lw, width-20, 36)
	f := &frame{c: newCanvas(width, height), left: 28 + lw, top: 44 + lh, right: width - 20, bot: height - 44,
		xlo: 0, xhi: float64(len(b.Labels)), ylo: 0, yhi: yhi, width: width, height: height, legend: names,
		title: b.Title, ylabel: b.YLabel, yticks: yticks}
	f.axes()
	groupW := float64(f.right-f.left) / float64(len(b.Labels))
	barW := groupW * 0.7 / float64(len(b.Series))
	for li, label := range b.Labels {
		g0 := float64(f.left) + groupW*float64(li) + groupW*0.15
		for si, s := range b.Series {
			v := s.Values[li]
			if bad(v) {
				continue
			}
			x0 := int(g0 + barW*float64(si))
			x1 := int(g0+barW*float64(si+1)) - 2
			y := f.py(v)
			f.c.rect(x0, y, x1, f.bot-1, uint8(cSeries+si%nSeriesColors))
			lab := formatNum(v, decimalsFor(v))
			if tw := textWidth(lab, 1); tw <= x1-x0+8 {
				f.c.text((x0+x1-tw)/2, y-10, lab, 1, cText)
			}
		}
		tw := textWidth(label, 1)
		cx := int(float64(f.left) + groupW*(float64(li)+0.5))
		f.c.text(cx-tw/2, f.bot+8, label, 1, cText)
	}
	f.legendOnly()
	return encode(w, f.c)
}

func decimalsFor(v float64) int {
	switch a := math.Abs(v); {
	case a >= 100 || a == 0:
		return 0
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	}
	return 3
}

// Drawer is a chart that can draw itself as PNG.
type Drawer interface{ WritePNG(io.Writer) error }

// Save writes the chart to path as PNG.
func Save(path string, d Drawer) error {
	var buf bytes.Buffer
	if err := d.WritePNG(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// PercentileTicks are x ticks for a percentile distribution plotted at
// x = log10(1/(1-q)): 0%, 90%, 99%, ... up to decades nines.
func PercentileTicks(decades int) []Tick {
	ticks := []Tick{{0, "0%"}}
	for d := 1; d <= decades; d++ {
		label := "9" + strings.Repeat("9", d-1)
		if d == 1 {
			label = "90"
		} else {
			label = "99." + strings.Repeat("9", d-2)
			label = strings.TrimSuffix(label, ".")
		}
		ticks = append(ticks, Tick{float64(d), label + "%"})
	}
	return ticks
}

// PercentileX maps a quantile to the x of PercentileTicks, capped at
// decades (the maximum is drawn there).
func PercentileX(q float64, decades int) float64 {
	if q >= 1 {
		return float64(decades)
	}
	return math.Min(math.Log10(1/(1-q)), float64(decades))
}
