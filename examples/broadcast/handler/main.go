// Command handler is the broadcast example's backend: three Lambda-style Go
// handlers served as an HTTP integration. $connect remembers the
// connection, sendmessage posts the message to every connection through the
// @connections API with the AWS SDK, $disconnect forgets the connection.
//
// sendmessage posts as the seed documents' Node.js handlers do with
// Promise.all: concurrently, here from DefaultPosters goroutines (-posters)
// sharing one SDK client, whose HTTP transport keeps a connection per
// poster open to the gateway (the SDK's default transport keeps 10 idle
// connections per host, so more concurrent posters would open a new TCP
// connection for most posts). A post answered 410 Gone forgets its
// connection, as the seeds delete it from their table. What else the
// handler sets for speed, and why, is in client.go and the example's
// README.md.
//
// The set of connections stands in for the DynamoDB table of the AWS
// version; it lives in this process, so restarting the handler forgets who
// is connected (a real deployment keeps it in a store).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/switchboard-ws/switchboard/integration"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	posters := flag.Int("posters", DefaultPosters, "posts under way at once during a sendmessage")
	flag.Parse()
	if *posters < 1 {
		fmt.Fprintln(os.Stderr, "handler: -posters must be at least 1")
		os.Exit(2)
	}
	tuneGC()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(1)
	}
	b := &broadcaster{
		conns:   map[string]bool{},
		http:    newHTTPClient(*posters),
		posters: *posters,
	}
	mux := http.NewServeMux()
	mux.Handle("/connect", integration.Handler(b.connect))
	mux.Handle("/disconnect", integration.Handler(b.disconnect))
	mux.Handle("/sendmessage", integration.Handler(b.sendMessage))
	fmt.Printf("broadcast handlers listening on http://%s\n", ln.Addr())
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(1)
	}
}

// DefaultPosters is how many posts sendmessage has under way at once (the
// -posters flag). Against a gateway on the same machine, 16 and 32 cost
// the handler less CPU per broadcast than 64 (fewer goroutine stacks for
// the collector to scan, fewer connections) and finish no later; against
// AWS, where each post waits for a round trip over the network, more
// posters hide the latency.
const DefaultPosters = 32

type broadcaster struct {
	mu      sync.Mutex
	conns   map[string]bool
	http    aws.HTTPClient
	posters int // posts under way at once
}

func (b *broadcaster) connect(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	b.mu.Lock()
	b.conns[ev.RequestContext.ConnectionID] = true
	b.mu.Unlock()
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func (b *broadcaster) disconnect(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	b.forget(ev.RequestContext.ConnectionID)
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func (b *broadcaster) forget(id string) {
	b.mu.Lock()
	delete(b.conns, id)
	b.mu.Unlock()
}

func (b *broadcaster) sendMessage(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	var in struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(ev.Body), &in); err != nil {
		return events.APIGatewayProxyResponse{StatusCode: 400}, nil
	}
	// The callback URL, built as AWS's samples build it. Without a
	// configured domainName the gateway reports the Host the client used,
	// so this reaches the gateway however it is addressed.
	endpoint := fmt.Sprintf("http://%s/%s", ev.RequestContext.DomainName, ev.RequestContext.Stage)
	client := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   b.http,
	})
	b.mu.Lock()
	ids := make([]string, 0, len(b.conns))
	for id := range b.conns {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	data := []byte(in.Message)
	post := func(id string) {
		_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: data})
		var gone *types.GoneException
		switch {
		case errors.As(err, &gone):
			b.forget(id) // a missed $disconnect: clean up now
		case err != nil:
			slog.Warn("post failed", "connectionId", id, "err", err)
		}
	}
	// b.posters goroutines take the ids in turn; all are done before the
	// handler answers.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(b.posters, len(ids)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(ids)); i = next.Add(1) - 1 {
				post(ids[i])
			}
		})
	}
	wg.Wait()
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}
