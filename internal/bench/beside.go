package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-ws/switchboard/chat/client"
)

// Targets of --beside-one-node: the two rooms of one run.
const (
	TargetSpread  = "spread"   // receivers round robin over the nodes
	TargetOneNode = "one-node" // receivers all on node 1, where the senders are
)

// runFanoutBeside is fanout --beside-one-node: two rooms of --conns
// receivers each in one cluster, one spread over the nodes round robin,
// the other all on node 1 (where the sender is); the messages alternate
// between them (even ones to the spread room), so that both see the same
// machine at the same moments. It returns one result per room.
func runFanoutBeside(ctx context.Context, cfg *Config, t *Target, pb *progress) ([]*Result, error) {
	nonce := randHex(4)
	tenant := runTenant(nonce)
	urls := t.urls()
	results := make([]*Result, 2)
	for i, name := range []string{TargetSpread, TargetOneNode} {
		how := fmt.Sprintf("%s: %d receivers round robin over %d nodes, beside %d on node 1 in the same run", t.How, cfg.Conns, len(urls), cfg.Conns)
		if name == TargetOneNode {
			how = fmt.Sprintf("%s: %d receivers all on node 1 (the sender's), beside %d spread in the same run", t.How, cfg.Conns, cfg.Conns)
		}
		results[i] = &Result{Target: name, How: how, Fanout: &FanoutResult{Receivers: cfg.Conns, Senders: cfg.Senders,
			Messages: (cfg.Messages + 1 - i) / 2, Rate: cfg.Rate, Inflight: cfg.Inflight, Users: cfg.Users,
			BinSeconds: cfg.Bin.Seconds(), AckErrors: map[string]int{}, Fill: cfg.Fill}}
	}
	senders, spreadRoom, err := joinSenders(ctx, cfg, t, pb, nonce, tenant)
	defer func() {
		for _, s := range senders {
			if s != nil {
				s.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	oneRoom, err := addRoom(ctx, senders, "bench one-node "+nonce)
	if err != nil {
		return nil, err
	}
	t0 := time.Now().UnixNano()
	spread, okSpread, filled, err := connectReceivers(ctx, cfg, t, pb, results[0],
		receiverFleet{urls: urls, roomID: spreadRoom, expect: results[0].Fanout.Messages, children: true}, nonce, tenant, t0)
	if spread != nil {
		defer spread.close()
	}
	if err != nil {
		return nil, err
	}
	one, okOne, _, err := connectReceivers(ctx, cfg, t, pb, results[1],
		receiverFleet{urls: urls[:1], roomID: oneRoom, expect: results[1].Fanout.Messages, skip: filled, children: true}, nonce, tenant, t0)
	if one != nil {
		defer one.close()
	}
	if err != nil {
		return nil, err
	}
	results[1].Nodes = nil // measured with the spread fleet, which connected first
	fr0, fr1 := results[0].Fanout, results[1].Fanout
	fr0.Expected = int64(fr0.Messages) * int64(okSpread)
	fr1.Expected = int64(fr1.Messages) * int64(okOne)
	sendTimes, ack, firstSend := sendMessages(ctx, cfg, t, pb, spread, fr0, senders, []string{spreadRoom, oneRoom}, nonce, fr0.Expected)
	fr1.Sent, fr1.Acked, fr1.SendSeconds = fr0.Sent, fr0.Acked, fr0.SendSeconds
	deadline := time.Now().Add(cfg.Timeout).UnixNano()
	for _, f := range []*fleet{spread, one} {
		if err := f.send(command{Op: "drain", Deadline: deadline}); err != nil {
			return nil, err
		}
	}
	var reps [2][]event
	for i, f := range []*fleet{spread, one} {
		if reps[i], err = f.await(ctx, "report", cfg.Timeout+2*time.Minute); err != nil {
			return nil, err
		}
		f.setProgress(nil)
	}
	memAfter, _ := memAll(t)
	for i, ok := range []int{okSpread, okOne} {
		var msgs []int
		for m := i; m < cfg.Messages; m += 2 {
			msgs = append(msgs, m)
		}
		results[i].Fanout.MemAfter = memAfter
		summarizeFanout(cfg, results[i], reps[i], sendTimes, ack, ok, t0, firstSend, msgs)
		results[i].Metrics = metricsOf(results[i])
	}
	return results, nil
}

// addRoom creates one more room and has every sender join it.
func addRoom(ctx context.Context, senders []*client.Client, name string) (string, error) {
	room, err := senders[0].CreateRoom(ctx, client.CreateRoomInput{Name: name})
	if err != nil {
		return "", fmt.Errorf("creating the room: %w", err)
	}
	for _, s := range senders {
		if _, err := s.JoinRoom(ctx, room.RoomID); err != nil {
			return "", fmt.Errorf("sender joining the room: %w", err)
		}
	}
	return room.RoomID, nil
}
