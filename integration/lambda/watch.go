package lambda

import (
	"encoding/binary"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// watchInterval is how often Options.Watch looks at the code.
const watchInterval = 500 * time.Millisecond

// watcher polls a function's code (Options.Watch) and retires its instances
// when it changes. It does not use file notifications: polling the
// modification times works everywhere, on any file system, and needs no
// dependency.
type watcher struct {
	f    *Function
	root string // a directory to walk, or
	file string // a single file
}

func (f *Function) newWatcher() *watcher {
	if f.node != nil {
		return &watcher{f: f, root: f.taskRoot}
	}
	return &watcher{f: f, file: f.path}
}

// run polls until the function is closed. A change takes effect once the
// code has stayed the same for one interval (an editor's or a build's
// writes come in bursts).
func (w *watcher) run() {
	defer w.f.wg.Done()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	current := w.fingerprint() // the code the instances run
	var pending uint64
	changed := false
	for {
		select {
		case <-w.f.done:
			return
		case <-t.C:
		}
		fp := w.fingerprint()
		switch {
		case fp == current:
			changed = false
		case changed && fp == pending:
			changed = false
			current = fp
			w.f.codeChanged()
		default:
			changed, pending = true, fp
		}
	}
}

// fingerprint hashes the path, size, modification time and mode of every
// file of the code (less node_modules and dot-directories).
func (w *watcher) fingerprint() uint64 {
	h := fnv.New64a()
	var b [8]byte
	add := func(rel string, info fs.FileInfo) {
		h.Write([]byte(rel))
		h.Write([]byte{0})
		binary.LittleEndian.PutUint64(b[:], uint64(info.Size()))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(info.ModTime().UnixNano()))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(info.Mode()))
		h.Write(b[:])
	}
	if w.file != "" {
		if info, err := os.Stat(w.file); err == nil {
			add(w.file, info)
		}
		return h.Sum64()
	}
	filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			h.Write([]byte("error " + p))
			return nil
		}
		name := d.Name()
		if d.IsDir() && p != w.root && (name == "node_modules" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if info, err := d.Info(); err == nil {
			add(p, info)
		}
		return nil
	})
	return h.Sum64()
}

// codeChanged retires the instances: idle ones stop now, busy ones when
// their invocation ends (release sees an older generation).
func (f *Function) codeChanged() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.gen++
	idle := f.idle
	f.idle = nil
	for _, in := range idle {
		if in.idleTimer != nil {
			in.idleTimer.Stop()
			in.idleTimer = nil
		}
	}
	busy := len(f.all) - len(idle)
	f.mu.Unlock()
	for _, in := range idle {
		in.shutdown()
	}
	f.log.Info("lambda: code changed; the next invocation starts the new code", "stopped", len(idle), "finishing", busy)
}
