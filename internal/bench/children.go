package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/devstack"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/bench/baseline"
)

// waitForStop returns when stdin closes (the parent is gone or done) or a
// SIGTERM or SIGINT arrives.
func waitForStop(stdin io.Reader) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-sig:
	case <-eof:
	}
}

// profileOnSignal writes a CPU profile to path of the time between SIGUSR1
// and SIGUSR2 (the bench signals the measured phase only), and at SIGUSR2
// the in-use heap to PATH-heap.pprof (PATH without .pprof); the returned
// function stops a profile still running.
func profileOnSignal(path string) func() {
	if path == "" {
		return func() {}
	}
	// A fine heap sample (one per 4 KB instead of 512 KB), so that the
	// heap profile written at SIGUSR2 attributes the bytes per connection.
	runtime.MemProfileRate = 4096
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	var (
		mu sync.Mutex
		f  *os.File
	)
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
			f = nil
		}
	}
	go func() {
		for s := range sig {
			if s == syscall.SIGUSR2 {
				stop()
				writeHeapProfile(strings.TrimSuffix(path, ".pprof") + "-heap.pprof")
				continue
			}
			mu.Lock()
			if f == nil {
				if out, err := os.Create(path); err == nil {
					if pprof.StartCPUProfile(out) == nil {
						f = out
					} else {
						out.Close()
					}
				}
			}
			mu.Unlock()
		}
	}()
	return func() {
		signal.Stop(sig)
		stop()
	}
}

// writeHeapProfile writes the in-use heap, after a GC, to path: what the
// server holds at the end of the measured phase (the connections, for
// connect and idle; the room's members, for fanout).
func writeHeapProfile(path string) {
	runtime.GC()
	out, err := os.Create(path)
	if err != nil {
		return
	}
	defer out.Close()
	pprof.Lookup("heap").WriteTo(out, 0)
}

// baselineMain is the hidden `bench __baseline`: the baseline server.
func baselineMain(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("switchboard bench __baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the time between SIGUSR1 and SIGUSR2 to this file")
	if err := fs.Parse(args); err != nil {
		return ErrUsage
	}
	// No TCP keepalive: the baseline does nothing it need not do (and see
	// the note on keepalive bursts in worker.go).
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", *addr)
	if err != nil {
		return err
	}
	defer profileOnSignal(*prof)()
	srv := baseline.New()
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "listening ws://%s/dev\n", ln.Addr())
	waitForStop(stdin)
	return srv.Close()
}

// devServerMain is the hidden `bench __devserver`: what `switchboard dev`
// runs (the devstack package), with the connect rate limit and a CPU
// profile as flags.
func devServerMain(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("switchboard bench __devserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	data := fs.String("data", "", "data directory")
	rate := fs.Float64("connect-rate", -1, "new connections per second; 0: the default (500); negative: no limit")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the time between SIGUSR1 and SIGUSR2 to this file")
	if err := fs.Parse(args); err != nil || *data == "" {
		return ErrUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The bench measures what the server can do, so the chat's rate limits
	// (1,000 requests per connection per second by default, which one
	// sender at full speed exceeds) are off; their cost per request is
	// measured by chat's BenchmarkMessageLimits.
	noRateLimits := chat.Config{ActionRate: -1, TenantBytesRate: -1, RoomCreateRate: -1}
	stack, err := devstack.New(devstack.Options{DataDir: *data, Logger: log, Limits: gateway.Limits{ConnectRate: *rate}, Chat: noRateLimits})
	if err != nil {
		return err
	}
	if err := stack.Serve(*addr); err != nil {
		stack.Close(context.Background())
		return err
	}
	stopProf := profileOnSignal(*prof)
	fmt.Fprintf(stdout, "listening %s\n", stack.URL())
	waitForStop(stdin)
	stopProf()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return stack.Close(ctx)
}
