package lambda

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxLogLine is the longest line re-emitted as one record; a longer
	// one is cut into records of this size.
	maxLogLine = 256 << 10
	// maxOutputDrain bounds how long an answer waits for the readers of
	// the runtime's output to reach what it printed before answering.
	maxOutputDrain = 50 * time.Millisecond
)

// lineLogger re-emits what a runtime process writes to one stream, a line
// at a time, as log records. A line that starts while an invocation is
// being served carries its request id: an instance serves one invocation
// at a time, and the instance waits for its readers (drainOutput) before
// an answer ends the invocation, so a line is never given the next one's
// id. The Node.js runtime client's console lines carry their own id.
type lineLogger struct {
	log     *slog.Logger
	stream  string
	node    bool // parse the Node.js runtime client's console lines
	serving *atomic.Pointer[string]

	// Counted by the reading goroutine, read by drainOutput. readMu is
	// held from a read of the pipe to its count in received (readCounted)
	// and by drainOutput's look at received and the pipe: no byte is out
	// of the pipe and not yet counted when drainOutput looks (the reader
	// may wait for a P after its read system call, long under load: a
	// line read then was labelled with no request id).
	readMu   sync.Mutex
	received atomic.Int64 // bytes read from the pipe
	consumed atomic.Int64 // bytes whose lines were labelled
	progress chan struct{}

	// Owned by the reading goroutine.
	buf     []byte
	lineRID string // the request id being served when buf's line started
}

func newLineLogger(log *slog.Logger, stream string, node bool, serving *atomic.Pointer[string]) *lineLogger {
	return &lineLogger{log: log, stream: stream, node: node, serving: serving, progress: make(chan struct{}, 1)}
}

// copyFrom reads f until it ends, then flushes the last partial line.
func (l *lineLogger) copyFrom(f *os.File) {
	read := readCounted(f, &l.readMu, &l.received)
	buf := make([]byte, 32<<10)
	for {
		n, err := read(buf)
		if n > 0 {
			l.Write(buf[:n])
			l.consumed.Add(int64(n))
			select {
			case l.progress <- struct{}{}:
			default:
			}
		}
		if err != nil {
			break
		}
	}
	l.flush()
}

// Write splits p into lines; it is called by one goroutine.
func (l *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(l.buf) == 0 {
			l.lineRID = l.servingID()
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			if len(l.buf) >= maxLogLine {
				l.flush()
			}
			break
		}
		l.buf = append(l.buf, p[:i]...)
		l.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineLogger) servingID() string {
	if id := l.serving.Load(); id != nil {
		return *id
	}
	return ""
}

func (l *lineLogger) flush() {
	if len(l.buf) == 0 {
		return
	}
	line := strings.TrimRight(string(l.buf), "\r")
	l.buf = l.buf[:0]
	level, msg, rid := slog.LevelInfo, line, l.lineRID
	if l.node {
		if lv, m, id, ok := nodeLogLine(line); ok {
			level, msg = lv, m
			if id != "" {
				rid = id
			}
		}
	}
	if rid == "" {
		l.log.Log(context.Background(), level, msg, "stream", l.stream)
		return
	}
	l.log.Log(context.Background(), level, msg, "stream", l.stream, "requestId", rid)
}

// drainOutput waits, at most max, until the readers have taken in
// everything the process had written to its pipes when it was called.
func (in *instance) drainOutput(max time.Duration) {
	var timer *time.Timer
	for i, l := range in.loggers {
		l.readMu.Lock()
		target := l.received.Load() + int64(pendingBytes(in.outputs[i]))
		l.readMu.Unlock()
		for l.consumed.Load() < target {
			if timer == nil {
				timer = time.NewTimer(max)
				defer timer.Stop()
			}
			select {
			case <-l.progress:
			case <-timer.C:
				return
			}
		}
	}
}

// pendingBytes is how many bytes wait to be read in the pipe f (0 when
// it cannot say).
func pendingBytes(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) { n = fionread(fd) })
	return n
}

// readThenCount reads r and then counts what it read in received: where
// a read and its count cannot be made one step with drainOutput's look
// (no fionread there either), a line read late may miss its request id.
func readThenCount(r io.Reader, received *atomic.Int64) func([]byte) (int, error) {
	return func(buf []byte) (int, error) {
		n, err := r.Read(buf)
		received.Add(int64(n))
		return n, err
	}
}
