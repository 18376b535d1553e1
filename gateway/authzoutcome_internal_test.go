package gateway

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

const testMethodArn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/$connect"

// allowResponse is the answer chat's authorizer gives: one Allow statement
// for the method, a context of three strings.
func allowResponse(ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "user-1",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{
			Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{testMethodArn},
		}}},
		Context: ctx,
	}
}

func TestAuthzOutcomeLimitsTheResultTo8KB(t *testing.T) {
	t.Parallel()
	// How many bytes of context value keep the JSON at exactly the limit.
	base, err := json.Marshal(allowResponse(map[string]any{"k": ""}))
	if err != nil {
		t.Fatal(err)
	}
	fits := maxAuthorizerResult - len(base)
	for _, tc := range []struct {
		name string
		v    any
		want int
	}{
		{"exactly 8 KB", strings.Repeat("a", fits), 0},
		{"one byte over", strings.Repeat("a", fits+1), http.StatusInternalServerError},
		// Each '<' is 6 bytes of JSON (\u003c): the limit is on the JSON.
		{"escaped to over 8 KB", strings.Repeat("<", fits/6+1), http.StatusInternalServerError},
		{"escaped to just under", strings.Repeat("<", fits/6), 0},
		{"invalid UTF-8 over", strings.Repeat("\xff", fits/6+1), http.StatusInternalServerError},
		{"NaN cannot be encoded", math.NaN(), http.StatusInternalServerError},
		{"infinity cannot be encoded", math.Inf(-1), http.StatusInternalServerError},
		{"invalid json.Number", json.Number("12x"), http.StatusInternalServerError},
		{"a nested map of 9 KB", map[string]any{"x": strings.Repeat("a", 9000)}, http.StatusInternalServerError},
		{"a small nested map", map[string]any{"x": 1}, 0}, // refused later, by authorizerContext
		{"a float", 1.5, 0},
	} {
		status, why := authzOutcome(allowResponse(map[string]any{"k": tc.v}), nil, testMethodArn)
		if status != tc.want {
			t.Errorf("%s: status %d (%v), want %d", tc.name, status, why, tc.want)
		}
	}
}

// TestAuthzResultBoundIsAnUpperBound checks the bound against the
// encoding of random answers: strings of bytes that escape to the most
// (<, control characters, invalid UTF-8, U+2028), and every kind of value
// the bound accepts.
func TestAuthzResultBoundIsAnUpperBound(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "<", "&", "\x00", "\x1f", "\xff", "\u2028", "é", `"`, `\`}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	strs := func() []string {
		if rng.IntN(4) == 0 {
			return nil // encodes as null
		}
		out := make([]string, rng.IntN(3))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	values := []func() any{
		func() any { return str() },
		func() any { return rng.IntN(2) == 0 },
		func() any { return nil },
		func() any { return int64(math.MinInt64) },
		func() any { return uint64(math.MaxUint64) },
		func() any { return -0.0000012345678901234567 },
		func() any { return -1.2345678901234567e-308 },
		func() any { return 123456789012345678901.0 },
		func() any { return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20)) },
	}
	for i := range 2000 {
		resp := events.APIGatewayCustomAuthorizerResponse{PrincipalID: str(), UsageIdentifierKey: str()}
		resp.PolicyDocument.Version = str()
		if rng.IntN(4) != 0 {
			resp.PolicyDocument.Statement = make([]events.IAMPolicyStatement, rng.IntN(3))
			for j := range resp.PolicyDocument.Statement {
				resp.PolicyDocument.Statement[j] = events.IAMPolicyStatement{Action: strs(), Effect: str(), Resource: strs()}
			}
		}
		if rng.IntN(4) != 0 {
			resp.Context = map[string]any{}
			for range rng.IntN(6) {
				resp.Context[str()] = values[rng.IntN(len(values))]()
			}
		}
		n, ok := authzResultBound(resp)
		if !ok {
			t.Fatalf("answer %d: no bound for %#v", i, resp)
		}
		b, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > n {
			t.Fatalf("answer %d: bound %d under the encoding's %d bytes: %s", i, n, len(b), b)
		}
	}
}

// TestAuthzOutcomeAllowsWithoutEncoding: an ordinary Allow is checked
// without encoding the answer (json.Marshal) or lowering the policy's
// strings, which allocated on every connect.
func TestAuthzOutcomeAllowsWithoutEncoding(t *testing.T) {
	resp := allowResponse(map[string]any{"userId": "u1", "username": "Ada", "tenantId": "acme"})
	allocs := testing.AllocsPerRun(100, func() {
		if status, why := authzOutcome(resp, nil, testMethodArn); status != 0 {
			t.Fatal(status, why)
		}
	})
	if allocs > 1 {
		t.Fatalf("authzOutcome of an Allow: %.0f allocations, want at most 1", allocs)
	}
}

func TestAuthzOutcomeRefusals(t *testing.T) {
	t.Parallel()
	other := allowResponse(nil)
	other.PolicyDocument.Statement[0].Resource = []string{"arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect"}
	deny := allowResponse(nil)
	deny.PolicyDocument.Statement = append(deny.PolicyDocument.Statement, events.IAMPolicyStatement{
		Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{testMethodArn},
	})
	folded := allowResponse(nil)
	folded.PolicyDocument.Statement[0].Action = []string{"EXECUTE-API:invoke"}
	for _, tc := range []struct {
		name string
		resp events.APIGatewayCustomAuthorizerResponse
		err  error
		want int
	}{
		{"unauthorized", events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized, http.StatusUnauthorized},
		{"failed", events.APIGatewayCustomAuthorizerResponse{}, errors.New("database down"), http.StatusInternalServerError},
		{"another resource", other, nil, http.StatusForbidden},
		{"an explicit deny", deny, nil, http.StatusForbidden},
		{"no statement", events.APIGatewayCustomAuthorizerResponse{PrincipalID: "p"}, nil, http.StatusForbidden},
		{"action in another case", folded, nil, 0},
	} {
		if status, why := authzOutcome(tc.resp, tc.err, testMethodArn); status != tc.want {
			t.Errorf("%s: status %d (%v), want %d", tc.name, status, why, tc.want)
		}
	}
}

// BenchmarkAuthzOutcome is the check of chat's authorizer's answer on
// every connect:
//
//	go test -run '^$' -bench AuthzOutcome ./gateway
func BenchmarkAuthzOutcome(b *testing.B) {
	resp := allowResponse(map[string]any{"userId": "u1", "username": "Ada", "tenantId": "acme"})
	b.ReportAllocs()
	for b.Loop() {
		if status, _ := authzOutcome(resp, nil, testMethodArn); status != 0 {
			b.Fatal(status)
		}
	}
}
