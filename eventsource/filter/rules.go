package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rule is one element of a field's list: exists, or a test of one leaf
// value (a string, json.Number, bool or nil).
type rule struct {
	exists *bool
	test   func(v any) bool
}

const operators = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"

func compileRules(path string, list []any) ([]rule, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: an empty list matches nothing (Lambda refuses it): give values or rules, e.g. [null] for null", path)
	}
	rules := make([]rule, 0, len(list))
	for _, e := range list {
		switch e := e.(type) {
		case map[string]any:
			r, err := compileOperator(path, e)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		case []any:
			return nil, fmt.Errorf("%s: %s: a list inside the list of values: want values (strings, numbers, true, false, null) or rules ({\"prefix\": ...})", path, brief(e))
		default:
			rules = append(rules, rule{test: equal(e)})
		}
	}
	return rules, nil
}

// equal tests for a value of the same JSON type and text.
func equal(want any) func(any) bool {
	return func(v any) bool { return same(v, want) }
}

func same(a, b any) bool {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return ok && a == b
	case json.Number:
		b, ok := b.(json.Number)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	}
	return false
}

func compileOperator(path string, m map[string]any) (rule, error) {
	if len(m) != 1 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return rule{}, fmt.Errorf("%s: a rule object has exactly one operator (%s), got %d keys: %s", path, operators, len(m), strings.Join(keys, ", "))
	}
	var op string
	var arg any
	for k, v := range m {
		op, arg = k, v
	}
	at := path + ": " + op
	switch op {
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return rule{}, fmt.Errorf("%s: %s: want true or false", at, brief(arg))
		}
		return rule{exists: &b}, nil
	case "prefix", "suffix", "equals-ignore-case", "wildcard":
		t, err := stringTest(at, op, arg, op != "equals-ignore-case" && op != "wildcard")
		if err != nil {
			return rule{}, err
		}
		return rule{test: onString(t)}, nil
	case "anything-but":
		t, err := anythingBut(at, arg)
		if err != nil {
			return rule{}, err
		}
		return rule{test: t}, nil
	case "numeric":
		t, err := numeric(at, arg)
		if err != nil {
			return rule{}, err
		}
		return rule{test: t}, nil
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return rule{}, fmt.Errorf("%s: %s: want a string such as \"10.0.0.0/24\"", at, brief(arg))
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return rule{}, fmt.Errorf("%s: %q is not an IP prefix such as 10.0.0.0/24: %v", at, s, err)
		}
		pfx = pfx.Masked()
		return rule{test: onString(func(v string) bool {
			a, err := netip.ParseAddr(v)
			return err == nil && pfx.Contains(a.Unmap())
		})}, nil
	}
	return rule{}, fmt.Errorf("%s: unknown operator %q (want one of %s)", path, op, operators)
}

func onString(t func(string) bool) func(any) bool {
	return func(v any) bool {
		s, ok := v.(string)
		return ok && t(s)
	}
}

// stringTest compiles prefix, suffix, equals-ignore-case and wildcard,
// with a string argument (or, for prefix and suffix when foldable,
// {"equals-ignore-case": string}).
func stringTest(at, op string, arg any, foldable bool) (func(string) bool, error) {
	fold := false
	if m, ok := arg.(map[string]any); ok && foldable && len(m) == 1 {
		if inner, ok := m["equals-ignore-case"]; ok {
			arg, fold = inner, true
		}
	}
	s, ok := arg.(string)
	if !ok {
		want := "a string"
		if foldable {
			want += ` or {"equals-ignore-case": string}`
		}
		return nil, fmt.Errorf("%s: %s: want %s", at, brief(arg), want)
	}
	switch op {
	case "prefix":
		if fold {
			return func(v string) bool { return hasPrefixFold(v, s) }, nil
		}
		return func(v string) bool { return strings.HasPrefix(v, s) }, nil
	case "suffix":
		if fold {
			return func(v string) bool { return hasSuffixFold(v, s) }, nil
		}
		return func(v string) bool { return strings.HasSuffix(v, s) }, nil
	case "equals-ignore-case":
		return func(v string) bool { return strings.EqualFold(v, s) }, nil
	}
	g, err := compileGlob(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %v", at, s, err)
	}
	return g.match, nil
}

// hasPrefixFold: EqualFold compares rune by rune, so a prefix of v equal
// to p ignoring case has as many runes as p.
func hasPrefixFold(v, p string) bool {
	n := utf8.RuneCountInString(p)
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(v) {
			return false
		}
		_, size := utf8.DecodeRuneInString(v[i:])
		i += size
	}
	return strings.EqualFold(v[:i], p)
}

func hasSuffixFold(v, p string) bool {
	n := utf8.RuneCountInString(p)
	i := len(v)
	for k := 0; k < n; k++ {
		if i <= 0 {
			return false
		}
		_, size := utf8.DecodeLastRuneInString(v[:i])
		i -= size
	}
	return strings.EqualFold(v[i:], p)
}

// anythingBut compiles {"anything-but": ...}: a value, a list of values,
// or a string operator; it matches an existing value the argument does
// not.
func anythingBut(at string, arg any) (func(any) bool, error) {
	switch a := arg.(type) {
	case string, json.Number:
		return func(v any) bool { return !same(v, a) }, nil
	case []any:
		if len(a) == 0 {
			return nil, fmt.Errorf("%s: an empty list: want the values to exclude", at)
		}
		for _, e := range a {
			switch e.(type) {
			case string, json.Number:
			default:
				return nil, fmt.Errorf("%s: %s: the values to exclude are strings or numbers", at, brief(e))
			}
		}
		return func(v any) bool {
			return !slices.ContainsFunc(a, func(x any) bool { return same(v, x) })
		}, nil
	case map[string]any:
		if len(a) != 1 {
			return nil, fmt.Errorf("%s: %s: want one of prefix, suffix, equals-ignore-case, wildcard", at, brief(a))
		}
		for op, inner := range a {
			switch op {
			case "prefix", "suffix", "equals-ignore-case", "wildcard":
			default:
				return nil, fmt.Errorf("%s: operator %q: want prefix, suffix, equals-ignore-case or wildcard", at, op)
			}
			args := []any{inner}
			if list, ok := inner.([]any); ok {
				if len(list) == 0 {
					return nil, fmt.Errorf("%s: %s: an empty list", at, op)
				}
				args = list
			}
			var tests []func(string) bool
			for _, x := range args {
				t, err := stringTest(at+": "+op, op, x, false)
				if err != nil {
					return nil, err
				}
				tests = append(tests, t)
			}
			return func(v any) bool {
				s, ok := v.(string)
				return !ok || !slices.ContainsFunc(tests, func(t func(string) bool) bool { return t(s) })
			}, nil
		}
	}
	return nil, fmt.Errorf("%s: %s: want a string, a number, a list of them, or {\"prefix\": string}", at, brief(arg))
}

// numeric compiles ["op", n] or ["op", n, "op", m]: one comparison, or a
// range with one lower (> or >=) and one upper (< or <=) bound.
func numeric(at string, arg any) (func(any) bool, error) {
	list, ok := arg.([]any)
	if !ok || (len(list) != 2 && len(list) != 4) {
		return nil, fmt.Errorf(`%s: %s: want ["<op>", number] or a range [">", number, "<=", number]`, at, brief(arg))
	}
	type cmp struct {
		op string
		n  float64
	}
	var cmps []cmp
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, op) {
			return nil, fmt.Errorf("%s: %s is not a comparison: want =, <, <=, > or >=", at, brief(list[i]))
		}
		num, ok := list[i+1].(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: %s %s: want a number (not in quotes)", at, op, brief(list[i+1]))
		}
		n, err := strconv.ParseFloat(string(num), 64)
		if err != nil || math.IsInf(n, 0) {
			return nil, fmt.Errorf("%s: %s %s: out of range", at, op, num)
		}
		cmps = append(cmps, cmp{op, n})
	}
	if len(cmps) == 2 {
		lower := func(op string) bool { return op == ">" || op == ">=" }
		lo, hi := cmps[0], cmps[1]
		if !lower(lo.op) {
			lo, hi = hi, lo
		}
		if !lower(lo.op) || hi.op == "=" || lower(hi.op) {
			return nil, fmt.Errorf("%s: a range has one lower bound (> or >=) and one upper bound (< or <=), got %s and %s", at, cmps[0].op, cmps[1].op)
		}
		if lo.n >= hi.n {
			return nil, fmt.Errorf("%s: the range %s %v %s %v is empty", at, lo.op, lo.n, hi.op, hi.n)
		}
	}
	return func(v any) bool {
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		x, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return false
		}
		for _, c := range cmps {
			var ok bool
			switch c.op {
			case "=":
				ok = x == c.n
			case "<":
				ok = x < c.n
			case "<=":
				ok = x <= c.n
			case ">":
				ok = x > c.n
			case ">=":
				ok = x >= c.n
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

// glob is a compiled wildcard: literal runs separated by stars.
type glob struct {
	parts []string // the literal text around the stars
}

// compileGlob parses a wildcard pattern: * is any run of characters, \*
// a literal star, \\ a backslash; two stars in a row are refused, as
// EventBridge does.
func compileGlob(p string) (*glob, error) {
	g := &glob{}
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) || (p[i+1] != '*' && p[i+1] != '\\') {
				return nil, fmt.Errorf(`a backslash escapes only * or \ (at byte %d)`, i)
			}
			i++
			cur.WriteByte(p[i])
			prevStar = false
		case '*':
			if prevStar {
				return nil, fmt.Errorf("two stars in a row (at byte %d)", i)
			}
			g.parts = append(g.parts, cur.String())
			cur.Reset()
			prevStar = true
		default:
			cur.WriteByte(c)
			prevStar = false
		}
	}
	g.parts = append(g.parts, cur.String())
	return g, nil
}

// match: the first part is a prefix, the last a suffix, the others occur
// in order between them (leftmost occurrences suffice).
func (g *glob) match(s string) bool {
	if len(g.parts) == 1 {
		return s == g.parts[0]
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}
