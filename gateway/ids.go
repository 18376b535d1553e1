package gateway

import (
	"crypto/rand"
	"encoding/base64"
)

// newID returns a connection, request or message id as AWS shapes them:
// 11 random bytes in URL-safe base64 with padding, 16 characters.
func newID() string {
	var b [11]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.URLEncoding.EncodeToString(b[:])
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
