package gateway

import "encoding/binary"

// authContext is the authorizer's context of one connection, kept for its
// events: every key and value in one string, each preceded by its length
// (uvarint). A connection holds it for its whole life, and a map of boxed
// strings cost about 400 bytes per connection; this costs the bytes of the
// keys and values and a few more. The zero value is "no authorizer".
type authContext string

// newAuthContext packs keys[i], vals[i]; n is the bytes of all of them.
func newAuthContext(keys, vals []string, n int) authContext {
	b := make([]byte, 0, n+2*binary.MaxVarintLen32*len(keys))
	for i := range keys {
		b = binary.AppendUvarint(b, uint64(len(keys[i])))
		b = append(b, keys[i]...)
		b = binary.AppendUvarint(b, uint64(len(vals[i])))
		b = append(b, vals[i]...)
	}
	return authContext(b)
}

// event returns the context as requestContext.authorizer wants it: a new
// map for each event (an in-process handler may modify what it gets), nil
// without an authorizer.
func (a authContext) event() map[string]any {
	if a == "" {
		return nil
	}
	m := make(map[string]any, 4)
	s := string(a)
	for len(s) > 0 {
		var k, v string
		k, s = nextField(s)
		v, s = nextField(s)
		m[k] = v
	}
	return m
}

// nextField splits the first length-prefixed field off s (which
// newAuthContext wrote).
func nextField(s string) (field, rest string) {
	var n, shift uint
	i := 0
	for ; i < len(s); i++ {
		b := s[i]
		n |= uint(b&0x7f) << shift
		shift += 7
		if b < 0x80 {
			i++
			break
		}
	}
	s = s[i:]
	return s[:n], s[n:]
}
