package protocol

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckText: the one rule for names, case by case.
func TestCheckText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, s string
		want    error
	}{
		{"plain", "general", nil},
		{"accents", "général", nil},
		{"decomposed accent", "Zoe\u0308", nil},
		{"vietnamese", "Tiếng Việt", nil},
		{"cjk", "日本語", nil},
		{"arabic", "غرفة", nil},
		{"emoji with joiner", "👩\u200d💻", nil},
		{"inner spaces", "a b", nil},
		{"8 marks on a letter", "a" + strings.Repeat("\u0301", 8), nil},
		{"invalid utf-8", "a\xffb", ErrTextInvalidUTF8},
		{"NUL", "a\x00b", ErrTextControl},
		{"ESC", "\x1b[2J", ErrTextControl},
		{"newline", "a\nb", ErrTextControl},
		{"carriage return", "a\rb", ErrTextControl},
		{"tab", "a\tb", ErrTextControl},
		{"DEL", "a\x7f", ErrTextControl},
		{"C1 NEL", "a\u0085", ErrTextControl},
		{"RLO", "\u202egnp.exe", ErrTextBidi},
		{"LRE", "\u202a", ErrTextBidi},
		{"PDF", "a\u202c", ErrTextBidi},
		{"RLI", "\u2067a", ErrTextBidi},
		{"PDI", "a\u2069", ErrTextBidi},
		{"LRM", "a\u200e", ErrTextBidi},
		{"RLM", "a\u200f", ErrTextBidi},
		{"ALM", "a\u061c", ErrTextBidi},
		{"line separator", "a\u2028b", ErrTextBidi},
		{"paragraph separator", "a\u2029b", ErrTextBidi},
		{"9 marks on a letter", "a" + strings.Repeat("\u0301", 9), ErrTextCombiningRun},
		{"99 marks on a letter", "a" + strings.Repeat("\u0301", 99), ErrTextCombiningRun},
		{"empty", "", ErrTextBlank},
		{"spaces", "   ", ErrTextBlank},
		{"no-break and ideographic spaces", "\u00a0\u3000", ErrTextBlank},
		{"zero-width space", "\u200b", ErrTextBlank},
		{"zero-width joiners and BOM", "\u200c\u200d\ufeff", ErrTextBlank},
		{"word joiner and soft hyphen", "\u2060\u00ad", ErrTextBlank},
		{"only marks", "\u0301\u0302", ErrTextBlank},
		{"variation selector", "\ufe0f", ErrTextBlank},
		{"hangul fillers", "\u115f\u1160\u3164\uffa0", ErrTextBlank},
		{"braille blank", "\u2800", ErrTextBlank},
		{"tag characters", "\U000e0041\U000e0042", ErrTextBlank},
	} {
		if got := CheckText(tc.s); !errors.Is(got, tc.want) {
			t.Errorf("%s: CheckText(%q) = %v, want %v", tc.name, tc.s, got, tc.want)
		}
	}
}
