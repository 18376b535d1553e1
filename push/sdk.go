package push

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// SDK posts through the @connections API with the AWS SDK: against AWS
// (SigV4-signed with the function's credentials) or a Switchboard gateway.
type SDK struct {
	Client *apigatewaymanagementapi.Client
	// Concurrency bounds the posts in flight during PostMany (default 32).
	Concurrency int
}

var _ Pusher = (*SDK)(nil)

// NewSDK returns a Pusher for the management API at endpoint
// (https://{apiId}.execute-api.{region}.amazonaws.com/{stage} on AWS,
// http://ADDR/{stage} for a Switchboard gateway).
func NewSDK(endpoint string, cfg aws.Config) *SDK {
	return &SDK{Client: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})}
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

// PostMany implements Pusher with up to Concurrency posts in flight.
func (s *SDK) PostMany(ctx context.Context, connectionIDs []string, data []byte) ([]string, error) {
	n := s.Concurrency
	if n <= 0 {
		n = 32
	}
	n = min(n, len(connectionIDs))
	var (
		mu   sync.Mutex
		gone []string
		errs []error
		wg   sync.WaitGroup
		next = make(chan string)
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
	return gone, errors.Join(errs...)
}
