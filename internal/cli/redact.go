package cli

import (
	"net/url"
	"strings"
)

// secretParams are query parameters whose values RedactURL hides: tokens
// and signatures a URL may carry (?token= of the chat, OAuth's
// access_token, a presigned SigV4 URL's signature and session token).
var secretParams = []string{"token", "access_token", "id_token", "secret", "password", "x-amz-signature", "x-amz-security-token", "x-amz-credential"}

// RedactURL returns raw fit to print: a password in the user info and the
// value of every query parameter that carries a token or secret are
// replaced by "xxxxx"; a string that does not parse is returned with its
// query cut off.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			return raw[:i] + "?xxxxx"
		}
		return raw
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if isSecretParam(k) {
				q[k] = []string{"xxxxx"}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	for _, p := range secretParams {
		if name == p {
			return true
		}
	}
	return strings.Contains(name, "token") || strings.Contains(name, "secret")
}
