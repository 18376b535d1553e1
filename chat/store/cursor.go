package store

import (
	"encoding/base64"
	"strings"
)

// EncodeCursor makes an opaque cursor of a position; implementations use it
// so that no raw keys reach clients in a recognisable form, and so that a
// cursor made by one listing is refused by another.
func EncodeCursor(kind string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + strings.Join(parts, "\x00")))
}

// DecodeCursor reverses EncodeCursor; ErrCursor if c was not made for kind
// with n parts.
func DecodeCursor(c, kind string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrCursor
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != n+1 || parts[0] != kind {
		return nil, ErrCursor
	}
	return parts[1:], nil
}
