package auth

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by Verify. Every Verify error matches
// ErrInvalidToken and exactly one of the others.
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrMalformed    = errors.New("malformed token")
	ErrAlgorithm    = errors.New("signing algorithm not allowed")
	ErrSignature    = errors.New("invalid signature")
	ErrUnknownKey   = errors.New("unknown signing key")
	ErrExpired      = errors.New("token expired")
	ErrNotYetValid  = errors.New("token not yet valid")
	ErrIssuer       = errors.New("wrong issuer")
	ErrAudience     = errors.New("wrong audience")
	ErrTokenUse     = errors.New("wrong token_use")
	ErrClaims       = errors.New("missing or invalid claims")
)

// tokenError is a verification failure of a particular kind. It deliberately
// does not unwrap to the underlying jwt/jwkset errors.
type tokenError struct {
	kind   error
	detail string
}

func (e *tokenError) Error() string {
	if e.detail == "" {
		return "auth: " + e.kind.Error()
	}
	return "auth: " + e.kind.Error() + ": " + e.detail
}

func (e *tokenError) Is(target error) bool {
	return target == ErrInvalidToken || target == e.kind
}

func fail(kind error, format string, args ...any) error {
	return &tokenError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// short quotes an untrusted string for an error message, bounding its length.
func short(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
