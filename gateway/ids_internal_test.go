package gateway

import "testing"

func TestIDsShapeAndUniqueness(t *testing.T) {
	t.Parallel()
	for name, gen := range map[string]func() string{"connection": newID, "request": newRequestID} {
		seen := make(map[string]bool, 10000)
		for range 10000 {
			id := gen()
			if !validID(id) {
				t.Fatalf("%s id %q: not 15 URL-safe base64 characters and '='", name, id)
			}
			if seen[id] {
				t.Fatalf("%s id %q twice in 10,000", name, id)
			}
			seen[id] = true
		}
	}
}

// BenchmarkIDs: go test -run '^$' -bench IDs ./gateway
func BenchmarkIDs(b *testing.B) {
	for name, gen := range map[string]func() string{"connection": newID, "request": newRequestID} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = gen()
			}
		})
	}
}
