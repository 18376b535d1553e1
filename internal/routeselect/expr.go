package routeselect

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrSyntax is the sentinel wrapped by every error returned by [Parse].
var ErrSyntax = errors.New("routeselect: invalid expression")

// Expr is a compiled route selection expression. Safe for concurrent use.
type Expr struct {
	src   string
	parts []part
	// nodes is a trie of the JSON paths used by the expression. nodes[0] is
	// the root: the message body itself.
	nodes []node
	ncap  int // number of distinct paths (capture slots)
}

// part is one piece of a template: static text or a captured path.
type part struct {
	lit     string
	capture int // index into the capture slots, or -1 for static text
}

// node is a trie node: one object key along a JSON path.
type node struct {
	key      string
	children []int32
	capture  int32 // capture slot of the path ending here, or -1
	// The capture slots of this node and its descendants are capLo..capHi-1.
	capLo, capHi int32
}

const bodyVar = "request.body"

// Parse compiles a route selection expression. Errors wrap [ErrSyntax] and
// describe the problem and its byte offset in expr.
func Parse(expr string) (*Expr, error) {
	p := parser{src: expr}
	if err := p.parse(); err != nil {
		return nil, err
	}
	e := &Expr{src: expr, nodes: []node{{capture: -1}}}
	nodeOf := make([]int32, len(p.paths))
	for k, path := range p.paths {
		nodeOf[k] = e.insert(path)
	}
	e.numberCaptures()
	for _, rp := range p.parts {
		if rp.path < 0 {
			e.parts = append(e.parts, part{lit: rp.lit, capture: -1})
		} else {
			e.parts = append(e.parts, part{capture: int(e.nodes[nodeOf[rp.path]].capture)})
		}
	}
	return e, nil
}

// MustParse is like [Parse] but panics if the expression is invalid.
func MustParse(expr string) *Expr {
	e, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source text of the expression.
func (e *Expr) String() string { return e.src }

// insert adds path to the trie and returns the index of its last node.
func (e *Expr) insert(path []string) int32 {
	n := int32(0)
next:
	for _, seg := range path {
		for _, c := range e.nodes[n].children {
			if e.nodes[c].key == seg {
				n = c
				continue next
			}
		}
		c := int32(len(e.nodes))
		e.nodes = append(e.nodes, node{key: seg, capture: -1})
		e.nodes[n].children = append(e.nodes[n].children, c)
		n = c
	}
	e.nodes[n].capture = 0 // a path ends here; numbered by numberCaptures
	return n
}

// numberCaptures assigns capture slots in depth-first pre-order so that the
// slots of a subtree are contiguous. It does not recurse: paths can be long.
func (e *Expr) numberCaptures() {
	type visit struct {
		node int32
		next int // next child to visit
	}
	stack := []visit{{node: 0}}
	e.nodes[0].capture = -1
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		nd := &e.nodes[top.node]
		if top.next == len(nd.children) {
			nd.capHi = int32(e.ncap)
			stack = stack[:len(stack)-1]
			continue
		}
		c := nd.children[top.next]
		top.next++
		child := &e.nodes[c]
		child.capLo = int32(e.ncap)
		if child.capture == 0 {
			child.capture = int32(e.ncap)
			e.ncap++
		}
		stack = append(stack, visit{node: c})
	}
}

type rawPart struct {
	lit  string
	path int // index into parser.paths, or -1 for static text
}

type parser struct {
	src   string
	parts []rawPart
	paths [][]string
}

func (p *parser) errorf(off int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if off < 0 {
		return fmt.Errorf("%w %q: %s", ErrSyntax, p.src, msg)
	}
	return fmt.Errorf("%w %q: at offset %d: %s", ErrSyntax, p.src, off, msg)
}

func (p *parser) parse() error {
	s := p.src
	if s == "" {
		return p.errorf(-1, "empty expression (want e.g. $request.body.action)")
	}
	if !utf8.ValidString(s) {
		for i := 0; ; {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return p.errorf(i, "invalid UTF-8")
			}
			i += size
		}
	}
	if s[0] == '$' && !strings.HasPrefix(s, "${") {
		// $request.body.a.b: the whole expression is one variable.
		return p.variable(1, s[1:], false)
	}
	lit := 0 // start of the pending static text
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			return p.errorf(i, `"$" must start a braced variable "${...}" (an unbraced $request.body... variable must be the whole expression)`)
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return p.errorf(i, `unterminated "${": missing "}"`)
		}
		if lit < i {
			p.parts = append(p.parts, rawPart{lit: s[lit:i], path: -1})
		}
		if err := p.variable(i+2, s[i+2:i+2+end], true); err != nil {
			return err
		}
		i += 2 + end + 1
		lit = i
	}
	if len(p.paths) == 0 {
		return p.errorf(-1, "no variable: the route key must be selected from the message body, e.g. $request.body.action or ${request.body.action}")
	}
	if lit < len(s) {
		p.parts = append(p.parts, rawPart{lit: s[lit:], path: -1})
	}
	return nil
}

// variable parses the variable name v, found at offset off of the source.
func (p *parser) variable(off int, v string, braced bool) error {
	if v == "" {
		if braced {
			return p.errorf(off-2, `empty variable "${}"`)
		}
		return p.errorf(off-1, `"$" without a variable name (want e.g. $request.body.action)`)
	}
	for i, r := range v {
		switch {
		case unicode.IsSpace(r):
			return p.errorf(off+i, "white space %q is not allowed in a variable", r)
		case r == '}':
			return p.errorf(off+i, `unexpected "}" in variable`)
		}
	}
	if !strings.HasPrefix(v, bodyVar) || (len(v) > len(bodyVar) && v[len(bodyVar)] != '.') {
		return p.errorf(off, "unsupported variable %q: WebSocket route selection can only use request.body (e.g. $request.body.action)", v)
	}
	if len(v) == len(bodyVar) {
		return p.errorf(off, "request.body must be followed by a JSON path (e.g. request.body.action)")
	}
	rest, restOff := v[len(bodyVar)+1:], off+len(bodyVar)+1
	var path []string
	for {
		seg, tail, more := strings.Cut(rest, ".")
		if seg == "" {
			return p.errorf(restOff, "empty JSON path segment")
		}
		path = append(path, seg)
		if !more {
			break
		}
		rest, restOff = tail, restOff+len(seg)+1
	}
	p.parts = append(p.parts, rawPart{path: len(p.paths)})
	p.paths = append(p.paths, path)
	return nil
}
