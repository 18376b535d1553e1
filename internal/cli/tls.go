package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/switchboard-ws/switchboard/internal/localca"
)

// tlsFlags are the TLS options of serve and dev: TLS and plain on one
// port by default, with a certificate from the local CA.
type tlsFlags struct {
	cert, key string
	off       bool
}

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	t := &tlsFlags{}
	fs.StringVar(&t.cert, "tls-cert", "", "PEM certificate (chain) for https/wss, instead of one from the local CA; with --tls-key")
	fs.StringVar(&t.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&t.off, "no-tls", false, "answer plain http/ws only (by default the port answers TLS too)")
	return t
}

// serverTLS is what TLS needs once loaded: the server configuration, and
// the bundle that makes the functions' SDKs trust its certificate.
type serverTLS struct {
	config *tls.Config
	ca     *localca.CA // nil with --tls-cert
	bundle string      // system roots + the local CA (+ --tls-cert's chain); "" if none could be made
}

// load reads or creates the certificates before anything listens; hosts
// are the names the local CA's certificate is issued for. It returns nil
// with --no-tls.
func (t *tlsFlags) load(hosts []string, log *slog.Logger, stdout io.Writer) (*serverTLS, error) {
	p, err := t.prepare()
	if err != nil || p == nil {
		return nil, err
	}
	return p.finish(hosts, log, stdout)
}

// tlsPlan is TLS material read and checked, before the names the
// certificate is for are known (serve --template learns the API's id only
// after it listens).
type tlsPlan struct {
	ca      *localca.CA
	created bool
	own     *tls.Certificate // --tls-cert
	chain   []byte           // --tls-cert's certificates, PEM
}

// prepare reads --tls-cert/--tls-key, or loads (creating it if needed) the
// local CA. It returns nil with --no-tls.
func (t *tlsFlags) prepare() (*tlsPlan, error) {
	if t.off {
		if t.cert != "" || t.key != "" {
			return nil, errors.New("--no-tls with --tls-cert or --tls-key: choose one")
		}
		return nil, nil
	}
	caDir, err := localca.DefaultDir()
	if err != nil {
		return nil, err
	}
	if t.cert != "" || t.key != "" {
		pair, chainPEM, err := loadKeyPair(t.cert, t.key)
		if err != nil {
			return nil, err
		}
		p := &tlsPlan{own: &pair, chain: chainPEM}
		// The functions' bundle lives in the local CA's directory.
		p.ca, _, _ = localca.Load(caDir)
		return p, nil
	}
	ca, created, err := localca.Load(caDir)
	if err != nil {
		return nil, err
	}
	return &tlsPlan{ca: ca, created: created}, nil
}

// finish makes the server configuration: the local CA issues a certificate
// for hosts (unless --tls-cert gave one).
func (p *tlsPlan) finish(hosts []string, log *slog.Logger, stdout io.Writer) (*serverTLS, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if p.own != nil {
		cfg.Certificates = []tls.Certificate{*p.own}
		// The functions trust the system roots and this chain (a
		// self-signed certificate included).
		st := &serverTLS{config: cfg}
		if p.ca != nil {
			var err error
			if st.bundle, err = p.ca.Bundle(p.chain); err != nil {
				log.Warn("functions will not trust --tls-cert: " + err.Error())
			}
		}
		return st, nil
	}
	if p.created {
		fmt.Fprintf(stdout, "switchboard: created a local certificate authority in %s\n  trust %s in your browser or system store to use https/wss without warnings (docs/tls.md)\n", p.ca.Dir, p.ca.CertPath())
	}
	leaf, err := p.ca.Issue(hosts)
	if err != nil {
		return nil, err
	}
	cfg.Certificates = []tls.Certificate{leaf}
	st := &serverTLS{config: cfg, ca: p.ca}
	if st.bundle, err = p.ca.Bundle(); err != nil {
		log.Warn("functions get only NODE_EXTRA_CA_CERTS: " + err.Error())
	}
	return st, nil
}

// loadKeyPair reads --tls-cert and --tls-key, and says clearly what is wrong.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, []byte, error) {
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, nil, errors.New("--tls-cert and --tls-key go together")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("--tls-key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
	}
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return tls.Certificate{}, nil, fmt.Errorf("--tls-cert %s: valid from %s to %s, not now", certFile, leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly))
	}
	var chain []byte
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, pem.EncodeToMemory(b)...)
		}
	}
	return pair, chain, nil
}

// certHosts are the names a local certificate is issued for: loopback,
// the listen host (every interface's address when it is unspecified) and
// the extra names (the configured domain name, the API's AWS host name).
func certHosts(listen string, extra ...string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					hosts = append(hosts, n.IP.String())
				}
			}
		}
		if h, err := os.Hostname(); err == nil {
			hosts = append(hosts, h)
		}
	} else {
		hosts = append(hosts, host)
	}
	for _, e := range extra {
		if h, _, err := net.SplitHostPort(e); err == nil {
			e = h
		}
		if e != "" {
			hosts = append(hosts, e)
		}
	}
	return hosts
}

// functionTLSEnv is what makes a function's SDKs trust the gateway's
// certificate: Node (NODE_EXTRA_CA_CERTS), the AWS SDKs (AWS_CA_BUNDLE),
// Go and OpenSSL (SSL_CERT_FILE) and Python's requests
// (REQUESTS_CA_BUNDLE). The bundle holds the system roots too.
func (st *serverTLS) functionEnv() map[string]string {
	env := map[string]string{}
	if st == nil {
		return env
	}
	if st.bundle != "" {
		env["NODE_EXTRA_CA_CERTS"] = st.bundle
		env["AWS_CA_BUNDLE"] = st.bundle
		env["SSL_CERT_FILE"] = st.bundle
		env["REQUESTS_CA_BUNDLE"] = st.bundle
	} else if st.ca != nil {
		env["NODE_EXTRA_CA_CERTS"] = st.ca.CertPath() // extra: Node keeps its own roots
	}
	return env
}
