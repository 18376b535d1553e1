package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token verified once is accepted again, with the same identity, until
// it expires (exp plus the leeway): then it is refused as expired, as a
// token never seen before would be.
func TestVerifiedTokenExpires(t *testing.T) {
	t.Parallel()
	var now atomic.Pointer[time.Time]
	now.Store(&testNow)
	v := newVerifier(t, Config{HS256Secret: testSecret, Leeway: time.Minute, Now: func() time.Time { return *now.Load() }})
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", devClaims())
	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{time.Minute, time.Hour, time.Hour + 59*time.Second} {
		tm := testNow.Add(at)
		now.Store(&tm)
		if id, err := v.Verify(context.Background(), tok); err != nil || id != first {
			t.Errorf("at +%v (exp +1h, leeway 1m): %+v, %v; want %+v", at, id, err, first)
		}
	}
	tm := testNow.Add(time.Hour + time.Minute + time.Second)
	now.Store(&tm)
	_, err = v.Verify(context.Background(), tok)
	wantErr(t, err, ErrExpired)
	tm = testNow // and not remembered as good once it has failed
	now.Store(&tm)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("back before exp: %v", err)
	}
}

// A token that differs from a verified one in any byte is verified, not
// taken for it.
func TestVerifiedTokenExactMatch(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, Config{HS256Secret: testSecret})
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", devClaims())
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	i := len(tok) - 10 // a character of the signature that carries no padding bits
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	forged := tok[:i] + string(c) + tok[i+1:]
	_, err := v.Verify(context.Background(), forged)
	wantErr(t, err, ErrSignature)
	_, err = v.Verify(context.Background(), tok+".")
	wantErr(t, err, ErrMalformed)
}

// The cache holds at most its bound: past it, it starts again empty.
func TestTokenCacheBounded(t *testing.T) {
	t.Parallel()
	c := newTokenCache(3)
	for i := range 10 {
		c.put(fmt.Sprint("t", i), Identity{UserID: fmt.Sprint(i)})
		if n := c.n.Load(); n < 1 || n > 3 {
			t.Fatalf("after %d puts: %d remembered, want 1 to 3", i+1, n)
		}
	}
	if id, ok := c.get("t9"); !ok || id.UserID != "9" {
		t.Errorf("the last token put: %+v, %v", id, ok)
	}
	if _, ok := c.get("t0"); ok {
		t.Error("the first of 10 tokens is still remembered by a cache of 3")
	}
	var nilCache *tokenCache
	nilCache.put("t", Identity{})
	if _, ok := nilCache.get("t"); ok {
		t.Error("a nil cache remembered a token")
	}
}

// BenchmarkVerifyHS256 verifies a token seen before (a user's next tab or
// reconnection: the cache) and tokens never seen (each one new).
func BenchmarkVerifyHS256(b *testing.B) {
	b.Run("seen", func(b *testing.B) {
		v := newVerifier(b, Config{HS256Secret: testSecret})
		tok := sign(b, jwt.SigningMethodHS256, testSecret, "", devClaims())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		v := newVerifier(b, Config{HS256Secret: testSecret})
		toks := make([]string, 1000)
		for i := range toks {
			c := devClaims()
			c["sub"] = fmt.Sprint("user-", i)
			toks[i] = sign(b, jwt.SigningMethodHS256, testSecret, "", c)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v.verified.forget(toks[i%len(toks)])
			if _, err := v.Verify(context.Background(), toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
