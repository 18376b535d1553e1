package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DevSecretFile is the name of the dev secret inside a data directory.
const DevSecretFile = "dev-secret"

const devSecretLen = 32

// LoadOrCreateDevSecret returns the 32-byte dev secret stored hex-encoded in
// DIR/dev-secret, creating the directory (0700) and the file (0600, random
// bytes from crypto/rand) if absent. Creation is atomic: concurrent callers
// all get the same secret, and a reader never sees a partial file.
func LoadOrCreateDevSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, DevSecretFile)
	secret, err := readDevSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: creating data directory: %w", err)
	}
	secret = make([]byte, devSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("auth: generating dev secret: %w", err)
	}
	if err := createExclusive(dir, path, []byte(hex.EncodeToString(secret)+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) { // lost a race: use the winner's
			return readDevSecret(path)
		}
		return nil, fmt.Errorf("auth: writing dev secret %s: %w", path, err)
	}
	return secret, nil
}

// LoadDevSecret returns the dev secret in DIR/dev-secret; the error names the
// file (and matches fs.ErrNotExist) when it is absent.
func LoadDevSecret(dir string) ([]byte, error) {
	return readDevSecret(filepath.Join(dir, DevSecretFile))
}

func readDevSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("auth: dev secret %s does not exist (run `switchboard dev` to create it): %w", path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: reading dev secret: %w", err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(secret) != devSecretLen {
		return nil, fmt.Errorf("auth: dev secret %s is corrupt: want %d hex-encoded bytes", path, devSecretLen)
	}
	return secret, nil
}

// createExclusive writes data to a temporary file and hard-links it to path,
// which fails with fs.ErrExist if path already exists. Where hard links are
// unsupported it falls back to O_EXCL creation.
func createExclusive(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".dev-secret-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
