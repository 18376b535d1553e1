package gateway

import (
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// The authorizer's context reaches every event of the connection as API
// Gateway passes it on: its values as strings, with principalId, whatever
// their lengths; each event gets a map of its own.
func TestAuthorizerContextPacked(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 300) // a length over one varint byte
	resp := events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "user-1",
		Context: map[string]any{
			"tenantId":    "t1",
			"empty":       "",
			"admin":       true,
			"n":           42.0,
			long:          long,
			"principalId": "overridden",
		},
	}
	a, err := authorizerContext(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"tenantId": "t1", "empty": "", "admin": "true", "n": "42", long: long, "principalId": "user-1"}
	got := a.event()
	if !maps.Equal(got, want) {
		t.Fatalf("event's authorizer context:\n got %v\nwant %v", got, want)
	}
	got["tenantId"] = "changed by a handler"
	if again := a.event(); again["tenantId"] != "t1" {
		t.Fatalf("a handler's change reached the next event: %v", again)
	}
	if m := authContext("").event(); m != nil {
		t.Fatalf("no authorizer: want a nil map, got %v", m)
	}
	if _, err := authorizerContext(events.APIGatewayCustomAuthorizerResponse{Context: map[string]any{"x": []int{1}}}); err == nil {
		t.Fatal("a context value that is not a scalar was accepted")
	}
}
