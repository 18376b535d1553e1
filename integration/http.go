package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResultBytes bounds what is read of a function's answer (Lambda's
// synchronous response limit).
const maxResultBytes = 6 << 20

// HTTP invokes a handler over HTTP: it POSTs the event JSON to URL and reads
// the result JSON from a 2xx answer. Any other status is a *FunctionError
// whose message is the answer's errorMessage or message field, or its text;
// 401 is reported as "Unauthorized", so that an HTTP authorizer can refuse
// a connection by answering 401.
type HTTP struct {
	URL     string
	Headers map[string]string // added to every request
	Client  *http.Client      // nil: a client with pooled keep-alive connections
}

var _ Invoker = (*HTTP)(nil)

// Describe names the integration "http" and its URL without user
// information or query (which may carry credentials).
func (h *HTTP) Describe() (kind, name string) { return "http", h.name() }

// name is the URL without user information, query or fragment: what logs
// and errors show of it.
func (h *HTTP) name() string {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil, // handlers are reached directly, never through HTTP_PROXY
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
}}

// Invoke implements Invoker.
func (h *HTTP) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("http integration %s: %w", h.name(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	client := h.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = h.name() // the query may hold a credential
		}
		return nil, fmt.Errorf("http integration %s: %w", h.name(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResultBytes+1))
	if err != nil {
		return nil, fmt.Errorf("http integration %s: reading answer: %w", h.name(), err)
	}
	if len(body) > maxResultBytes {
		return nil, fmt.Errorf("http integration %s: answer over %d bytes", h.name(), maxResultBytes)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return body, nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, &FunctionError{Message: "Unauthorized"}
	}
	return nil, &FunctionError{Message: errorMessage(resp.Status, body), Type: "HTTP" + resp.Status[:3]}
}

func errorMessage(status string, body []byte) string {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		Message      string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.ErrorMessage != "" {
			return e.ErrorMessage
		}
		if e.Message != "" {
			return e.Message
		}
	}
	if text := strings.TrimSpace(string(body)); text != "" && len(text) < 512 {
		return text
	}
	return "handler answered " + status
}
