package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
)

// Target names.
const (
	TargetSwitchboard = "switchboard"
	TargetBaseline    = "baseline"
)

// Target is a server under test.
type Target struct {
	Name   string // switchboard or baseline
	URL    string // ws://host:port/dev
	Secret []byte // signs the clients' tokens; nil: no token (baseline)
	PID    int    // the server's process, for /proc/PID/status; 0: unknown
	How    string // how it was reached, for the report

	stop      func() error
	profiling bool        // a child that profiles between SIGUSR1 and SIGUSR2
	nodes     []*Target   // TargetCluster: its nodes (URL is the first's)
	stderr    *tailBuffer // a spawned process: the end of what it logged
}

// logTails are the last lines the spawned server (or each node) wrote to
// stderr, for a report whose run had problems.
func (t *Target) logTails() []string {
	var out []string
	if len(t.nodes) == 0 && t.stderr != nil {
		if tail := t.stderr.String(); tail != "" {
			out = append(out, fmt.Sprintf("%s (pid %d) logged: %s", t.Name, t.PID, tail))
		}
	}
	for i, n := range t.nodes {
		if n.stderr != nil {
			if tail := n.stderr.String(); tail != "" {
				out = append(out, fmt.Sprintf("node %d (pid %d) logged: %s", i+1, n.PID, tail))
			}
		}
	}
	return out
}

// profile starts (on) or stops the CPU profile of a spawned server that
// was started with one (--profile).
func (t *Target) profile(on bool) {
	if !t.profiling || t.PID == 0 {
		return
	}
	s := syscall.SIGUSR2
	if on {
		s = syscall.SIGUSR1
	}
	syscall.Kill(t.PID, s)
	if !on {
		time.Sleep(100 * time.Millisecond) // let it write the profile
	}
}

// Stop stops a target the bench started; others are left alone.
func (t *Target) Stop() error {
	if t.stop == nil {
		return nil
	}
	err := t.stop()
	t.stop = nil
	return err
}

// NewTarget describes a server that is already running (in this process,
// for tests, or elsewhere); secret nil means the baseline (no tokens).
func NewTarget(name, wsURL string, secret []byte, pid int, how string) *Target {
	return &Target{Name: name, URL: wsURL, Secret: secret, PID: pid, How: how}
}

// openTarget reaches or starts the target called name.
func openTarget(ctx context.Context, cfg *Config, name string, stderr io.Writer) (*Target, error) {
	for _, t := range cfg.Targets {
		if t.Name == name {
			return t, nil
		}
	}
	switch {
	case name == TargetCluster && len(cfg.URLs) > 1:
		secret, err := auth.LoadDevSecret(cfg.Data)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		return runningCluster(cfg, secret), nil
	case name == TargetCluster:
		return spawnCluster(ctx, cfg, stderr)
	case name == TargetSwitchboard && cfg.URL != "":
		secret, err := auth.LoadDevSecret(cfg.Data)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		how := "switchboard dev at " + cfg.URL
		if cfg.PID == 0 {
			how += " (no --pid: server memory from its GET /metrics, not /proc)"
		}
		return &Target{Name: name, URL: cfg.URL, Secret: secret, PID: cfg.PID, How: how}, nil
	case name == TargetSwitchboard:
		return spawnDev(ctx, cfg, stderr)
	case name == TargetBaseline && cfg.URL != "" && cfg.Target == TargetBaseline:
		return &Target{Name: name, URL: cfg.URL, PID: cfg.PID, How: "baseline at " + cfg.URL}, nil
	case name == TargetBaseline:
		return spawnChild(ctx, cfg, "baseline", nil, stderr)
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// devHasFlag reports whether `exe dev` knows the flag (its -h lists it).
func devHasFlag(exe, flag string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, exe, "dev", "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-"+flag+" "))
}

// spawnDev starts `switchboard dev` (this binary) on a free port with a
// temporary data directory and the connect rate limit raised. When dev has
// no flag for that limit (or a server CPU profile is wanted), the same
// stack is started by this binary's hidden `bench __devserver`.
func spawnDev(ctx context.Context, cfg *Config, stderr io.Writer) (*Target, error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	rate := strconv.FormatFloat(cfg.ConnectRate, 'f', -1, 64)
	if err := ensureTable(ctx, cfg); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cfg.Store != StoreSQLite || cfg.Profile == "" && cfg.Exe != "" && len(cfg.ExeArgs) == 1 && cfg.ExeArgs[0] == "bench" && devHasFlag(cfg.Exe, "connect-rate") {
		// The bench measures capacity, not the chat's rate limits.
		args := cfg.devArgs(dir, devHasFlag(cfg.Exe, "no-rate-limits"))
		t, err := startProcess(ctx, cfg, args, nil, "WebSocket:", dir, stderr)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		t.Name = TargetSwitchboard
		t.How = fmt.Sprintf("spawned `switchboard dev --connect-rate %s --store %s` (pid %d)", rate, cfg.Store, t.PID)
		return t, finishDev(t, dir)
	}
	extra := []string{"--data", dir, "--connect-rate", rate}
	t, err := spawnChild(ctx, cfg, "devserver", extra, stderr)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return t, finishDev(t, dir)
}

func finishDev(t *Target, dir string) error {
	secret, err := auth.LoadDevSecret(dir)
	if err != nil {
		t.Stop()
		os.RemoveAll(dir)
		return err
	}
	t.Secret = secret
	stop := t.stop
	t.stop = func() error {
		err := stop()
		os.RemoveAll(dir)
		return err
	}
	return nil
}

// spawnChild starts this binary's hidden `bench __baseline` or
// `bench __devserver`.
func spawnChild(ctx context.Context, cfg *Config, kind string, extra []string, stderr io.Writer) (*Target, error) {
	args := append(append([]string{}, cfg.ExeArgs...), "__"+kind, "--addr", "127.0.0.1:0")
	if cfg.Profile != "" {
		if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--cpuprofile", filepath.Join(cfg.Profile, cfg.label()+"-"+kind+".pprof"))
	}
	args = append(args, extra...)
	t, err := startProcess(ctx, cfg, args, []string{childEnv + "=" + kind}, "listening", "", stderr)
	if err != nil {
		return nil, err
	}
	t.profiling = cfg.Profile != ""
	switch kind {
	case "baseline":
		t.Name = TargetBaseline
		t.How = fmt.Sprintf("baseline server in a child process (pid %d)", t.PID)
	default:
		t.Name = TargetSwitchboard
		t.How = fmt.Sprintf("the dev stack (as `switchboard dev`) in a child process, connect rate limit %s (pid %d)", strconv.FormatFloat(cfg.ConnectRate, 'f', -1, 64), t.PID)
	}
	return t, nil
}

// startProcess starts exe args and waits for the stdout line containing
// marker and a ws:// URL.
func startProcess(ctx context.Context, cfg *Config, args, env []string, marker, dir string, stderr io.Writer) (*Target, error) {
	cmd := exec.Command(cfg.Exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errs := &tailBuffer{}
	cmd.Stderr = errs
	stdin, err := cmd.StdinPipe() // the child stops when it closes
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s %s: %w", cfg.Exe, strings.Join(args, " "), err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.Contains(line, marker) {
				if i := strings.Index(line, "ws://"); i >= 0 {
					u := strings.Fields(line[i:])[0]
					u, _, _ = strings.Cut(u, "?")
					found <- u
					sent = true
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return nil
	}
	select {
	case u := <-found:
		if _, err := url.Parse(u); err != nil {
			stop()
			return nil, fmt.Errorf("child printed a bad URL %q", u)
		}
		return &Target{URL: u, PID: cmd.Process.Pid, stop: stop, stderr: errs}, nil
	case err := <-exited:
		return nil, fmt.Errorf("%s %s exited before listening: %v: %s", cfg.Exe, strings.Join(args, " "), err, errs.String())
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("%s %s: not listening after 30 s: %s", cfg.Exe, strings.Join(args, " "), errs.String())
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// procStatus is what /proc/PID/status (or the metrics endpoint) says of a
// process's memory (bytes).
type procStatus struct {
	VmRSS   int64 `json:"vmRss"`
	RssAnon int64 `json:"rssAnon"`
	RssFile int64 `json:"rssFile"`
	VmHWM   int64 `json:"vmHwm"`
	Threads int64 `json:"threads"`
	At      int64 `json:"at"` // unix ns
	// From Switchboard's metrics endpoint (0 when not read).
	HeapInuse   int64 `json:"heapInuse,omitempty"`
	StackInuse  int64 `json:"stackInuse,omitempty"`
	Goroutines  int64 `json:"goroutines,omitempty"`
	FromMetrics bool  `json:"fromMetrics,omitempty"` // the VmRSS etc. above came from the metrics endpoint, not /proc
}

func readProcStatus(pid int) (procStatus, error) {
	if pid <= 0 {
		return procStatus{}, errors.New("no process")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	st := procStatus{At: time.Now().UnixNano()}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		switch k {
		case "VmRSS":
			st.VmRSS = n
		case "RssAnon":
			st.RssAnon = n
		case "RssFile":
			st.RssFile = n
		case "VmHWM":
			st.VmHWM = n
		case "Threads":
			st.Threads = n
		}
	}
	return st, nil
}

// fdLimit is this process's hard limit of open files (children inherit it).
func fdLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 20000
	}
	return int(min(r.Max, 1<<30))
}

// loopbackV4 reports whether the URL's host is an IPv4 loopback address.
func loopbackV4(wsURL string) bool {
	u, err := url.Parse(wsURL)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}
