// Command echo is a test Lambda function for package lambda. Its handler
// does what the payload's "op" says; a WebSocket event (one with a
// requestContext) gets a proxy response echoing its body.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Op             string          `json:"op"`
	Ms             int             `json:"ms"`
	N              int             `json:"n"`
	Text           string          `json:"text"`
	RequestContext json.RawMessage `json:"requestContext"`
	Body           string          `json:"body"`
}

type info struct {
	PID         int               `json:"pid"`
	Env         map[string]string `json:"env"`
	DeadlineMs  int64             `json:"deadlineMs"`
	RemainingMs int64             `json:"remainingMs"`
	RequestID   string            `json:"requestId"`
	ARN         string            `json:"arn"`
	TraceID     string            `json:"traceId"`
	Cwd         string            `json:"cwd"`
	Args        []string          `json:"args"`
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("bad payload: %w", err)
	}
	if len(req.RequestContext) > 0 {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "lambda echo: " + req.Body}, nil
	}
	switch req.Op {
	case "echo":
		return raw, nil
	case "error":
		return nil, errors.New(req.Text)
	case "panic":
		panic(req.Text)
	case "exit":
		os.Exit(3)
	case "sleep":
		if req.Text != "" { // says that the invocation is under way
			fmt.Println(req.Text)
		}
		time.Sleep(time.Duration(req.Ms) * time.Millisecond)
		return map[string]int{"pid": os.Getpid()}, nil
	case "big":
		return strings.Repeat("x", req.N), nil
	case "print":
		fmt.Println(req.Text)
		log.Print(req.Text + " (stderr)")
		return nil, nil
	case "printid": // prints, then answers its request id
		fmt.Println(req.Text)
		log.Print(req.Text + " (stderr)")
		lc, _ := lambdacontext.FromContext(ctx)
		return lc.AwsRequestID, nil
	case "info":
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		cwd, _ := os.Getwd()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return info{
			PID: os.Getpid(), Env: env, DeadlineMs: deadline.UnixMilli(),
			RemainingMs: time.Until(deadline).Milliseconds(), RequestID: lc.AwsRequestID,
			ARN: lc.InvokedFunctionArn, TraceID: trace, Cwd: cwd, Args: os.Args[1:],
		}, nil
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

func main() {
	if os.Getenv("ENABLE_SIGTERM") != "" {
		lambda.StartWithOptions(handle, lambda.WithEnableSIGTERM(func() {
			fmt.Println("SIGTERM received")
		}))
		return
	}
	lambda.Start(handle)
}
