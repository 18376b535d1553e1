package cfn

import (
	"errors"
	"fmt"
)

// ErrInvalid wraps every error about the template's content (not the
// errors reading it).
var ErrInvalid = errors.New("invalid template")

// Error is a problem with one place of a template: Path is where
// ("Resources.ConnectFunction.Properties.CodeUri"), Line its line in the
// file when known. It unwraps to ErrInvalid.
type Error struct {
	File string
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		if loc != "" {
			loc += ":"
		} else {
			loc = "line "
		}
		loc += fmt.Sprint(e.Line)
	}
	s := e.Msg
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	if loc != "" {
		s = loc + ": " + s
	}
	return s
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// errs collects errors; each is reported once.
type errs struct {
	file string
	list []error
	seen map[string]bool
}

func (e *errs) add(path string, line int, format string, args ...any) {
	err := &Error{File: e.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	e.addErr(err)
}

func (e *errs) addErr(err error) {
	if err == nil {
		return
	}
	var ce *Error
	if errors.As(err, &ce) && ce.File == "" {
		ce.File = e.file
	}
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	if s := err.Error(); !e.seen[s] {
		e.seen[s] = true
		e.list = append(e.list, err)
	}
}

func (e *errs) err() error { return errors.Join(e.list...) }

// fail is an evaluation error: the path and line of the value at fault.
func fail(path string, n *Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}
