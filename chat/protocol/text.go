package protocol

import (
	"errors"
	"unicode"
	"unicode/utf8"
)

// MaxCombiningRun is the most combining marks CheckText accepts in a row:
// enough for every script's stacked diacritics, too few for "Zalgo" text
// that spills over the lines around it.
const MaxCombiningRun = 8

// Why CheckText refuses a text.
var (
	ErrTextInvalidUTF8  = errors.New("is not valid UTF-8")
	ErrTextControl      = errors.New("must not contain control characters (newlines, tabs, NUL, ESC, ...)")
	ErrTextBidi         = errors.New("must not contain bidirectional controls or line separators")
	ErrTextBlank        = errors.New("must not be blank (invisible characters do not count)")
	ErrTextCombiningRun = errors.New("must not stack more than 8 combining marks")
)

// CheckText is the one rule for the short texts people see as names:
// usernames (from JWTs and dev tokens), user ids, room names, room
// descriptions and member ids. The text must be valid UTF-8 without
// control characters (Unicode Cc: NUL, ESC, newlines, tabs, ...), without
// bidirectional controls or line/paragraph separators (which reorder or
// break the text around them: "\u202egnp.exe"), without more than
// MaxCombiningRun combining marks in a row, and it must not be blank once
// the invisible characters (spaces, format characters such as U+200B,
// combining marks, fillers) are removed. Lengths are the caller's. The
// error says what is wrong, for people; it names no field.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return ErrTextInvalidUTF8
	}
	visible := false
	run := 0
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return ErrTextControl
		case IsBidiControl(r):
			return ErrTextBidi
		}
		if unicode.In(r, unicode.Mn, unicode.Me) {
			run++
			if run > MaxCombiningRun {
				return ErrTextCombiningRun
			}
		} else {
			run = 0
		}
		if !invisible(r) {
			visible = true
		}
	}
	if !visible {
		return ErrTextBlank
	}
	return nil
}

// IsBidiControl reports the characters that reorder or break text
// (Trojan-Source style spoofing): the bidirectional marks, embeddings,
// overrides and isolates, and the Unicode line and paragraph separators.
func IsBidiControl(r rune) bool {
	switch {
	case r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	case r == '\u2028', r == '\u2029':
		return true
	}
	return false
}

// invisible reports characters that show nothing by themselves: spaces,
// format characters (zero-width space and joiners, BOM, soft hyphen, ...),
// combining marks (and variation selectors), and the fillers that render
// as blanks.
func invisible(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u3164', '\uffa0', '\u2800':
		return true
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me, unicode.Zs)
}
