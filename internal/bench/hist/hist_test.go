package hist

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// reference is the value of rank ceil(q*n) in sorted.
func reference(sorted []int64, q float64) int64 {
	if q <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// within checks got against the exact want: a bucket's highest value is at
// most want*(1+1/1024) and never below want.
func within(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got < want || float64(got-want) > float64(want)/1024+0.5 {
		t.Errorf("%s = %d, want %d (within 1/1024 above)", what, got, want)
	}
}

var quantiles = []float64{0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1}

func TestQuantilesAgainstSortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"uniform-small":   func() int64 { return r.Int64N(3000) },
		"uniform-ns":      func() int64 { return r.Int64N(50_000_000) },
		"lognormal":       func() int64 { return int64(math.Exp(r.NormFloat64()*2 + 12)) },
		"exponential":     func() int64 { return int64(r.ExpFloat64() * 1e6) },
		"huge":            func() int64 { return r.Int64N(math.MaxInt64) },
		"constant":        func() int64 { return 123456789 },
		"bimodal-latency": func() int64 { return map[bool]int64{true: 200_000, false: 90_000_000}[r.IntN(10) > 0] + r.Int64N(1000) },
	}
	for name, gen := range dists {
		for _, n := range []int{1, 7, 1000, 100_000} {
			h := New()
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			if h.Count() != uint64(n) || h.Max() != vals[n-1] || h.Min() != vals[0] {
				t.Fatalf("%s n=%d: count %d min %d max %d, want %d %d %d", name, n, h.Count(), h.Min(), h.Max(), n, vals[0], vals[n-1])
			}
			for _, q := range quantiles {
				within(t, name+" q", h.Quantile(q), reference(vals, q))
			}
			var sum float64
			for _, v := range vals {
				sum += float64(v)
			}
			if m := h.Mean(); math.Abs(m-sum/float64(n)) > 1e-6*math.Abs(sum/float64(n))+1e-9 {
				t.Errorf("%s mean %v, want %v", name, m, sum/float64(n))
			}
		}
	}
}

func TestBucketsCoverEveryValue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(v int64) {
		i := index(v)
		lo, hi := bounds(i)
		if v < lo || v > hi || i < 0 || i >= numBucket {
			t.Fatalf("value %d: bucket %d [%d, %d]", v, i, lo, hi)
		}
		if hi-lo > 0 && float64(hi-lo+1) > float64(lo)/1024+1 {
			t.Fatalf("bucket %d [%d, %d] too wide", i, lo, hi)
		}
	}
	for v := int64(0); v < 70000; v++ {
		check(v)
	}
	for range 100000 {
		check(r.Int64N(math.MaxInt64))
	}
	check(math.MaxInt64)
	// Buckets are contiguous.
	for i := 1; i < numBucket; i++ {
		_, prevHi := bounds(i - 1)
		lo, _ := bounds(i)
		if lo != prevHi+1 {
			t.Fatalf("gap before bucket %d: %d after %d", i, lo, prevHi)
		}
	}
}

func TestMergeJSONAndAtomic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a, b, all := New(), New(), New()
	at := NewAtomic()
	var vals []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		seed := uint64(g)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(seed, 9))
			for range 5000 {
				v := rr.Int64N(1e9)
				at.Record(v)
				mu.Lock()
				vals = append(vals, v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := range 20000 {
		v := int64(r.ExpFloat64() * 1e7)
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		all.Record(v)
	}
	// JSON round trip of b, then merge.
	enc, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var b2 Histogram
	if err := json.Unmarshal(enc, &b2); err != nil {
		t.Fatal(err)
	}
	a.Merge(&b2)
	for _, q := range quantiles {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged q%v = %d, want %d", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != all.Count() || a.Max() != all.Max() || a.Min() != all.Min() {
		t.Errorf("merged count/min/max %d/%d/%d, want %d/%d/%d", a.Count(), a.Min(), a.Max(), all.Count(), all.Min(), all.Max())
	}
	snap := at.Snapshot()
	slices.Sort(vals)
	if snap.Count() != uint64(len(vals)) || snap.Max() != vals[len(vals)-1] || snap.Min() != vals[0] {
		t.Fatalf("atomic snapshot count/min/max %d/%d/%d", snap.Count(), snap.Min(), snap.Max())
	}
	for _, q := range quantiles {
		within(t, "atomic q", snap.Quantile(q), reference(vals, q))
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Count() != 0 || len(empty.Distribution(3, 4)) != 0 {
		t.Error("empty histogram")
	}
	if d := all.Distribution(3, 5); len(d) != 17 || d[len(d)-1].Value != all.Max() {
		t.Errorf("distribution %v", d)
	}
}
