package chart

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestLineWritesValidPNG(t *testing.T) {
	var xs, ys, ys2 []float64
	for i := 0; i <= 100; i++ {
		xs = append(xs, float64(i)/10)
		ys = append(ys, 1000+800*math.Sin(float64(i)/8))
		ys2 = append(ys2, 500+float64(i)*12)
	}
	ys[50] = math.NaN() // a gap, not a crash
	l := &Line{Title: "Deliveries per second", XLabel: "seconds", YLabel: "deliveries/s",
		Series: []Series{{Name: "switchboard", X: xs, Y: ys}, {Name: "baseline", X: xs, Y: ys2}}}
	var buf bytes.Buffer
	if err := l.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 450 {
		t.Fatalf("size %v", b)
	}
	if buf.Len() > 100<<10 {
		t.Errorf("PNG is %d bytes, want < 100 KB", buf.Len())
	}
	// Something other than background was drawn in the plot area.
	colors := map[uint32]bool{}
	for y := 50; y < 400; y += 3 {
		for x := 80; x < 780; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[r<<16^g<<8^b] = true
		}
	}
	if len(colors) < 3 {
		t.Errorf("only %d colours in the plot area", len(colors))
	}
	if os.Getenv("CHART_OUT") != "" {
		os.WriteFile(filepath.Join(os.Getenv("CHART_OUT"), "line.png"), buf.Bytes(), 0o644)
	}
}

func TestPercentileChartAndBars(t *testing.T) {
	var xs, ys []float64
	for i := 0; i <= 40; i++ {
		q := 1 - math.Pow(10, -float64(i)/10)
		xs = append(xs, PercentileX(q, 4))
		ys = append(ys, 2+20*q*q*q)
	}
	l := &Line{Title: "Delivery latency", XLabel: "percentile", YLabel: "ms", XTicks: PercentileTicks(4),
		Series: []Series{{Name: "p", X: xs, Y: ys}}}
	b := &Bars{Title: "Ratio", YLabel: "ms", Labels: []string{"p50", "p90", "p99", "max"},
		Series: []BarSeries{{Name: "switchboard", Values: []float64{1.5, 2, 9.25, 30}}, {Name: "baseline", Values: []float64{1, 1.5, 4, 12}}}}
	dir := t.TempDir()
	for name, d := range map[string]Drawer{"pct.png": l, "bars.png": b} {
		p := filepath.Join(dir, name)
		if err := Save(p, d); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		f.Close()
		if out := os.Getenv("CHART_OUT"); out != "" {
			data, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(out, name), data, 0o644)
		}
	}
	if got := PercentileTicks(3); len(got) != 4 || got[1].Label != "90%" || got[3].Label != "99.9%" {
		t.Errorf("ticks %+v", got)
	}
	if err := (&Line{}).WritePNG(&bytes.Buffer{}); err == nil {
		t.Error("no series: want an error")
	}
	if err := (&Line{Series: []Series{{X: []float64{1}, Y: nil}}}).WritePNG(&bytes.Buffer{}); err == nil {
		t.Error("mismatched series: want an error")
	}
}

func TestFormatNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1234567: "1 234 567", 4000: "4000", 2e6: "2M", 2.5e6: "2.5M", 400000: "400k", 12.5: "12.5", -1500: "-1500", -15001: "-15 001"} {
		d := 0
		if v == 12.5 {
			d = 1
		}
		if got := formatNum(v, d); got != want {
			t.Errorf("formatNum(%v) = %q, want %q", v, got, want)
		}
	}
}
