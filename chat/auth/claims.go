package auth

import (
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-ws/switchboard/chat/protocol"
)

const (
	// DefaultTenantID is the tenant of tokens that carry no tenant claim.
	DefaultTenantID = "default"
	// maxIdentityLen bounds UserID, Username and TenantID (bytes).
	maxIdentityLen = 128
)

// identity checks the non-registered claims (iss, aud/client_id, token_use)
// and maps the token to an Identity. Claim names are matched exactly (a
// jwt.MapClaims, unlike a struct, is not case-insensitive).
func (v *Verifier) identity(c jwt.MapClaims) (Identity, error) {
	if v.cfg.Issuer != "" {
		iss, ok := c["iss"].(string)
		if !ok || iss != v.cfg.Issuer {
			return Identity{}, fail(ErrIssuer, "iss %s", short(iss))
		}
	}
	if v.cfg.Audience != "" {
		aud, err := c.GetAudience()
		if err != nil {
			return Identity{}, fail(ErrAudience, "aud is not a string or array of strings")
		}
		clientID, _ := c["client_id"].(string)
		if !slices.Contains(aud, v.cfg.Audience) && clientID != v.cfg.Audience {
			return Identity{}, fail(ErrAudience, "neither aud nor client_id is %s", short(v.cfg.Audience))
		}
	}
	if v.cfg.TokenUse != "" {
		if use, _ := c["token_use"].(string); use != v.cfg.TokenUse {
			return Identity{}, fail(ErrTokenUse, "token_use %s, want %q", short(use), v.cfg.TokenUse)
		}
	}

	sub, err := stringClaim(c, "sub")
	if err != nil {
		return Identity{}, err
	}
	if sub == "" {
		return Identity{}, fail(ErrClaims, "sub is required")
	}
	username, err := firstClaim(c, sub, "username", "preferred_username", "cognito:username")
	if err != nil {
		return Identity{}, err
	}
	tenant, err := firstClaim(c, DefaultTenantID, "tenantId", "custom:tenantId")
	if err != nil {
		return Identity{}, err
	}
	id := Identity{UserID: sub, Username: username, TenantID: tenant}
	if err := validateIdentity(id); err != nil {
		return Identity{}, err
	}
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil { // the parser already requires exp
		return Identity{}, fail(ErrClaims, "exp is required")
	}
	id.ExpiresAt = exp.Time.UTC()
	return id, nil
}

// stringClaim returns claim name, "" when absent, and an error when present
// but not a string.
func stringClaim(c jwt.MapClaims, name string) (string, error) {
	raw, ok := c[name]
	if !ok || raw == nil {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", fail(ErrClaims, "claim %s is not a string", name)
	}
	return s, nil
}

// firstClaim returns the first non-empty of the named string claims, or def.
func firstClaim(c jwt.MapClaims, def string, names ...string) (string, error) {
	for _, n := range names {
		s, err := stringClaim(c, n)
		if err != nil {
			return "", err
		}
		if s != "" {
			return s, nil
		}
	}
	return def, nil
}

func validateIdentity(id Identity) error {
	for _, f := range []struct{ name, value string }{
		{"user id", id.UserID},
		{"username", id.Username},
		{"tenant id", id.TenantID},
	} {
		if err := validateIdentityString(f.value); err != nil {
			return fail(ErrClaims, "%s %s: %s", f.name, short(f.value), err)
		}
	}
	return nil
}

type identityError string

func (e identityError) Error() string { return string(e) }

// validateIdentityString applies protocol.CheckText, the rule every name
// people see follows (room names included), and the length bound.
func validateIdentityString(s string) error {
	if len(s) > maxIdentityLen {
		return identityError("longer than 128 bytes")
	}
	if err := protocol.CheckText(s); err != nil {
		return identityError(err.Error())
	}
	return nil
}
