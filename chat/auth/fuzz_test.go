package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzVerify(f *testing.F) {
	srv := defaultJWKS(f)
	v, err := NewVerifier(context.Background(), Config{
		HS256Secret: testSecret, JWKSURL: srv.URL,
		Issuer: testIssuer, Audience: testClient,
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)

	hs := devClaims()
	hs["iss"], hs["aud"] = testIssuer, testClient
	for _, s := range []string{
		"", ".", "..", "a.b", "a.b.c", "garbage",
		sign(f, jwt.SigningMethodHS256, testSecret, "", hs),
		sign(f, jwt.SigningMethodRS256, rsaKey1, "rsa1", cognitoClaims("id")),
		sign(f, jwt.SigningMethodES256, ecKey1, "ec1", cognitoClaims("access")),
		rawToken(f, map[string]any{"alg": "none"}, devClaims(), ""),
		rawToken(f, map[string]any{"alg": "RS256", "kid": "rsa1"}, map[string]any{"exp": 1e308, "iat": -1e308}, "AAAA"),
		rawToken(f, map[string]any{"alg": "HS256"}, map[string]any{"exp": "x", "aud": []any{1, nil}}, "AAAA"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %q does not match ErrInvalidToken", err)
			}
			return
		}
		if validateIdentity(id) != nil {
			t.Fatalf("accepted invalid identity %+v", id)
		}
	})
}
