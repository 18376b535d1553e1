package localca

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestLoadCreatesOnceAndKeeps(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, created, err := Load(dir)
	if err != nil || !created {
		t.Fatalf("first Load: created %v, err %v", created, err)
	}
	again, created, err := Load(dir)
	if err != nil || created {
		t.Fatalf("second Load: created %v, err %v", created, err)
	}
	if !bytes.Equal(ca.Cert.Raw, again.Cert.Raw) {
		t.Fatal("a second Load made a new CA: browsers that trusted the first would stop trusting")
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v (want 0600)", st.Mode(), err)
	}
}

func TestConcurrentLoadsAgreeOnOneCA(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	const n = 8
	certs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ca, _, err := Load(dir)
			if err != nil {
				t.Error(err)
				return
			}
			certs[i] = ca.Cert.Raw
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(certs[0], certs[i]) {
			t.Fatalf("Load %d got a different CA from Load 0", i)
		}
	}
}

func TestIssuedCertificateVerifiesForItsHostsOnly(t *testing.T) {
	t.Parallel()
	ca, _, err := Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue([]string{"localhost", "127.0.0.1", "::1", "abc123.execute-api.us-east-1.amazonaws.com", "LOCALHOST."})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "abc123.execute-api.us-east-1.amazonaws.com"} {
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	for _, host := range []string{"example.com", "other.execute-api.us-east-1.amazonaws.com", "10.0.0.1"} {
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err == nil {
			t.Errorf("%s: verified, but the certificate was not issued for it", host)
		}
	}
	if _, err := ca.Issue(nil); err == nil {
		t.Error("Issue with no host: no error")
	}
}

func TestBundleHoldsSystemRootsAndTheCA(t *testing.T) {
	t.Parallel()
	roots, from, err := SystemRoots()
	if err != nil {
		t.Skipf("this machine has no system root bundle: %v", err)
	}
	ca, _, err := Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	path, err := ca.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, roots) || !bytes.Contains(b, ca.CertPEM) {
		t.Fatalf("bundle %s: want the roots of %s followed by the CA", path, from)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("bundle does not parse as PEM certificates")
	}
	if again, err := ca.Bundle(); err != nil || again != path {
		t.Fatalf("same content, different bundle: %s vs %s (%v)", again, path, err)
	}
	if other, err := ca.Bundle([]byte("extra\n")); err != nil || other == path {
		t.Fatalf("different content must get its own file: %s (%v)", other, err)
	}
}

func TestLoadRefusesABrokenCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, CertFile), []byte("not a certificate"), 0o644)
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("not a key"), 0o600)
	if _, _, err := Load(dir); err == nil {
		t.Fatal("Load accepted a broken CA")
	}
}
