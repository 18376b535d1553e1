package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestUsernameTextRules: a JWT whose username (or user id, or tenant) would
// show as nothing, reorder the text around it or break a line is refused,
// by the rule room names follow too (protocol.CheckText); ordinary names
// of every script pass.
func TestUsernameTextRules(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, Config{HS256Secret: testSecret})
	tests := []struct {
		name, claim, value string
		ok                 bool
	}{
		{"plain", "username", "Alice", true},
		{"accents and emoji", "username", "Zoë 🙂", true},
		{"combining accent", "username", "Zoe\u0308", true},
		{"cjk", "username", "山田", true},
		{"arabic", "username", "مريم", true},
		{"zero-width joiner emoji", "username", "👩\u200d💻", true},
		{"only zero-width space", "username", "\u200b", false},
		{"zero-width spaces and BOM", "username", "\u200b\ufeff\u200b", false},
		{"only combining marks", "username", strings.Repeat("\u0301", 8), false},
		{"20 combining marks on a letter", "username", "a" + strings.Repeat("\u0301", 20), false},
		{"hangul filler", "username", "\u3164", false},
		{"right-to-left override", "username", "\u202egnp.exe", false},
		{"bidi isolate", "username", "a\u2066b", false},
		{"NUL", "username", "a\x00b", false},
		{"ESC", "username", "a\x1b[31mb", false},
		{"newline", "username", "a\nb", false},
		{"line separator", "username", "a\u2028b", false},
		{"blank user id", "sub", "\u200b", false},
		{"tenant with override", "tenantId", "acme\u202e", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := devClaims()
			c[tc.claim] = tc.value
			id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c))
			if tc.ok {
				if err != nil {
					t.Fatalf("%q refused: %v", tc.value, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%q accepted as %+v", tc.value, id)
			}
			if !errors.Is(err, ErrClaims) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%q: error %v is not ErrClaims", tc.value, err)
			}
		})
	}
}
