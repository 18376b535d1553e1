package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/switchboard-ws/switchboard/internal/bench/chart"
	"github.com/switchboard-ws/switchboard/internal/bench/hist"
)

// WriteTable prints the report as a plain table.
func (rep *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%s\n", rep.Command)
	fmt.Fprintf(w, "machine: %d x %s, %s, %s, load %s -> %s\n", rep.Machine.CPUs, rep.Machine.Model, rep.Machine.MemTotal, rep.Machine.Go, rep.Machine.LoadBefore, rep.Machine.LoadAfter)
	keys := make([]string, 0, len(rep.Params))
	for k := range rep.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ps []string
	for _, k := range keys {
		ps = append(ps, fmt.Sprintf("%s=%v", k, rep.Params[k]))
	}
	fmt.Fprintf(w, "params: %s\n", strings.Join(ps, " "))
	seen := map[string]bool{}
	var targets []string
	for _, r := range rep.Results {
		if !seen[r.Target] {
			seen[r.Target] = true
			targets = append(targets, r.Target)
			fmt.Fprintf(w, "%s: %s\n", r.Target, r.How)
		}
	}
	for _, r := range rep.Results {
		for _, p := range r.Problems {
			fmt.Fprintf(w, "PROBLEM (%s, run %d): %s\n", r.Target, r.Run, p)
		}
		if r.Run == 1 || len(r.Problems) > 0 {
			for _, n := range r.Notes {
				fmt.Fprintf(w, "note (%s): %s\n", r.Target, n)
			}
		}
		if c := r.Connect; c != nil && len(c.Failures) > 0 {
			fmt.Fprintf(w, "connect failures (%s, run %d): %s\n", r.Target, r.Run, formatCounts(c.Failures))
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "metric\t"
	for _, t := range targets {
		head += t + "\t"
	}
	compare := len(targets) == 2
	if compare {
		head += targets[0] + "/" + targets[1] + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, row := range rep.Summary {
		name := row.Name
		if row.Unit != "" && row.Unit != "/s" && row.Unit != "count" {
			name += " (" + row.Unit + ")"
		}
		line := name + "\t"
		for _, t := range targets {
			v, ok := row.Values[t]
			if !ok {
				line += "-\t"
				continue
			}
			if row.Unit == "count" {
				line += commas(strconv.FormatFloat(v, 'f', 0, 64)) + "\t"
			} else {
				line += formatValue(v) + "\t"
			}
		}
		if compare {
			if row.Ratio != nil {
				line += strconv.FormatFloat(*row.Ratio, 'f', 2, 64) + "x\t"
			} else {
				line += "\t"
			}
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if rep.Repeat() > 1 {
		fmt.Fprintf(w, "\nfigures are medians of %d runs\n", rep.Repeat())
	}
}

// Repeat is the number of runs per target.
func (rep *Report) Repeat() int {
	n := 0
	for _, r := range rep.Results {
		n = max(n, r.Run)
	}
	return n
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func formatValue(v float64) string {
	switch a := abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return commas(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func commas(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteReport writes DIR/LABEL.json and the PNG charts; it returns the
// files written.
func (rep *Report) WriteReport(dir, label string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	jpath := filepath.Join(dir, label+".json")
	f, err := os.Create(jpath)
	if err != nil {
		return nil, err
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	files = append(files, jpath)
	charts, err := rep.writeCharts(dir, label)
	files = append(files, charts...)
	sort.Strings(files)
	return files, err
}

// writeCharts writes the report's PNG charts into dir.
func (rep *Report) writeCharts(dir, label string) ([]string, error) {
	var files []string
	for name, d := range rep.charts() {
		p := filepath.Join(dir, label+"-"+name+".png")
		if err := chart.Save(p, d); err != nil {
			return files, fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, p)
	}
	sort.Strings(files)
	return files, nil
}

// firstRuns returns the first run of each target, in order.
func (rep *Report) firstRuns() []*Result {
	var out []*Result
	seen := map[string]bool{}
	for _, r := range rep.Results {
		if !seen[r.Target] {
			seen[r.Target] = true
			out = append(out, r)
		}
	}
	return out
}

const pctDecades = 4

func distSeries(name string, h *hist.Histogram) chart.Series {
	s := chart.Series{Name: name}
	for _, p := range h.Distribution(pctDecades, 20) {
		s.X = append(s.X, chart.PercentileX(p.Quantile, pctDecades))
		s.Y = append(s.Y, float64(p.Value)/1e6)
	}
	return s
}

func timeSeries(name string, ys []float64, bin float64) chart.Series {
	s := chart.Series{Name: name}
	for i, y := range ys {
		s.X = append(s.X, float64(i)*bin)
		s.Y = append(s.Y, y)
	}
	return s
}

// charts are the report's PNGs by name. With several runs per target, the
// first run of each is drawn.
func (rep *Report) charts() map[string]chart.Drawer {
	out := map[string]chart.Drawer{}
	runs := rep.firstRuns()
	title := func(s string) string { return rep.Scenario + ": " + s }
	var lat, ack, thr, ttl, hs, conns, mem []chart.Series
	for _, r := range runs {
		if f := r.Fanout; f != nil {
			if f.LatencyHist != nil && f.LatencyHist.Count() > 0 {
				lat = append(lat, distSeries(r.Target+" delivery", f.LatencyHist))
			}
			if f.AckHist != nil && f.AckHist.Count() > 0 {
				ack = append(ack, distSeries(r.Target+" ack", f.AckHist))
			}
			if len(f.Series) > 0 {
				thr = append(thr, timeSeries(r.Target, f.Series, f.BinSeconds))
			}
			if len(f.TimeToLastEach) > 1 {
				s := chart.Series{Name: r.Target}
				for i, v := range f.TimeToLastEach {
					s.X = append(s.X, float64(i+1))
					s.Y = append(s.Y, v)
				}
				ttl = append(ttl, s)
			}
		}
		if c := r.Connect; c != nil {
			if c.Hist != nil && c.Hist.Count() > 0 {
				hs = append(hs, distSeries(r.Target, c.Hist))
			}
			if len(c.Series) > 0 {
				conns = append(conns, timeSeries(r.Target, c.Series, c.BinSeconds))
			}
		}
		if i := r.Idle; i != nil && len(i.Samples) > 0 && i.MemBefore != nil {
			s := chart.Series{Name: r.Target + " VmRSS"}
			a := chart.Series{Name: r.Target + " RssAnon"}
			for k, m := range i.Samples {
				s.X = append(s.X, float64(k+1))
				s.Y = append(s.Y, float64(m.VmRSS)/(1<<20))
				a.X = append(a.X, float64(k+1))
				a.Y = append(a.Y, float64(m.RssAnon)/(1<<20))
			}
			mem = append(mem, s, a)
		}
	}
	if len(lat)+len(ack) > 0 {
		out["latency"] = &chart.Line{Title: title("latency distribution"), XLabel: "percentile", YLabel: "latency (ms)",
			XTicks: chart.PercentileTicks(pctDecades), Series: append(lat, ack...)}
	}
	if len(thr) > 0 {
		out["throughput"] = &chart.Line{Title: title("deliveries per second over time"), XLabel: "seconds since the first send", YLabel: "deliveries/s", Series: thr}
	}
	if len(ttl) > 0 {
		out["time-to-last"] = &chart.Line{Title: title("time to the last delivery of each message"), XLabel: "message", YLabel: "ms", Series: ttl}
	}
	if len(hs) > 0 {
		out["handshake"] = &chart.Line{Title: title("handshake latency distribution"), XLabel: "percentile", YLabel: "latency (ms)",
			XTicks: chart.PercentileTicks(pctDecades), Series: hs}
	}
	if len(conns) > 0 {
		out["connects"] = &chart.Line{Title: title("connections per second over time"), XLabel: "seconds since the first dial", YLabel: "connects/s", Series: conns}
	}
	if len(mem) > 0 {
		out["memory"] = &chart.Line{Title: title("server memory while holding idle connections"), XLabel: "seconds into the hold", YLabel: "MB", Series: mem}
	}
	return out
}
