package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// reapBatch is how many connections of a dead node are removed, and
// announced, at a time.
const reapBatch = 500

// ReapNode removes the connections a dead cluster node left in the shared
// store (their ids begin with its prefix; docs/cluster.md) and runs them
// through the cleanup handler as the sweeper runs expired ones: user_left
// in each room the user has no other connection in (once per user and
// room), offline when it was the user's last connection. It is the
// cluster.DeadFunc of `switchboard dev`: one surviving node calls it, and
// the store hands each connection to one caller however many call.
//
// A stack whose store cannot do it (store.NodeSweeper) leaves the
// connections to the TTL sweeper.
func (s *Stack) ReapNode(ctx context.Context, prefix string) error {
	ns, ok := s.Store.(store.NodeSweeper)
	if !ok {
		s.log.Info("cluster: the store cannot remove a dead node's connections; they expire with the connection TTL", "node", prefix)
		return nil
	}
	total := 0
	for {
		imgs, err := ns.DeleteNodeConnections(ctx, prefix, reapBatch)
		if len(imgs) > 0 {
			total += countConnections(imgs)
			if cerr := cleanupImages(ctx, imgs, s.opts.Now(), "local", s.Chat.Cleanup, true); cerr != nil && err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("removing the connections of dead node %s: %w", prefix, err)
		}
		if len(imgs) == 0 {
			s.log.Info("cluster: dead node's connections removed", "node", prefix, "connections", total)
			return nil
		}
	}
}

func countConnections(imgs []store.Image) int {
	n := 0
	for _, img := range imgs {
		if img.Type() == store.TypeConnection {
			n++
		}
	}
	return n
}

// cleanupImages passes deleted items to cleanup as the REMOVE records
// DynamoDB Streams carries for TTL deletions. Every membership goes: the
// cleanup handler releases each one's hold of its room, and announces
// user_left only for the user's last (store.Join), however many of them
// one batch deletes. withRooms says the connections' memberships were all
// deleted with them (ReapNode): then of the connections of one user only
// the first goes, since each would announce the same offline. Without it
// (the TTL sweep), each connection goes: the cleanup handler removes its
// memberships not yet expired.
func cleanupImages(ctx context.Context, imgs []store.Image, now time.Time, region string, cleanup func(context.Context, events.DynamoDBEvent) error, withRooms bool) error {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(imgs))}
	seen := map[[2]string]bool{}
	for i, img := range imgs {
		if img.Type() == store.TypeConnection && withRooms {
			if c, err := img.Connection(); err == nil {
				k := [2]string{c.TenantID, c.UserID}
				if seen[k] {
					continue
				}
				seen[k] = true
			}
		}
		ev.Records = append(ev.Records, removeRecord(img, now, region, i))
	}
	return cleanup(ctx, ev)
}
