package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func wantErr(t *testing.T, err, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", kind)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("error %q does not match ErrInvalidToken", err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", err, kind)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := NewVerifier(ctx, Config{}); err == nil {
		t.Error("empty config accepted")
	}
	if _, err := NewVerifier(ctx, Config{HS256Secret: []byte("short")}); err == nil {
		t.Error("short HS256 secret accepted")
	}
	if _, err := NewVerifier(ctx, Config{HS256Secret: testSecret, TokenUse: "refresh"}); err == nil {
		t.Error("bad TokenUse accepted")
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer bad.Close()
	if _, err := NewVerifier(ctx, Config{JWKSURL: bad.URL}); err == nil {
		t.Error("unreachable JWKS accepted")
	}
	if _, err := NewVerifier(ctx, Config{JWKSURL: "::not a url"}); err == nil {
		t.Error("bad JWKS URL accepted")
	}
}

func TestVerifyHS256(t *testing.T) {
	v := newVerifier(t, Config{HS256Secret: testSecret})
	id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", devClaims()))
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{UserID: "user-1", Username: "alice", TenantID: "acme", ExpiresAt: testNow.Add(time.Hour)}
	if id != want {
		t.Errorf("got %+v, want %+v", id, want)
	}
}

func TestClaimsMapping(t *testing.T) {
	v := newVerifier(t, Config{HS256Secret: testSecret})
	tests := []struct {
		name         string
		set          map[string]any
		del          []string
		user, tenant string
	}{
		{"username wins", map[string]any{"preferred_username": "p", "cognito:username": "c"}, nil, "alice", "acme"},
		{"preferred_username", map[string]any{"preferred_username": "p", "cognito:username": "c"}, []string{"username"}, "p", "acme"},
		{"cognito:username", map[string]any{"cognito:username": "c"}, []string{"username"}, "c", "acme"},
		{"empty username falls through", map[string]any{"username": "", "cognito:username": "c"}, nil, "c", "acme"},
		{"default username is sub", nil, []string{"username"}, "user-1", "acme"},
		{"tenantId wins", map[string]any{"custom:tenantId": "other"}, nil, "alice", "acme"},
		{"custom:tenantId", map[string]any{"custom:tenantId": "other"}, []string{"tenantId"}, "alice", "other"},
		{"default tenant", nil, []string{"tenantId"}, "alice", "default"},
		{"exact-case claim names", map[string]any{"UserName": "x", "TenantID": "y"}, []string{"username", "tenantId"}, "user-1", "default"},
		{"unicode ok", map[string]any{"username": "Zoë 🙂"}, nil, "Zoë 🙂", "acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := devClaims()
			for k, val := range tc.set {
				c[k] = val
			}
			for _, k := range tc.del {
				delete(c, k)
			}
			id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c))
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != tc.user || id.TenantID != tc.tenant || id.UserID != "user-1" {
				t.Errorf("got %+v, want username %q tenant %q", id, tc.user, tc.tenant)
			}
		})
	}
}

func TestClaimsRejected(t *testing.T) {
	cfg := Config{HS256Secret: testSecret, Issuer: "https://issuer.example", Audience: "app", TokenUse: "id"}
	v := newVerifier(t, cfg)
	good := func() jwt.MapClaims {
		c := devClaims()
		c["iss"] = cfg.Issuer
		c["aud"] = "app"
		c["token_use"] = "id"
		return c
	}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", good())); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	tests := []struct {
		name string
		set  map[string]any
		del  []string
		kind error
	}{
		{"expired", map[string]any{"exp": testNow.Add(-time.Minute).Unix()}, nil, ErrExpired},
		{"expired just beyond leeway", map[string]any{"exp": testNow.Add(-31 * time.Second).Unix()}, nil, ErrExpired},
		{"nbf in future", map[string]any{"nbf": testNow.Add(time.Minute).Unix()}, nil, ErrNotYetValid},
		{"iat in future beyond leeway", map[string]any{"iat": testNow.Add(time.Minute).Unix()}, nil, ErrNotYetValid},
		{"missing exp", nil, []string{"exp"}, ErrClaims},
		{"exp not a number", map[string]any{"exp": "tomorrow"}, nil, ErrClaims},
		{"wrong issuer", map[string]any{"iss": "https://evil.example"}, nil, ErrIssuer},
		{"missing issuer", nil, []string{"iss"}, ErrIssuer},
		{"issuer not a string", map[string]any{"iss": 1}, nil, ErrIssuer},
		{"wrong audience", map[string]any{"aud": "other"}, nil, ErrAudience},
		{"wrong audience array", map[string]any{"aud": []string{"a", "b"}}, nil, ErrAudience},
		{"wrong client_id", map[string]any{"client_id": "other"}, []string{"aud"}, ErrAudience},
		{"no audience", nil, []string{"aud"}, ErrAudience},
		{"aud not strings", map[string]any{"aud": 7}, nil, ErrAudience},
		{"wrong token_use", map[string]any{"token_use": "access"}, nil, ErrTokenUse},
		{"missing token_use", nil, []string{"token_use"}, ErrTokenUse},
		{"missing sub", nil, []string{"sub"}, ErrClaims},
		{"blank sub", map[string]any{"sub": "   "}, nil, ErrClaims},
		{"sub not a string", map[string]any{"sub": 42}, nil, ErrClaims},
		{"username not a string", map[string]any{"username": []string{"a"}}, nil, ErrClaims},
		{"tenant not a string", map[string]any{"tenantId": true}, nil, ErrClaims},
		{"sub too long", map[string]any{"sub": strings.Repeat("x", 129)}, nil, ErrClaims},
		{"username control char", map[string]any{"username": "al\nice"}, nil, ErrClaims},
		{"username NUL", map[string]any{"username": "al\x00ice"}, nil, ErrClaims},
		{"username bidi override", map[string]any{"username": "alice\u202egnp.exe"}, nil, ErrClaims},
		{"tenant blank", map[string]any{"tenantId": "\t "}, nil, ErrClaims},
		{"tenant too long", map[string]any{"tenantId": strings.Repeat("é", 65)}, nil, ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			for k, val := range tc.set {
				c[k] = val
			}
			for _, k := range tc.del {
				delete(c, k)
			}
			_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c))
			wantErr(t, err, tc.kind)
		})
	}

	t.Run("within leeway accepted", func(t *testing.T) {
		c := good()
		c["exp"] = testNow.Add(-20 * time.Second).Unix()
		c["nbf"] = testNow.Add(20 * time.Second).Unix()
		c["iat"] = testNow.Add(20 * time.Second).Unix()
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("client_id instead of aud", func(t *testing.T) {
		c := good()
		delete(c, "aud")
		c["client_id"] = "app"
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("aud array containing audience", func(t *testing.T) {
		c := good()
		c["aud"] = []string{"x", "app"}
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("negative leeway means none", func(t *testing.T) {
		strict := newVerifier(t, Config{HS256Secret: testSecret, Leeway: -1})
		c := devClaims()
		c["exp"] = testNow.Add(-time.Second).Unix()
		_, err := strict.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", c))
		wantErr(t, err, ErrExpired)
	})
}

func TestSignatureRejected(t *testing.T) {
	v := newVerifier(t, Config{HS256Secret: testSecret})
	ctx := context.Background()
	good := sign(t, jwt.SigningMethodHS256, testSecret, "", devClaims())

	other := []byte("ffffffffffffffffffffffffffffffff")
	_, err := v.Verify(ctx, sign(t, jwt.SigningMethodHS256, other, "", devClaims()))
	wantErr(t, err, ErrSignature)

	// Tampered payload: keep header and signature, swap in other claims.
	evil := devClaims()
	evil["tenantId"] = "victim"
	parts := strings.Split(good, ".")
	evilParts := strings.Split(sign(t, jwt.SigningMethodHS256, other, "", evil), ".")
	_, err = v.Verify(ctx, parts[0]+"."+evilParts[1]+"."+parts[2])
	wantErr(t, err, ErrSignature)

	// Flipped signature bit.
	sig := []byte(parts[2])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	_, err = v.Verify(ctx, parts[0]+"."+parts[1]+"."+string(sig))
	wantErr(t, err, ErrSignature)

	// Unsigned: valid header and claims, empty signature.
	_, err = v.Verify(ctx, parts[0]+"."+parts[1]+".")
	wantErr(t, err, ErrSignature)
}

func TestAlgNoneRejected(t *testing.T) {
	srv := defaultJWKS(t)
	verifiers := map[string]*Verifier{
		"hs256": newVerifier(t, Config{HS256Secret: testSecret}),
		"jwks":  newVerifier(t, Config{JWKSURL: srv.URL}),
		"both":  newVerifier(t, Config{HS256Secret: testSecret, JWKSURL: srv.URL}),
	}
	for vname, v := range verifiers {
		for _, alg := range []string{"none", "None", "NONE", "nOnE", ""} {
			for _, sig := range []string{"", "c2ln"} {
				tok := rawToken(t, map[string]any{"alg": alg, "typ": "JWT", "kid": "rsa1"}, devClaims(), sig)
				_, err := v.Verify(context.Background(), tok)
				t.Run(vname+"/"+alg+"/"+sig, func(t *testing.T) { wantErr(t, err, ErrAlgorithm) })
			}
		}
		// Missing and non-string alg.
		for _, h := range []map[string]any{{"typ": "JWT"}, {"alg": nil}, {"alg": 256}, {"alg": []string{"HS256"}}} {
			_, err := v.Verify(context.Background(), rawToken(t, h, devClaims(), "c2ln"))
			t.Run(vname+"/odd-alg", func(t *testing.T) { wantErr(t, err, ErrAlgorithm) })
		}
	}
	// jwt's own none method with its magic key is still refused.
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, devClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifiers["both"].Verify(context.Background(), tok)
	wantErr(t, err, ErrAlgorithm)
}

func TestAlgorithmConfusion(t *testing.T) {
	srv := defaultJWKS(t)
	ctx := context.Background()
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey1.PublicKey)})

	jwksOnly := newVerifier(t, Config{JWKSURL: srv.URL})
	both := newVerifier(t, Config{JWKSURL: srv.URL, HS256Secret: testSecret})
	hsOnly := newVerifier(t, Config{HS256Secret: testSecret})

	for _, secret := range [][]byte{pubPEM, pkcs1PEM, pubDER} {
		forged := sign(t, jwt.SigningMethodHS256, secret, "rsa1", devClaims())
		_, err := jwksOnly.Verify(ctx, forged)
		wantErr(t, err, ErrAlgorithm)
		// With a dev secret configured too, HS256 is checked against the
		// secret only, never against the JWK named by kid.
		_, err = both.Verify(ctx, forged)
		wantErr(t, err, ErrSignature)
	}

	// RS256 / ES256 tokens against an HS256-only verifier.
	_, err = hsOnly.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey1, "rsa1", devClaims()))
	wantErr(t, err, ErrAlgorithm)
	_, err = hsOnly.Verify(ctx, sign(t, jwt.SigningMethodES256, ecKey1, "ec1", devClaims()))
	wantErr(t, err, ErrAlgorithm)

	// Algorithms outside the allow-list, even when validly signed.
	others := []struct {
		m   jwt.SigningMethod
		key any
	}{
		{jwt.SigningMethodHS384, []byte(strings.Repeat("k", 48))},
		{jwt.SigningMethodHS512, testSecret},
		{jwt.SigningMethodRS384, rsaKey1},
		{jwt.SigningMethodRS512, rsaKey1},
		{jwt.SigningMethodPS256, rsaKey1},
		{jwt.SigningMethodES384, ecKeyP384},
	}
	for _, o := range others {
		_, err := both.Verify(ctx, sign(t, o.m, o.key, "rsa1", devClaims()))
		t.Run(o.m.Alg(), func(t *testing.T) { wantErr(t, err, ErrAlgorithm) })
	}
}

func TestJWKAlgAndKeyTypeMustMatch(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t,
		rsaJWK("rsa-rs384", "RS384", &rsaKey1.PublicKey), // keyfunc's JWK alg check
		rsaJWK("rsa-noalg", "", &rsaKey1.PublicKey),      // our kty check
		ecJWK(t, "ec-noalg", "", &ecKey1.PublicKey),
		ecJWK(t, "ec-p384", "", &ecKeyP384.PublicKey),
		ecJWK(t, "ec-es256", "ES256", &ecKey1.PublicKey),
		func() map[string]any { m := rsaJWK("rsa-enc", "RS256", &rsaKey1.PublicKey); m["use"] = "enc"; return m }(),
	)
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	ctx := context.Background()
	tests := []struct {
		name string
		m    jwt.SigningMethod
		key  any
		kid  string
		kind error
	}{
		{"RS256 token, JWK alg RS384", jwt.SigningMethodRS256, rsaKey1, "rsa-rs384", ErrAlgorithm},
		{"ES256 token, RSA JWK without alg", jwt.SigningMethodES256, ecKey1, "rsa-noalg", ErrAlgorithm},
		{"RS256 token, EC JWK without alg", jwt.SigningMethodRS256, rsaKey1, "ec-noalg", ErrAlgorithm},
		{"RS256 token, EC JWK alg ES256", jwt.SigningMethodRS256, rsaKey1, "ec-es256", ErrAlgorithm},
		{"ES256 token, P-384 JWK", jwt.SigningMethodES256, ecKey1, "ec-p384", ErrAlgorithm},
		{"JWK use enc", jwt.SigningMethodRS256, rsaKey1, "rsa-enc", ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctx, sign(t, tc.m, tc.key, tc.kid, cognitoClaims("id")))
			wantErr(t, err, tc.kind)
		})
	}
	// JWKs without alg still verify tokens of their own type.
	for kid, tok := range map[string]string{
		"rsa-noalg": sign(t, jwt.SigningMethodRS256, rsaKey1, "rsa-noalg", cognitoClaims("id")),
		"ec-noalg":  sign(t, jwt.SigningMethodES256, ecKey1, "ec-noalg", cognitoClaims("id")),
	} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("%s: %v", kid, err)
		}
	}
}

func TestJWKSCognito(t *testing.T) {
	srv := defaultJWKS(t)
	ctx := context.Background()
	want := Identity{
		UserID: "6f1c2a9e-0b7d-4c1e-9a55-2d3f4e5a6b7c", Username: "bob", TenantID: "globex",
		ExpiresAt: testNow.Add(time.Hour),
	}
	for _, use := range []string{"id", "access"} {
		v := newVerifier(t, cognitoConfig(srv.URL, use))
		for _, tc := range []struct {
			m   jwt.SigningMethod
			key any
			kid string
		}{{jwt.SigningMethodRS256, rsaKey1, "rsa1"}, {jwt.SigningMethodES256, ecKey1, "ec1"}} {
			t.Run(use+"/"+tc.m.Alg(), func(t *testing.T) {
				id, err := v.Verify(ctx, sign(t, tc.m, tc.key, tc.kid, cognitoClaims(use)))
				if err != nil {
					t.Fatal(err)
				}
				if id != want {
					t.Errorf("got %+v, want %+v", id, want)
				}
				// The other token kind is refused.
				other := map[string]string{"id": "access", "access": "id"}[use]
				_, err = v.Verify(ctx, sign(t, tc.m, tc.key, tc.kid, cognitoClaims(other)))
				wantErr(t, err, ErrTokenUse)
				// Signed by a key that is not in the set, under a known kid.
				_, err = v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey2, "rsa1", cognitoClaims(use)))
				wantErr(t, err, ErrSignature)
				// Another pool.
				c := cognitoClaims(use)
				c["iss"] = "https://cognito-idp." + testRegion + ".amazonaws.com/eu-west-1_Other"
				_, err = v.Verify(ctx, sign(t, tc.m, tc.key, tc.kid, c))
				wantErr(t, err, ErrIssuer)
				// Another app client.
				c = cognitoClaims(use)
				c["aud"], c["client_id"] = "other-client", "other-client"
				_, err = v.Verify(ctx, sign(t, tc.m, tc.key, tc.kid, c))
				wantErr(t, err, ErrAudience)
			})
		}
	}
}

func TestJWKSUnknownKid(t *testing.T) {
	srv := defaultJWKS(t)
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	ctx := context.Background()

	_, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey1, "", cognitoClaims("id")))
	wantErr(t, err, ErrUnknownKey) // kid required

	before := srv.hits.Load()
	_, err = v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey2, "nope", cognitoClaims("id")))
	wantErr(t, err, ErrUnknownKey)
	if got := srv.hits.Load() - before; got != 1 {
		t.Errorf("unknown kid caused %d JWKS fetches, want 1", got)
	}
	// Further unknown kids are rate limited: no fetch, and no waiting.
	start := time.Now()
	for i := 0; i < 20; i++ {
		_, err = v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey2, "nope2", cognitoClaims("id")))
		wantErr(t, err, ErrUnknownKey)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("rate-limited unknown kids took %v", d)
	}
	if got := srv.hits.Load() - before; got != 1 {
		t.Errorf("%d JWKS fetches after rate limiting, want 1", got)
	}
	// A kid that is not a string.
	_, err = v.Verify(ctx, rawToken(t, map[string]any{"alg": "RS256", "kid": 5}, cognitoClaims("id"), "c2ln"))
	wantErr(t, err, ErrUnknownKey)
}

func TestJWKSKeyRotation(t *testing.T) {
	srv := defaultJWKS(t)
	v := newVerifier(t, cognitoConfig(srv.URL, "id"))
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey1, "rsa1", cognitoClaims("id"))); err != nil {
		t.Fatal(err)
	}
	// The pool rotates: rsa2 is published, rsa1 retired.
	srv.setKeys(rsaJWK("rsa2", "RS256", &rsaKey2.PublicKey), ecJWK(t, "ec1", "ES256", &ecKey1.PublicKey))
	id, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey2, "rsa2", cognitoClaims("id")))
	if err != nil {
		t.Fatalf("token with rotated-in kid: %v", err)
	}
	if id.Username != "bob" {
		t.Errorf("got %+v", id)
	}
	// The refresh replaced the set, so the retired key is gone.
	_, err = v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey1, "rsa1", cognitoClaims("id")))
	wantErr(t, err, ErrUnknownKey)
}

func TestJWKSRejectsSmallRSAKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Skipf("cannot generate 1024-bit RSA key: %v", err)
	}
	srv := newJWKSServer(t, rsaJWK("small", "RS256", &key.PublicKey))
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, key, "small", cognitoClaims("id")))
	wantErr(t, err, ErrUnknownKey)
}

func TestMalformed(t *testing.T) {
	srv := defaultJWKS(t)
	v := newVerifier(t, Config{HS256Secret: testSecret, JWKSURL: srv.URL})
	good := sign(t, jwt.SigningMethodHS256, testSecret, "", devClaims())
	p := strings.Split(good, ".")
	hdr := b64([]byte(`{"alg":"HS256","typ":"JWT"}`))
	tests := map[string]string{
		"empty":               "",
		"garbage":             "garbage",
		"two segments":        p[0] + "." + p[1],
		"four segments":       good + ".x",
		"dots":                "..",
		"bad base64 header":   "!!!." + p[1] + "." + p[2],
		"padded header":       p[0] + "==." + p[1] + "." + p[2],
		"std base64 header":   strings.NewReplacer("-", "+", "_", "/").Replace(b64([]byte(`{"alg":"HS256","x":"~~~~~~"}`))) + "." + p[1] + "." + p[2],
		"bad JSON header":     b64([]byte(`{"alg":`)) + "." + p[1] + "." + p[2],
		"header array":        b64([]byte(`["HS256"]`)) + "." + p[1] + "." + p[2],
		"header null":         b64([]byte(`null`)) + "." + p[1] + "." + p[2],
		"crit header":         b64([]byte(`{"alg":"HS256","crit":["exp"]}`)) + "." + p[1] + "." + p[2],
		"bad base64 payload":  hdr + ".%%%." + p[2],
		"bad JSON payload":    hdr + "." + b64([]byte(`{"sub":`)) + "." + p[2],
		"payload array":       hdr + "." + b64([]byte(`[1,2]`)) + "." + p[2],
		"payload string":      hdr + "." + b64([]byte(`"x"`)) + "." + p[2],
		"bad base64 sig":      p[0] + "." + p[1] + ".***",
		"too long":            p[0] + "." + strings.Repeat("A", maxTokenLen) + "." + p[2],
		"whitespace":          " " + good,
		"bearer prefix":       "Bearer " + good,
		"RS256 garbage sig":   b64([]byte(`{"alg":"RS256","kid":"rsa1"}`)) + "." + p[1] + ".AAAA",
		"ES256 short sig":     b64([]byte(`{"alg":"ES256","kid":"ec1"}`)) + "." + p[1] + ".AAAA",
		"ES256 non-canonical": b64([]byte(`{"alg":"ES256","kid":"ec1"}`)) + "." + p[1] + "." + strings.Repeat("_", 86),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %q does not match ErrInvalidToken", err)
			}
		})
	}
	// Spot-check the classification of the plainly malformed ones.
	for _, name := range []string{"empty", "garbage", "two segments", "bad base64 header", "bad JSON header", "bad base64 payload", "bad JSON payload", "too long"} {
		_, err := v.Verify(context.Background(), tests[name])
		t.Run("kind/"+name, func(t *testing.T) { wantErr(t, err, ErrMalformed) })
	}
}

// Duplicate and differently-cased header keys must resolve the same way in our
// pre-check and in jwt (both decode into a map with encoding/json).
func TestHeaderAmbiguity(t *testing.T) {
	v := newVerifier(t, Config{HS256Secret: testSecret})
	claims := b64([]byte(`{"sub":"u","exp":` + strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10) + `}`))
	for _, h := range []string{
		`{"alg":"HS256","alg":"none"}`,
		`{"alg":"none","ALG":"HS256"}`,
		`{"ALG":"HS256","alg":"none"}`,
	} {
		tok := b64([]byte(h)) + "." + claims + "."
		_, err := v.Verify(context.Background(), tok)
		t.Run(h, func(t *testing.T) { wantErr(t, err, ErrAlgorithm) })
	}
}

func TestVerifyConcurrent(t *testing.T) {
	srv := defaultJWKS(t)
	v := newVerifier(t, Config{HS256Secret: testSecret, JWKSURL: srv.URL})
	toks := []string{
		sign(t, jwt.SigningMethodHS256, testSecret, "", devClaims()),
		sign(t, jwt.SigningMethodRS256, rsaKey1, "rsa1", cognitoClaims("id")),
		sign(t, jwt.SigningMethodES256, ecKey1, "ec1", cognitoClaims("access")),
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := v.Verify(context.Background(), toks[(i+j)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCloseKeepsCachedKeys(t *testing.T) {
	srv := defaultJWKS(t)
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	v.Close()
	v.Close() // idempotent
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, ecKey1, "ec1", cognitoClaims("id"))); err != nil {
		t.Fatal(err)
	}
}
