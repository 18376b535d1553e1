package lambdaapp

import (
	"bytes"
	"strings"
	"testing"
)

// TestCursorKeyFromEnv: a deployment signs its cursors, with CURSOR_KEY or
// else a key derived from JWT_SECRET (never the secret itself); instances
// with the same environment agree, and with neither cursors stay unsigned.
func TestCursorKeyFromEnv(t *testing.T) {
	key := func(env map[string]string) []byte {
		env["_HANDLER"], env["TABLE_NAME"], env["CALLBACK_URL"] = "message", "chat", "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
		c, err := ConfigFromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c.Chat.CursorKey
	}
	fromSecret := key(map[string]string{"JWT_SECRET": "s3cret"})
	switch {
	case len(fromSecret) == 0:
		t.Fatal("JWT_SECRET set: cursors are not signed")
	case bytes.Contains(fromSecret, []byte("s3cret")):
		t.Fatal("the cursor key contains the JWT secret")
	case !bytes.Equal(fromSecret, key(map[string]string{"JWT_SECRET": "s3cret"})):
		t.Fatal("two instances with the same JWT_SECRET derive different cursor keys")
	case bytes.Equal(fromSecret, key(map[string]string{"JWT_SECRET": "other"})):
		t.Fatal("different secrets derive the same cursor key")
	}
	if got := key(map[string]string{"JWT_SECRET": "s3cret", "CURSOR_KEY": "k"}); string(got) != "k" {
		t.Fatalf("CURSOR_KEY set: key %q, want it", got)
	}
	if got := key(map[string]string{"JWKS_URL": "https://example.com/jwks"}); got != nil {
		t.Fatalf("neither CURSOR_KEY nor JWT_SECRET: key %x, want none", got)
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "chat", "CALLBACK_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/prod"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" = valid; else a variable the error must name
	}{
		{"message ok", map[string]string{"_HANDLER": "message"}, ""},
		{"no handler", map[string]string{}, "_HANDLER"},
		{"unknown handler", map[string]string{"_HANDLER": "fanin"}, "_HANDLER"},
		{"no table", map[string]string{"_HANDLER": "connect", "TABLE_NAME": ""}, "TABLE_NAME"},
		{"no callback", map[string]string{"_HANDLER": "cleanup", "CALLBACK_URL": ""}, "CALLBACK_URL"},
		{"authorizer without keys", map[string]string{"_HANDLER": "authorizer"}, "JWT_SECRET"},
		{"authorizer with secret", map[string]string{"_HANDLER": "authorizer", "JWT_SECRET": "x", "TABLE_NAME": ""}, ""},
		{"bad content limit", map[string]string{"_HANDLER": "message", "MAX_CONTENT_BYTES": "lots"}, "MAX_CONTENT_BYTES"},
		{"bad ttl", map[string]string{"_HANDLER": "message", "CONNECTION_TTL": "5s"}, "CONNECTION_TTL"},
		{"fanout ok", map[string]string{"_HANDLER": "fanout", "FANOUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/fanout"}, ""},
		{"fanout without table", map[string]string{"_HANDLER": "fanout", "TABLE_NAME": "", "FANOUT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/q"}, "TABLE_NAME"},
		{"fanout without queue", map[string]string{"_HANDLER": "fanout"}, "FANOUT_QUEUE_URL"},
		{"batch too big for SQS", map[string]string{"_HANDLER": "message", "FANOUT_BATCH_SIZE": "1001"}, "FANOUT_BATCH_SIZE"},
		{"bad queue url", map[string]string{"_HANDLER": "message", "FANOUT_QUEUE_URL": "fanout"}, "FANOUT_QUEUE_URL"},
		{"bad threshold", map[string]string{"_HANDLER": "message", "FANOUT_THRESHOLD": "0"}, "FANOUT_THRESHOLD"},
		{"bad batch size", map[string]string{"_HANDLER": "connect", "FANOUT_BATCH_SIZE": "many"}, "FANOUT_BATCH_SIZE"},
		{"bad typing interval", map[string]string{"_HANDLER": "message", "TYPING_INTERVAL": "soon"}, "TYPING_INTERVAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			for k := range env {
				known := false
				for _, e := range Env {
					known = known || e == k
				}
				if !known {
					t.Fatalf("test uses %s, which Env does not list", k)
				}
			}
			_, err := ConfigFromEnv(func(k string) string { return env[k] })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v does not name %s", err, tc.want)
			}
		})
	}
}
