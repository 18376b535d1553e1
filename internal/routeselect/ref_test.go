package routeselect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// This file holds a slow reference implementation built on encoding/json,
// used to cross-check Select.

// refValue is a decoded JSON value. Objects keep their keys in document
// order; a repeated key keeps its first position and takes its last value.
type refValue struct {
	kind  byte // 's' string, 'n' number, 'b' bool, 'z' null, 'a' array, 'o' object
	text  string
	items []refValue // array items, or object values
	keys  []string   // object keys
}

func refDecode(dec *json.Decoder) (refValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return refValue{}, err
	}
	switch t := tok.(type) {
	case string:
		return refValue{kind: 's', text: t}, nil
	case json.Number:
		return refValue{kind: 'n', text: string(t)}, nil
	case bool:
		return refValue{kind: 'b', text: fmt.Sprint(t)}, nil
	case nil:
		return refValue{kind: 'z'}, nil
	case json.Delim:
		v := refValue{kind: 'a'}
		if t == '{' {
			v.kind = 'o'
		}
		for dec.More() {
			if v.kind == 'a' {
				item, err := refDecode(dec)
				if err != nil {
					return v, err
				}
				v.items = append(v.items, item)
				continue
			}
			ktok, err := dec.Token()
			if err != nil {
				return v, err
			}
			key := ktok.(string)
			val, err := refDecode(dec)
			if err != nil {
				return v, err
			}
			if k := indexOf(v.keys, key); k >= 0 {
				v.items[k] = val
			} else {
				v.keys = append(v.keys, key)
				v.items = append(v.items, val)
			}
		}
		_, err := dec.Token() // closing delimiter
		return v, err
	}
	return refValue{}, fmt.Errorf("unexpected token %v", tok)
}

func indexOf(keys []string, key string) int {
	for k, s := range keys {
		if s == key {
			return k
		}
	}
	return -1
}

func (v refValue) lookup(path []string) (refValue, bool) {
	for _, seg := range path {
		if v.kind != 'o' {
			return refValue{}, false
		}
		k := indexOf(v.keys, seg)
		if k < 0 {
			return refValue{}, false
		}
		v = v.items[k]
	}
	return v, true
}

func (v refValue) toString(nested bool) string {
	switch v.kind {
	case 'z':
		if nested {
			return "null"
		}
		return ""
	case 'a':
		s := make([]string, len(v.items))
		for k, item := range v.items {
			s[k] = item.toString(true)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case 'o':
		s := make([]string, len(v.items))
		for k, item := range v.items {
			s[k] = v.keys[k] + "=" + item.toString(true)
		}
		return "{" + strings.Join(s, ", ") + "}"
	}
	return v.text
}

var refVar = regexp.MustCompile(`\$\{request\.body\.([^}]*)\}`)

// refSelect evaluates a valid expression against body, slowly.
func refSelect(expr string, body []byte) (string, bool) {
	root, ok := refParseBody(body)
	return refEval(expr, root, ok)
}

// refParseBody decodes body as the reference sees it; ok is false when
// Select must refuse it.
func refParseBody(body []byte) (root refValue, ok bool) {
	// encoding/json accepts invalid UTF-8 inside strings; Select does not.
	if !json.Valid(body) || !utf8.Valid(body) {
		return refValue{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	root, err := refDecode(dec)
	if err != nil {
		panic(fmt.Sprintf("reference decoder failed on valid JSON %q: %v", body, err))
	}
	return root, true
}

// refEval evaluates a valid expression against a body refParseBody
// decoded (bodyOK as it returned).
func refEval(expr string, root refValue, bodyOK bool) (string, bool) {
	if !bodyOK {
		return "", false
	}
	eval := func(path string) string {
		v, ok := root.lookup(strings.Split(path, "."))
		if !ok {
			return ""
		}
		return v.toString(false)
	}
	if strings.HasPrefix(expr, "$request.body.") {
		return eval(strings.TrimPrefix(expr, "$request.body.")), true
	}
	return refVar.ReplaceAllStringFunc(expr, func(m string) string {
		return eval(refVar.FindStringSubmatch(m)[1])
	}), true
}

var diffExprs = []string{
	"$request.body.a",
	"$request.body.a.b",
	"$request.body.a.b.c",
	"${request.body.b}",
	"${request.body.a}/${request.body.a.b}-${request.body.c}",
	"x${request.body.é}y",
}

func checkSelect(t *testing.T, expr string, body []byte) {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	got, ok := e.Select(body)
	want, wantOK := refSelect(expr, body)
	if ok != wantOK || got != want {
		t.Fatalf("Parse(%q).Select(%q)\n got %q, %v\nwant %q, %v", expr, body, got, ok, want, wantOK)
	}
}

// randJSON writes a random JSON value (sometimes slightly broken).
func randJSON(r *rand.Rand, w *bytes.Buffer, depth int) {
	ws := func() {
		if r.IntN(4) == 0 {
			w.WriteString([]string{" ", "\n", "\t", "\r\n  "}[r.IntN(4)])
		}
	}
	ws()
	keys := []string{`"a"`, `"b"`, `"c"`, `"\u0061"`, `"é"`, `"\u00e9"`, `"a.b"`, `""`}
	strs := []string{`""`, `"x"`, `"caf\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`, `"q\"\\\/\b\f\n\r\t"`, `"日本"`, `"a b"`}
	nums := []string{"0", "-0", "1", "1.5", "1.50", "-2e3", "1E+2", "123456789012345678901234567890"}
	k := r.IntN(10)
	if depth < 3 && r.IntN(3) > 0 {
		k = 9 // mostly objects near the top, so that paths hit
	} else if depth > 5 {
		k = r.IntN(6)
	}
	switch k {
	case 0, 1:
		w.WriteString(strs[r.IntN(len(strs))])
	case 2, 3:
		w.WriteString(nums[r.IntN(len(nums))])
	case 4:
		w.WriteString([]string{"true", "false"}[r.IntN(2)])
	case 5:
		w.WriteString("null")
	case 6, 7:
		w.WriteByte('[')
		for i := range r.IntN(4) {
			if i > 0 {
				w.WriteByte(',')
			}
			randJSON(r, w, depth+1)
		}
		w.WriteByte(']')
	default:
		w.WriteByte('{')
		for i := range r.IntN(5) {
			if i > 0 {
				w.WriteByte(',')
			}
			ws()
			w.WriteString(keys[r.IntN(len(keys))])
			ws()
			w.WriteByte(':')
			randJSON(r, w, depth+1)
		}
		w.WriteByte('}')
	}
	ws()
}

func TestDifferential(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	// 5,000 random bodies (20,000 took 4.5 s of CPU under -race); CI's
	// fuzzing step runs FuzzSelect, the same differential check, beyond.
	n := 5000
	if testing.Short() {
		n = 2000
	}
	exprs := make([]*Expr, len(diffExprs))
	for i, expr := range diffExprs {
		e, err := Parse(expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		exprs[i] = e
	}
	var buf bytes.Buffer
	for range n {
		buf.Reset()
		randJSON(r, &buf, 0)
		body := buf.Bytes()
		if r.IntN(4) == 0 && len(body) > 0 {
			// Break it: flip, delete, insert or truncate.
			b := bytes.Clone(body)
			p := r.IntN(len(b))
			switch r.IntN(4) {
			case 0:
				const junk = "{}[]\":,\\ x0-.e\xff\xc3"
				b[p] = junk[r.IntN(len(junk))]
			case 1:
				b = append(b[:p], b[p+1:]...)
			case 2:
				const junk = "{}[]\":,\\ 1\x00"
				b = append(b[:p], append([]byte{junk[r.IntN(len(junk))]}, b[p:]...)...)
			case 3:
				b = b[:p]
			}
			body = b
		}
		// The reference decodes each body once for all the expressions.
		root, bodyOK := refParseBody(body)
		for i, e := range exprs {
			got, ok := e.Select(body)
			want, wantOK := refEval(diffExprs[i], root, bodyOK)
			if ok != wantOK || got != want {
				t.Fatalf("Parse(%q).Select(%q)\n got %q, %v\nwant %q, %v", diffExprs[i], body, got, ok, want, wantOK)
			}
		}
	}
}
