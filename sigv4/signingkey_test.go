package sigv4

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The signing key is derived once per secret and scope and then cached; a
// cached key must never make a signature made with another secret pass.
func TestSigningKeyCacheKeepsSecretsApart(t *testing.T) {
	t.Parallel()
	v := newVerifier()
	sign := func(secret string) signSpec {
		return signSpec{
			url:   "https://" + testHost + "/dev/%40connections/R0oXAdfD0kwCH6w%3D",
			body:  []byte("hello"),
			creds: aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret},
		}
	}
	verify := func(secret string) error {
		wire, _ := signedWire(t, sign(secret))
		r, body := serverRequest(t, wire)
		_, err := v.Verify(r, body)
		return err
	}
	for i := range 3 { // the first derives the key, the others use the cache
		if err := verify(testSecret); err != nil {
			t.Fatalf("round %d, right secret: %v", i, err)
		}
		if err := verify("not-the-secret"); !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("round %d, wrong secret: %v, want ErrSignatureMismatch", i, err)
		}
	}

	// A copy shares the cache; with another secret configured for the same
	// key id, the key cached for the first secret must not be used.
	other := *v
	other.Credentials = Credentials{testAKID: "rotated-secret"}
	wire, _ := signedWire(t, sign(testSecret))
	r, body := serverRequest(t, wire)
	if _, err := other.Verify(r, body); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("old secret after rotation: %v, want ErrSignatureMismatch", err)
	}
	wire, _ = signedWire(t, sign("rotated-secret"))
	r, body = serverRequest(t, wire)
	if _, err := other.Verify(r, body); err != nil {
		t.Fatalf("rotated secret: %v", err)
	}
}

func TestSigningKeyCacheIsBounded(t *testing.T) {
	t.Parallel()
	v := newVerifier()
	day := testTime
	for i := range 3 * maxCachedKeys {
		k := v.signingKey(fmt.Sprint("secret", i%7), day.Format(shortDateFormat), testRegion, "execute-api")
		if len(k) != 32 {
			t.Fatalf("key of %d bytes", len(k))
		}
		day = day.Add(24 * time.Hour)
	}
	c := v.keys.Load().(*keyCache)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > maxCachedKeys {
		t.Fatalf("%d cached keys, want at most %d", len(c.m), maxCachedKeys)
	}
}
