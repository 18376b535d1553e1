package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/push"
)

// Queue carries fan-out batches to the Fanout handler: SQS on AWS
// (queue.SQS), the in-process queue.Local in `switchboard dev`.
type Queue interface {
	Send(ctx context.Context, bodies [][]byte) error
}

// fanoutBatch is the body of one queued batch: the same data for up to
// FanoutBatchSize connections. Data is the broadcast's JSON as the
// connections receive it.
type fanoutBatch struct {
	ConnectionIDs []string        `json:"connectionIds"`
	Data          json.RawMessage `json:"data"`
	// Attempt counts the batches this one was split from: a batch that
	// reached some of its connections is sent on with the rest only.
	Attempt int `json:"attempt,omitempty"`
}

// maxFanoutAttempts bounds how often the unreached rest of a batch is
// queued again; past it the batch fails and the queue's redrive policy
// takes over (retries, then the dead-letter queue).
const maxFanoutAttempts = 3

// post delivers data to ids: directly, or — more than FanoutThreshold
// recipients and a queue configured — as batches through the queue, so
// that no invocation posts to a whole large room. It returns the
// connections found gone on the direct path.
func (s *Service) post(ctx context.Context, ids []string, data []byte) ([]string, error) {
	if s.cfg.Queue == nil || len(ids) <= s.cfg.FanoutThreshold {
		gone, err := s.push.PostMany(ctx, ids, data)
		return gone, s.queueUnreached(ctx, data, err)
	}
	bodies := make([][]byte, 0, (len(ids)+s.cfg.FanoutBatchSize-1)/s.cfg.FanoutBatchSize)
	for start := 0; start < len(ids); start += s.cfg.FanoutBatchSize {
		b, err := json.Marshal(fanoutBatch{ConnectionIDs: ids[start:min(start+s.cfg.FanoutBatchSize, len(ids))], Data: data})
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, b)
	}
	err := s.cfg.Queue.Send(ctx, bodies)
	if err == nil {
		return nil, nil
	}
	// The queue refused: deliver directly rather than lose the broadcast.
	s.log.Warn("fan-out queue refused a broadcast; posting directly", "connections", len(ids), "err", err)
	return s.push.PostMany(ctx, ids, data)
}

// queueUnreached hands the connections a direct post could not reach —
// those of a cluster node that did not answer while NATS was down, or a
// management API that throttled — to the fan-out queue as a batch of its
// own (attempt 1), so that they are tried again with the queue's retries
// instead of missing the broadcast for good. It returns err when there is
// nothing to queue or the queue refused, else nil.
func (s *Service) queueUnreached(ctx context.Context, data []byte, err error) error {
	var de *push.DeliveryError
	if err == nil || s.cfg.Queue == nil || !errors.As(err, &de) || len(de.Failed) == 0 {
		return err
	}
	body, merr := json.Marshal(fanoutBatch{ConnectionIDs: de.Failed, Data: data, Attempt: 1})
	if merr == nil {
		merr = s.cfg.Queue.Send(ctx, [][]byte{body})
	}
	if merr != nil {
		return errors.Join(err, merr)
	}
	s.log.Warn("broadcast partly failed; the unreached connections are queued to be tried again", "failed", len(de.Failed), "err", err)
	return nil
}

// Fanout is the consumer of the fan-out queue (an SQS event source
// mapping with ReportBatchItemFailures on AWS). Each record is one batch;
// a record is reported failed, and so delivered again by the queue, only
// when none of its connections was reached, so that retries do not repeat
// deliveries. When some were reached, the rest is queued as a new batch.
func (s *Service) Fanout(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
	)
	for _, rec := range ev.Records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.fanoutRecord(ctx, rec); err != nil {
				s.log.Warn("fan-out batch failed; the queue will deliver it again", "messageId", rec.MessageId,
					"receiveCount", rec.Attributes["ApproximateReceiveCount"], "err", err)
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

func (s *Service) fanoutRecord(ctx context.Context, rec events.SQSMessage) error {
	var b fanoutBatch
	if err := json.Unmarshal([]byte(rec.Body), &b); err != nil {
		return fmt.Errorf("not a fan-out batch: %w", err)
	}
	if len(b.ConnectionIDs) == 0 || len(b.Data) == 0 {
		return errors.New("not a fan-out batch: connectionIds and data are required")
	}
	gone, err := s.push.PostMany(ctx, b.ConnectionIDs, b.Data)
	out := s.directOutbox()
	for _, id := range gone {
		s.connectionGone(ctx, out, id)
	}
	if err == nil {
		return nil
	}
	var de *push.DeliveryError
	if !errors.As(err, &de) || len(de.Failed) >= len(b.ConnectionIDs)-len(gone) || b.Attempt+1 >= maxFanoutAttempts || s.cfg.Queue == nil {
		return err // nobody reached, or no way to send the rest on: the queue retries the batch
	}
	rest, merr := json.Marshal(fanoutBatch{ConnectionIDs: de.Failed, Data: b.Data, Attempt: b.Attempt + 1})
	if merr == nil {
		merr = s.cfg.Queue.Send(ctx, [][]byte{rest})
	}
	if merr != nil {
		return errors.Join(err, merr)
	}
	s.log.Warn("fan-out batch partly failed; the rest is queued again", "messageId", rec.MessageId, "failed", len(de.Failed), "err", err)
	return nil
}
