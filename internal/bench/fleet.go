package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv tells a re-executed binary which child it is.
const childEnv = "SWITCHBOARD_BENCH_CHILD"

// fleet is the set of workers of one run.
type fleet struct {
	workers []*workerHandle
	events  chan event // everything the workers say
	ctrl    chan event // all but progress

	mu       sync.Mutex
	progress func(done, failed, deliveries int64)
	latest   []event
}

// setProgress sets the function told about progress.
func (f *fleet) setProgress(p func(done, failed, deliveries int64)) {
	f.mu.Lock()
	f.progress = p
	f.mu.Unlock()
}

// pump passes progress to the progress function and everything else to
// ctrl, so that a worker never waits for the parent.
func (f *fleet) pump() {
	for ev := range f.events {
		if ev.Ev != "progress" {
			f.ctrl <- ev
			continue
		}
		if ev.Worker < 0 || ev.Worker >= len(f.latest) {
			continue
		}
		f.mu.Lock()
		f.latest[ev.Worker] = ev
		var d, fl, dl int64
		for _, l := range f.latest {
			d, fl, dl = d+l.Done, fl+l.Failed, dl+l.Deliveries
		}
		p := f.progress
		f.mu.Unlock()
		if p != nil {
			p(d, fl, dl)
		}
	}
}

type workerHandle struct {
	idx   int
	cmds  chan command // in-process
	stdin io.WriteCloser
	proc  *exec.Cmd
	errs  *tailBuffer
	done  chan struct{}
}

// tailBuffer keeps the last few KB a child wrote to stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// splitSpecs divides conns connections over n workers.
func splitSpecs(base workerSpec, conns, n int) []workerSpec {
	specs := make([]workerSpec, n)
	off := 0
	for i := range specs {
		s := base
		s.Index = i
		s.Offset = off
		s.Conns = conns / n
		if i < conns%n {
			s.Conns++
		}
		s.Concurrency = max(1, (base.Concurrency+n-1)/n)
		off += s.Conns
		specs[i] = s
	}
	return specs
}

// startFleet starts the workers: in this process when inProcess, else as
// child processes of exe.
func startFleet(ctx context.Context, cfg *Config, specs []workerSpec, inProcess bool) (*fleet, error) {
	f := &fleet{events: make(chan event, 64), ctrl: make(chan event, 4*len(specs)+16), latest: make([]event, len(specs))}
	go f.pump()
	for _, spec := range specs {
		h := &workerHandle{idx: spec.Index, done: make(chan struct{})}
		f.workers = append(f.workers, h)
		if inProcess {
			h.cmds = make(chan command, 16)
			go func() {
				defer close(h.done)
				runWorker(ctx, spec, h.cmds, func(ev event) { f.events <- ev })
			}()
			continue
		}
		args := append(append([]string{}, cfg.ExeArgs...), "__worker")
		cmd := exec.Command(cfg.Exe, args...)
		cmd.Env = append(os.Environ(), childEnv+"=worker")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		h.errs = &tailBuffer{}
		cmd.Stderr = h.errs
		stdin, err := cmd.StdinPipe()
		if err != nil {
			f.close()
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			f.close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			f.close()
			return nil, fmt.Errorf("starting worker process: %w", err)
		}
		h.proc, h.stdin = cmd, stdin
		line, _ := json.Marshal(spec)
		if _, err := stdin.Write(append(line, '\n')); err != nil {
			f.close()
			return nil, fmt.Errorf("worker %d: %w", spec.Index, err)
		}
		go func() {
			defer close(h.done)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 256<<20)
			for sc.Scan() {
				var ev event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					f.events <- event{Ev: "error", Worker: h.idx, Msg: "unreadable event: " + err.Error()}
					continue
				}
				f.events <- ev
			}
			err := cmd.Wait()
			msg := "worker process exited"
			if err != nil {
				msg += ": " + err.Error()
			}
			if tail := h.errs.String(); tail != "" {
				msg += ": " + tail
			}
			f.events <- event{Ev: "exit", Worker: h.idx, Msg: msg}
		}()
	}
	return f, nil
}

func (f *fleet) send(c command) error {
	var errs []error
	for _, h := range f.workers {
		if h.cmds != nil {
			select {
			case h.cmds <- c:
			case <-h.done:
			}
			continue
		}
		if h.stdin == nil {
			continue
		}
		b, _ := json.Marshal(c)
		if _, err := h.stdin.Write(append(b, '\n')); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", h.idx, err))
		}
	}
	return errors.Join(errs...)
}

// await waits for one event of kind want from every worker, passing
// progress on; an error or an early exit of a worker fails it.
func (f *fleet) await(ctx context.Context, want string, timeout time.Duration) ([]event, error) {
	got := make([]event, len(f.workers))
	have := make([]bool, len(f.workers))
	n := 0
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for n < len(f.workers) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, fmt.Errorf("workers: no %q from %d of %d workers within %v", want, len(f.workers)-n, len(f.workers), timeout)
		case ev := <-f.ctrl:
			if ev.Worker < 0 || ev.Worker >= len(f.workers) {
				continue
			}
			switch ev.Ev {
			case "error", "exit":
				return nil, fmt.Errorf("worker %d: %s", ev.Worker, ev.Msg)
			case want:
				if !have[ev.Worker] {
					have[ev.Worker] = true
					got[ev.Worker] = ev
					n++
				}
			}
		}
	}
	return got, nil
}

// close stops every worker and waits (up to 30 s) for them to finish.
func (f *fleet) close() {
	f.send(command{Op: "close"})
	for _, h := range f.workers {
		if h.cmds != nil {
			close(h.cmds)
		}
		if h.stdin != nil {
			h.stdin.Close()
		}
	}
	deadline := time.After(30 * time.Second)
	for _, h := range f.workers {
		if h.proc == nil && h.cmds == nil {
			continue
		}
	wait:
		for {
			select {
			case <-h.done:
				break wait
			case <-f.ctrl: // keep the pipe readers moving
			case <-deadline:
				if h.proc != nil && h.proc.Process != nil {
					h.proc.Process.Kill()
				}
				break wait
			}
		}
	}
}
