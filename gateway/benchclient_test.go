package gateway

// The client side of the gateway's large benchmarks. 10,000 server
// connections and 10,000 client connections do not fit in one process under
// the open-file limit, so the clients ("the fleet") run in a child process:
// the test binary re-executed with -test.run=^TestBenchClientFleet$ and the
// fleet's parameters in the environment. Parent and child talk over the
// child's stdin and stdout, one line per message:
//
//	child -> parent   ready N     every connection completed its handshake
//	                  done K      every connection received message number K
//	                  error ...   something went wrong; the child gives up
//	parent -> child   close       close every connection and exit (so does EOF)
//
// Message number K is a text frame whose payload starts with K as 8 ASCII
// digits (see benchPayload).

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/internal/testutil"
	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

const (
	envFleetURL   = "SWITCHBOARD_BENCH_FLEET_URL"   // set only in the child
	envFleetConns = "SWITCHBOARD_BENCH_FLEET_CONNS" // set only in the child
	// fleetMaxRounds bounds the message numbers the fleet counts.
	fleetMaxRounds = 1 << 16
	// fleetDialers is how many handshakes the fleet runs at once.
	fleetDialers = 32
)

// TestBenchClientFleet is the child process of the benchmarks. It does
// nothing unless a benchmark started it.
func TestBenchClientFleet(t *testing.T) {
	url := os.Getenv(envFleetURL)
	if url == "" {
		t.Skip("the client fleet of the gateway benchmarks; runs only in the child process they start")
	}
	n, err := strconv.Atoi(os.Getenv(envFleetConns))
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", envFleetConns, os.Getenv(envFleetConns))
	}
	if err := runFleet(url, n, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stdout, "error %v\n", err)
		t.Fatal(err)
	}
}

// runFleet holds n client connections to url, reports on out, and returns
// when in says close or ends.
func runFleet(url string, n int, in io.Reader, out io.Writer) error {
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		outMu.Unlock()
	}
	counts := make([]atomic.Int32, fleetMaxRounds)
	conns := make([]net.Conn, n)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()

	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		dialErr error
	)
	u, err := neturl.Parse(url)
	if err != nil {
		return fmt.Errorf("fleet URL: %w", err)
	}
	for range fleetDialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var (
					nc  net.Conn
					br  *bufio.Reader
					err error
				)
				for try := 0; try < 3; try++ {
					if nc, br, err = fleetDial(u); err == nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if err != nil {
					errOnce.Do(func() { dialErr = fmt.Errorf("dial %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				conns[i] = nc
				var rd io.Reader = nc
				if br.Buffered() > 0 { // the server's first frames came with the handshake
					rd = io.MultiReader(io.LimitReader(br, int64(br.Buffered())), nc)
				}
				go fleetRead(rd, int32(n), counts, say)
			}
		}()
	}
	wg.Wait()
	if dialErr != nil {
		return dialErr
	}
	say("ready %d", n)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() == "close" {
			break
		}
	}
	return nil
}

// fleetDial opens one fleet connection: the opening handshake by hand (the
// fleet reads frames itself, see fleetRead), over TLS for wss. br holds
// whatever the server sent after its response.
func fleetDial(u *neturl.URL) (nc net.Conn, br *bufio.Reader, err error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443"}[u.Scheme])
	}
	d := &net.Dialer{Timeout: 30 * time.Second}
	if u.Scheme == "wss" {
		// A load client: the certificate is the benchmark's own.
		nc, err = (&tls.Dialer{NetDialer: d, Config: &tls.Config{InsecureSkipVerify: true}}).Dial("tcp", host)
	} else {
		nc, err = d.Dial("tcp", host)
	}
	if err != nil {
		return nil, nil, err
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", u.RequestURI(), u.Host, key); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br = bufio.NewReaderSize(nc, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("handshake response: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsproto.AcceptKey(key) {
		nc.Close()
		return nil, nil, fmt.Errorf("handshake: status %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// fleetRead is one client connection's reader: it counts text frames by
// their message number, saying "done K" when the n-th copy of K arrives. It
// parses frames itself from one small buffer, so a message costs one read.
func fleetRead(r io.Reader, n int32, counts []atomic.Int32, say func(string, ...any)) {
	buf := make([]byte, 512)
	have := 0
	for {
		m, err := r.Read(buf[have:])
		have += m
		for {
			op, payload, size, perr := parseServerFrame(buf[:have], len(buf))
			if perr != nil {
				say("error reading frames: %v", perr)
				return
			}
			if size == 0 {
				break // incomplete
			}
			switch op {
			case 0x1: // text
				k, ok := benchRound(payload)
				if !ok || k >= len(counts) {
					say("error unexpected message %q", payload)
					return
				}
				if counts[k].Add(1) == n {
					say("done %d", k)
				}
			case 0x8: // close
				return
			}
			have = copy(buf, buf[size:have])
		}
		if err != nil {
			return // the connection ended
		}
	}
}

// parseServerFrame parses one unmasked, unfragmented frame at the start of
// b. size is 0 while the frame is incomplete; frames larger than max are an
// error (the fleet only expects small ones).
func parseServerFrame(b []byte, max int) (op byte, payload []byte, size int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, nil
	}
	if b[0]&0x80 == 0 || b[1]&0x80 != 0 {
		return 0, nil, 0, errors.New("fragmented or masked server frame")
	}
	hl, pl := 2, int(b[1]&0x7f)
	switch pl {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, nil
		}
		hl, pl = 4, int(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		return 0, nil, 0, errors.New("frame too large for the bench client")
	}
	if hl+pl > max {
		return 0, nil, 0, fmt.Errorf("frame of %d bytes too large for the bench client", hl+pl)
	}
	if len(b) < hl+pl {
		return 0, nil, 0, nil
	}
	return b[0] & 0x0f, b[hl : hl+pl], hl + pl, nil
}

// benchPayload is message number k: k in 8 digits, padded to size bytes.
func benchPayload(k, size int) []byte {
	p := []byte(fmt.Sprintf("%08d", k))
	for len(p) < size {
		p = append(p, 'x')
	}
	return p
}

// benchRound reads the message number of a benchPayload.
func benchRound(p []byte) (int, bool) {
	if len(p) < 8 {
		return 0, false
	}
	k := 0
	for _, c := range p[:8] {
		if c < '0' || c > '9' {
			return 0, false
		}
		k = k*10 + int(c-'0')
	}
	return k, true
}

// fleet is the parent's handle on the child process.
type fleet struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan fleetLine
	done  chan struct{} // closed when the child has exited
}

type fleetLine struct {
	text string
	at   time.Time // when the parent read the line
}

// startFleet starts a child process holding n connections to wsURL.
func startFleet(tb testing.TB, wsURL string, n int) *fleet {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatalf("finding the test binary: %v", err)
	}
	cmd := exec.Command(exe, "-test.run=^TestBenchClientFleet$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), envFleetURL+"="+wsURL, envFleetConns+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the client fleet: %v", err)
	}
	f := &fleet{cmd: cmd, in: in, lines: make(chan fleetLine, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- fleetLine{sc.Text(), time.Now()}
		}
		close(f.lines)
		cmd.Wait()
		close(f.done)
	}()
	tb.Cleanup(f.stop)
	return f
}

// await waits for the line want and returns when it was read. Other lines
// are skipped; an error line or the child's exit is an error.
func (f *fleet) await(want string, timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-f.lines:
			switch {
			case !ok:
				return time.Time{}, fmt.Errorf("client fleet exited while waiting for %q", want)
			case l.text == want:
				return l.at, nil
			case strings.HasPrefix(l.text, "error"):
				return time.Time{}, fmt.Errorf("client fleet: %s", l.text)
			}
		case <-t.C:
			return time.Time{}, fmt.Errorf("no %q from the client fleet within %v", want, timeout)
		}
	}
}

// stop tells the child to close its connections and waits for it to exit.
func (f *fleet) stop() {
	io.WriteString(f.in, "close\n")
	f.in.Close()
	go func() {
		for range f.lines { // drain so the reader goroutine can finish
		}
	}()
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		f.cmd.Process.Kill()
		<-f.done
	}
}

// startBenchGateway serves a gateway on a loopback port with no connect
// rate limit and a silent logger. It returns the server and its ws:// URL;
// the server is shut down when the benchmark ends.
func startBenchGateway(tb testing.TB, opts Options) (*Server, string) {
	tb.Helper()
	opts.Stage = "dev"
	opts.Limits.ConnectRate = -1
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: s}
	go hs.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		hs.Close()
	})
	return s, "ws://" + ln.Addr().String() + "/dev"
}

// waitConnections waits until the server has registered n connections.
func waitConnections(tb testing.TB, s *Server, n int, timeout time.Duration) {
	tb.Helper()
	testutil.Eventually(tb, timeout, func() bool { return s.ConnectionCount() == n }, "%d registered connections", n)
}

// benchEnvInt reads a positive integer from the environment.
func benchEnvInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// settle waits until no writer goroutine of the gateway runs for conns, then
// collects garbage, so that every round starts from the same state.
func settle(tb testing.TB, conns []*conn) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := 0
		for _, c := range conns {
			c.mu.Lock()
			if c.writing || len(c.queue) > 0 {
				busy++
			}
			c.mu.Unlock()
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d connections still writing after 10s", busy)
		}
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
}
