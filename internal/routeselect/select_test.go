package routeselect

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestSelect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, body string
		want       string
		ok         bool
	}{
		// Forms.
		{"$request.body.action", `{"action":"join"}`, "join", true},
		{"${request.body.action}", `{"action":"join"}`, "join", true},
		{"$request.body.a.b.c", `{"a":{"b":{"c":"deep"}}}`, "deep", true},
		{"${request.body.a.b.c}", `{"a":{"b":{"c":"deep"}}}`, "deep", true},
		{"${request.body.service}/${request.body.action}", `{"action":"join","service":"chat"}`, "chat/join", true},
		{"join-${request.body.missing}", `{"action":"join"}`, "join-", true},
		{"${request.body.a}${request.body.a}", `{"a":"x"}`, "xx", true},
		{"<${request.body.a}|${request.body.a.b}>", `{"a":{"b":1}}`, "<{b=1}|1>", true},
		{"${request.body.a.b}-${request.body.a.c}", `{"a":{"c":2,"b":1}}`, "1-2", true},
		{"static ${request.body.a} tail}", `{"a":"v"}`, "static v tail}", true},
		{"$request.body.we{ird$key", `{"we{ird$key":"k"}`, "k", true},
		{"$request.body.a/b", `{"a/b":"slash"}`, "slash", true},
		{"$request.body.é", `{"é":"accent"}`, "accent", true},
		{"$request.body.0", `{"0":"zero"}`, "zero", true},

		// Strings.
		{"$request.body.a", `{"a":""}`, "", true},
		{"$request.body.a", `{"a":"caf\u00e9"}`, "café", true},
		{"$request.body.a", `{"a":"café"}`, "café", true},
		{"$request.body.a", `{"a":"\"\\\/\b\f\n\r\t"}`, "\"\\/\b\f\n\r\t", true},
		{"$request.body.a", `{"a":"\ud83d\ude00"}`, "😀", true},
		{"$request.body.a", `{"a":"\ud83dx"}`, "\uFFFDx", true},
		{"$request.body.a", `{"a":"\ude00\ud83d"}`, "\uFFFD\uFFFD", true},
		{"$request.body.a", `{"a":"\ud83d\u0041"}`, "\uFFFDA", true},
		{"$request.body.a", `{"a":"x` + strings.Repeat(`\n`, 100) + `"}`, "x" + strings.Repeat("\n", 100), true},

		// Numbers are kept as written.
		{"$request.body.a", `{"a":1}`, "1", true},
		{"$request.body.a", `{"a":1.5}`, "1.5", true},
		{"$request.body.a", `{"a":-0}`, "-0", true},
		{"$request.body.a", `{"a":1.50}`, "1.50", true},
		{"$request.body.a", `{"a":1E+2}`, "1E+2", true},
		{"$request.body.a", `{"a":-12.5e-3}`, "-12.5e-3", true},
		{"$request.body.a", `{"a":123456789012345678901234567890}`, "123456789012345678901234567890", true},

		// Literals.
		{"$request.body.a", `{"a":true}`, "true", true},
		{"$request.body.a", `{"a":false}`, "false", true},
		{"$request.body.a", `{"a":null}`, "", true},
		{"x${request.body.a}y", `{"a":null}`, "xy", true},

		// Arrays and objects.
		{"$request.body.a", `{"a":[]}`, "[]", true},
		{"$request.body.a", `{"a":{}}`, "{}", true},
		{"$request.body.a", `{"a":["x", 1, true, null, 1.0]}`, "[x, 1, true, null, 1.0]", true},
		{"$request.body.a", `{"a":[[1,2],[],{"k":"v"}]}`, "[[1, 2], [], {k=v}]", true},
		{"$request.body.a", `{"a":{"z":1,"b":"two","c":[3],"d":null,"e":{}}}`, "{z=1, b=two, c=[3], d=null, e={}}", true},
		{"$request.body.a", `{"a":{"k":1,"j":2,"k":3}}`, "{k=3, j=2}", true},
		{"$request.body.a", `{"a":{"\u006b":1,"k":2}}`, "{k=2}", true},
		{"$request.body.a", `{"a":{"a\nb":"c\"d"}}`, "{a\nb=c\"d}", true},
		{"$request.body.a", " {\n\t\"a\" : [ 1 , { \"b\" : \"c\" } ] \r\n} ", "[1, {b=c}]", true},
		{"$request.body.a", `{"a":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":"x","k17":"y"}}`,
			"{k0=0, k1=1, k2=2, k3=x, k4=4, k5=5, k6=6, k7=7, k8=8, k9=9, k10=10, k11=11, k12=12, k13=13, k14=14, k15=15, k16=16, k17=y}", true},
		{"${request.body.a}/${request.body.b}", `{"a":[1],"b":{"c":"d"}}`, "[1]/{c=d}", true},

		// Missing paths.
		{"$request.body.action", `{}`, "", true},
		{"$request.body.action", `{"Action":"x"}`, "", true},
		{"$request.body.a.b", `{"a":"str"}`, "", true},
		{"$request.body.a.b", `{"a":1}`, "", true},
		{"$request.body.a.b", `{"a":null}`, "", true},
		{"$request.body.a.b", `{"a":{}}`, "", true},
		{"$request.body.a.0", `{"a":["x"]}`, "", true},
		{"$request.body.a.b", `{"a":[{"b":"x"}]}`, "", true},
		{"$request.body.b", `{"a":{"b":"nested"}}`, "", true},
		{"$request.body.action", `["action"]`, "", true},
		{"$request.body.action", `"action"`, "", true},
		{"$request.body.action", `42`, "", true},
		{"$request.body.action", `null`, "", true},
		{"$request.body.action", ` true `, "", true},

		// Escaped keys match their decoded text.
		{"$request.body.action", `{"act\u0069on":"esc"}`, "esc", true},
		{"$request.body.a\"b", `{"a\"b":"quote"}`, "quote", true},
		{"$request.body.é", `{"\u00e9":"accent"}`, "accent", true},
		{"$request.body." + strings.Repeat("k", 100), `{"` + strings.Repeat(`\u006b`, 100) + `":"long"}`, "long", true},

		// Duplicate keys: the last one wins.
		{"$request.body.a", `{"a":"first","a":"second"}`, "second", true},
		{"$request.body.a", `{"a":"first","a":null}`, "", true},
		{"$request.body.a.b", `{"a":{"b":"x"},"a":{"c":"y"}}`, "", true},
		{"$request.body.a.b", `{"a":{"b":"x"},"a":2}`, "", true},
		{"$request.body.a.b", `{"a":{"b":"x"},"a":{"b":"y"}}`, "y", true},
		{"$request.body.a.b", `{"a":{"b":"x","b":"z"}}`, "z", true},
		{"$request.body.a.b", `{"a":1,"a":{"b":"y"}}`, "y", true},
		{"${request.body.a}|${request.body.a.b}", `{"a":{"b":"x"},"a":[1]}`, "[1]|", true},

		// Not JSON.
		{"$request.body.action", ``, "", false},
		{"$request.body.action", `   `, "", false},
		{"$request.body.action", `hello`, "", false},
		{"$request.body.action", `{"action":`, "", false},
		{"$request.body.action", `{"action":"join"`, "", false},
		{"$request.body.action", `{"action":"join"} x`, "", false},
		{"$request.body.action", `{"action":"join"}}`, "", false},
		{"$request.body.action", `{"action":"join"}{}`, "", false},
		{"$request.body.action", "{\"action\":\"jo\xffin\"}", "", false},
		{"$request.body.action", "{\"action\":\"join\"}\xff", "", false},
		{"$request.body.action", "{\"k\xc3\":1}", "", false},
		{"$request.body.action", "{\"action\":\"a\x01\"}", "", false},
		{"$request.body.action", `{"action":"\x"}`, "", false},
		{"$request.body.action", `{"action":"\u12G4"}`, "", false},
		{"$request.body.action", `{"action":"\u12"}`, "", false},
		{"$request.body.action", `{"action":'join'}`, "", false},
		{"$request.body.action", `{action:"join"}`, "", false},
		{"$request.body.action", `{"action":"join",}`, "", false},
		{"$request.body.action", `{"action" "join"}`, "", false},
		{"$request.body.action", `{"a":1 "b":2}`, "", false},
		{"$request.body.action", `[1,]`, "", false},
		{"$request.body.action", `[1 2]`, "", false},
		{"$request.body.action", `[1}`, "", false},
		{"$request.body.action", `{"a":1]`, "", false},
		{"$request.body.action", `{"action":01}`, "", false},
		{"$request.body.action", `{"action":1.}`, "", false},
		{"$request.body.action", `{"action":.5}`, "", false},
		{"$request.body.action", `{"action":1e}`, "", false},
		{"$request.body.action", `{"action":+1}`, "", false},
		{"$request.body.action", `{"action":-}`, "", false},
		{"$request.body.action", `{"action":NaN}`, "", false},
		{"$request.body.action", `{"action":tru}`, "", false},
		{"$request.body.action", `{"action":nul}`, "", false},
		{"$request.body.action", `{"action":truex}`, "", false},
		{"$request.body.action", "\v{}", "", false},
		{"$request.body.action", "\ufeff{}", "", false},
		{"join-${request.body.action}", `hello`, "", false},
	}
	for _, tt := range tests {
		e := MustParse(tt.expr)
		got, ok := e.Select([]byte(tt.body))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q).Select(%q) = %q, %v; want %q, %v", tt.expr, tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSelectDepth(t *testing.T) {
	t.Parallel()
	e := MustParse("$request.body.a")
	for _, tt := range []struct {
		depth int
		ok    bool
	}{{maxDepth, true}, {maxDepth + 1, false}, {1_000_000, false}} {
		for _, body := range []string{
			strings.Repeat("[", tt.depth) + strings.Repeat("]", tt.depth),
			strings.Repeat(`{"a":`, tt.depth-1) + "{}" + strings.Repeat("}", tt.depth-1),
		} {
			_, ok := e.Select([]byte(body))
			if ok != tt.ok || ok != json.Valid([]byte(body)) {
				t.Errorf("depth %d of %.10q: ok = %v, want %v", tt.depth, body, ok, tt.ok)
			}
		}
	}
	// A deeply nested selected value is converted without trouble.
	body := `{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + "}"
	got, ok := e.Select([]byte(body))
	want := strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1)
	if !ok || got != want {
		t.Errorf("deep array: ok = %v, len(got) = %d, want %d", ok, len(got), len(want))
	}
}

func TestSelectManyVariables(t *testing.T) {
	t.Parallel()
	// More distinct paths than Select's on-stack capture buffer.
	var expr, body, want strings.Builder
	body.WriteString("{")
	for i := range 20 {
		k := string(rune('a' + i))
		expr.WriteString("${request.body." + k + "}-")
		if i > 0 {
			body.WriteString(",")
		}
		body.WriteString(`"` + k + `":` + string(rune('0'+i%10)))
		want.WriteString(string(rune('0'+i%10)) + "-")
	}
	body.WriteString("}")
	got, ok := MustParse(expr.String()).Select([]byte(body.String()))
	if !ok || got != want.String() {
		t.Errorf("got %q, %v; want %q", got, ok, want.String())
	}
}

func TestZeroExpr(t *testing.T) {
	t.Parallel()
	var e Expr
	if got, ok := e.Select([]byte(`{"a":1}`)); got != "" || !ok {
		t.Errorf("zero Expr: got %q, %v", got, ok)
	}
	if _, ok := e.Select([]byte(`{`)); ok {
		t.Errorf("zero Expr accepted invalid JSON")
	}
}

func TestSelectAllocs(t *testing.T) {
	e := MustParse("$request.body.action")
	body := []byte(chatMessage)
	if n := testing.AllocsPerRun(100, func() { e.Select(body) }); n > 1 {
		t.Errorf("Select allocates %v times, want at most 1", n)
	}
	missingKey := MustParse("$request.body.nope")
	if n := testing.AllocsPerRun(100, func() { missingKey.Select(body) }); n != 0 {
		t.Errorf("Select of a missing key allocates %v times, want 0", n)
	}
}

func TestLongPath(t *testing.T) {
	t.Parallel()
	// Neither Parse nor Select recurses along a path.
	const n = 200_000
	e := MustParse("$request.body" + strings.Repeat(".k", n))
	body := strings.Repeat(`{"k":`, maxDepth-1) + `"v"` + strings.Repeat("}", maxDepth-1)
	if got, ok := e.Select([]byte(body)); got != "" || !ok {
		t.Errorf("got %q, %v; want \"\", true", got, ok)
	}
	e = MustParse("$request.body" + strings.Repeat(".k", maxDepth-1))
	if got, ok := e.Select([]byte(body)); got != "v" || !ok {
		t.Errorf("got %q, %v; want \"v\", true", got, ok)
	}
}

func TestSelectConcurrent(t *testing.T) {
	t.Parallel()
	e := MustParse("${request.body.a}/${request.body.b.c}")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				body := fmt.Sprintf(`{"a":"g%d","b":{"c":[%d,{"x":null}]}}`, g, i)
				want := fmt.Sprintf("g%d/[%d, {x=null}]", g, i)
				if got, ok := e.Select([]byte(body)); got != want || !ok {
					t.Errorf("got %q, %v; want %q", got, ok, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
