package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Limits of Lambda's FilterCriteria.
const (
	// MaxFilters is the most filters a mapping may have: Lambda's quota is
	// 5, and 10 after a quota increase.
	MaxFilters = 10
	// MaxPatternLength is the longest pattern, in characters.
	MaxPatternLength = 4096
)

// Filter is a mapping's compiled FilterCriteria: a record matches when it
// matches one of the patterns. A Filter without patterns (or nil) matches
// every record. It is safe for concurrent use.
type Filter struct {
	patterns []*object
}

// Compile compiles the patterns of FilterCriteria.Filters (each the JSON
// of a Pattern). No patterns give a Filter that matches everything. An
// error names the filter (Filters[i]), the field, and what is wrong.
func Compile(patterns []string) (*Filter, error) {
	if len(patterns) > MaxFilters {
		return nil, fmt.Errorf("%d filters: Lambda allows 5 per event source mapping (%d with a quota increase)", len(patterns), MaxFilters)
	}
	f := &Filter{}
	for i, p := range patterns {
		o, err := compilePattern(p)
		if err != nil {
			return nil, fmt.Errorf("Filters[%d]: %w", i, err)
		}
		f.patterns = append(f.patterns, o)
	}
	return f, nil
}

// Len is the number of patterns.
func (f *Filter) Len() int {
	if f == nil {
		return 0
	}
	return len(f.patterns)
}

// Match says whether the record (its JSON, as Lambda puts it in the
// function's event) matches one of the patterns; true when there are
// none. A record that is not JSON matches no pattern.
func (f *Filter) Match(record []byte) bool {
	if f.Len() == 0 {
		return true
	}
	v, err := decode(record)
	if err != nil {
		return false
	}
	m, _ := v.(map[string]any)
	b := &body{}
	if s, ok := m["body"].(string); ok {
		b.present, b.text = true, s
	}
	for _, p := range f.patterns {
		if p.matchMap(m, b) {
			return true
		}
	}
	return false
}

// decode parses JSON keeping numbers' text, and refuses trailing data.
func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// body is an SQS record's body, parsed at most once per record.
type body struct {
	present bool // the record's top-level body is a string
	text    string
	parsed  bool
	json    any // the body's JSON object or array, or nil
}

// value returns the body as JSON (an object or an array), or ok false
// when it is a plain string.
func (b *body) value() (v any, ok bool) {
	if !b.parsed {
		b.parsed = true
		t := strings.TrimSpace(b.text)
		if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			if v, err := decode([]byte(t)); err == nil {
				b.json = v
			}
		}
	}
	return b.json, b.json != nil
}

// object is a compiled pattern object: every field must match, and one
// alternative of each $or.
type object struct {
	fields []*field
	ors    [][]*object
}

// field is a key of a pattern object: a nested object, or rules.
type field struct {
	key   string
	obj   *object
	rules []rule
}

func compilePattern(p string) (*object, error) {
	if n := len([]rune(p)); n > MaxPatternLength {
		return nil, fmt.Errorf("pattern of %d characters: at most %d", n, MaxPatternLength)
	}
	if strings.TrimSpace(p) == "" {
		return nil, errors.New(`empty pattern: want a JSON object such as {"eventName": ["INSERT"]}`)
	}
	v, err := decode([]byte(p))
	if err != nil {
		return nil, fmt.Errorf("pattern is not JSON: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`pattern %s is not a JSON object: want fields and their rules, such as {"eventName": ["INSERT"]}`, brief(v))
	}
	return compileObject("", m)
}

func compileObject(path string, m map[string]any) (*object, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := &object{}
	for _, k := range keys {
		p := join(path, k)
		if k == "$or" {
			list, ok := m[k].([]any)
			if !ok {
				return nil, fmt.Errorf("%s: %s: want a list of patterns (objects)", p, brief(m[k]))
			}
			alts, err := compileOr(p, list)
			if err != nil {
				return nil, err
			}
			o.ors = append(o.ors, alts)
			continue
		}
		switch v := m[k].(type) {
		case map[string]any:
			sub, err := compileObject(p, v)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, &field{key: k, obj: sub})
		case []any:
			rules, err := compileRules(p, v)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, &field{key: k, rules: rules})
		default:
			return nil, fmt.Errorf("%s: %s must be in a list, as [%s], or be an object of nested fields", p, brief(v), brief(v))
		}
	}
	return o, nil
}

func compileOr(path string, list []any) ([]*object, error) {
	if len(list) < 2 {
		return nil, fmt.Errorf("%s: want a list of at least two patterns (objects)", path)
	}
	var alts []*object
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: %s: want a pattern (an object)", path, i, brief(e))
		}
		o, err := compileObject(path, m)
		if err != nil {
			return nil, err
		}
		alts = append(alts, o)
	}
	return alts, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// brief is v as JSON, shortened for an error message.
func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// matchMap matches the pattern object against a JSON object (nil when the
// value is missing or not an object). b is the record's SQS body at the
// top level, nil below it.
func (o *object) matchMap(m map[string]any, b *body) bool {
	for _, f := range o.fields {
		v, present := m[f.key]
		if b != nil && b.present && f.key == "body" {
			if !f.matchBody(b) {
				return false
			}
			continue
		}
		if !f.match(v, present) {
			return false
		}
	}
	for _, alts := range o.ors {
		if !slices.ContainsFunc(alts, func(a *object) bool { return a.matchMap(m, b) }) {
			return false
		}
	}
	return true
}

// matchBody applies Lambda's rule for SQS bodies: an object pattern
// matches a JSON body, rules match a plain-string body, and a mismatch
// matches nothing.
func (f *field) matchBody(b *body) bool {
	v, isJSON := b.value()
	if f.obj != nil {
		return isJSON && f.obj.match(v)
	}
	return !isJSON && f.matchLeaves([]any{b.text})
}

func (f *field) match(v any, present bool) bool {
	if f.obj != nil {
		if !present {
			return f.obj.matchMap(nil, nil)
		}
		return f.obj.match(v)
	}
	var leaves []any
	if present {
		leaves = appendLeaves(leaves, v)
	}
	return f.matchLeaves(leaves)
}

func (f *field) matchLeaves(leaves []any) bool {
	for _, r := range f.rules {
		if r.exists != nil {
			if *r.exists == (len(leaves) > 0) {
				return true
			}
			continue
		}
		if slices.ContainsFunc(leaves, r.test) {
			return true
		}
	}
	return false
}

// match matches the pattern object against a value of the record: an
// object, or a list whose elements are tried one by one.
func (o *object) match(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return o.matchMap(v, nil)
	case []any:
		objs := appendObjects(nil, v)
		if len(objs) == 0 {
			return o.matchMap(nil, nil)
		}
		return slices.ContainsFunc(objs, func(m map[string]any) bool { return o.matchMap(m, nil) })
	}
	return o.matchMap(nil, nil)
}

// appendLeaves appends v's leaf values: v itself, or the elements of a
// list (flattened); objects are not leaves.
func appendLeaves(out []any, v any) []any {
	switch v := v.(type) {
	case map[string]any:
		return out
	case []any:
		for _, e := range v {
			out = appendLeaves(out, e)
		}
		return out
	}
	return append(out, v)
}

func appendObjects(out []map[string]any, list []any) []map[string]any {
	for _, e := range list {
		switch e := e.(type) {
		case map[string]any:
			out = append(out, e)
		case []any:
			out = appendObjects(out, e)
		}
	}
	return out
}
