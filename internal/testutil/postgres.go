package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvRequirePostgres=1 makes the tests that need PostgreSQL fail, rather
// than skip, when its binaries are missing (scripts/test sets it after
// installing them: CI must not skip).
const EnvRequirePostgres = "SWITCHBOARD_REQUIRE_POSTGRES"

// PostgresStartTimeout bounds the start of the test server.
const PostgresStartTimeout = 60 * time.Second

var pg struct {
	once sync.Once
	srv  *pgServer
	err  error
	seq  atomic.Int64
}

// Postgres returns the URL of a fresh, empty database (dropped when the
// test ends) on a PostgreSQL server that this test process starts on first
// use: initdb into a temporary directory, then postgres on a free loopback
// port, run as an unprivileged user when the tests run as root (PostgreSQL
// refuses root). One server serves the whole test binary; StopPostgres
// (from TestMain) stops it, and a watcher stops it anyway once the test
// process is gone, so that a crashed run leaves no server behind.
//
// Without PostgreSQL's binaries (initdb, postgres on PATH or in
// /usr/lib/postgresql/*/bin) the test is skipped, unless
// SWITCHBOARD_REQUIRE_POSTGRES=1: then it fails.
func Postgres(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() { pg.srv, pg.err = startPostgres() })
	if pg.err != nil {
		if errors.Is(pg.err, errNoPostgres) && os.Getenv(EnvRequirePostgres) != "1" {
			t.Skipf("%v: skipping the tests that need PostgreSQL (install it: apt-get install -y postgresql; "+
				"set %s=1 to make this a failure)", pg.err, EnvRequirePostgres)
		}
		t.Fatalf("PostgreSQL could not be started: %v", pg.err)
	}
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("test_%d_%d_%s", os.Getpid(), pg.seq.Add(1), hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pg.srv.admin(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.srv.admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return pg.srv.url(name)
}

// StopPostgres stops the server Postgres started, if any. Call it from
// TestMain after m.Run.
func StopPostgres() {
	if pg.srv != nil {
		pg.srv.stop()
	}
}

var errNoPostgres = errors.New("PostgreSQL is not installed (no initdb and postgres)")

type pgServer struct {
	dir  string // data directory, also the socket directory
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited

	mu   sync.Mutex // serialises CREATE and DROP DATABASE (they copy and remove template files)
	conn *pgx.Conn
}

// postgresBin finds the directory of initdb and postgres.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNoPostgres
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// unprivileged is the user to run PostgreSQL as: nil when not root.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil && uid != 0 {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

func startPostgres() (*pgServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	// In /dev/shm (a tmpfs) when there is one. Each CREATE DATABASE makes
	// ~300 files and each DROP removes them; on ext4, inode allocation
	// then scans past the recently deleted ones, and that scan was 70% of
	// the CPU of the store's conformance suite (15 s, mostly system time,
	// for 63 databases).
	dir, err := os.MkdirTemp("/dev/shm", "switchboard-pg-")
	if err != nil {
		dir, err = os.MkdirTemp("", "switchboard-pg-")
	}
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true}
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	for range 3 {
		port, err := freeTCPPort()
		if err != nil {
			return nil, err
		}
		s := &pgServer{dir: dir, port: port, done: make(chan struct{})}
		log, err := os.Create(filepath.Join(dir, fmt.Sprintf("postgres-%d.log", port)))
		if err != nil {
			return nil, err
		}
		// Durability is of no use to a test server: no fsync makes
		// CREATE DATABASE and commits fast.
		s.cmd = run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=400", "-c", "shared_buffers=64MB",
			"-c", "max_wal_size=256MB") // WAL recycled sooner than at 1 GB: it may be in memory
		s.cmd.Stdout, s.cmd.Stderr = log, log
		if err := s.cmd.Start(); err != nil {
			log.Close()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting postgres: %w", err)
		}
		log.Close()
		go func() { s.cmd.Wait(); close(s.done) }()
		watch(os.Getpid(), s.cmd.Process.Pid, dir)
		if err := s.waitReady(); err != nil {
			s.cmd.Process.Signal(syscall.SIGQUIT)
			<-s.done
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("postgres-%d.log", port)))
			lastErr = fmt.Errorf("%w\n%s", err, strings.TrimSpace(string(b)))
			continue
		}
		return s, nil
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// watch starts a process, in a session of its own, that stops the server
// (pid) and removes dir once the test process (watched) is gone.
func watch(watched, pid int, dir string) {
	cmd := exec.Command("sh", "-c", `
		while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
		kill -INT "$2" 2>/dev/null
		while kill -0 "$2" 2>/dev/null; do sleep 0.2; done
		rm -rf "$3"`, "switchboard-pg-watch", strconv.Itoa(watched), strconv.Itoa(pid), dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		go cmd.Wait() // reap it if this process outlives it
	}
}

func (s *pgServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// waitReady waits until the server accepts connections.
func (s *pgServer) waitReady() error {
	deadline := time.Now().Add(PostgresStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			s.conn = conn
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited before accepting connections: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within %v: %v", PostgresStartTimeout, err)
		}
	}
}

// admin runs a statement on the maintenance database.
func (s *pgServer) admin(ctx context.Context, sql string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.conn.Exec(ctx, sql)
	return err
}

// stop shuts the server down (fast shutdown) and removes its directory.
func (s *pgServer) stop() {
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close(context.Background())
	}
	s.mu.Unlock()
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
