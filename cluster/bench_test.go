package cluster_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// reader counts what a client receives until it closes.
func reader(c *websocket.Conn, got *atomic.Int64, done chan<- struct{}) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		got.Add(1)
		select {
		case done <- struct{}{}:
		default:
		}
	}
}

// BenchmarkPost: posts to one connection, from its own node (local) and
// from another node through NATS (remote), one at a time and from
// 16 x GOMAXPROCS goroutines at once (32 on two cores). Each post waits for its answer, not for
// the client to read it.
//
//	go test -run XXX -bench BenchmarkPost -benchtime 20000x ./cluster
func BenchmarkPost(b *testing.B) {
	url := startNATS(b)
	nodes := startCluster(b, url, 2)
	a, other := nodes[0], nodes[1]
	client, id := a.dial(b)
	var got, sent atomic.Int64
	read := make(chan struct{}, 1)
	go reader(client, &got, read)
	// The client reads as fast as it can; past window frames unread the
	// posters wait for it, so that the connection is never a slow
	// consumer (1008) however fast the posts go.
	const window = 2000
	pace := func() {
		n := sent.Add(1)
		for n-got.Load() > window {
			select {
			case <-read:
			case <-time.After(time.Millisecond): // another poster took the wakeup
			}
		}
	}
	data := []byte("a message of some forty bytes, or so...")
	for _, bc := range []struct {
		name string
		post func(context.Context, string, []byte) error
	}{{"local", a.Post}, {"remote", other.Post}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				pace()
				if err := bc.post(ctx, id, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-32posters", func(b *testing.B) {
			b.SetParallelism(16) // 16 x GOMAXPROCS posters
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					pace()
					if err := bc.post(ctx, id, data); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkBroadcast: one frame to 3N connections, all on the posting node
// (one-node) or N on each of three nodes (three-nodes); an op ends when
// every client has read the frame.
//
//	go test -run XXX -bench BenchmarkBroadcast -benchtime 200x ./cluster
func BenchmarkBroadcast(b *testing.B) {
	const n = 1000
	url := startNATS(b)
	var nodes []*testNode
	for range 3 {
		nodes = append(nodes, startNodeWith(b, cluster.Config{API: "test", URL: url, User: natsUser, Password: natsPass}, unlimited))
	}
	for _, layout := range []string{"one-node", "three-nodes"} {
		b.Run(fmt.Sprintf("%s-%dconns", layout, 3*n), func(b *testing.B) {
			var got atomic.Int64
			done := make(chan struct{}, 1)
			var ids []string
			for i := range 3 * n {
				node := nodes[0]
				if layout == "three-nodes" {
					node = nodes[i%3]
				}
				c, id := node.dial(b)
				ids = append(ids, id)
				go reader(c, &got, done)
				b.Cleanup(func() { c.Close() })
			}
			frame := wsproto.TextFrame([]byte(`{"type":"message_new","roomId":"general","content":"hi"}`))
			ctx := context.Background()
			want := int64(0)
			for b.Loop() {
				if gone := nodes[0].PostFrame(ctx, ids, frame); len(gone) > 0 {
					b.Fatalf("%d gone", len(gone))
				}
				want += int64(len(ids))
				for got.Load() < want {
					<-done
				}
			}
		})
	}
}
