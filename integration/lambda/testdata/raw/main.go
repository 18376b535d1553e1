// Command raw is a test Lambda runtime written against the Runtime API
// directly, without aws-lambda-go, to drive the cases that library never
// produces. Its answer to {"op": OP} is {"pid": PID, "op": OP, "status": S}
// where S is the status of an extra request the op makes, if any.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

var api = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/"

func post(url, body string) int {
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(9)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func main() {
	for {
		resp, err := http.Get(api + "invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(9)
		}
		payload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var req struct{ Op string }
		json.Unmarshal(payload, &req)
		status := 0
		switch req.Op {
		case "bad-id":
			status = post(api+"invocation/not-a-request/response", `{}`)
		case "error-text":
			// An error body that is not JSON, its type in the header.
			r, _ := http.NewRequest(http.MethodPost, api+"invocation/"+id+"/error", bytes.NewReader([]byte("plain failure")))
			r.Header.Set("Lambda-Runtime-Function-Error-Type", "Custom.Plain")
			resp, err := http.DefaultClient.Do(r)
			if err == nil {
				resp.Body.Close()
			}
			continue
		}
		answer, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "op": req.Op, "status": status})
		if code := post(api+"invocation/"+id+"/response", string(answer)); code != http.StatusAccepted {
			fmt.Fprintln(os.Stderr, "response answered", code)
			os.Exit(9)
		}
		// A second answer to the same invocation is refused.
		if code := post(api+"invocation/"+id+"/response", `{}`); code != http.StatusBadRequest {
			fmt.Fprintln(os.Stderr, "second response answered", code)
			os.Exit(9)
		}
		switch req.Op {
		case "answer-exit": // exit between the answer and the next /next
			time.Sleep(100 * time.Millisecond)
			os.Exit(0)
		case "answer-stall": // never ask for the next invocation
			select {}
		}
	}
}
