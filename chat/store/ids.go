package store

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var (
	idMu   sync.Mutex
	lastMs uint64
	lastR  [10]byte
)

// NewID returns a 26-character ULID: 48 bits of milliseconds then 80 random
// bits, in Crockford base32, so that ids sort by creation time. Ids made in
// the same millisecond by this process still sort in creation order.
func NewID(now time.Time) string {
	ms := uint64(now.UnixMilli())
	idMu.Lock()
	var r [10]byte
	if ms <= lastMs {
		ms = lastMs
		r = lastR
		for i := 9; i >= 0; i-- { // increment the random part
			r[i]++
			if r[i] != 0 {
				break
			}
		}
	} else {
		rand.Read(r[:])
	}
	lastMs, lastR = ms, r
	idMu.Unlock()

	var b [16]byte
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	copy(b[6:], r[:])
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	// 128 bits as 26 base32 digits (the top digit holds 3 bits).
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
