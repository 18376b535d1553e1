package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Build names a program of the module (or of its dependencies) that a test
// runs as a separate process.
type Build struct {
	Pkg   string   // package path, or a directory relative to Dir ("./cmd/switchboard", ".")
	Dir   string   // the go command's working directory (default: the test's)
	Flags []string // go build flags: "-tags", "lambda.norpc", "-trimpath", ...
	Env   []string // added to the environment ("CGO_ENABLED=0")
}

var goBinaries sync.Map // key → *goBinary

type goBinary struct {
	once sync.Once
	path string
	err  error
}

// GoBinary returns the path of the executable `go build` makes of b, for
// the machine the tests run on, failing the test when it cannot be built.
//
// The executable is the one in Go's build cache: `go run -exec` links it
// and keeps it there (the go command caches the executables of go run), so
// every test, and every test binary of the suite, that runs the same
// program with the same flags and sources shares one link, where a
// `go build -o` in each test links the ~50 MB switchboard command again (2
// s of CPU) each time. Sources that changed make a new link, as for any
// build. The file is the cache's: run it or copy it, never write to it.
// Without a cached executable (GOCACHE=off) it is built into the test's
// temporary directory.
func GoBinary(t testing.TB, b Build) string {
	t.Helper()
	key := fmt.Sprintf("%q %q %q %q", b.Dir, b.Pkg, b.Flags, b.Env)
	v, _ := goBinaries.LoadOrStore(key, &goBinary{})
	gb := v.(*goBinary)
	gb.once.Do(func() { gb.path, gb.err = cachedBinary(b) })
	if gb.err != nil {
		t.Fatal(gb.err)
	}
	if gb.path != "" {
		return gb.path
	}
	dir := t.TempDir()
	if err := b.command("build", "-o", dir+string(filepath.Separator)).run(); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("go build %s made %d files (%v)", b.Pkg, len(files), err)
	}
	return filepath.Join(dir, files[0].Name())
}

// CachedGoBinary is GoBinary for a TestMain, which has no testing.TB:
// the executable in the build cache, or an error (also when the go command
// did not cache it).
func CachedGoBinary(b Build) (string, error) {
	path, err := cachedBinary(b)
	if err == nil && path == "" {
		err = fmt.Errorf("go run did not cache the executable of %s", b.Pkg)
	}
	return path, err
}

// cachedBinary returns the cached executable of b, or "" when the go
// command does not cache it. The first go run of a program prints the
// executable in its work directory, gone once go run exits, and caches it:
// the second prints the cached one.
func cachedBinary(b Build) (string, error) {
	for range 2 {
		c := b.command("run", "-exec", "echo")
		var out bytes.Buffer
		c.cmd.Stdout = &out
		if err := c.run(); err != nil {
			return "", err
		}
		path := strings.TrimSpace(out.String())
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", nil
}

type goCommand struct {
	cmd  *exec.Cmd
	errs bytes.Buffer
}

// command is `go VERB ARGS... FLAGS... PKG` in b's directory and environment.
func (b Build) command(verb string, args ...string) *goCommand {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	argv := append(append(append([]string{verb}, args...), b.Flags...), b.Pkg)
	c := &goCommand{cmd: exec.Command(goTool, argv...)}
	c.cmd.Dir = b.Dir
	c.cmd.Env = append(os.Environ(), b.Env...)
	c.cmd.Stderr = &c.errs
	return c
}

func (c *goCommand) run() error {
	if err := c.cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(c.cmd.Args, " "), err, c.errs.String())
	}
	return nil
}
