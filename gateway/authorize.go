package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// maxAuthorizerResult is AWS's limit on an authorizer's response.
const maxAuthorizerResult = 8 * 1024

// parseIdentitySource splits "route.request.querystring.token" into
// ("querystring", "token").
func parseIdentitySource(src string) (kind, name string, err error) {
	for _, k := range []string{"route.request.querystring.", "route.request.header.", "stageVariables."} {
		if rest, ok := strings.CutPrefix(src, k); ok {
			if rest == "" {
				return "", "", fmt.Errorf("identity source %q: missing name after %q", src, k)
			}
			return strings.TrimSuffix(strings.TrimPrefix(k, "route.request."), "."), rest, nil
		}
	}
	return "", "", fmt.Errorf("identity source %q: want route.request.querystring.NAME, route.request.header.NAME or stageVariables.NAME", src)
}

// identityPresent reports whether every identity source has a non-empty
// value; q is the request's query string, parsed once for the handshake.
func identityPresent(sources []string, q url.Values, h http.Header, stageVars map[string]string) bool {
	for _, src := range sources {
		kind, name, _ := parseIdentitySource(src) // validated in New
		var v string
		switch kind {
		case "querystring":
			v = q.Get(name)
		case "header":
			v = h.Get(name)
		case "stageVariables":
			v = stageVars[name]
		}
		if v == "" {
			return false
		}
	}
	return true
}

// authzOutcome is the HTTP status an authorizer's answer maps to (0: allowed).
func authzOutcome(resp events.APIGatewayCustomAuthorizerResponse, err error, methodArn string) (status int, why error) {
	if err != nil {
		if errors.Is(err, ErrUnauthorized) || err.Error() == "Unauthorized" {
			return http.StatusUnauthorized, err
		}
		return http.StatusInternalServerError, fmt.Errorf("authorizer failed: %w", err)
	}
	if n, ok := authzResultBound(resp); !ok || n > maxAuthorizerResult {
		// Too big at worst, or of values the bound does not know: the
		// encoding itself decides.
		if b, err := json.Marshal(resp); err != nil || len(b) > maxAuthorizerResult {
			return http.StatusInternalServerError, fmt.Errorf("authorizer result over %d bytes", maxAuthorizerResult)
		}
	}
	if !policyAllows(resp.PolicyDocument, methodArn) {
		return http.StatusForbidden, errors.New("authorizer policy does not allow execute-api:Invoke on " + methodArn)
	}
	return 0, nil
}

// authzResultBound is an upper bound on the length of resp's JSON, computed
// without encoding it (json.Marshal of every answer was ~5% of a connect's
// CPU), and whether it could be computed: only for a context of strings,
// booleans, nils, integers and finite float64s, whose encoding cannot
// fail. A string encodes to at most 6 bytes per byte (\u00XX, \u2028, or
// \ufffd for a byte of invalid UTF-8) plus its quotes.
func authzResultBound(resp events.APIGatewayCustomAuthorizerResponse) (int, bool) {
	const (
		// {"principalId":,"policyDocument":{"Version":,"Statement":null},
		// "context":{},"usageIdentifierKey":} (99) and slack.
		fixed = 128
		// {"Action":null,"Effect":,"Resource":null}, and a comma (42).
		perStatement = 48
		// The quotes, a comma or colon, and slack.
		perString = 4
		// The longest integer, and a comma.
		perInt = 21
		// The longest float64 (-0.0000012345678901234567), and a comma.
		perFloat = 32
	)
	str := func(s string) int { return 6*len(s) + perString }
	n := fixed + str(resp.PrincipalID) + str(resp.UsageIdentifierKey) + str(resp.PolicyDocument.Version)
	for _, st := range resp.PolicyDocument.Statement {
		n += perStatement + str(st.Effect)
		for _, a := range st.Action {
			n += str(a)
		}
		for _, r := range st.Resource {
			n += str(r)
		}
	}
	for k, v := range resp.Context {
		n += str(k)
		switch v := v.(type) {
		case string:
			n += str(v)
		case bool, nil:
			n += len("false,")
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			n += perInt
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, false // its encoding fails
			}
			n += perFloat
		default:
			return 0, false // json.Number (checked as it encodes), maps, Marshalers…
		}
	}
	return n, true
}

// policyAllows evaluates an IAM policy for execute-api:Invoke on arn: an
// explicit Deny wins, then an Allow is needed. Effect must be exactly
// "Allow" or "Deny", as IAM requires; a statement with any other effect
// does nothing. Actions match without regard to case, resources exactly.
func policyAllows(p events.APIGatewayCustomAuthorizerPolicy, arn string) bool {
	allowed := false
	for _, st := range p.Statement {
		if !matchAny(st.Action, "execute-api:Invoke", true) || !matchAny(st.Resource, arn, false) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if p == s {
			// iamMatch(s, s) holds whatever s is: the usual policy,
			// matched without lowering both.
			return true
		}
	}
	if fold {
		s = strings.ToLower(s)
	}
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		if iamMatch(p, s) {
			return true
		}
	}
	return false
}

// iamMatch matches s against an IAM wildcard pattern: '*' matches any run
// of characters ('/' and ':' included), '?' any one character, and every
// other character only itself.
func iamMatch(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0 // the last '*' seen, and where in t it started matching
	for ti < len(t) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case star >= 0:
			// Let the last '*' take one more character and try again.
			mark++
			pi, ti = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// authorizerContext builds requestContext.authorizer: principalId and the
// context's values as strings, as API Gateway passes them on.
func authorizerContext(resp events.APIGatewayCustomAuthorizerResponse) (authContext, error) {
	keys := make([]string, 0, len(resp.Context))
	vals := make([]string, 0, len(resp.Context))
	n := len("principalId") + len(resp.PrincipalID)
	for k, v := range resp.Context {
		if k == "principalId" {
			continue // the principal's id wins, as it did in the map
		}
		s, err := stringifyContextValue(v)
		if err != nil {
			return "", fmt.Errorf("authorizer context %q: %w", k, err)
		}
		keys, vals = append(keys, k), append(vals, s)
		n += len(k) + len(s)
	}
	keys, vals = append(keys, "principalId"), append(vals, resp.PrincipalID)
	return newAuthContext(keys, vals, n), nil
}

func stringifyContextValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return v.String(), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return stringifyContextValue(float64(v))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("value of type %T: only strings, numbers and booleans are allowed", v)
}
