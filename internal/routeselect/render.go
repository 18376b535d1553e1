package routeselect

import (
	"bytes"
	"slices"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The functions in this file run only on bodies that scan has validated.

// valueString converts the captured value at sp to its route key text.
func valueString(b []byte, sp span) string {
	if sp.start < 0 {
		return ""
	}
	switch v := b[sp.start:sp.end]; v[0] {
	case '"':
		raw := v[1 : len(v)-1]
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw)
		}
		var buf [128]byte
		return string(appendUnquoted(buf[:0], raw))
	case 'n':
		return ""
	case '{', '[':
		return containerString(b, sp)
	default: // number, true, false
		return string(v)
	}
}

// appendTop appends the text of the captured value at sp.
func appendTop(dst, b []byte, sp span) []byte {
	if sp.start < 0 {
		return dst
	}
	switch v := b[sp.start:sp.end]; v[0] {
	case '"':
		return appendUnquoted(dst, v[1:len(v)-1])
	case 'n':
		return dst
	case '{', '[':
		// Kept apart so that dst, often on Select's stack, does not
		// escape through the recursive appendValue.
		return append(dst, containerString(b, sp)...)
	default:
		return append(dst, v...)
	}
}

// containerString converts the array or object at sp to text.
func containerString(b []byte, sp span) string {
	r := newRenderer(b, sp)
	out, _ := r.appendValue(make([]byte, 0, sp.end-sp.start), sp.start)
	return string(out)
}

// renderer converts a validated array or object to text.
//
// Objects are read twice (keys first, to let a repeated key take its last
// value), so a renderer first records where every container ends: skipping a
// nested value then costs O(log n) instead of a rescan, which would make
// deeply nested objects quadratic.
type renderer struct {
	b     []byte
	opens []int // offsets of the '{' and '[' of the value, increasing
	ends  []int // ends[k] is the offset after the container opened at opens[k]
}

func newRenderer(b []byte, sp span) *renderer {
	r := &renderer{b: b}
	var stack []int
	for i := sp.start; i < sp.end; {
		switch b[i] {
		case '"':
			i, _, _ = scanString(b, i+1)
			continue
		case '{', '[':
			stack = append(stack, len(r.opens))
			r.opens = append(r.opens, i)
			r.ends = append(r.ends, 0)
		case '}', ']':
			r.ends[stack[len(stack)-1]] = i + 1
			stack = stack[:len(stack)-1]
		}
		i++
	}
	return r
}

// skip returns the offset after the value starting at b[i].
func (r *renderer) skip(i int) int {
	switch r.b[i] {
	case '{', '[':
		k, _ := slices.BinarySearch(r.opens, i)
		return r.ends[k]
	case '"':
		end, _, _ := scanString(r.b, i+1)
		return end
	default:
		return scalarEnd(r.b, i)
	}
}

// scalarEnd returns the offset after the number or literal at b[i].
func scalarEnd(b []byte, i int) int {
	for i < len(b) && !isDelim(b[i]) {
		i++
	}
	return i
}

func isDelim(c byte) bool {
	switch c {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// appendValue appends the text of the value starting at b[i] and returns the
// offset after it. Nested values follow the rules of the top-level value
// except that null is written as "null", like Java's collection toString
// methods.
//
// It recurses once per nesting level; scan limits nesting to maxDepth.
func (r *renderer) appendValue(dst []byte, i int) ([]byte, int) {
	b := r.b
	switch b[i] {
	case '"':
		end, _, _ := scanString(b, i+1)
		return appendUnquoted(dst, b[i+1:end-1]), end
	case '[':
		dst = append(dst, '[')
		i = skipWS(b, i+1)
		for first := true; b[i] != ']'; first = false {
			if !first {
				dst = append(dst, ", "...)
			}
			dst, i = r.appendValue(dst, i)
			i = skipWS(b, i)
			if b[i] == ',' {
				i = skipWS(b, i+1)
			}
		}
		return append(dst, ']'), i + 1
	case '{':
		return r.appendObject(dst, i)
	default: // number or literal
		end := scalarEnd(b, i)
		return append(dst, b[i:end]...), end
	}
}

// member is an object member being converted to text.
type member struct {
	key   string // decoded key
	value int    // offset of the value that wins
}

// appendObject writes an object as {k1=v1, k2=v2}. A repeated key keeps the
// position of its first occurrence and takes its last value.
func (r *renderer) appendObject(dst []byte, i int) ([]byte, int) {
	b := r.b
	var membersBuf [16]member
	members := membersBuf[:0]
	var index map[string]int // key -> member, once there are many members
	var kbuf [64]byte
	i = skipWS(b, i+1)
	for b[i] != '}' {
		end, esc, _ := scanString(b, i+1)
		raw := b[i+1 : end-1]
		if esc {
			raw = appendUnquoted(kbuf[:0], raw)
		}
		i = skipWS(b, skipWS(b, end)+1) // past ':'
		val := i
		i = skipWS(b, r.skip(i))
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
		// Look for an earlier occurrence of the key.
		found := -1
		if index != nil {
			if k, ok := index[string(raw)]; ok {
				found = k
			}
		} else {
			for k := range members {
				if members[k].key == string(raw) {
					found = k
					break
				}
			}
		}
		if found >= 0 {
			members[found].value = val
			continue
		}
		key := string(raw)
		members = append(members, member{key, val})
		if index == nil && len(members) > len(membersBuf) {
			index = make(map[string]int, 2*len(members))
			for k, m := range members {
				index[m.key] = k
			}
		} else if index != nil {
			index[key] = len(members) - 1
		}
	}
	dst = append(dst, '{')
	for k, m := range members {
		if k > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, m.key...)
		dst = append(dst, '=')
		dst, _ = r.appendValue(dst, m.value)
	}
	return append(dst, '}'), i + 1
}

// appendUnquoted appends the decoded text of a valid JSON string body (the
// bytes between the quotes). A lone UTF-16 surrogate becomes U+FFFD, as in
// encoding/json.
func appendUnquoted(dst, s []byte) []byte {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		switch c := s[1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[2:6])
			s = s[6:]
			if utf16.IsSurrogate(r) {
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(s[2:6])); dec != unicode.ReplacementChar {
						dst = utf8.AppendRune(dst, dec)
						s = s[6:]
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		s = s[2:]
	}
	return dst
}
