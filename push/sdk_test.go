package push_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/push"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// fixture: a gateway with n connected clients; awsLike hides the batch
// extension the way AWS answers an unknown path.
func fixture(t *testing.T, n int, awsLike bool, creds sigv4.Credentials) (endpoint string, ids []string, clients []*websocket.Conn, requests *atomic.Int32) {
	t.Helper()
	var mu sync.Mutex
	connect := gateway.HandlerFunc(func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		mu.Lock()
		ids = append(ids, ev.RequestContext.ConnectionID)
		mu.Unlock()
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	gw, err := gateway.New(gateway.Options{Stage: "dev", Credentials: creds, Routes: map[string]gateway.Route{"$connect": {Integration: connect}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	requests = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "@") {
			requests.Add(1)
		}
		if awsLike && strings.HasSuffix(r.URL.Path, gateway.BatchPath) {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"Missing Authentication Token"}`)
			return
		}
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { gw.Shutdown(context.Background()); srv.Close() })
	for i := 0; i < n; i++ {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/dev", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	return srv.URL + "/dev", ids, clients, requests
}

func readAll(t *testing.T, clients []*websocket.Conn, want string) {
	t.Helper()
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != want {
			t.Fatalf("client %d: %q %v", i, p, err)
		}
	}
}

func TestPostManyUsesTheBatchExtension(t *testing.T) {
	creds := sigv4.Credentials{"AKIDPUSH": "push-secret"}
	endpoint, ids, clients, requests := fixture(t, 20, false, creds)
	p := push.NewSDK(endpoint, aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDPUSH", "push-secret", "")})
	gone, err := p.PostMany(context.Background(), append(ids, "AAAAAAAAAAAAAAA="), []byte("to all"))
	if err != nil || len(gone) != 1 || gone[0] != "AAAAAAAAAAAAAAA=" {
		t.Fatalf("gone %v err %v", gone, err)
	}
	readAll(t, clients, "to all")
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d management requests for one broadcast to 21 ids, want 1", n)
	}
	// Wrong credentials are an error, not a silent fallback.
	bad := push.NewSDK(endpoint, aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDPUSH", "wrong", "")})
	if _, err := bad.PostMany(context.Background(), ids, []byte("x")); err == nil {
		t.Fatal("a badly signed batch succeeded")
	}
}

func TestPostManyFallsBackWithoutTheExtension(t *testing.T) {
	endpoint, ids, clients, requests := fixture(t, 5, true, nil)
	p := push.NewSDK(endpoint, aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
	gone, err := p.PostMany(context.Background(), append(ids, "AAAAAAAAAAAAAAA="), []byte("one by one"))
	if err != nil || len(gone) != 1 {
		t.Fatalf("gone %v err %v", gone, err)
	}
	readAll(t, clients, "one by one")
	if n := requests.Load(); n != 1+6 {
		t.Fatalf("%d requests, want 1 probe + 6 posts", n)
	}
	// The probe is not repeated.
	requests.Store(0)
	p.PostMany(context.Background(), ids, []byte("again"))
	readAll(t, clients, "again")
	if n := requests.Load(); n != 5 {
		t.Fatalf("%d requests the second time, want 5", n)
	}
}

// TestPostManyReportsFailedIDs: a batch answer naming ids the gateway
// could not reach (held by a node of a cluster that did not answer) is a
// *DeliveryError naming them, not a success. The gateway's side, with a
// real NATS going away, is cluster's TestNATSRestartUnderLoad; this stands
// for that gateway.
func TestPostManyReportsFailedIDs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Switchboard", "1")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"gone":["AAAAAAAAAAAAAAA="],"failed":["BBBBBBBBBBBBBBB="]}`)
	}))
	defer srv.Close()
	p := push.NewSDK(srv.URL+"/dev", aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
	gone, err := p.PostMany(context.Background(), []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "CCCCCCCCCCCCCCC="}, []byte("x"))
	var de *push.DeliveryError
	if !errors.As(err, &de) || len(de.Failed) != 1 || de.Failed[0] != "BBBBBBBBBBBBBBB=" {
		t.Fatalf("err %v, want a DeliveryError naming BBBBBBBBBBBBBBB=", err)
	}
	if len(gone) != 1 || gone[0] != "AAAAAAAAAAAAAAA=" {
		t.Fatalf("gone %v", gone)
	}
}
