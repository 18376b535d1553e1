package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateDevSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	s1, err := LoadOrCreateDevSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 32 {
		t.Fatalf("secret is %d bytes", len(s1))
	}
	path := filepath.Join(dir, DevSecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(raw)); got != hex.EncodeToString(s1) {
		t.Errorf("file holds %q", raw)
	}

	s2, err := LoadOrCreateDevSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) {
		t.Error("second call returned a different secret")
	}
	s3, err := LoadDevSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s3) {
		t.Error("LoadDevSecret returned a different secret")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}

	other, err := LoadOrCreateDevSecret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s1, other) {
		t.Error("two data dirs got the same secret")
	}
}

func TestLoadOrCreateDevSecretConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = LoadOrCreateDevSecret(dir)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatal("concurrent callers got different secrets")
		}
	}
}

func TestLoadDevSecretMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadDevSecret(dir)
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not match fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, DevSecretFile)) {
		t.Errorf("error %q does not name the file", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DevSecretFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("LoadDevSecret created the file")
	}
}

func TestDevSecretCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"not hex":   "zz",
		"too short": hex.EncodeToString(make([]byte, 16)),
		"empty":     "",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, DevSecretFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadDevSecret(dir); err == nil {
			t.Errorf("%s: LoadDevSecret accepted it", name)
		}
		if _, err := LoadOrCreateDevSecret(dir); err == nil {
			t.Errorf("%s: LoadOrCreateDevSecret accepted (or replaced) it", name)
		}
	}
}
