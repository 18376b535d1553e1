// Package hist is a small HDR-style histogram: log-linear buckets that keep
// three significant decimal digits (a relative error below 1/1024) for any
// non-negative int64 value, exact below 2048. Values are usually
// nanoseconds.
//
// Histogram is for one goroutine; Atomic may be recorded into by many
// goroutines at once and turned into a Histogram with Snapshot. Both merge,
// and a Histogram travels as JSON (only its non-empty buckets).
package hist

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
)

const (
	subBits   = 11           // 2048 sub-buckets: 3 significant digits
	subCount  = 1 << subBits // exact values below this
	halfCount = subCount / 2 // sub-buckets per power of two above it
	maxShift  = 63 - subBits // largest shift of a non-negative int64
	numBucket = subCount + (maxShift+1)*halfCount
)

// index is the bucket of v (v >= 0).
func index(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // v>>shift is in [1024, 2047]
	return subCount + (shift-1)*halfCount + int(v>>shift) - halfCount
}

// bounds returns the lowest and highest value of bucket i.
func bounds(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := (i-subCount)/halfCount + 1
	sub := int64((i-subCount)%halfCount + halfCount)
	lo = sub << shift
	return lo, lo + (int64(1) << shift) - 1
}

// Histogram counts values. The zero value is ready to use.
type Histogram struct {
	counts   []uint64 // allocated on first use, numBucket long
	total    uint64
	min, max int64
	sum      float64
}

// New returns an empty histogram.
func New() *Histogram { return &Histogram{} }

// Record counts v once; negative values count as 0.
func (h *Histogram) Record(v int64) { h.RecordN(v, 1) }

// RecordN counts v n times.
func (h *Histogram) RecordN(v int64, n uint64) {
	if n == 0 {
		return
	}
	if v < 0 {
		v = 0
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBucket)
	}
	h.counts[index(v)] += n
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total += n
	h.sum += float64(v) * float64(n)
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest value recorded (exact), 0 if none.
func (h *Histogram) Max() int64 { return h.max }

// Min is the smallest value recorded (exact), 0 if none.
func (h *Histogram) Min() int64 { return h.min }

// Mean is the mean of the values recorded, 0 if none.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// values lie: the highest value of the bucket that holds the value of rank
// ceil(q*count), never above Max. Its relative error is below 1/1024.
// Quantile(0) is Min and Quantile(1) is Max; 0 if empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			_, hi := bounds(i)
			return max(min(hi, h.max), h.min)
		}
	}
	return h.max
}

// Percentile is Quantile(p/100).
func (h *Histogram) Percentile(p float64) int64 { return h.Quantile(p / 100) }

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBucket)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// Point is one point of a percentile distribution.
type Point struct {
	Quantile float64 // 0..1
	Value    int64
}

// Distribution returns the value at quantiles spaced evenly on a log scale
// of 1/(1-q) (as HdrHistogram's percentile plots do), from 0 up to
// 1-10^-decades, with perDecade points per factor of ten, then Max.
func (h *Histogram) Distribution(decades, perDecade int) []Point {
	if h.total == 0 {
		return nil
	}
	var pts []Point
	for i := 0; i <= decades*perDecade; i++ {
		q := 1 - math.Pow(10, -float64(i)/float64(perDecade))
		pts = append(pts, Point{q, h.Quantile(q)})
	}
	return append(pts, Point{1, h.max})
}

// Summary is what a report prints of a histogram.
type Summary struct {
	Count uint64  `json:"count"`
	Min   int64   `json:"min"`
	Mean  float64 `json:"mean"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
}

// Summarize returns count, mean, p50, p90, p99, p99.9 and max.
func (h *Histogram) Summarize() Summary {
	return Summary{Count: h.total, Min: h.min, Mean: h.Mean(), P50: h.Quantile(.5), P90: h.Quantile(.9),
		P99: h.Quantile(.99), P999: h.Quantile(.999), Max: h.max}
}

// wire is the JSON form: the non-empty buckets as [index, count] pairs.
type wire struct {
	Buckets [][2]uint64 `json:"buckets"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
	Sum     float64     `json:"sum"`
}

// MarshalJSON encodes the non-empty buckets.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := wire{Buckets: [][2]uint64{}, Min: h.min, Max: h.max, Sum: h.sum}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON made.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Histogram{}
	for _, bc := range w.Buckets {
		if bc[0] >= numBucket {
			return fmt.Errorf("hist: bucket %d out of range", bc[0])
		}
		if h.counts == nil {
			h.counts = make([]uint64, numBucket)
		}
		h.counts[bc[0]] += bc[1]
		h.total += bc[1]
	}
	if h.total > 0 {
		h.min, h.max, h.sum = w.Min, w.Max, w.Sum
	}
	return nil
}

// Atomic is a histogram that many goroutines may record into at once.
type Atomic struct {
	counts [numBucket]atomic.Uint64
	total  atomic.Uint64
	min    atomic.Int64 // stored as v+1 so that 0 means none
	max    atomic.Int64
	sumNS  atomic.Int64 // saturates; only for the mean
}

// NewAtomic returns an empty Atomic.
func NewAtomic() *Atomic { return &Atomic{} }

// Record counts v once; negative values count as 0.
func (a *Atomic) Record(v int64) {
	if v < 0 {
		v = 0
	}
	a.counts[index(v)].Add(1)
	a.total.Add(1)
	a.sumNS.Add(v)
	for {
		m := a.max.Load()
		if v <= m || a.max.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := a.min.Load()
		if (m != 0 && v+1 >= m) || a.min.CompareAndSwap(m, v+1) {
			break
		}
	}
}

// Count is the number of values recorded so far.
func (a *Atomic) Count() uint64 { return a.total.Load() }

// Snapshot copies the counts into a Histogram. Values recorded while it
// runs may or may not be in it.
func (a *Atomic) Snapshot() *Histogram {
	h := &Histogram{}
	for i := range a.counts {
		if c := a.counts[i].Load(); c != 0 {
			if h.counts == nil {
				h.counts = make([]uint64, numBucket)
			}
			h.counts[i] = c
			h.total += c
		}
	}
	if h.total > 0 {
		h.min = max(a.min.Load()-1, 0)
		h.max = a.max.Load()
		h.sum = float64(a.sumNS.Load())
	}
	return h
}
