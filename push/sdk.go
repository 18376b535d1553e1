package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// SDK posts through the @connections API with the AWS SDK: against AWS
// (SigV4-signed with the function's credentials) or a Switchboard gateway.
// Against a Switchboard gateway, PostMany sends one batch request (the
// gateway's own extension, gateway.BatchPath) instead of one request per
// connection; against AWS, where that path does not exist, it notices once
// and posts one by one from then on.
type SDK struct {
	Client *apigatewaymanagementapi.Client
	// Concurrency bounds the posts in flight during PostMany (default 32).
	Concurrency int

	endpoint string
	cfg      aws.Config
	http     aws.HTTPClient
	batch    atomic.Int32 // batchUnknown, batchSupported, batchUnsupported
}

const (
	batchUnknown int32 = iota
	batchSupported
	batchUnsupported
)

var _ Pusher = (*SDK)(nil)

// NewSDK returns a Pusher for the management API at endpoint
// (https://{apiId}.execute-api.{region}.amazonaws.com/{stage} on AWS,
// http://ADDR/{stage} for a Switchboard gateway).
//
// Batch requests go through cfg.HTTPClient when it is set, like the SDK's;
// single posts go through it wrapped in WholeBody.
func NewSDK(endpoint string, cfg aws.Config) *SDK {
	var hc aws.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTPClient != nil {
		hc = cfg.HTTPClient
	}
	return &SDK{
		Client: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.HTTPClient = WholeBody(o.HTTPClient) // New resolved it already
		}),
		endpoint: strings.TrimSuffix(endpoint, "/"),
		cfg:      cfg,
		http:     hc,
	}
}

// Post implements Pusher.
func (s *SDK) Post(ctx context.Context, connectionID string, data []byte) error {
	_, err := s.Client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID),
		Data:         data,
	})
	var gone *types.GoneException
	switch {
	case errors.As(err, &gone):
		return fmt.Errorf("%w: %s", ErrGone, connectionID)
	case err != nil:
		return fmt.Errorf("posting to %s: %w", connectionID, err)
	}
	return nil
}

// PostMany implements Pusher: one batch request to a Switchboard gateway,
// or up to Concurrency single posts in flight.
func (s *SDK) PostMany(ctx context.Context, connectionIDs []string, data []byte) ([]string, error) {
	if s.endpoint != "" && len(connectionIDs) > 1 && s.batch.Load() != batchUnsupported {
		gone, failed, err := s.postBatch(ctx, connectionIDs, data)
		switch {
		case err == nil && len(failed) > 0:
			s.batch.Store(batchSupported)
			return gone, &DeliveryError{Failed: failed, Err: errBatchFailed}
		case err == nil:
			s.batch.Store(batchSupported)
			return gone, nil
		case errors.Is(err, errNoBatch):
			s.batch.Store(batchUnsupported)
		default:
			return nil, err
		}
	}
	return s.postEach(ctx, connectionIDs, data)
}

var errNoBatch = errors.New("push: the endpoint has no batch extension")

// errBatchFailed is why a batch's failed ids were not reached.
var errBatchFailed = errors.New("push: batch post: connections held by another node of the cluster not reached (the node did not answer, or NATS is down)")

// postBatch sends one gateway.BatchPath request (SigV4-signed when the
// configuration has credentials). It returns the ids gone and those the
// gateway could not reach (failed: held by another node of a cluster that
// did not answer).
func (s *SDK) postBatch(ctx context.Context, ids []string, data []byte) (gone, failed []string, err error) {
	body, err := json.Marshal(map[string]any{"connectionIds": ids, "data": string(data)})
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/@switchboard/connections", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if creds := s.cfg.Credentials; creds != nil {
		if _, anon := creds.(aws.AnonymousCredentials); !anon {
			c, err := creds.Retrieve(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("push: credentials: %w", err)
			}
			sum := sha256.Sum256(body)
			if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "execute-api", s.cfg.Region, time.Now()); err != nil {
				return nil, nil, fmt.Errorf("push: signing: %w", err)
			}
		}
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("push: batch post: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK && resp.Header.Get("X-Switchboard") == "":
		return nil, nil, errNoBatch // AWS (or anything else): no such path
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, nil, fmt.Errorf("push: batch post: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var out struct {
		Gone   []string `json:"gone"`
		Failed []string `json:"failed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, nil, fmt.Errorf("push: batch answer: %w", err)
	}
	return out.Gone, out.Failed, nil
}

// postEach posts one by one, up to Concurrency at a time.
func (s *SDK) postEach(ctx context.Context, connectionIDs []string, data []byte) ([]string, error) {
	n := s.Concurrency
	if n <= 0 {
		n = 32
	}
	n = min(n, len(connectionIDs))
	var (
		mu     sync.Mutex
		gone   []string
		failed []string
		errs   []error
		wg     sync.WaitGroup
		next   = make(chan string)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				err := s.Post(ctx, id, data)
				if err == nil {
					continue
				}
				mu.Lock()
				if errors.Is(err, ErrGone) {
					gone = append(gone, id)
				} else {
					failed = append(failed, id)
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range connectionIDs {
		next <- id
	}
	close(next)
	wg.Wait()
	if len(failed) > 0 {
		return gone, &DeliveryError{Failed: failed, Err: errors.Join(errs...)}
	}
	return gone, nil
}
