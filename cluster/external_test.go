package cluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// writeUserSeed makes an nkey user and writes its seed to a file; it
// returns the file, the seed and the public key.
func writeUserSeed(t *testing.T, dir, name string) (file, seed, pub string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := kp.Seed()
	p, _ := kp.PublicKey()
	file = filepath.Join(dir, name+".nk")
	if err := os.WriteFile(file, append(s, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, string(s), p
}

// twoServeNodes runs two serve nodes with the args of each, one client on
// each, and checks that each node reaches both clients.
func twoServeNodes(t *testing.T, s *serveNodes, cfg [2]string, env []string, args [2][]string) {
	t.Helper()
	var addrs, ids []string
	var clients []*websocket.Conn
	for i := range 2 {
		p := s.start(cfg[i], env, args[i]...)
		c, id := s.dial("ws://" + p.addr + "/dev")
		addrs, ids, clients = append(addrs, p.addr), append(ids, id), append(clients, c)
	}
	if ids[0][:4] == ids[1][:4] {
		t.Fatalf("the nodes share the prefix %s", ids[0][:4])
	}
	crossPost(t, addrs, clients, ids)
}

// refused runs a serve node that must not start, and returns its output,
// which must name the NATS URL and say why.
func refused(t *testing.T, s *serveNodes, cfg string, env []string, url, why string, args ...string) string {
	t.Helper()
	out := s.start(cfg, env, args...).exited(t)
	if !strings.Contains(out, "connect to NATS "+url) || !strings.Contains(out, why) {
		t.Fatalf("the refusal does not name %s and %q:\n%s", url, why, out)
	}
	return out
}

// TestExternalNATSProcessNkeys: a separate nats-server process that
// requires authentication, with a user and password and a user known by
// its public nkey; `switchboard serve` nodes join it with --cluster, one
// with the password in the URL, one with --cluster-nkey, and reach each
// other's clients. A node with an nkey the server does not know, or the
// wrong password, does not start: it says which NATS refused it, and
// shows neither the seed nor the password.
func TestExternalNATSProcessNkeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedFile, _, pub := writeUserSeed(t, dir, "node")
	wrongFile, wrongSeed, _ := writeUserSeed(t, dir, "stranger")
	const pass = "pass-of-the-nats-test"
	nats := startNATSProc(t, fmt.Sprintf(`authorization {
  users = [
    {user: switchboard, password: %q}
    {nkey: %s}
  ]
}`, pass, pub))
	s := newServeNodes(t)
	cfg := s.config("api", "")
	twoServeNodes(t, s, [2]string{cfg, cfg}, nil, [2][]string{
		{"--cluster", "nats://switchboard:" + pass + "@" + nats.addr},
		{"--cluster", nats.url("nats"), "--cluster-nkey", seedFile},
	})

	out := refused(t, s, cfg, nil, nats.url("nats"), "Authorization Violation", "--cluster", nats.url("nats"), "--cluster-nkey", wrongFile)
	mustNotContain(t, out, wrongSeed, "nkey seed")
	out = refused(t, s, cfg, nil, "nats://switchboard:xxxxx@"+nats.addr, "Authorization Violation", "--cluster", "nats://switchboard:wrong-password-42@"+nats.addr)
	mustNotContain(t, out, "wrong-password-42", "password")
}

// operatorPKI is a NATS in operator (JWT) mode: an operator, a system
// account and an account, preloaded in the server's memory resolver.
type operatorPKI struct {
	conf    string        // the server's config lines
	account nkeys.KeyPair // signs the users
}

func newOperatorPKI(t *testing.T, dir string) *operatorPKI {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	op, err := nkeys.CreateOperator()
	must(err)
	opPub, _ := op.PublicKey()
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()

	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "test-operator"
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	must(err)
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	sysJWT, err := sc.Encode(op)
	must(err)
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "switchboard"
	accJWT, err := ac.Encode(op)
	must(err)
	opFile := filepath.Join(dir, "operator.jwt")
	must(os.WriteFile(opFile, []byte(opJWT), 0o600))
	return &operatorPKI{
		account: acc,
		conf: fmt.Sprintf("operator: %q\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n",
			opFile, sysPub, sysPub, sysJWT, accPub, accJWT),
	}
}

// creds writes a .creds file of a new user signed by signer.
func writeCreds(t *testing.T, dir, name string, signer nkeys.KeyPair) (file, seed string) {
	t.Helper()
	u, _ := nkeys.CreateUser()
	pub, _ := u.PublicKey()
	s, _ := u.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	ujwt, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwt.FormatUserConfig(ujwt, s)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, name+".creds")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, string(s)
}

// TestExternalNATSProcessOperatorCreds: a nats-server process in operator
// mode (JWTs: operator, accounts, users); two serve nodes join it with
// --cluster-creds and reach each other's clients, and a third with the
// credentials of a user of an account the server does not know is
// refused, naming the URL but not the seed.
func TestExternalNATSProcessOperatorCreds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := newOperatorPKI(t, dir)
	nats := startNATSProc(t, pki.conf)
	credsA, _ := writeCreds(t, dir, "node-a", pki.account)
	credsB, _ := writeCreds(t, dir, "node-b", pki.account)
	strangerAccount, _ := nkeys.CreateAccount()
	wrong, wrongSeed := writeCreds(t, dir, "stranger", strangerAccount)

	s := newServeNodes(t)
	cfg := s.config("api", "")
	// One by flag, one by the config file's credsFile.
	cfgB := s.config("api-b", fmt.Sprintf("cluster: {url: %q, credsFile: %q}\n", nats.url("nats"), credsB))
	twoServeNodes(t, s, [2]string{cfg, cfgB}, nil, [2][]string{
		{"--cluster", nats.url("nats"), "--cluster-creds", credsA},
		nil,
	})
	out := refused(t, s, cfg, nil, nats.url("nats"), "Authorization Violation", "--cluster", nats.url("nats"), "--cluster-creds", wrong)
	mustNotContain(t, out, wrongSeed, "nkey seed")
}

// TestExternalNATSProcessTLS: a nats-server process that requires TLS and
// a password; two serve nodes join it with the config file's cluster
// section (tls:// URL, caFile, passwordEnv) and reach each other's
// clients; a node without the CA is refused with the TLS error, naming the
// URL.
func TestExternalNATSProcessTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, certFile, keyFile := testPKI(t, dir)
	const pass = "tls-test-password"
	nats := startNATSProc(t, fmt.Sprintf(`tls {
  cert_file: %q
  key_file: %q
}
authorization { user: switchboard, password: %q }`, certFile, keyFile, pass))
	s := newServeNodes(t)
	env := []string{"SWITCHBOARD_TEST_NATS_PASSWORD=" + pass}
	cfg := s.config("api", fmt.Sprintf("cluster:\n  url: %s\n  user: switchboard\n  passwordEnv: SWITCHBOARD_TEST_NATS_PASSWORD\n  caFile: %s\n", nats.url("tls"), caFile))
	twoServeNodes(t, s, [2]string{cfg, cfg}, env, [2][]string{nil, nil})

	noCA := s.config("no-ca", fmt.Sprintf("cluster:\n  url: %s\n  user: switchboard\n  passwordEnv: SWITCHBOARD_TEST_NATS_PASSWORD\n", nats.url("tls")))
	out := refused(t, s, noCA, env, nats.url("tls"), "certificate signed by unknown authority")
	mustNotContain(t, out, pass, "password")
}

// TestServeRouteTLSFlags: two serve nodes with embedded NATS whose routes
// are mutual TLS, set with the --cluster-route-cert, -key and -ca flags,
// reach each other's clients. (A peer whose certificate another CA signed
// is refused: tls_test.go.)
func TestServeRouteTLSFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, certFile, keyFile := testPKI(t, dir)
	s := newServeNodes(t)
	cfg := s.config("api", "")
	env := []string{"SWITCHBOARD_CLUSTER_SECRET=route-tls-flags"}
	first := freeAddr(t)
	tlsArgs := []string{"--cluster-route-cert", certFile, "--cluster-route-key", keyFile, "--cluster-route-ca", caFile}
	twoServeNodes(t, s, [2]string{cfg, cfg}, env, [2][]string{
		append([]string{"--cluster-listen", first}, tlsArgs...),
		append([]string{"--cluster-listen", freeAddr(t), "--cluster-peers", first}, tlsArgs...),
	})
}
