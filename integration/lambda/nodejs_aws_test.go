package lambda_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/integration/lambda"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// executeAPIHost is the API's AWS host name that handlers build.
const executeAPIHost = "abcde12345.execute-api.us-east-1.amazonaws.com"

// seen is a request the fake gateway received.
type seen struct {
	Method, Path, Host, SNI, Authorization, Body string
	TLS                                          bool
}

// fakeGateway serves HTTPS (with a certificate for executeAPIHost from a CA
// of its own) and plain HTTP on one port, as the gateway does, and records
// the requests. caFile is the CA's PEM, for NODE_EXTRA_CA_CERTS.
type fakeGateway struct {
	addr   string
	caFile string
	mu     sync.Mutex
	reqs   []seen
}

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: executeAPIHost},
		DNSNames:     []string{executeAPIHost},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(g.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, Host: r.Host, Authorization: r.Header.Get("Authorization"), Body: string(body), TLS: r.TLS != nil}
		if r.TLS != nil {
			s.SNI = r.TLS.ServerName
		}
		g.mu.Lock()
		g.reqs = append(g.reqs, s)
		g.mu.Unlock()
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/@connections/") {
			return // PostToConnection: 200, no body
		}
		io.WriteString(w, "hello from the gateway")
	})}
	go srv.Serve(&sniffListener{Listener: ln, tls: tlsConfig})
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *fakeGateway) requests() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.reqs...)
}

// env is what the lead sets in a function's environment for the redirect.
func (g *fakeGateway) env() map[string]string {
	return map[string]string{
		"SWITCHBOARD_EXECUTE_API_HOST": executeAPIHost,
		"SWITCHBOARD_GATEWAY_ADDR":     g.addr,
		"NODE_EXTRA_CA_CERTS":          g.caFile,
		"AWS_ACCESS_KEY_ID":            "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":        "secret",
		"AWS_REGION":                   "us-east-1",
	}
}

// sniffListener tells TLS from plain HTTP by the first byte.
type sniffListener struct {
	net.Listener
	tls *tls.Config
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	first, err := r.Peek(1)
	c.SetReadDeadline(time.Time{})
	pc := peekedConn{Conn: c, r: r}
	if err == nil && first[0] == 0x16 { // a TLS handshake record
		return tls.Server(pc, l.tls), nil
	}
	return pc, nil
}

func TestNodeExecuteAPIRedirect(t *testing.T) {
	t.Parallel()
	g := newFakeGateway(t)
	fn, _ := nodeFunction(t, "basic", "index.handler", lambda.Options{Env: g.env()})
	for _, c := range []struct {
		payload string
		tls     bool
		path    string
	}{
		{`{"op":"get","url":"https://` + executeAPIHost + `/dev/@connections/abc"}`, true, "/dev/@connections/abc"},
		{`{"op":"get","url":"http://` + executeAPIHost + `/dev/plain"}`, false, "/dev/plain"},
		{`{"op":"get","url":"https://` + strings.ToUpper(executeAPIHost) + `:443/dev/upper"}`, true, "/dev/upper"},
		{`{"op":"tls","host":"` + executeAPIHost + `","path":"/dev/raw-tls"}`, true, "/dev/raw-tls"},
		{`{"op":"fetch","url":"https://` + executeAPIHost + `/dev/fetch"}`, true, "/dev/fetch"},
	} {
		v, err := call(t, fn, c.payload)
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if got := jsonOf(v); got != `{"body":"hello from the gateway","status":200}` {
			t.Fatalf("%s: %s", c.payload, got)
		}
		reqs := g.requests()
		r := reqs[len(reqs)-1]
		if r.Path != c.path || r.TLS != c.tls || !strings.EqualFold(r.Host, executeAPIHost) || (c.tls && r.SNI != executeAPIHost) {
			t.Fatalf("%s: the gateway saw %+v", c.payload, r)
		}
	}
}

// sdkV2Dir is the aws-sdk v2 fixture, under testdata/node; scripts/node-deps
// installs its node_modules.
func sdkV2Dir(t *testing.T) string {
	t.Helper()
	needNode(t)
	dir := filepath.Join(nodeTestdata, "sdkv2")
	testutil.RequireNPMPackages(t, dir)
	return "sdkv2"
}

// fakeDynamoDB answers ListTables with its name as the only table, and Scan
// with one item.
func fakeDynamoDB(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch target := r.Header.Get("X-Amz-Target"); target {
		case "DynamoDB_20120810.ListTables":
			io.WriteString(w, `{"TableNames":["`+name+`"]}`)
		case "DynamoDB_20120810.Scan":
			io.WriteString(w, `{"Items":[{"id":{"S":"from-`+name+`"}}],"Count":1,"ScannedCount":1}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"UnknownOperationException","message":"`+target+`"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNodeSDKv2Endpoints: the AWS SDK for JavaScript v2 ignores
// AWS_ENDPOINT_URL_<SERVICE>; the runtime client makes its clients use it,
// unless the code gives one.
func TestNodeSDKv2Endpoints(t *testing.T) {
	t.Parallel()
	dir := sdkV2Dir(t)
	fromEnv, inCode := fakeDynamoDB(t, "env"), fakeDynamoDB(t, "code")
	env := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": fromEnv.URL,
		"AWS_ENDPOINT_URL":          "http://127.0.0.1:1", // a service-specific one wins
		"AWS_ACCESS_KEY_ID":         "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":     "secret",
		"AWS_REGION":                "us-east-1",
	}
	fn, _ := nodeFunction(t, dir, "index.handler", lambda.Options{Env: env, Concurrency: 1})
	for _, c := range []struct{ payload, want string }{
		{`{"op":"env"}`, `["env"]`},
		{`{"op":"explicit","endpoint":"` + inCode.URL + `"}`, `["code"]`},
		{`{"op":"global","endpoint":"` + inCode.URL + `"}`, `["code"]`},
		{`{"op":"env"}`, `["env"]`}, // AWS.config restored
		{`{"op":"clientsPath"}`, `["env"]`},
		{`{"op":"document"}`, `[{"id":"from-env"}]`},
	} {
		v, err := call(t, fn, c.payload)
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if got := jsonOf(v); got != c.want {
			t.Errorf("%s: got %s, want %s", c.payload, got, c.want)
		}
	}
	// Imported from an ES module; and AWS_ENDPOINT_URL alone.
	global := map[string]string{"AWS_ENDPOINT_URL": fromEnv.URL, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
	for _, c := range []struct {
		handler string
		env     map[string]string
	}{{"esm.handler", env}, {"index.handler", global}} {
		fn, _ := nodeFunction(t, dir, c.handler, lambda.Options{Env: c.env})
		v, err := call(t, fn, `{"op":"env"}`)
		if err != nil || jsonOf(v) != `["env"]` {
			t.Errorf("%s with %v: %v %v", c.handler, c.env, jsonOf(v), err)
		}
	}
}

// TestNodeSDKv2ExecuteAPI: the management API client of SDK v2 posts to the
// API's execute-api name, which reaches the local gateway, signed for that
// name.
func TestNodeSDKv2ExecuteAPI(t *testing.T) {
	t.Parallel()
	dir := sdkV2Dir(t)
	g := newFakeGateway(t)
	fn, _ := nodeFunction(t, dir, "index.handler", lambda.Options{Env: g.env()})
	v, err := call(t, fn, `{"op":"post","endpoint":"https://`+executeAPIHost+`/dev","connectionId":"conn-1","data":"hi"}`)
	if err != nil || v != "posted" {
		t.Fatalf("post: %v %v", v, err)
	}
	checkPost(t, g, "conn-1", "hi")
}

func checkPost(t *testing.T, g *fakeGateway, conn, data string) {
	t.Helper()
	reqs := g.requests()
	if len(reqs) == 0 {
		t.Fatal("the gateway received nothing")
	}
	r := reqs[len(reqs)-1]
	if r.Method != "POST" || r.Path != "/dev/@connections/"+conn || r.Body != data || !r.TLS || r.SNI != executeAPIHost || r.Host != executeAPIHost ||
		!strings.Contains(r.Authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(r.Authorization, "/execute-api/aws4_request") {
		t.Fatalf("the gateway saw %+v", r)
	}
}

// TestNodeSDKv3NotBundled: functions import the AWS SDK for JavaScript v3
// without bundling it, as Lambda's runtime includes it: Switchboard installs
// the package into the SDK directory on first use (once, whatever the
// number of instances asking), for ES modules and CommonJS. This installs
// @aws-sdk/client-apigatewaymanagementapi from the npm registry.
func TestNodeSDKv3NotBundled(t *testing.T) {
	t.Parallel()
	needNode(t)
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is not on PATH: this test installs @aws-sdk/client-apigatewaymanagementapi with it")
	}
	g := newFakeGateway(t)
	code := copyDir(t, filepath.Join(nodeTestdata, "sdkv3"))
	sdk := t.TempDir()
	const pkg = "@aws-sdk/client-apigatewaymanagementapi"
	// Two instances import it at once.
	esm, rec := nodeFunction(t, code, "index.handler", lambda.Options{FunctionName: "sdkv3", Env: g.env(), NodeSDKDir: sdk, Concurrency: 2, Timeout: 10 * time.Second})
	payload := `{"endpoint":"https://` + executeAPIHost + `/dev","connectionId":"c1","data":"hello"}`
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			out, err := esm.Invoke(ctx, []byte(payload))
			if err != nil || string(out) != `{"posted":true,"module":"esm"}` {
				t.Errorf("esm: %s %v", out, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkPost(t, g, "c1", "hello")
	installs := 0
	for _, m := range rec.all() {
		if strings.HasPrefix(m["msg"], "lambda: installing "+pkg+" for function sdkv3") {
			if !strings.Contains(m["msg"], "into "+sdk) {
				t.Errorf("install line: %q", m["msg"])
			}
			installs++
		}
	}
	if installs != 1 {
		t.Errorf("%d install log lines, want 1", installs)
	}
	if _, err := os.Stat(filepath.Join(sdk, "node_modules", pkg, "package.json")); err != nil {
		t.Fatalf("not in the SDK directory: %v", err)
	}
	// CommonJS, from the same directory, with nothing left to install.
	cjs, rec2 := nodeFunction(t, code, "cjs.handler", lambda.Options{Env: g.env(), NodeSDKDir: sdk})
	out, err := cjs.Invoke(ctx, []byte(strings.Replace(payload, "c1", "c2", 1)))
	if err != nil || string(out) != `{"posted":true,"module":"cjs"}` {
		t.Fatalf("cjs: %s %v", out, err)
	}
	checkPost(t, g, "c2", "hello")
	if rec2.find(func(m map[string]string) bool { return strings.HasPrefix(m["msg"], "lambda: installing") }) != nil {
		t.Error("installed again")
	}
	// Installing what is there is a no-op.
	if err := lambda.InstallNodeSDK(ctx, sdk, pkg); err != nil {
		t.Fatal(err)
	}
	if err := lambda.InstallNodeSDK(ctx, sdk, "left-pad"); err == nil || !strings.Contains(err.Error(), "is not an @aws-sdk/* or @smithy/* package") {
		t.Fatalf("a package outside the SDK: %v", err)
	}
}

// TestNodeSDKInstallFails: without npm, the import fails with an error that
// says what to do.
func TestNodeSDKInstallFails(t *testing.T) {
	needNode(t)
	node, _ := exec.LookPath("node")
	bin := t.TempDir()
	if err := os.Symlink(node, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin) // node, and no npm
	code := copyDir(t, filepath.Join(nodeTestdata, "sdkv3"))
	for _, c := range []struct{ handler, typ, prefix string }{
		{"index.handler", "Error", "Cannot find package '@aws-sdk/client-apigatewaymanagementapi' imported from "},
		{"cjs.handler", "Runtime.ImportModuleError", "Error: Cannot find module '@aws-sdk/client-apigatewaymanagementapi'"},
	} {
		fn, _ := nodeFunction(t, code, c.handler, lambda.Options{})
		_, err := invoke(t, fn, `{}`)
		fe := functionError(t, err)
		if fe.Type != c.typ || !strings.HasPrefix(fe.Message, c.prefix) || !strings.Contains(fe.Message, "npm is not on PATH") {
			t.Errorf("%s: %q %q", c.handler, fe.Type, fe.Message)
		}
	}
}

// fakeNPM puts node and a fake npm, alone, on PATH: it takes delay to
// "install" the @aws-sdk packages it is given (at their version, else
// 1.0.0), whose module exports hello, and logs its arguments to the
// returned file.
func fakeNPM(t *testing.T, delay string) (calls string) {
	t.Helper()
	needNode(t)
	node, _ := exec.LookPath("node")
	bin := t.TempDir()
	if err := os.Symlink(node, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	calls = filepath.Join(bin, "calls")
	npm := `#!/bin/sh
echo "$@" >> ` + calls + `
sleep ` + delay + `
for a in "$@"; do
  case "$a" in @aws-sdk/*)
    rest="${a#@}"
    case "$rest" in
      *@*) name="@${rest%@*}"; version="${rest##*@}";;
      *) name="$a"; version=1.0.0;;
    esac
    mkdir -p "node_modules/$name"
    echo '{"name":"'"$name"'","version":"'"$version"'","main":"index.js"}' > "node_modules/$name/package.json"
    echo 'exports.hello = "from the fake SDK";' > "node_modules/$name/index.js";;
  esac
done
`
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(npm), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
	return calls
}

// TestNodeSDKInstallNotTimed: the installation of an SDK package that a
// handler requires lazily does not count against the invocation's timeout.
// A fake npm takes longer than the timeout to "install" it.
func TestNodeSDKInstallNotTimed(t *testing.T) {
	fakeNPM(t, "1.5")
	fn, _ := nodeFunction(t, "lazysdk", "index.handler", lambda.Options{Timeout: time.Second})
	v, err := call(t, fn, `{}`)
	if err != nil || v != "from the fake SDK" {
		t.Fatalf("got %v %v", v, err)
	}
}

// TestInstallNodeSDK: what is installed is not installed again, unless an
// exact version asked for differs.
func TestInstallNodeSDK(t *testing.T) {
	calls := fakeNPM(t, "0")
	dir := filepath.Join(t.TempDir(), "sdk")
	ctx := context.Background()
	for _, c := range []struct {
		pkg   string
		calls int
	}{
		{"@aws-sdk/client-fake", 1},
		{"@aws-sdk/client-fake", 1},
		{"@aws-sdk/client-fake@1.0.0", 1},
		{"@aws-sdk/client-fake@^1.0.0", 1},
		{"@aws-sdk/client-fake@2.0.0", 2},
		{"@aws-sdk/client-fake@2.0.0", 2},
	} {
		if err := lambda.InstallNodeSDK(ctx, dir, c.pkg); err != nil {
			t.Fatalf("%s: %v", c.pkg, err)
		}
		b, _ := os.ReadFile(calls)
		if n := strings.Count(string(b), "\n"); n != c.calls {
			t.Fatalf("%s: npm ran %d times in all, want %d:\n%s", c.pkg, n, c.calls, b)
		}
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "install ") || !strings.HasSuffix(strings.TrimSpace(string(b)), " @aws-sdk/client-fake@2.0.0") {
		t.Fatalf("npm arguments: %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Fatalf("no package.json in the SDK directory: %v", err)
	}
	for _, bad := range []string{"left-pad", "@aws-sdk/../x", "@aws-sdk/client-x@1; rm -rf /", ""} {
		if err := lambda.InstallNodeSDK(ctx, dir, bad); err == nil || !strings.Contains(err.Error(), "is not an @aws-sdk/* or @smithy/* package") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
