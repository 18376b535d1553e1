package wsproto

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// unmaskBytes is the RFC 6455 section 5.3 definition, one byte at a time:
// the reference Unmask is checked against.
func unmaskBytes(p []byte, mask [4]byte, offset int) {
	for i := range p {
		p[i] ^= mask[(offset+i)%4]
	}
}

func TestUnmaskMatchesByteLoop(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	lengths := []int{4096, 65536 + 3}
	for n := range 300 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for offset := range 9 {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			got := bytes.Clone(payload)
			want := bytes.Clone(payload)
			Unmask(got, mask, offset)
			unmaskBytes(want, mask, offset)
			if !bytes.Equal(got, want) {
				t.Fatalf("length %d, offset %d: Unmask differs from the byte loop", n, offset)
			}
			// Masking twice gives the payload back.
			Unmask(got, mask, offset)
			if !bytes.Equal(got, payload) {
				t.Fatalf("length %d, offset %d: unmasking twice did not give the payload back", n, offset)
			}
		}
	}
}

func TestUnmaskInPieces(t *testing.T) {
	t.Parallel()
	mask := [4]byte{1, 2, 3, 4}
	payload := []byte("The quick brown fox jumps over the lazy dog, 0123456789 times over.")
	want := bytes.Clone(payload)
	unmaskBytes(want, mask, 0)
	for cut := range len(payload) + 1 {
		got := bytes.Clone(payload)
		Unmask(got[:cut], mask, 0)
		Unmask(got[cut:], mask, cut)
		if !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: got %q, want %q", cut, got, want)
		}
	}
}

func BenchmarkUnmask(b *testing.B) {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range []int{15, 64, 128, 512, 4096, 65536} {
		payload := make([]byte, n)
		b.Run(fmt.Sprintf("words/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Unmask(payload, mask, 1)
			}
		})
		b.Run(fmt.Sprintf("bytes/%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				unmaskBytes(payload, mask, 1)
			}
		})
	}
}
