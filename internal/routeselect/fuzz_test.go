package routeselect

import (
	"errors"
	"testing"
)

var fuzzBodies = []string{
	``,
	`hello`,
	`{"action":`,
	`{"action":"join"}`,
	`{"action":"join"} x`,
	"{\"action\":\"\xff\"}",
	`{"a":{"b":{"c":"deep"}},"c":[1,"two",null,{"k":true}]}`,
	`{"a":"x","a":{"b":1.50e+3}}`,
	`{"a":{"b":"x"},"a":[{"b":2}]}`,
	`{"\u0061":{"\u0062":"\ud83d\ude00\ud83d"}}`,
	`{"é":{"k":1,"j":2,"k":3}, "b": -0}`,
	`[{"a":1}]`,
	`"str"`,
	`  null  `,
	`[[[[[[[[[[]]]]]]]]]]`,
	`{"a":01}`,
	`{"a":"\u12G4"}`,
}

func FuzzSelect(f *testing.F) {
	for _, b := range fuzzBodies {
		for _, e := range diffExprs {
			f.Add(e, []byte(b))
		}
	}
	f.Add("a\\u", []byte(`{"a\\u":1}`))
	f.Add("\u00e9.x", []byte(`{"\\u00e9":{"x":2},"é":{"x":[3]}}`))
	f.Fuzz(func(t *testing.T, expr string, body []byte) {
		if _, err := Parse(expr); err != nil {
			// Most fuzzed strings are not expressions; many are paths.
			expr = "$request.body." + expr
			if _, err := Parse(expr); err != nil {
				expr = diffExprs[len(expr)%len(diffExprs)]
			}
		}
		checkSelect(t, expr, body)
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "$", "${", "${}", "action",
		"$request.body.action", "${request.body.action}", "$request.body.a.b.c",
		"${request.body.service}/${request.body.action}", "join-${request.body.missing}",
		"$request.body.", "$request.body.a..b", "$request.header.x", "${context.x}",
		"${request.body.a", "$request.body.a}", " $request.body.a", "$request.body.a b",
		"${request.body.a}$", "${request.body.${x}", "$request.body.\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if e != nil || !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, %v", s, e, err)
			}
			return
		}
		if e.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, e.String())
		}
		e.Select([]byte(`{"a":{"b":1},"action":"x"}`))
	})
}
