package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPollHoldsAfterSomeTries(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	if !Poll(5*time.Second, func() bool { return n.Add(1) >= 4 }) {
		t.Fatal("poll gave up on a condition that held on the 4th try")
	}
	if got := n.Load(); got != 4 {
		t.Fatalf("cond was called %d times, want 4", got)
	}
}

func TestPollGivesUpAfterTimeout(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	start := time.Now()
	if Poll(30*time.Millisecond, func() bool { n.Add(1); return false }) {
		t.Fatal("poll reported success for a condition that never held")
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("poll gave up after %v, before its 30ms timeout", el)
	}
	if n.Load() < 2 {
		t.Fatalf("cond was tried %d times, want at least 2 (first and at the deadline)", n.Load())
	}
}

// fatalTB records Fatalf instead of stopping the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()                        {}
func (f *fatalTB) Fatalf(format string, a ...any) { f.msg = sprintf(format, a...) }

func TestEventuallyMessageSaysWhat(t *testing.T) {
	t.Parallel()
	f := &fatalTB{TB: t}
	Eventually(f, 10*time.Millisecond, func() bool { return false }, "%d frames on %s", 3, "alice")
	if !strings.Contains(f.msg, "3 frames on alice") || !strings.Contains(f.msg, "10ms") {
		t.Fatalf("message %q does not say what was awaited and for how long", f.msg)
	}
}

func TestMissingPackages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"dependencies":{"a":"1"},"devDependencies":{"@s/b":"2"}}`), 0o644)
	os.MkdirAll(filepath.Join(dir, "node_modules", "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "node_modules", "a", "package.json"), []byte(`{}`), 0o644)
	got := missingPackages(dir)
	if len(got) != 1 || !strings.HasPrefix(got[0], "@s/b in ") {
		t.Fatalf("missing = %q, want only @s/b", got)
	}
	if got := missingPackages(filepath.Join(dir, "nope")); len(got) != 1 {
		t.Fatalf("a directory without package.json: missing = %q, want one reason", got)
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// TestGoBinary: the program runs, and another test binary asking for it
// (this one, having forgotten it) gets the same executable, the build
// cache's: one link for the suite.
func TestGoBinary(t *testing.T) {
	b := Build{Pkg: "./testdata/hello"}
	bin := GoBinary(t, b)
	out, err := exec.Command(bin, "world").CombinedOutput()
	if err != nil || string(out) != "hello world\n" {
		t.Fatalf("%s: %q %v", bin, out, err)
	}
	goBinaries.Clear()
	if again := GoBinary(t, b); again != bin {
		t.Fatalf("linked again: %s, then %s", bin, again)
	}
}
