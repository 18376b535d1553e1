// Package localca is the local certificate authority behind the TLS that
// `switchboard serve` and `switchboard dev` speak on their own port.
//
// On first use it creates a CA (an ECDSA P-256 key and a self-signed
// certificate valid for ten years) in a directory it keeps: ca.pem and
// ca-key.pem (mode 0600). Each process then issues itself a leaf
// certificate in memory for the names it answers to (localhost, loopback
// addresses, the listen address, a configured domain name, the API's AWS
// host name). Nothing leaves the machine: trusting ca.pem in a browser or
// the system store (docs/tls.md says how) makes those certificates trusted
// there, and the functions that Switchboard starts are given a bundle of
// the system roots plus this CA (never the CA alone, so that calls to real
// HTTPS services keep working).
//
// The directory is $SWITCHBOARD_CA_DIR, else switchboard/ca under the
// user's config directory (~/.config/switchboard/ca on Linux). Creating it
// is safe when several processes start at once: they agree on one CA.
package localca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// EnvDir names the CA directory, overriding DefaultDir's default.
const EnvDir = "SWITCHBOARD_CA_DIR"

// File names inside the CA directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 397 * 24 * time.Hour // what browsers accept for a leaf
	// lockWait bounds how long Load waits for another process creating the CA.
	lockWait = 10 * time.Second
)

// CA is a loaded certificate authority.
type CA struct {
	// Dir is the directory the CA lives in.
	Dir string
	// Cert is the CA certificate; CertPEM its PEM encoding (ca.pem).
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// DefaultDir is $SWITCHBOARD_CA_DIR, else switchboard/ca in the user's
// config directory.
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("local CA: no directory for it (set %s): %w", EnvDir, err)
	}
	return filepath.Join(cfg, "switchboard", "ca"), nil
}

// Load reads the CA in dir, creating it first when dir holds none;
// created says whether it did.
func Load(dir string) (ca *CA, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("local CA: %w", err)
	}
	ca, err = read(dir)
	if err == nil {
		return ca, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	unlock, err := lock(dir)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// Another process may have created it while we waited for the lock.
	if ca, err = read(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		return ca, false, err
	}
	if err := create(dir); err != nil {
		return nil, false, err
	}
	ca, err = read(dir)
	return ca, err == nil, err
}

func read(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w (delete the directory to make a new CA)", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("local CA in %s: %s is not a CA certificate", dir, CertFile)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("local CA in %s: unusable key", dir)
	}
	return &CA{Dir: dir, Cert: cert, CertPEM: certPEM, key: signer}, nil
}

func create(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Switchboard local CA"}, CommonName: "Switchboard local CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	// The key first: a CA file without its key is never visible.
	if err := writeFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile writes atomically: a reader sees the old file or the whole new one.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("local CA: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("local CA: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// CertPath is the path of the CA certificate (to trust in a browser).
func (ca *CA) CertPath() string { return filepath.Join(ca.Dir, CertFile) }

// Fingerprint is the SHA-256 of the CA certificate, in hex.
func (ca *CA) Fingerprint() string {
	sum := sha256.Sum256(ca.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Issue makes a leaf certificate for hosts (DNS names, wildcards such as
// *.execute-api.us-east-1.amazonaws.com, or IP addresses), signed by ca.
func (ca *CA) Issue(hosts []string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("local CA: a certificate needs at least one host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("local CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"Switchboard local"}, CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	for _, h := range dedupe(hosts) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("local CA: issuing a certificate for %s: %w", strings.Join(hosts, ", "), err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("local CA: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func dedupe(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// systemBundles are where Linux distributions and macOS keep the system
// roots as one PEM file (Go's crypto/x509 reads the same list).
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, macOS
}

// SystemRoots returns the system's root certificates as PEM, from
// $SSL_CERT_FILE or the distribution's bundle, and the file they came from.
func SystemRoots() (pemData []byte, from string, err error) {
	candidates := systemBundles
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		candidates = append([]string{f}, candidates...)
	}
	for _, f := range candidates {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
			return b, f, nil
		}
	}
	return nil, "", errors.New("no system root certificates found (set SSL_CERT_FILE to a PEM bundle of them)")
}

// Bundle writes a PEM file of the system roots followed by ca's
// certificate and extra (the certificates of a --tls-cert, say) into ca's
// directory, and returns its path. The name depends on the content, so
// processes with different bundles never overwrite each other's.
func (ca *CA) Bundle(extra ...[]byte) (string, error) {
	roots, _, err := SystemRoots()
	if err != nil {
		return "", fmt.Errorf("local CA: bundle for functions: %w", err)
	}
	var b bytes.Buffer
	b.Write(roots)
	if !bytes.HasSuffix(roots, []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteString("# Switchboard local CA (" + ca.CertPath() + ")\n")
	b.Write(ca.CertPEM)
	for _, e := range extra {
		b.Write(e)
	}
	sum := sha256.Sum256(b.Bytes())
	path := filepath.Join(ca.Dir, "bundle-"+hex.EncodeToString(sum[:6])+".pem")
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, b.Bytes()) {
		return path, nil
	}
	if err := writeFile(path, b.Bytes(), 0o644); err != nil {
		return "", err
	}
	return path, nil
}
