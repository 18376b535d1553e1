package bench

// The load: lean WebSocket clients (gorilla/websocket with small buffers,
// one reader goroutine each) held by a worker. A worker runs in this
// process, or as a child process (this binary re-executed) when the
// connections do not fit under the open-file limit of one process. The
// parent and a child speak JSON lines over the child's stdin and stdout;
// an in-process worker gets the same commands over a channel.
//
//	parent -> worker   {"op":"go"}      dial (and join the room), then send "ready"
//	                   {"op":"drain","deadline":NS}
//	                                    wait until every connection has every
//	                                    message (or the deadline), then "report"
//	                   {"op":"report"}  report now
//	                   {"op":"close"}   close every connection and stop (so does EOF)
//	worker -> parent   {"ev":"prepared"} tokens minted, ready to dial
//	                   {"ev":"progress","done":N,"failed":F,"deliveries":D}
//	                   {"ev":"ready","dial":{...}}
//	                   {"ev":"report","recv":{...}}
//	                   {"ev":"error","msg":"..."}

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/protocol"
	"github.com/switchboard-ws/switchboard/internal/bench/hist"
)

// Worker modes.
const (
	modeConnect = "connect" // dial and hold
	modeReceive = "receive" // dial, join the room, count deliveries
)

// workerSpec is everything a worker needs; it travels as the first line to
// a child worker.
type workerSpec struct {
	Index       int           `json:"index"`
	Mode        string        `json:"mode"`
	URL         string        `json:"url"`
	URLs        []string      `json:"urls,omitempty"`   // several nodes: connection g dials URLs[g % len(URLs)]
	NoJoin      bool          `json:"noJoin,omitempty"` // receive mode: count deliveries without joining (the bench fills the room)
	Secret      string        `json:"secret,omitempty"` // hex; empty: no token
	Conns       int           `json:"conns"`
	Offset      int           `json:"offset"` // global index of the first connection
	Users       int           `json:"users"`
	Tenants     int           `json:"tenants"`          // 0: one tenant, Tenant
	Tenant      string        `json:"tenant,omitempty"` // with Tenants == 0
	Concurrency int           `json:"concurrency"`
	SourceIP    string        `json:"sourceIp,omitempty"`
	RoomID      string        `json:"roomId,omitempty"`
	Nonce       string        `json:"nonce,omitempty"`
	Messages    int           `json:"messages"`
	Expect      int           `json:"expect,omitempty"` // messages each connection gets, when not all Messages go to its room
	T0          int64         `json:"t0"`               // unix ns: origin of the time bins
	Bin         time.Duration `json:"bin"`              // width of a time bin
	Timeout     time.Duration `json:"timeout"`
}

type command struct {
	Op       string `json:"op"`
	Deadline int64  `json:"deadline,omitempty"`
}

type event struct {
	Ev         string      `json:"ev"`
	Worker     int         `json:"worker"`
	Done       int64       `json:"done,omitempty"`
	Failed     int64       `json:"failed,omitempty"`
	Deliveries int64       `json:"deliveries,omitempty"`
	Dial       *dialReport `json:"dial,omitempty"`
	Recv       *recvReport `json:"recv,omitempty"`
	Msg        string      `json:"msg,omitempty"`
}

// dialReport is what a worker found opening its connections.
type dialReport struct {
	Attempted int             `json:"attempted"`
	OK        int             `json:"ok"`
	Failures  map[string]int  `json:"failures"`
	Handshake *hist.Histogram `json:"handshake"`        // ns, successful handshakes
	Join      *hist.Histogram `json:"join"`             // ns, joinRoom round trips
	Start     int64           `json:"start"`            // unix ns: first dial
	End       int64           `json:"end"`              // unix ns: last handshake done
	Bins      []int64         `json:"bins"`             // successful handshakes per bin
	PerURL    []int           `json:"perUrl,omitempty"` // with URLs: connections ready per node
}

// recvReport is what a worker's connections received.
type recvReport struct {
	Deliveries int64           `json:"deliveries"`
	Latency    *hist.Histogram `json:"latency"`          // ns, send stamp to receipt
	Count      []int32         `json:"count"`            // per message: deliveries
	Last       []int64         `json:"last"`             // per message: unix ns of the last delivery
	Bins       []int64         `json:"bins"`             // deliveries per bin
	Dropped    int             `json:"dropped"`          // connections closed by the server or the network
	Other      int64           `json:"other"`            // other frames (presence, user_joined, ...)
	Causes     map[string]int  `json:"causes,omitempty"` // why connections were dropped
	Open       int             `json:"open"`
}

// maxBins bounds the time series (at 100 ms bins: an hour).
const maxBins = 36000

type leanConn struct {
	ws     *websocket.Conn
	joined chan bool // receive mode: the reply to joinRoom
	got    atomic.Int32
	member atomic.Bool   // receive mode: joined the room
	dead   atomic.Bool   // the reader stopped
	done   chan struct{} // closed when the reader returns
}

// DefaultCloseWait bounds how long closeAll waits for the server's close
// frames after sending its own, for all connections together.
const DefaultCloseWait = 3 * time.Second

type worker struct {
	spec   workerSpec
	emit   func(event)
	tokens []string

	mu    sync.Mutex
	conns []*leanConn

	closing    atomic.Bool
	dialed     atomic.Int64
	failed     atomic.Int64
	dropped    atomic.Int64
	other      atomic.Int64
	deliveries atomic.Int64

	perURL []atomic.Int64 // with spec.URLs: connections ready per node

	handshake *hist.Atomic
	join      *hist.Atomic
	latency   *hist.Atomic
	dialBins  []atomic.Int64
	recvBins  []atomic.Int64
	count     []atomic.Int32
	last      []atomic.Int64
	failMu    sync.Mutex
	failures  map[string]int
	marker    []byte
}

// identity of the connection with global index g.
func (s *workerSpec) identity(g int) auth.Identity {
	u := g % max(1, s.Users)
	tenant := s.Tenant
	if s.Tenants > 0 {
		tenant = "bench-t" + strconv.Itoa(g%s.Tenants)
	}
	return auth.Identity{UserID: "bench-u" + strconv.Itoa(u), Username: "Bench " + strconv.Itoa(u), TenantID: tenant}
}

// runWorker runs one worker until close (or the end of cmds).
func runWorker(ctx context.Context, spec workerSpec, cmds <-chan command, emit func(event)) {
	w := &worker{spec: spec, emit: func(ev event) { ev.Worker = spec.Index; emit(ev) },
		handshake: hist.NewAtomic(), join: hist.NewAtomic(), latency: hist.NewAtomic(),
		failures: map[string]int{}}
	if spec.Bin <= 0 {
		w.spec.Bin = 100 * time.Millisecond
	}
	w.dialBins = make([]atomic.Int64, maxBins)
	if spec.Mode == modeReceive {
		w.recvBins = make([]atomic.Int64, maxBins)
		w.count = make([]atomic.Int32, spec.Messages)
		w.last = make([]atomic.Int64, spec.Messages)
		w.marker = []byte(`"content":"sbm:` + spec.Nonce + ":")
	}
	defer w.closeAll()
	if err := w.prepare(); err != nil {
		w.emit(event{Ev: "error", Msg: err.Error()})
		return
	}
	w.emit(event{Ev: "prepared"})
	stopProgress := make(chan struct{})
	defer close(stopProgress)
	go w.progress(stopProgress)
	for {
		var cmd command
		var ok bool
		select {
		case cmd, ok = <-cmds:
		case <-ctx.Done():
			return
		}
		if !ok {
			return
		}
		switch cmd.Op {
		case "go":
			rep := w.dialAll(ctx)
			w.emit(event{Ev: "ready", Dial: rep})
		case "drain":
			w.drain(ctx, time.Unix(0, cmd.Deadline))
			w.emit(event{Ev: "report", Recv: w.recvReport()})
		case "report":
			w.emit(event{Ev: "report", Recv: w.recvReport()})
		case "close":
			return
		default:
			w.emit(event{Ev: "error", Msg: "unknown command " + cmd.Op})
		}
	}
}

func (w *worker) prepare() error {
	if w.spec.Secret == "" {
		return nil
	}
	secret, err := hex.DecodeString(w.spec.Secret)
	if err != nil {
		return fmt.Errorf("worker: secret: %w", err)
	}
	now := time.Now()
	w.tokens = make([]string, w.spec.Conns)
	for i := range w.tokens {
		tok, err := auth.MintDevToken(secret, w.spec.identity(w.spec.Offset+i), 2*time.Hour, now)
		if err != nil {
			return fmt.Errorf("worker: minting a token: %w", err)
		}
		w.tokens[i] = tok
	}
	return nil
}

func (w *worker) progress(stop <-chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var last event
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ev := event{Ev: "progress", Done: w.dialed.Load(), Failed: w.failed.Load(), Deliveries: w.deliveries.Load()}
			if ev != last {
				w.emit(ev)
				last = ev
			}
		}
	}
}

func (w *worker) bin(bins []atomic.Int64, at int64) {
	i := (at - w.spec.T0) / int64(w.spec.Bin)
	if i >= 0 && i < int64(len(bins)) {
		bins[i].Add(1)
	}
}

// dialAll opens the worker's connections, Concurrency at a time.
func (w *worker) dialAll(ctx context.Context) *dialReport {
	var localAddr net.Addr
	if w.spec.SourceIP != "" {
		localAddr = &net.TCPAddr{IP: net.ParseIP(w.spec.SourceIP)}
	}
	// No TCP keepalive from the clients: thousands of connections opened
	// within a second have their 15 s keepalive timers fire together, and
	// on loopback such a burst overflows the kernel's backlog
	// (net.core.netdev_max_backlog, 1000 here): probes are dropped and
	// connections idle for ~150 s die with ETIMEDOUT.
	nd := &net.Dialer{LocalAddr: localAddr, Timeout: w.spec.Timeout, KeepAlive: -1}
	d := &websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: w.spec.Timeout,
		ReadBufferSize:   512,
		WriteBufferSize:  512,
		WriteBufferPool:  &sync.Pool{},
	}
	urls := w.spec.URLs
	if len(urls) == 0 {
		urls = []string{w.spec.URL}
	}
	parsed := make([]*url.URL, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			w.fail("bad URL")
			return w.dialReport(0, 0)
		}
		parsed[i] = u
	}
	w.perURL = make([]atomic.Int64, len(parsed))
	var next atomic.Int64
	var wg sync.WaitGroup
	var first, lastDone atomic.Int64
	first.Store(time.Now().UnixNano())
	conc := max(1, min(w.spec.Concurrency, w.spec.Conns))
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= w.spec.Conns || ctx.Err() != nil {
					return
				}
				node := (w.spec.Offset + i) % len(parsed) // round robin over the nodes, by global index
				target := *parsed[node]
				if w.tokens != nil {
					q := target.Query()
					q.Set("token", w.tokens[i])
					target.RawQuery = q.Encode()
				}
				t0 := time.Now()
				ws, resp, err := d.DialContext(ctx, target.String(), nil)
				t1 := time.Now()
				if err != nil {
					w.failed.Add(1)
					w.fail(classify(err, resp))
					continue
				}
				if resp != nil && resp.Body != nil {
					resp.Body.Close()
				}
				w.handshake.Record(t1.Sub(t0).Nanoseconds())
				w.bin(w.dialBins, t1.UnixNano())
				for {
					l := lastDone.Load()
					if t1.UnixNano() <= l || lastDone.CompareAndSwap(l, t1.UnixNano()) {
						break
					}
				}
				lc := &leanConn{ws: ws, done: make(chan struct{})}
				if w.spec.Mode == modeReceive {
					lc.joined = make(chan bool, 1)
				}
				w.mu.Lock()
				w.conns = append(w.conns, lc)
				w.mu.Unlock()
				go w.readLoop(lc)
				if w.spec.Mode == modeReceive {
					if !w.spec.NoJoin && !w.joinRoom(lc) {
						w.failed.Add(1)
						continue
					}
					lc.member.Store(true)
				}
				w.perURL[node].Add(1)
				w.dialed.Add(1)
			}
		}()
	}
	wg.Wait()
	return w.dialReport(first.Load(), lastDone.Load())
}

func (w *worker) dialReport(start, end int64) *dialReport {
	rep := &dialReport{Attempted: w.spec.Conns, OK: int(w.dialed.Load()), Handshake: w.handshake.Snapshot(),
		Join: w.join.Snapshot(), Start: start, End: end}
	w.failMu.Lock()
	rep.Failures = maps(w.failures)
	w.failMu.Unlock()
	rep.Bins = trimBins(w.dialBins)
	if len(w.spec.URLs) > 1 {
		rep.PerURL = make([]int, len(w.perURL))
		for i := range w.perURL {
			rep.PerURL[i] = int(w.perURL[i].Load())
		}
	}
	return rep
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func trimBins(bins []atomic.Int64) []int64 {
	n := 0
	for i := range bins {
		if bins[i].Load() != 0 {
			n = i + 1
		}
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = bins[i].Load()
	}
	return out
}

func (w *worker) fail(cause string) {
	w.failMu.Lock()
	w.failures[cause]++
	w.failMu.Unlock()
}

var joinRequestID = []byte(`"requestId":"bench-join"`)

// joinRoom sends joinRoom and waits for the reply (read by readLoop).
func (w *worker) joinRoom(lc *leanConn) bool {
	data, _ := json.Marshal(protocol.RoomInput{RoomID: w.spec.RoomID})
	req, _ := json.Marshal(protocol.Request{Action: protocol.ActionJoinRoom, Data: data, RequestID: "bench-join"})
	t0 := time.Now()
	lc.ws.SetWriteDeadline(t0.Add(w.spec.Timeout))
	if err := lc.ws.WriteMessage(websocket.TextMessage, req); err != nil {
		w.fail("join: write failed")
		return false
	}
	timer := time.NewTimer(w.spec.Timeout)
	defer timer.Stop()
	select {
	case ok := <-lc.joined:
		if !ok {
			w.fail("join: error reply")
			return false
		}
		w.join.Record(time.Since(t0).Nanoseconds())
		return true
	case <-timer.C:
		w.fail("join: no reply")
		return false
	}
}

// readLoop reads one connection's frames until it closes.
func (w *worker) readLoop(lc *leanConn) {
	defer close(lc.done)
	defer lc.dead.Store(true)
	buf := make([]byte, 0, 512)
	for {
		_, r, err := lc.ws.NextReader()
		if err != nil {
			if !w.closing.Load() {
				w.dropped.Add(1)
				w.fail("dropped: " + dropCause(err))
			}
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				if !w.closing.Load() {
					w.dropped.Add(1)
					w.fail("dropped: " + dropCause(err))
				}
				return
			}
		}
		now := time.Now().UnixNano()
		if w.marker != nil {
			if i := bytes.Index(buf, w.marker); i >= 0 {
				w.delivered(lc, buf[i+len(w.marker):], now)
				continue
			}
		}
		if lc.joined != nil && bytes.Contains(buf, joinRequestID) {
			var rep protocol.Frame
			json.Unmarshal(buf, &rep)
			select {
			case lc.joined <- rep.Type == protocol.ReplySuccess:
			default:
			}
			continue
		}
		w.other.Add(1)
	}
}

// delivered records one message: p is what follows the marker,
// "SEQ:STAMP"...
func (w *worker) delivered(lc *leanConn, p []byte, now int64) {
	seq, p, ok := parseUint(p)
	if !ok || len(p) == 0 || p[0] != ':' {
		w.other.Add(1)
		return
	}
	stamp, _, ok := parseUint(p[1:])
	if !ok || seq >= int64(len(w.count)) {
		w.other.Add(1)
		return
	}
	w.latency.Record(now - stamp)
	w.count[seq].Add(1)
	for {
		l := w.last[seq].Load()
		if now <= l || w.last[seq].CompareAndSwap(l, now) {
			break
		}
	}
	w.bin(w.recvBins, now)
	lc.got.Add(1)
	w.deliveries.Add(1)
}

func parseUint(p []byte) (int64, []byte, bool) {
	var v int64
	i := 0
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		v = v*10 + int64(p[i]-'0')
	}
	return v, p[i:], i > 0
}

// drain waits until every open connection has every message, or deadline.
func (w *worker) drain(ctx context.Context, deadline time.Time) {
	want := int64(w.spec.Messages)
	if w.spec.Expect > 0 {
		want = int64(w.spec.Expect)
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		w.mu.Lock()
		done := true
		for _, lc := range w.conns {
			if lc.member.Load() && !lc.dead.Load() && int64(lc.got.Load()) < want {
				done = false
				break
			}
		}
		w.mu.Unlock()
		if done {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *worker) recvReport() *recvReport {
	rep := &recvReport{Deliveries: w.deliveries.Load(), Latency: w.latency.Snapshot(), Dropped: int(w.dropped.Load()), Other: w.other.Load(),
		Causes: map[string]int{}}
	w.failMu.Lock()
	for k, v := range w.failures {
		if strings.HasPrefix(k, "dropped: ") {
			rep.Causes[strings.TrimPrefix(k, "dropped: ")] = v
		}
	}
	w.failMu.Unlock()
	rep.Count = make([]int32, len(w.count))
	rep.Last = make([]int64, len(w.last))
	for i := range w.count {
		rep.Count[i] = w.count[i].Load()
		rep.Last[i] = w.last[i].Load()
	}
	if w.recvBins != nil {
		rep.Bins = trimBins(w.recvBins)
	}
	w.mu.Lock()
	rep.Open = len(w.conns) - rep.Dropped
	w.mu.Unlock()
	return rep
}

func (w *worker) closeAll() {
	w.closing.Store(true)
	w.mu.Lock()
	conns := w.conns
	w.conns = nil
	w.mu.Unlock()
	// A close handshake, as a client ends a session: the server counts
	// the connections as closed by the client (1000), not dropped. Each
	// reader returns when the server's close frame arrives (or the
	// connection ends); then the sockets are closed, after
	// DefaultCloseWait at most.
	deadline := time.Now().Add(DefaultCloseWait)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, lc := range conns {
		if !lc.dead.Load() {
			lc.ws.WriteControl(websocket.CloseMessage, msg, deadline)
		}
	}
	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	for _, lc := range conns {
		select {
		case <-lc.done:
		case <-wait.C:
			wait.Reset(0)
		}
		lc.ws.UnderlyingConn().Close()
	}
}

// dropCause names why an open connection ended.
func dropCause(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "close " + strconv.Itoa(ce.Code)
	}
	if os.Getenv("SWITCHBOARD_BENCH_DEBUG") != "" {
		return err.Error()
	}
	return classifyErr(err, 0)
}

// classify names the cause of a failed dial: the HTTP status of a refused
// handshake, or the class of a network error.
func classify(err error, resp *http.Response) string {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	return classifyErr(err, status)
}

func classifyErr(err error, status int) string {
	if status != 0 {
		return "HTTP " + strconv.Itoa(status)
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port (EADDRNOTAVAIL)"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF during handshake"
	case errors.Is(err, websocket.ErrBadHandshake):
		return "bad handshake"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return "other: " + s
}

// WorkerMain is a child worker: the spec on the first line of in, then
// commands; events go to out.
func WorkerMain(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		return errors.New("worker: no spec on stdin")
	}
	var spec workerSpec
	if err := json.Unmarshal(sc.Bytes(), &spec); err != nil {
		return fmt.Errorf("worker: spec: %w", err)
	}
	var outMu sync.Mutex
	enc := json.NewEncoder(out)
	emit := func(ev event) {
		outMu.Lock()
		enc.Encode(ev)
		outMu.Unlock()
	}
	cmds := make(chan command)
	go func() {
		defer close(cmds)
		for sc.Scan() {
			var c command
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				cmds <- c
			}
		}
	}()
	runWorker(context.Background(), spec, cmds, emit)
	return nil
}
