package config

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one thing wrong in a config file: the YAML path of the field
// (routes.echo.integration), where it is in the file when known, and what
// is wrong. It wraps ErrInvalid.
type Problem struct {
	Path   string // "" for the file as a whole
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Msg    string
}

func (p *Problem) Error() string {
	if p.Path == "" {
		return fmt.Sprintf("%v: %s", ErrInvalid, p.Msg)
	}
	return fmt.Sprintf("%v: %s: %s", ErrInvalid, p.Path, p.Msg)
}

// Unwrap makes errors.Is(p, ErrInvalid) true.
func (p *Problem) Unwrap() error { return ErrInvalid }

// where is "line 4, column 7" (or less when not known).
func (p *Problem) where() string {
	switch {
	case p.Line > 0 && p.Column > 0:
		return fmt.Sprintf("line %d, column %d", p.Line, p.Column)
	case p.Line > 0:
		return fmt.Sprintf("line %d", p.Line)
	}
	return ""
}

// Error is what Parse and Load return for an invalid file: every problem
// found, in the order of the file where positions are known. It is the one
// place problems are rendered:
//
//	api.yaml: invalid config: 2 problems:
//	  line 5, column 5: routes.echo.routeRespnse: unknown field (did you mean routeResponse?)
//	  line 9, column 16: limits.connectRate: ...
//
// It wraps ErrInvalid, and each Problem (errors.As).
type Error struct {
	File     string // the file's path; "" for Parse
	Problems []*Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	b.WriteString(ErrInvalid.Error())
	if len(e.Problems) == 1 {
		b.WriteString(": ")
		e.Problems[0].render(&b)
		return b.String()
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		p.render(&b)
	}
	return b.String()
}

func (p *Problem) render(b *strings.Builder) {
	if w := p.where(); w != "" {
		b.WriteString(w + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
}

// Unwrap returns the problems (each wraps ErrInvalid).
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// asProblems flattens err (joined errors, Problems, or other errors that
// wrap ErrInvalid as "invalid config: path: message") into Problems.
func asProblems(err error) []*Problem {
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) && p == err {
		return []*Problem{p}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Problem
		for _, e := range j.Unwrap() {
			out = append(out, asProblems(e)...)
		}
		return out
	}
	msg := strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
	path, rest, ok := strings.Cut(msg, ": ")
	if !ok || strings.ContainsAny(path, " \"") {
		return []*Problem{{Msg: msg}}
	}
	return []*Problem{{Path: path, Msg: rest}}
}
