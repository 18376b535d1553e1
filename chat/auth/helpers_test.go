package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testRegion = "eu-west-1"
	testPool   = "eu-west-1_AbCdEf123"
	testClient = "3n4b5urk1ft4fl3mg5e62d9ado"
	testIssuer = "https://cognito-idp." + testRegion + ".amazonaws.com/" + testPool
)

var (
	testNow    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	testSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

	keysOnce                  sync.Once
	rsaKey1, rsaKey2, rsaKey3 *rsa.PrivateKey
	ecKey1                    *ecdsa.PrivateKey
	ecKeyP384                 *ecdsa.PrivateKey
	keysErr                   error
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				keysErr = err
			}
			return k
		}
		rsaKey1, rsaKey2, rsaKey3 = gen(), gen(), gen()
		var err error
		if ecKey1, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			keysErr = err
		}
		if ecKeyP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			keysErr = err
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK builds a public RSA JWK with the standard fields; alg may be "".
func rsaJWK(kid, alg string, pub *rsa.PublicKey) map[string]any {
	m := map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig",
		"n": b64(pub.N.Bytes()),
		"e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

// ecJWK builds a public EC JWK; alg may be "".
func ecJWK(t testing.TB, kid, alg string, pub *ecdsa.PublicKey) map[string]any {
	t.Helper()
	pt, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	size := (len(pt) - 1) / 2
	m := map[string]any{
		"kty": "EC", "kid": kid, "use": "sig",
		"crv": pub.Curve.Params().Name,
		"x":   b64(pt[1 : 1+size]),
		"y":   b64(pt[1+size:]),
	}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

// jwksServer serves a mutable JWK set and counts requests.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	keys []map[string]any
	hits atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, _ := json.Marshal(map[string]any{"keys": s.keys})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...map[string]any) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// defaultJWKS is the standard test set: RS256 key "rsa1" and ES256 key "ec1".
func defaultJWKS(t testing.TB) *jwksServer {
	keys(t)
	return newJWKSServer(t,
		rsaJWK("rsa1", "RS256", &rsaKey1.PublicKey),
		ecJWK(t, "ec1", "ES256", &ecKey1.PublicKey),
	)
}

func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// sign signs claims with method/key, setting kid when non-empty.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// rawToken assembles a token from a header and claims without signing it.
func rawToken(t testing.TB, header, claims any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b64(h) + "." + b64(c) + "." + sig
}

// devClaims are valid claims for the HS256 verifier at testNow.
func devClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":      "user-1",
		"username": "alice",
		"tenantId": "acme",
		"iat":      testNow.Add(-time.Minute).Unix(),
		"exp":      testNow.Add(time.Hour).Unix(),
	}
}

// cognitoClaims are Cognito-style claims for tokenUse "id" or "access".
func cognitoClaims(tokenUse string) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub":              "6f1c2a9e-0b7d-4c1e-9a55-2d3f4e5a6b7c",
		"iss":              testIssuer,
		"token_use":        tokenUse,
		"cognito:username": "bob",
		"custom:tenantId":  "globex",
		"auth_time":        testNow.Add(-time.Minute).Unix(),
		"iat":              testNow.Add(-time.Minute).Unix(),
		"exp":              testNow.Add(time.Hour).Unix(),
	}
	if tokenUse == "id" {
		c["aud"] = testClient
	} else {
		c["client_id"] = testClient
		c["scope"] = "aws.cognito.signin.user.admin"
	}
	return c
}

func cognitoConfig(url, tokenUse string) Config {
	return Config{JWKSURL: url, Issuer: testIssuer, Audience: testClient, TokenUse: tokenUse}
}
