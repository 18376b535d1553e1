// Command bootstrap is the chat backend as one AWS Lambda binary for the
// provided.al2023 runtime. The function's handler setting (_HANDLER) picks
// the handler: authorizer, connect, disconnect, message, cleanup. Its
// configuration comes from environment variables, checked at start
// (internal/lambdaapp documents them).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/switchboard-ws/switchboard/internal/lambdaapp"
)

func main() {
	cfg, err := lambdaapp.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
		os.Exit(1) // the Lambda runtime reports this as an init error
	}
	h, err := lambdaapp.Handler(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap:", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
