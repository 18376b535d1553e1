package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard-ws/switchboard/cluster"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// testPKI writes a CA and a certificate for 127.0.0.1 (server and client
// authentication) signed by it, as PEM files in dir.
func testPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600)
	return caFile, certFile, keyFile
}

// TestExternalNATSWithTLS: a node reaches a NATS that requires TLS when it
// is given the CA, and says why it cannot without it.
func TestExternalNATSWithTLS(t *testing.T) {
	t.Parallel()
	caFile, certFile, keyFile := testPKI(t, t.TempDir())
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, Username: natsUser, Password: natsPass, TLS: true, TLSConfig: tc, TLSTimeout: 5, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats did not start")
	}
	url := "tls://" + ns.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cluster.Join(ctx, cluster.Config{API: "test", URL: url, User: natsUser, Password: natsPass, Logger: testutil.DiscardLogger()})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Join without the CA: %v, want a certificate error", err)
	}
	cfg := cluster.Config{API: "test", URL: url, User: natsUser, Password: natsPass, CAFile: caFile}
	a, b := startNode(t, cfg), startNode(t, cfg)
	client, id := a.dial(t)
	if _, err := b.management().PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("over TLS")}); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, client); got != "over TLS" {
		t.Fatalf("got %q", got)
	}
}

// TestEmbeddedRouteTLS: routes with mutual TLS join nodes whose
// certificates the CA signed, and not a node with another CA's.
func TestEmbeddedRouteTLS(t *testing.T) {
	t.Parallel()
	caFile, certFile, keyFile := testPKI(t, t.TempDir())
	cfg := cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: "s", RouteCAFile: caFile, RouteCertFile: certFile, RouteKeyFile: keyFile}
	var logA testutil.Buffer
	cfg.Logger = newLogger(&logA)
	a := startNode(t, cfg)
	cfg.Peers = []string{a.node.ClusterAddr().String()}
	cfg.Logger = newLogger(&logA)
	b := startNode(t, cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logA.String())
		}
	})
	testutil.Eventually(t, 10*time.Second, func() bool { return a.node.Peers() == 1 && b.node.Peers() == 1 }, "a route over TLS")
	client, id := a.dial(t)
	ctx := context.Background()
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := b.management().PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("over TLS routes")})
		return err == nil
	}, "node B reaches node A's connection")
	if got := readText(t, client); got != "over TLS routes" {
		t.Fatalf("got %q", got)
	}

	// A stranger with the right secret but another CA's certificate.
	var seedLog testutil.Buffer
	c := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: "s", RouteCAFile: caFile, RouteCertFile: certFile, RouteKeyFile: keyFile, Logger: newLogger(&seedLog)})
	other, otherCert, otherKey := testPKI(t, t.TempDir())
	stranger := startNode(t, cluster.Config{API: "test", Listen: "127.0.0.1:0", Secret: "s", RouteCAFile: other, RouteCertFile: otherCert, RouteKeyFile: otherKey, Peers: []string{c.node.ClusterAddr().String()}, PeerWait: time.Millisecond})
	testutil.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(seedLog.String(), "TLS")
	}, "the node logs the refused TLS route; its log:\n%s", seedLog.String())
	if c.node.Peers() != 0 || stranger.node.Peers() != 0 {
		t.Fatalf("a route with another CA's certificate: peers %d, %d", c.node.Peers(), stranger.node.Peers())
	}
}
