package routeselect

import (
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects accepted in a body.
// It matches encoding/json, so a body is accepted exactly when json.Valid
// accepts it and it is valid UTF-8.
const maxDepth = 10000

// span locates a captured JSON value in the body: body[start:end].
// start < 0 means the path is missing.
type span struct{ start, end int }

var missing = span{-1, -1}

// frame is an open array or object.
type frame struct {
	start int   // offset of the '{' or '['
	node  int32 // trie node the container is the value of, or -1
	obj   bool
}

// scan validates b as one complete JSON document and records in caps the
// spans of the values at the expression's paths. It reports whether b is
// valid. It does not recurse, so deep nesting cannot exhaust the stack.
func (e *Expr) scan(b []byte, caps []span) bool {
	var stackBuf [32]frame
	stack := stackBuf[:0]
	nodes := e.nodes
	cur := int32(-1) // trie node of the value about to be parsed
	if len(nodes) > 0 {
		cur = 0
	}
	n := len(b)
	i := 0
	ok := true
value:
	for {
		i = skipWS(b, i)
		if i >= n {
			return false
		}
		if cur >= 0 {
			// A new value for this path: forget whatever an earlier
			// duplicate key left for it and below it.
			nd := &nodes[cur]
			for k := nd.capLo; k < nd.capHi; k++ {
				caps[k] = missing
			}
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) == maxDepth {
				return false
			}
			stack = append(stack, frame{start: i, node: cur, obj: c == '{'})
			i = skipWS(b, i+1)
			if i >= n {
				return false
			}
			if c == '{' && b[i] != '}' {
				if i, cur, ok = e.scanKey(b, i, cur); !ok {
					return false
				}
				continue value
			}
			if c == '[' && b[i] != ']' {
				cur = -1
				continue value
			}
			// Empty container: b[i] is its closing bracket, handled below.
		default:
			start := i
			if i, ok = scanScalar(b, i); !ok {
				return false
			}
			if cur >= 0 && nodes[cur].capture >= 0 {
				caps[nodes[cur].capture] = span{start, i}
			}
		}
		// A value is complete: continue with its container.
		for {
			i = skipWS(b, i)
			if len(stack) == 0 {
				return i == n
			}
			if i >= n {
				return false
			}
			top := &stack[len(stack)-1]
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
				if !top.obj {
					cur = -1
					continue value
				}
				if i, cur, ok = e.scanKey(b, i, top.node); !ok {
					return false
				}
				continue value
			case '}', ']':
				if top.obj != (b[i] == '}') {
					return false
				}
				i++
				if top.node >= 0 && nodes[top.node].capture >= 0 {
					caps[nodes[top.node].capture] = span{top.start, i}
				}
				stack = stack[:len(stack)-1]
			default:
				return false
			}
		}
	}
}

// scanKey scans an object key and the following ':' starting at b[i], and
// returns the offset after the colon and the trie node of the member's
// value (-1 if the key is not on any path of the parent node).
func (e *Expr) scanKey(b []byte, i int, parent int32) (int, int32, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, -1, false
	}
	end, esc, ok := scanString(b, i+1)
	if !ok {
		return i, -1, false
	}
	child := int32(-1)
	if parent >= 0 && len(e.nodes[parent].children) > 0 {
		key := b[i+1 : end-1]
		var buf [64]byte
		if esc {
			key = appendUnquoted(buf[:0], key)
		}
		for _, c := range e.nodes[parent].children {
			if e.nodes[c].key == string(key) {
				child = c
				break
			}
		}
	}
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		return i, -1, false
	}
	return i + 1, child, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanScalar scans a string, number or literal starting at b[i] and returns
// the offset just after it.
func scanScalar(b []byte, i int) (int, bool) {
	switch b[i] {
	case '"':
		end, _, ok := scanString(b, i+1)
		return end, ok
	case 't':
		return i + 4, hasPrefix(b[i:], "true")
	case 'f':
		return i + 5, hasPrefix(b[i:], "false")
	case 'n':
		return i + 4, hasPrefix(b[i:], "null")
	default:
		return scanNumber(b, i)
	}
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	n := len(b)
	if b[i] == '-' {
		i++
		if i >= n {
			return i, false
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < n && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// plain reports the bytes that need no attention inside a JSON string:
// printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString scans the rest of a string whose opening quote is at b[i-1].
// It returns the offset after the closing quote and whether the string
// contains escapes. It rejects control characters, bad escapes and invalid
// UTF-8.
func scanString(b []byte, i int) (end int, esc bool, ok bool) {
	n := len(b)
	for {
		for i < n && plain[b[i]] {
			i++
		}
		if i >= n {
			return i, esc, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 >= n {
				return i, esc, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n || hex4(b[i+2:i+6]) < 0 {
					return i, esc, false
				}
				i += 6
			default:
				return i, esc, false
			}
		case c < 0x20:
			return i, esc, false
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, esc, false
			}
			i += size
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
