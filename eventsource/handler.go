package eventsource

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/integration"
)

// Handler is a Go function for a DynamoDB stream event source mapping,
// with aws-lambda-go's types (ReportBatchItemFailures through the
// response; a function without partial failures returns an empty one). As
// an integration.Invoker it runs in process: its error, or a panic, is the
// *integration.FunctionError Lambda would report.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

var _ integration.Invoker = Handler(nil)

// Invoke implements integration.Invoker.
func (h Handler) Invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, &integration.FunctionError{Message: "invalid DynamoDB stream event: " + err.Error(), Type: "InvalidEvent"}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &integration.FunctionError{Message: fmt.Sprint(r), Type: "Runtime.Panic"}
		}
	}()
	resp, err := h(ctx, ev)
	if err != nil {
		return nil, &integration.FunctionError{Message: err.Error(), Type: "HandlerError"}
	}
	return json.Marshal(resp)
}
