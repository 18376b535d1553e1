package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevIssuer is the `iss` of tokens minted by MintDevToken.
const DevIssuer = "switchboard-dev"

// MintDevToken signs an HS256 token for `switchboard token`. The token carries
// sub=id.UserID, username, tenantId, iss=DevIssuer, iat=nbf=now and
// exp=now+ttl (whole seconds). An empty id.Username defaults to the UserID and
// an empty id.TenantID to DefaultTenantID; id.ExpiresAt is ignored. secret
// must be at least 32 bytes.
func MintDevToken(secret []byte, id Identity, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) < minHS256SecretLen {
		return "", fmt.Errorf("auth: dev secret must be at least %d bytes", minHS256SecretLen)
	}
	if ttl <= 0 {
		return "", errors.New("auth: dev token ttl must be positive")
	}
	if id.Username == "" {
		id.Username = id.UserID
	}
	if id.TenantID == "" {
		id.TenantID = DefaultTenantID
	}
	if err := validateIdentity(id); err != nil {
		return "", fmt.Errorf("auth: cannot mint dev token: %v", err)
	}
	claims := jwt.MapClaims{
		"iss":      DevIssuer,
		"sub":      id.UserID,
		"username": id.Username,
		"tenantId": id.TenantID,
		"iat":      jwt.NewNumericDate(now),
		"nbf":      jwt.NewNumericDate(now),
		"exp":      jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: signing dev token: %w", err)
	}
	return s, nil
}
