// Package dynamolocal gives tests a DynamoDB Local endpoint: the one named
// by SWITCHBOARD_DYNAMODB_ENDPOINT (scripts/test starts one for the whole
// suite), or one it starts with scripts/dynamodb-local on a free port.
package dynamolocal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// EnvEndpoint names a running DynamoDB Local.
const EnvEndpoint = "SWITCHBOARD_DYNAMODB_ENDPOINT"

// Endpoint returns the endpoint from the environment, or starts DynamoDB
// Local and returns its endpoint and a stop function.
func Endpoint() (endpoint string, stop func(), err error) {
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		return ep, func() {}, nil
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "dynamodb-local")
	if _, err := exec.LookPath("java"); err != nil {
		return "", nil, fmt.Errorf("java not found on PATH: DynamoDB Local needs Java 17+")
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, script, "start", strconv.Itoa(port))
		cmd.Env = append(os.Environ(), "DYNAMODB_LOCAL_WATCH_PID="+strconv.Itoa(os.Getpid()))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			lastErr = fmt.Errorf("%s start %d: %v\n%s", script, port, err, strings.TrimSpace(stderr.String()))
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), EnvEndpoint+"="); ok {
				return v, func() { exec.Command(script, "stop", strconv.Itoa(port)).Run() }, nil
			}
		}
		return "", nil, fmt.Errorf("%s start printed no endpoint: %q", script, out)
	}
	return "", nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
