// Package auth verifies the JWTs clients present on $connect and mints the
// development tokens of `switchboard dev`.
//
// A [Verifier] accepts HS256 tokens signed with a development secret (see
// [LoadOrCreateDevSecret] and [MintDevToken]) and/or RS256/ES256 tokens whose
// keys come from a JWK Set URL (Cognito-style user pools). Which key verifies
// a token is decided by the configuration and the token's algorithm family,
// never by key material named in the token: an HS256 token is only ever checked
// against the configured secret, and RS256/ES256 tokens only against JWK Set
// keys of the matching type.
//
// Every error returned by [Verifier.Verify] matches [ErrInvalidToken] with
// errors.Is, plus one more specific sentinel (ErrMalformed, ErrAlgorithm,
// ErrSignature, ErrUnknownKey, ErrExpired, ErrNotYetValid, ErrIssuer,
// ErrAudience, ErrTokenUse or ErrClaims). Error messages are meant for logs,
// not for clients.
package auth
