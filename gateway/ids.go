package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	mrand "math/rand/v2"
)

// newID returns a connection id as AWS shapes them: 11 random bytes from
// crypto/rand in URL-safe base64 with padding, 16 characters. A
// connection id is the address of a connection on the management API: it
// must not be guessable from others.
func newID() string {
	var b [11]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return encodeID(&b)
}

// newRequestID returns a request or message id, shaped as newID's, from
// the runtime's per-thread generator (math/rand/v2, ChaCha8): unique, but
// the address of nothing. crypto/rand was a getrandom system call per id,
// three or four per connect (~3% of a connect's CPU).
func newRequestID() string {
	var b [11]byte
	binary.LittleEndian.PutUint64(b[:8], mrand.Uint64())
	v := mrand.Uint32()
	b[8], b[9], b[10] = byte(v), byte(v>>8), byte(v>>16)
	return encodeID(&b)
}

// encodeID is b in URL-safe base64 with padding, one allocation.
func encodeID(b *[11]byte) string {
	var out [16]byte
	base64.URLEncoding.Encode(out[:], b[:])
	return string(out[:])
}

// validID reports whether id has the shape of a connection id.
func validID(id string) bool {
	if len(id) != 16 || id[15] != '=' {
		return false
	}
	for i := 0; i < 15; i++ {
		c := id[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
