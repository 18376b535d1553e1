package gateway

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestIAMMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "arn:aws:execute-api:us-east-1:1:abc/dev/$connect", true},
		{"arn:aws:execute-api:*:*:*/dev/*", "arn:aws:execute-api:us-east-1:123:abc/dev/$connect", true},
		{"arn:aws:execute-api:*:*:*/prod/*", "arn:aws:execute-api:us-east-1:123:abc/dev/$connect", false},
		{"arn:aws:execute-api:us-east-1:123:abc/*", "arn:aws:execute-api:us-east-1:123:abc/dev/$connect", true}, // '*' spans '/'
		{"arn:*/$connect", "arn:aws:execute-api:us-east-1:123:abc/dev/$connect", true},
		{"arn:*/$connect", "arn:aws:execute-api:us-east-1:123:abc/dev/$connectx", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "a/c", true},
		{"a?c", "aéc", true}, // '?' is one character, not one byte
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**", "anything", true},
		{"*a", "bbbba", true},
		{"*a", "bbbbab", false},
		// Everything but * and ? is literal (path.Match gave these meaning).
		{"arn:[abc]", "arn:a", false},
		{"arn:[abc]", "arn:[abc]", true},
		{`a\*`, "a*", false},
		{`a\*`, `a\xyz`, true},
		{`a\?`, `a\b`, true},
		{"a[", "a[", true},
	} {
		if got := iamMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("iamMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestPolicyAllows(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:123:abc/dev/$connect"
	st := func(effect string, action, resource string) events.IAMPolicyStatement {
		return events.IAMPolicyStatement{Effect: effect, Action: []string{action}, Resource: []string{resource}}
	}
	for _, tc := range []struct {
		name string
		sts  []events.IAMPolicyStatement
		want bool
	}{
		{"allow", []events.IAMPolicyStatement{st("Allow", "execute-api:Invoke", arn)}, true},
		{"no statement", nil, false},
		{"action case does not matter", []events.IAMPolicyStatement{st("Allow", "Execute-API:invoke", arn)}, true},
		{"action wildcard", []events.IAMPolicyStatement{st("Allow", "execute-api:*", arn)}, true},
		{"other action", []events.IAMPolicyStatement{st("Allow", "execute-api:ManageConnections", arn)}, false},
		{"resource case matters", []events.IAMPolicyStatement{st("Allow", "execute-api:Invoke", "ARN:aws:execute-api:us-east-1:123:abc/dev/$connect")}, false},
		{"other resource", []events.IAMPolicyStatement{st("Allow", "execute-api:Invoke", "arn:aws:execute-api:us-east-1:123:abc/prod/$connect")}, false},
		{"deny wins", []events.IAMPolicyStatement{st("Allow", "*", "*"), st("Deny", "execute-api:Invoke", arn)}, false},
		{"deny elsewhere", []events.IAMPolicyStatement{st("Allow", "*", "*"), st("Deny", "execute-api:Invoke", "arn:*/prod/*")}, true},
		{"effect is exact: allow", []events.IAMPolicyStatement{st("allow", "execute-api:Invoke", arn)}, false},
		{"effect is exact: ALLOW", []events.IAMPolicyStatement{st("ALLOW", "execute-api:Invoke", arn)}, false},
		{"effect is exact: deny is no Deny", []events.IAMPolicyStatement{st("Allow", "*", "*"), st("deny", "execute-api:Invoke", arn)}, true},
		{"bracket is literal", []events.IAMPolicyStatement{st("Allow", "execute-api:Invoke", "arn:aws:execute-api:us-east-1:123:abc/[a-z]ev/$connect")}, false},
	} {
		if got := policyAllows(events.APIGatewayCustomAuthorizerPolicy{Statement: tc.sts}, arn); got != tc.want {
			t.Errorf("%s: policyAllows = %v, want %v", tc.name, got, tc.want)
		}
	}
}
