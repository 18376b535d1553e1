package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

const (
	algHS256 = "HS256"
	algRS256 = "RS256"
	algES256 = "ES256"

	// DefaultLeeway is the clock skew allowed when Config.Leeway is zero.
	DefaultLeeway = 30 * time.Second

	// maxTokenLen bounds the work done on hostile input. Cognito tokens are
	// typically 1-4 KiB.
	maxTokenLen = 16 << 10
	// minHS256SecretLen is the minimum HMAC key size (RFC 7518 §3.2).
	minHS256SecretLen = 32
	// minRSABits is the smallest RSA modulus accepted from a JWK Set.
	minRSABits = 2048

	jwksHTTPTimeout     = 10 * time.Second
	jwksRefreshInterval = time.Hour

	// DefaultVerifiedTokens is how many verified tokens a Verifier without
	// a JWK Set remembers (tokenCache): the tabs and reconnections of a
	// user present the same token, whose parse and signature check cost
	// most of a $connect's authorizer.
	DefaultVerifiedTokens = 4096
)

// Identity is who a verified token says the caller is.
type Identity struct {
	UserID    string
	Username  string
	TenantID  string
	ExpiresAt time.Time
}

// Config configures a Verifier. At least one of HS256Secret and JWKSURL must
// be set.
type Config struct {
	// HS256Secret is the development secret; HS256 tokens are accepted only
	// when it is set. It must be at least 32 bytes.
	HS256Secret []byte
	// JWKSURL is a JWK Set URL (e.g. a Cognito user pool's
	// https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json);
	// RS256 and ES256 tokens are accepted only when it is set.
	JWKSURL string
	// Issuer, when set, must equal the `iss` claim.
	Issuer string
	// Audience, when set, must be contained in `aud` or equal `client_id`
	// (Cognito access tokens carry client_id, not aud).
	Audience string
	// TokenUse, when set ("id" or "access"), must equal the `token_use` claim.
	TokenUse string
	// Leeway is the clock skew allowed for exp/nbf/iat. Zero means
	// DefaultLeeway; a negative value means no leeway.
	Leeway time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
	// HTTPClient fetches the JWK Set; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Verifier verifies client JWTs. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	secret  []byte
	jwks    jwkset.Storage // nil when JWKSURL is unset
	allowed map[string]bool
	parser  *jwt.Parser
	cancel  context.CancelFunc
	// verified remembers tokens verified with the HS256 secret, when that
	// is the only key (nil with a JWK Set, whose keys can be withdrawn).
	verified *tokenCache
}

// NewVerifier builds a Verifier. When cfg.JWKSURL is set it fetches the JWK
// Set before returning (failing if it cannot) and starts a background refresh
// (hourly, and on an unknown kid at most every 5 minutes) that stops when ctx
// is done or Close is called.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if len(cfg.HS256Secret) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: Config needs HS256Secret or JWKSURL")
	}
	if len(cfg.HS256Secret) > 0 && len(cfg.HS256Secret) < minHS256SecretLen {
		return nil, fmt.Errorf("auth: HS256Secret must be at least %d bytes", minHS256SecretLen)
	}
	switch cfg.TokenUse {
	case "", "id", "access":
	default:
		return nil, fmt.Errorf("auth: TokenUse must be \"id\" or \"access\", got %q", cfg.TokenUse)
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	v := &Verifier{cfg: cfg, allowed: map[string]bool{}, cancel: func() {}}
	if len(cfg.HS256Secret) > 0 {
		v.secret = append([]byte(nil), cfg.HS256Secret...)
		v.allowed[algHS256] = true
	}
	if cfg.JWKSURL != "" {
		rctx, cancel := context.WithCancel(ctx)
		noErrOnFirstFailure := false
		kf, err := keyfunc.NewDefaultOverrideCtx(rctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:                    cfg.HTTPClient,
			HTTPTimeout:               jwksHTTPTimeout,
			NoErrorReturnFirstHTTPReq: &noErrOnFirstFailure,
			RefreshInterval:           jwksRefreshInterval,
			// RefreshUnknownKID left nil: keyfunc's default limiter allows
			// one refresh on an unknown kid per 5 minutes (burst 1).
			// RateLimitWaitMax bounds both the wait for that limiter and the
			// refresh request itself; being shorter than the limiter interval,
			// a verify with an unknown kid never queues behind the limiter
			// for long: it refreshes now or fails fast.
			RateLimitWaitMax: jwksHTTPTimeout,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth: loading JWK Set from %s: %w", cfg.JWKSURL, err)
		}
		v.jwks = kf.Storage()
		v.cancel = cancel
		v.allowed[algRS256] = true
		v.allowed[algES256] = true
	}

	if v.jwks == nil {
		v.verified = newTokenCache(DefaultVerifiedTokens)
	}

	methods := make([]string, 0, len(v.allowed))
	for m := range v.allowed {
		methods = append(methods, m)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Close stops the background JWK Set refresh. Verify keeps working with the
// keys already fetched.
func (v *Verifier) Close() { v.cancel() }

// Verify checks token's header, signature and claims and returns the caller's
// identity. ctx bounds a JWK Set refresh triggered by an unknown kid.
//
// A token verified before (with the HS256 secret, when it is the only key)
// is not parsed again: its identity is remembered, and only its expiry is
// checked again (exp, with the leeway). Every other check depends on the
// token and the configuration alone (iat and nbf, once passed, stay
// passed), so that the answer is the one a full verification gives.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	if id, ok := v.verified.get(token); ok {
		if v.cfg.Now().Before(id.ExpiresAt.Add(v.cfg.Leeway)) {
			return id, nil
		}
		v.verified.forget(token)
	}
	if err := v.precheck(token); err != nil {
		return Identity{}, err
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFunc(ctx)); err != nil {
		return Identity{}, mapJWTError(err)
	}
	id, err := v.identity(claims)
	if err == nil {
		v.verified.put(token, id)
	}
	return id, err
}

// precheck parses the header the same way jwt does (encoding/json into a map,
// so duplicate and differently-cased keys resolve identically) and enforces
// the algorithm allow-list before any key lookup.
func (v *Verifier) precheck(token string) error {
	if len(token) > maxTokenLen {
		return fail(ErrMalformed, "token longer than %d bytes", maxTokenLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fail(ErrMalformed, "want 3 segments, got %d", len(parts))
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return fail(ErrMalformed, "header is not base64url")
	}
	var header map[string]any
	if err := json.Unmarshal(raw, &header); err != nil || header == nil {
		return fail(ErrMalformed, "header is not a JSON object")
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return fail(ErrAlgorithm, "header has no string alg")
	}
	if !v.allowed[alg] {
		return fail(ErrAlgorithm, "alg %s not accepted by this verifier", short(alg))
	}
	if _, ok := header["crit"]; ok {
		return fail(ErrMalformed, "crit header parameters are not supported")
	}
	if parts[2] == "" {
		return fail(ErrSignature, "token is unsigned")
	}
	return nil
}

// keyFunc picks the verification key from the configuration and the token's
// (already allow-listed) algorithm.
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		switch alg {
		case algHS256:
			if v.secret == nil {
				return nil, fail(ErrAlgorithm, "HS256 not accepted")
			}
			return v.secret, nil
		case algRS256, algES256:
			if v.jwks == nil {
				return nil, fail(ErrAlgorithm, "%s not accepted", alg)
			}
			return v.jwksKey(ctx, t, alg)
		default:
			return nil, fail(ErrAlgorithm, "alg %s not accepted", short(alg))
		}
	}
}

func (v *Verifier) jwksKey(ctx context.Context, t *jwt.Token, alg string) (any, error) {
	// keyfunc would try every key in the set for a token without kid; we
	// require one so a single, checkable JWK is selected.
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, fail(ErrUnknownKey, "token has no kid")
	}
	jwk, err := v.jwks.KeyRead(ctx, kid)
	if err != nil {
		return nil, fail(ErrUnknownKey, "kid %s not in JWK Set", short(kid))
	}
	m := jwk.Marshal()
	if m.ALG != "" && m.ALG.String() != alg {
		return nil, fail(ErrAlgorithm, "JWK %s has alg %s, token has %s", short(kid), short(m.ALG.String()), alg)
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fail(ErrUnknownKey, "JWK %s has use %s", short(kid), short(string(m.USE)))
	}
	key := jwk.Key()
	switch k := key.(type) {
	case *rsa.PrivateKey:
		key = &k.PublicKey
	case *ecdsa.PrivateKey:
		key = &k.PublicKey
	}
	switch alg {
	case algRS256:
		k, ok := key.(*rsa.PublicKey)
		if !ok || m.KTY != jwkset.KtyRSA {
			return nil, fail(ErrAlgorithm, "JWK %s (kty %s) cannot verify RS256", short(kid), short(string(m.KTY)))
		}
		if k.N.BitLen() < minRSABits {
			return nil, fail(ErrUnknownKey, "JWK %s: RSA key shorter than %d bits", short(kid), minRSABits)
		}
		return k, nil
	default: // ES256
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || m.KTY != jwkset.KtyEC || k.Curve != elliptic.P256() {
			return nil, fail(ErrAlgorithm, "JWK %s (kty %s, crv %s) cannot verify ES256", short(kid), short(string(m.KTY)), short(string(m.CRV)))
		}
		return k, nil
	}
}

// mapJWTError turns a jwt parse/validation error into one of our kinds.
func mapJWTError(err error) error {
	var te *tokenError
	if errors.As(err, &te) { // from keyFunc
		return te
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fail(ErrMalformed, "%v", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fail(ErrSignature, "%v", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(ErrExpired, "%v", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fail(ErrNotYetValid, "%v", err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrInvalidType):
		return fail(ErrClaims, "%v", err)
	default:
		return fail(ErrMalformed, "%v", err)
	}
}
