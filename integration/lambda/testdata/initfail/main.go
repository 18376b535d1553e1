// Command initfail is a test Lambda function that fails its init when
// REQUIRED_SETTING is unset, reporting it on the Runtime API's /init/error
// as a runtime should, then exits. With the setting it answers "ok".
package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if os.Getenv("REQUIRED_SETTING") == "" {
		fmt.Fprintln(os.Stderr, "init: REQUIRED_SETTING is not set")
		body := `{"errorMessage":"REQUIRED_SETTING is not set","errorType":"ConfigError","stackTrace":[]}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error", bytes.NewReader([]byte(body)))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "ConfigError")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "init error not reported:", err)
		} else {
			fmt.Fprintln(os.Stderr, "init error reported:", resp.Status)
			resp.Body.Close()
		}
		os.Exit(1)
	}
	lambda.Start(func(context.Context) (string, error) { return "ok", nil })
}
