package sigv4

import (
	"errors"
	"net/http"
	"testing"
)

// sdkPost is a request as the AWS SDK signs a management API post.
func sdkPost(t testing.TB) (*http.Request, []byte) {
	t.Helper()
	wire, _ := signedWire(t, signSpec{
		url:     "https://" + testHost + "/dev/%40connections/R0oXAdfD0kwCH6w%3D",
		body:    []byte(`{"hello":"world"}`),
		headers: [][2]string{{"Content-Type", "application/octet-stream"}, {"Amz-Sdk-Invocation-Id", "0a4a3e0c-7c2b-4f0e-9d8e-3c5d1b6c9f11"}, {"Amz-Sdk-Request", "attempt=1; max=3"}},
	})
	return serverRequest(t, wire)
}

// Verifying a good request allocates at most once once its signing key is
// cached (net/url's EscapedPath, for a path with escapes such as %40): the
// management API verifies every post.
func TestVerifyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	v := newVerifier()
	r, body := sdkPost(t)
	if _, err := v.Verify(r, body); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(r, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Verify allocates %.1f times per request, want at most 1", allocs)
	}
}

// Headers set by hand with other spellings than net/http's are found, and
// their spellings of one name merged, as before.
func TestVerifyHeaderSpellings(t *testing.T) {
	t.Parallel()
	v := newVerifier()
	r, body := sdkPost(t)
	date := r.Header.Get("X-Amz-Date")
	r.Header.Del("X-Amz-Date")
	r.Header["x-amz-date"] = []string{date}
	if _, err := v.Verify(r, body); err != nil {
		t.Fatalf("lower-case x-amz-date: %v", err)
	}
	// Two spellings of a signed header are two values: the signature no
	// longer matches.
	r.Header["X-AMZ-DATE"] = []string{date}
	if _, err := v.Verify(r, body); err == nil {
		t.Fatal("X-Amz-Date twice (two spellings) verified")
	}
	r, body = sdkPost(t)
	r.Header["content-type"] = []string{"text/plain"}
	if _, err := v.Verify(r, body); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("a second Content-Type spelled otherwise: %v, want ErrSignatureMismatch", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	v := newVerifier()
	r, body := sdkPost(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	v := newVerifier()
	r, body := sdkPost(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(r, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
