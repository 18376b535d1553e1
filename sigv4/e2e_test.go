package sigv4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

type seenRequest struct {
	Method, RequestURI, Path, Auth string
	Body, ContentType              string
	Err                            error
}

// fakeManagementAPI answers like API Gateway's @connections API, after
// verifying SigV4 with v.
type fakeManagementAPI struct {
	v     *Verifier
	stage string

	mu   sync.Mutex
	seen []seenRequest
}

func (f *fakeManagementAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, verr := f.v.Verify(r, body)
	f.mu.Lock()
	f.seen = append(f.seen, seenRequest{Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: string(body), ContentType: r.Header.Get("Content-Type"), Err: verr})
	f.mu.Unlock()
	if verr != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-ErrorType", "ForbiddenException")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"message":"Forbidden"}`)
		return
	}
	// Route on the escaped path so that an id containing an escaped '/'
	// stays one segment.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/"+f.stage+"/")
	if ok {
		if rest, ok = strings.CutPrefix(rest, "@connections/"); !ok {
			rest, ok = strings.CutPrefix(rest, "%40connections/")
		}
	}
	id, uerr := url.PathUnescape(rest)
	if !ok || uerr != nil || id == "" || strings.Contains(rest, "/") {
		w.Header().Set("x-amzn-ErrorType", "NotFoundException")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found"}`)
		return
	}
	switch r.Method {
	case http.MethodPost:
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"connectedAt":  "2026-03-14T15:00:00.000Z",
			"lastActiveAt": "2026-03-14T15:05:00.000Z",
			"identity":     map[string]string{"sourceIp": "192.0.2.1", "userAgent": "test-agent"},
		})
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeManagementAPI) last(t *testing.T) seenRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("server saw no request")
	}
	return f.seen[len(f.seen)-1]
}

func newClient(url, akid, secret, token string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint:     aws.String(url + "/dev"),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, token),
		RetryMaxAttempts: 1,
	})
}

func TestEndToEndManagementAPI(t *testing.T) {
	t.Parallel()
	api := &fakeManagementAPI{
		v: &Verifier{
			Credentials: Credentials{testAKID: testSecret},
			Service:     "execute-api",
			Region:      "us-east-1",
		},
		stage: "dev",
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ids := []string{"R0oXAdfD0kwCH6w=", "abc+def/ghi==", "Zm9vYmFy", "sp ace@x"}

	t.Run("good credentials", func(t *testing.T) {
		for _, token := range []string{"", "session-token/+="} {
			c := newClient(srv.URL, testAKID, testSecret, token)
			for _, id := range ids {
				if _, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: aws.String(id), Data: []byte(`{"msg":"hello"}`),
				}); err != nil {
					t.Fatalf("PostToConnection(%q): %v", id, err)
				}
				s := api.last(t)
				if s.Err != nil || s.Path != "/dev/@connections/"+id || s.Body != `{"msg":"hello"}` {
					t.Fatalf("server saw %+v", s)
				}
				t.Logf("POST wire URI %s; Content-Type %q; %s", s.RequestURI, s.ContentType, s.Auth[:strings.Index(s.Auth, ", Signature")])

				out, err := c.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
				if err != nil {
					t.Fatalf("GetConnection(%q): %v", id, err)
				}
				if out.Identity == nil || aws.ToString(out.Identity.SourceIp) != "192.0.2.1" || out.ConnectedAt == nil {
					t.Fatalf("GetConnection output %+v", out)
				}
				if s := api.last(t); s.Method != "GET" || s.Path != "/dev/@connections/"+id {
					t.Fatalf("server saw %+v", s)
				} else {
					t.Logf("GET wire URI %s; %s", s.RequestURI, s.Auth[:strings.Index(s.Auth, ", Signature")])
				}

				if _, err := c.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
					t.Fatalf("DeleteConnection(%q): %v", id, err)
				}
				if s := api.last(t); s.Method != "DELETE" || s.Path != "/dev/@connections/"+id {
					t.Fatalf("server saw %+v", s)
				} else {
					t.Logf("DELETE wire URI %s; %s", s.RequestURI, s.Auth[:strings.Index(s.Auth, ", Signature")])
				}
			}
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		bad := []struct {
			name         string
			akid, secret string
			want         error
		}{
			{"wrong secret", testAKID, "not-the-secret", ErrSignatureMismatch},
			{"unknown key", "AKIDUNKNOWN", testSecret, ErrUnknownKey},
		}
		for _, b := range bad {
			c := newClient(srv.URL, b.akid, b.secret, "")
			id := aws.String("R0oXAdfD0kwCH6w=")
			calls := map[string]func() error{
				"PostToConnection": func() error {
					_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: id, Data: []byte("x")})
					return err
				},
				"GetConnection": func() error {
					_, err := c.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: id})
					return err
				},
				"DeleteConnection": func() error {
					_, err := c.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: id})
					return err
				},
			}
			for op, call := range calls {
				err := call()
				var fe *types.ForbiddenException
				if !errors.As(err, &fe) {
					t.Fatalf("%s %s: err = %v (%T), want *types.ForbiddenException", b.name, op, err, err)
				}
				if s := api.last(t); !errors.Is(s.Err, b.want) {
					t.Fatalf("%s %s: server error %v, want %v", b.name, op, s.Err, b.want)
				}
			}
		}
	})

	t.Run("wrong region", func(t *testing.T) {
		c := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			BaseEndpoint:     aws.String(srv.URL + "/dev"),
			Region:           "eu-west-1",
			Credentials:      credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
			RetryMaxAttempts: 1,
		})
		_, err := c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("abc"), Data: []byte("x")})
		var fe *types.ForbiddenException
		if !errors.As(err, &fe) {
			t.Fatalf("err = %v", err)
		}
		if s := api.last(t); !errors.Is(s.Err, ErrScope) {
			t.Fatalf("server error %v, want ErrScope", s.Err)
		}
	})

	t.Run("unsigned request", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/dev/@connections/abc", "application/json", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" || string(b) != `{"message":"Forbidden"}` {
			t.Fatalf("got %d %q %q", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), b)
		}
		if s := api.last(t); !errors.Is(s.Err, ErrMissingAuth) {
			t.Fatalf("server error %v", s.Err)
		}
	})
}
