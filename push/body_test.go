package push

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The SDK's posts go through WholeBody: what the gateway receives is what
// was posted, byte for byte, small or over DefaultMaxBufferedBody (which
// passes through as the SDK made it).
func TestWholeBodyPostsTheData(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || int64(len(b)) != r.ContentLength {
			t.Errorf("read %d bytes (%v), Content-Length %d", len(b), err, r.ContentLength)
		}
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}))
	defer srv.Close()
	sdk := NewSDK(srv.URL+"/dev", aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
	for _, n := range []int{1, 100, DefaultMaxBufferedBody, DefaultMaxBufferedBody + 1} {
		data := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		data[0] = 'x'
		if err := sdk.Post(context.Background(), "AAAAAAAAAAAAAAA=", data); err != nil {
			t.Fatalf("post of %d bytes: %v", n, err)
		}
		mu.Lock()
		last := got[len(got)-1]
		mu.Unlock()
		if !bytes.Equal(last, data) {
			t.Fatalf("posted %d bytes, the server got %d different ones", n, len(last))
		}
	}
}
