package lambda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// The Node.js runtime client (nodejs/runtime.mjs) and its module resolution
// hooks (nodejs/hooks.mjs), written at first use to a content-addressed
// cache directory: LAMBDA_RUNTIME_DIR.
//
//go:embed nodejs/runtime.mjs nodejs/hooks.mjs
var nodeRuntimeFiles embed.FS

// nodeRuntimes are the Node.js runtime identifiers and their major versions.
var nodeRuntimes = map[string]int{"nodejs18.x": 18, "nodejs20.x": 20, "nodejs22.x": 22}

// minNodeMajor is the oldest node the runtime client supports.
const minNodeMajor = 18

// nodeFlags are the options Lambda's Node.js runtimes start node with (those
// that do not depend on the memory size).
var nodeFlags = []string{"--expose-gc", "--max-http-header-size=81920"}

func isProvidedRuntime(rt string) bool {
	switch rt {
	case "", "provided", "provided.al2", "provided.al2023":
		return true
	}
	return false
}

// nodeSetup is what a Node.js function needs besides Options.
type nodeSetup struct {
	runtime    string // nodejs20.x
	node       nodeBinary
	runtimeDir string // LAMBDA_RUNTIME_DIR: runtime.mjs and hooks.mjs
	sdkDir     string // SWITCHBOARD_NODE_SDK_DIR
}

// nodeBinary is an installed node.
type nodeBinary struct {
	path         string
	version      string // v20.20.2
	major, minor int
}

var (
	nodeCache    sync.Map // path -> nodeBinary
	nodeWarnings sync.Map // path + runtime -> struct{}
)

// findNode finds node on PATH and reads its version (once per path).
func findNode() (nodeBinary, error) {
	p, err := exec.LookPath("node")
	if err != nil {
		return nodeBinary{}, errors.New("node is not on PATH: install Node.js 18 or later (https://nodejs.org) to run Node.js functions")
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if nb, ok := nodeCache.Load(p); ok {
		return nb.(nodeBinary), nil
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		return nodeBinary{}, fmt.Errorf("running %s --version: %w", p, err)
	}
	nb := nodeBinary{path: p, version: strings.TrimSpace(string(out))}
	parts := strings.SplitN(strings.TrimPrefix(nb.version, "v"), ".", 3)
	if len(parts) < 2 {
		return nodeBinary{}, fmt.Errorf("%s --version printed %q, not a version", p, nb.version)
	}
	nb.major, err = strconv.Atoi(parts[0])
	if err == nil {
		nb.minor, err = strconv.Atoi(parts[1])
	}
	if err != nil {
		return nodeBinary{}, fmt.Errorf("%s --version printed %q, not a version", p, nb.version)
	}
	nodeCache.Store(p, nb)
	return nb, nil
}

// handlerExpr is the runtime's "file.export" split of a handler's last
// path element.
var handlerExpr = regexp.MustCompile(`^([^.]*)\.(.*)$`)

// checkNodeHandler refuses what Lambda's runtime would report as
// Runtime.MalformedHandlerName, at once rather than at each invocation.
func checkNodeHandler(h string) error {
	switch {
	case h == "":
		return errors.New(`missing: a Node.js function's handler is "file.export" (e.g. index.handler, src/app.handler)`)
	case strings.Contains(h, ".."):
		return fmt.Errorf("%q: a handler may not contain '..'", h)
	case !handlerExpr.MatchString(filepath.Base(h)) || strings.HasSuffix(h, "."):
		return fmt.Errorf(`%q: want "file.export", the file's path relative to the code directory without its extension, then the exported function (e.g. index.handler, src/app.handler)`, h)
	}
	return nil
}

// checkNodeOptions checks the options of a Node.js function, reading
// nothing.
func checkNodeOptions(opts Options) error {
	if opts.Path != "" {
		return fmt.Errorf("lambda: Options.Path: not used by %s functions (set CodeDir and Handler)", opts.Runtime)
	}
	if opts.CodeDir == "" {
		return fmt.Errorf("lambda: Options.CodeDir: missing (the code directory of the %s function)", opts.Runtime)
	}
	if err := checkNodeHandler(opts.Handler); err != nil {
		return fmt.Errorf("lambda: Options.Handler: %w", err)
	}
	return nil
}

// setupNode prepares a Node.js function: it checks the options, finds node
// and writes the runtime client.
func setupNode(opts *Options, log *slog.Logger) (*nodeSetup, error) {
	want := nodeRuntimes[opts.Runtime]
	if err := checkNodeOptions(*opts); err != nil {
		return nil, err
	}
	nb, err := findNode()
	if err != nil {
		return nil, fmt.Errorf("lambda: %s: %w", opts.Runtime, err)
	}
	if nb.major < minNodeMajor {
		return nil, fmt.Errorf("lambda: %s: %s is node %s; Node.js functions need node %d or later", opts.Runtime, nb.path, nb.version, minNodeMajor)
	}
	if nb.major != want {
		if _, warned := nodeWarnings.LoadOrStore(nb.path+"\x00"+opts.Runtime, struct{}{}); !warned {
			log.Warn("lambda: node's major version differs from the function's runtime; running it anyway", "runtime", opts.Runtime, "node", nb.path, "version", nb.version)
		}
	}
	dir, err := nodeRuntimeDir()
	if err != nil {
		return nil, fmt.Errorf("lambda: writing the Node.js runtime client: %w", err)
	}
	sdk := opts.NodeSDKDir
	if sdk == "" {
		sdk = NodeSDKDir()
	}
	if sdk, err = filepath.Abs(sdk); err != nil {
		return nil, fmt.Errorf("lambda: Options.NodeSDKDir: %w", err)
	}
	return &nodeSetup{runtime: opts.Runtime, node: nb, runtimeDir: dir, sdkDir: sdk}, nil
}

// command is the node command line of an instance.
func (n *nodeSetup) command(args []string) (string, []string) {
	out := append(append(append([]string{}, nodeFlags...), args...), filepath.Join(n.runtimeDir, "runtime.mjs"))
	return n.node.path, out
}

// environ adds what Lambda's Node.js runtimes set; reserved are those that
// Env may not override.
func (n *nodeSetup) environ(env map[string]string, taskRoot string) (reserved map[string]string) {
	// As Lambda's NODE_PATH lists /var/runtime/node_modules (where the SDK
	// is), /var/runtime and /var/task.
	env["NODE_PATH"] = strings.Join([]string{filepath.Join(n.sdkDir, "node_modules"), n.runtimeDir, taskRoot}, string(os.PathListSeparator))
	return map[string]string{
		"AWS_EXECUTION_ENV":        "AWS_Lambda_" + n.runtime,
		"LAMBDA_RUNTIME_DIR":       n.runtimeDir,
		"LAMBDA_TASK_ROOT":         taskRoot,
		"SWITCHBOARD_NODE_SDK_DIR": n.sdkDir,
	}
}

var runtimeDirOnce struct {
	sync.Mutex
	dir string
}

// nodeRuntimeDir writes the runtime client's files, once, to
// CACHE/switchboard/nodejs-runtime/HASH (HASH of their content, so that
// different versions of Switchboard never share one) and returns that
// directory.
func nodeRuntimeDir() (string, error) {
	runtimeDirOnce.Lock()
	defer runtimeDirOnce.Unlock()
	if runtimeDirOnce.dir != "" {
		return runtimeDirOnce.dir, nil
	}
	names := []string{"runtime.mjs", "hooks.mjs"}
	files := map[string][]byte{}
	h := sha256.New()
	for _, name := range names {
		b, err := nodeRuntimeFiles.ReadFile("nodejs/" + name)
		if err != nil {
			return "", err
		}
		files[name] = b
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	var errs []error
	for _, root := range cacheRoots() {
		dir := filepath.Join(root, "nodejs-runtime", sum)
		if err := writeRuntimeFiles(dir, files); err != nil {
			errs = append(errs, err)
			continue
		}
		runtimeDirOnce.dir = dir
		return dir, nil
	}
	return "", errors.Join(errs...)
}

// writeRuntimeFiles writes files into dir unless they are there already
// (content-addressed: present means right), each by an atomic rename.
func writeRuntimeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Size() == int64(len(b)) {
			continue
		}
		tmp, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return err
		}
		_, err = tmp.Write(b)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), p)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}

// cacheRoots are the directories Switchboard may cache files in, best
// first: the user's cache directory, then the temporary directory.
func cacheRoots() []string {
	var roots []string
	if d, err := os.UserCacheDir(); err == nil {
		roots = append(roots, filepath.Join(d, "switchboard"))
	}
	return append(roots, filepath.Join(os.TempDir(), fmt.Sprintf("switchboard-cache-%d", os.Getuid())))
}

// nodeLogLine parses a line the Node.js runtime client's console wrote:
// "TIMESTAMP\tREQUEST_ID\tLEVEL\tmessage" (newlines in the message are
// written as \r), or the JSON of AWS_LAMBDA_LOG_FORMAT=JSON. ok is false for
// any other line.
func nodeLogLine(line string) (level slog.Level, msg, requestID string, ok bool) {
	if strings.HasPrefix(line, `{"timestamp":`) {
		var doc struct {
			Level     string          `json:"level"`
			RequestID string          `json:"requestId"`
			Message   json.RawMessage `json:"message"`
		}
		if json.Unmarshal([]byte(line), &doc) != nil {
			return 0, "", "", false
		}
		if level, ok = nodeLevel(doc.Level); !ok {
			return 0, "", "", false
		}
		if json.Unmarshal(doc.Message, &msg) != nil {
			msg = string(doc.Message)
		}
		return level, msg, doc.RequestID, true
	}
	ts, rest, ok1 := strings.Cut(line, "\t")
	rid, rest, ok2 := strings.Cut(rest, "\t")
	lvl, msg, ok3 := strings.Cut(rest, "\t")
	if !ok1 || !ok2 || !ok3 || len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
		return 0, "", "", false
	}
	if level, ok = nodeLevel(lvl); !ok {
		return 0, "", "", false
	}
	if rid == "undefined" {
		rid = ""
	}
	return level, strings.ReplaceAll(msg, "\r", "\n"), rid, true
}

func nodeLevel(s string) (slog.Level, bool) {
	switch s {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARN":
		return slog.LevelWarn, true
	case "ERROR", "FATAL":
		return slog.LevelError, true
	}
	return 0, false
}
