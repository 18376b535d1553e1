package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintDevTokenRoundTrip(t *testing.T) {
	now := testNow
	clock := now
	v := newVerifier(t, Config{HS256Secret: testSecret, Issuer: DevIssuer, Now: func() time.Time { return clock }})
	tok, err := MintDevToken(testSecret, Identity{UserID: "u-42", Username: "carol", TenantID: "t1"}, 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{UserID: "u-42", Username: "carol", TenantID: "t1", ExpiresAt: now.Add(15 * time.Minute)}
	if id != want {
		t.Errorf("got %+v, want %+v", id, want)
	}

	// Defaults for username and tenant.
	tok, err = MintDevToken(testSecret, Identity{UserID: "u-43"}, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if id, err = v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if id.Username != "u-43" || id.TenantID != DefaultTenantID {
		t.Errorf("defaults: got %+v", id)
	}

	// A different secret does not verify.
	other := []byte(strings.Repeat("z", 32))
	tok, err = MintDevToken(other, Identity{UserID: "u-42"}, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), tok)
	wantErr(t, err, ErrSignature)
}

func TestMintDevTokenTTL(t *testing.T) {
	now := testNow
	var clock time.Time
	v := newVerifier(t, Config{HS256Secret: testSecret, Leeway: 5 * time.Second, Now: func() time.Time { return clock }})
	tok, err := MintDevToken(testSecret, Identity{UserID: "u"}, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		kind error
	}{
		{-time.Minute, ErrNotYetValid}, // minted "in the future" relative to the verifier
		{0, nil},
		{10*time.Minute - time.Second, nil},
		{10*time.Minute + 4*time.Second, nil}, // within leeway
		{10*time.Minute + 6*time.Second, ErrExpired},
		{24 * time.Hour, ErrExpired},
	} {
		clock = now.Add(tc.at)
		_, err := v.Verify(context.Background(), tok)
		if tc.kind == nil {
			if err != nil {
				t.Errorf("at +%v: %v", tc.at, err)
			}
			continue
		}
		if !errors.Is(err, tc.kind) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("at +%v: got %v, want %v", tc.at, err, tc.kind)
		}
	}
}

func TestMintDevTokenClaims(t *testing.T) {
	tok, err := MintDevToken(testSecret, Identity{UserID: "u", Username: "n", TenantID: "t"}, time.Hour, testNow.Add(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(jwt.WithoutClaimsValidation()).ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return testSecret, nil })
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Method.Alg() != "HS256" || parsed.Header["typ"] != "JWT" {
		t.Errorf("header %v", parsed.Header)
	}
	want := map[string]any{
		"iss": DevIssuer, "sub": "u", "username": "n", "tenantId": "t",
		"iat": float64(testNow.Unix()), "nbf": float64(testNow.Unix()), "exp": float64(testNow.Add(time.Hour).Unix()),
	}
	for k, val := range want {
		if claims[k] != val {
			t.Errorf("claim %s = %v, want %v", k, claims[k], val)
		}
	}
}

func TestMintDevTokenErrors(t *testing.T) {
	for name, f := range map[string]func() error{
		"short secret": func() error {
			_, err := MintDevToken([]byte("short"), Identity{UserID: "u"}, time.Minute, testNow)
			return err
		},
		"zero ttl": func() error { _, err := MintDevToken(testSecret, Identity{UserID: "u"}, 0, testNow); return err },
		"no user":  func() error { _, err := MintDevToken(testSecret, Identity{}, time.Minute, testNow); return err },
		"control": func() error {
			_, err := MintDevToken(testSecret, Identity{UserID: "u", Username: "a\x1bb"}, time.Minute, testNow)
			return err
		},
		"too long": func() error {
			_, err := MintDevToken(testSecret, Identity{UserID: "u", TenantID: strings.Repeat("t", 129)}, time.Minute, testNow)
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
