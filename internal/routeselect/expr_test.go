package routeselect

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string // substrings of the error message
	}{
		{"", []string{"empty expression"}},
		{"action", []string{"no variable"}},
		{"join-chat", []string{"no variable"}},
		{"$request.header.x", []string{"offset 1", `unsupported variable "request.header.x"`, "request.body"}},
		{"${context.routeKey}", []string{"offset 2", `unsupported variable "context.routeKey"`}},
		{"${request.querystring.a}", []string{"unsupported variable"}},
		{"$request.bodyx.a", []string{"unsupported variable"}},
		{"$Request.body.a", []string{"unsupported variable"}},
		{"$request.body", []string{"offset 1", "must be followed by a JSON path"}},
		{"${request.body}", []string{"must be followed by a JSON path"}},
		{"$request.body.", []string{"offset 14", "empty JSON path segment"}},
		{"$request.body.a..b", []string{"offset 16", "empty JSON path segment"}},
		{"$request.body..a", []string{"offset 14", "empty JSON path segment"}},
		{"${request.body.a.}", []string{"offset 17", "empty JSON path segment"}},
		{"$request.body.a.b.", []string{"offset 18", "empty JSON path segment"}},
		{"${request.body.action", []string{"offset 0", `unterminated "${"`}},
		{"x-${request.body.a}-${request.body.b", []string{"offset 20", `unterminated "${"`}},
		{"${}", []string{"offset 0", "empty variable"}},
		{"$", []string{"offset 0", "without a variable name"}},
		{"$request.body.action ", []string{"offset 20", "white space"}},
		{" $request.body.action", []string{"offset 1", `"$" must start a braced variable`}},
		{"${ request.body.a}", []string{"offset 2", "white space"}},
		{"${request.body.a b}", []string{"offset 16", "white space"}},
		{"$request.body.a\tb", []string{"offset 15", "white space"}},
		{"$request.body.a\u00a0b", []string{"white space"}},
		{"$request.body.a}", []string{"offset 15", `unexpected "}"`}},
		{"$request.body.a${request.body.b}", []string{`unexpected "}"`}},
		{"join-$request.body.action", []string{"offset 5", `"$" must start a braced variable`}},
		{"${request.body.a}$", []string{"offset 17", `"$" must start`}},
		{"$request.body.a\xff", []string{"offset 15", "invalid UTF-8"}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error", tt.expr, e)
			continue
		}
		if e != nil {
			t.Errorf("Parse(%q) returned a non-nil *Expr with an error", tt.expr)
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSyntax", tt.expr, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) error %q does not mention %q", tt.expr, err, w)
			}
		}
	}
}

func TestParseOK(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"$request.body.action",
		"${request.body.action}",
		"$request.body.a.b.c",
		"${request.body.service}/${request.body.action}",
		"join-${request.body.missing}",
		"}${request.body.a}}",
		"$request.body.a$b{c",
		"${request.body.${x}",
		"${request.body.a} ${request.body.b}",
	} {
		e, err := Parse(expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
			continue
		}
		if e.String() != expr {
			t.Errorf("Parse(%q).String() = %q", expr, e.String())
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		r := recover()
		err, _ := r.(error)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("MustParse panicked with %v, want an ErrSyntax error", r)
		}
	}()
	MustParse("$request.header.x")
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse("$request.body.a..b")
	const want = `routeselect: invalid expression "$request.body.a..b": at offset 16: empty JSON path segment`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
