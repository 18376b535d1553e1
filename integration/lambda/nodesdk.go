package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// NodeSDKDirEnv names the environment variable that sets the default
// directory of NodeSDKDir.
const NodeSDKDirEnv = "SWITCHBOARD_NODE_SDK_DIR"

// NodeSDKDir is the directory where Switchboard installs the packages of the
// AWS SDK for JavaScript v3 (@aws-sdk/*, @smithy/*) that Node.js functions
// import without bundling them, as Lambda's Node.js runtimes include the
// SDK: $SWITCHBOARD_NODE_SDK_DIR, or else nodejs-aws-sdk in Switchboard's
// cache directory (os.UserCacheDir()/switchboard). Functions share it; the
// packages are in its node_modules.
func NodeSDKDir() string {
	if d := os.Getenv(NodeSDKDirEnv); d != "" {
		return d
	}
	return filepath.Join(cacheRoots()[0], "nodejs-aws-sdk")
}

// sdkPackage is a package InstallNodeSDK installs: an npm name in the
// @aws-sdk or @smithy scope, with an optional version or range.
var sdkPackage = regexp.MustCompile(`^(@(?:aws-sdk|smithy)/[a-z0-9][a-z0-9._-]*)(?:@([A-Za-z0-9.^~<>=*| -]+))?$`)

var exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// InstallNodeSDK installs packages of the AWS SDK for JavaScript v3 into dir
// ("" is NodeSDKDir()) with npm, unless they are there already: e.g.
// "@aws-sdk/client-dynamodb", or with a version, "@aws-sdk/client-sqs@3.600.0".
// Node.js functions install what they import on first use; this installs
// beforehand (e.g. before going offline). Concurrent installations, by this
// process or others, take turns through a lock file in dir.
func InstallNodeSDK(ctx context.Context, dir string, pkgs ...string) error {
	return installNodeSDK(ctx, dir, slog.Default(), "", pkgs...)
}

// installNodeSDK is InstallNodeSDK logging to log; function names the
// function that asked, if any.
func installNodeSDK(ctx context.Context, dir string, log *slog.Logger, function string, pkgs ...string) error {
	if dir == "" {
		dir = NodeSDKDir()
	}
	if len(pkgs) == 0 {
		return nil
	}
	type spec struct{ name, version string }
	specs := make([]spec, len(pkgs))
	for i, p := range pkgs {
		m := sdkPackage.FindStringSubmatch(p)
		if m == nil {
			return fmt.Errorf("lambda: installing the AWS SDK: %q is not an @aws-sdk/* or @smithy/* package", p)
		}
		specs[i] = spec{m[1], m[2]}
	}
	// missing lists the packages not installed, or installed at another
	// version than an exact one asked for (a range accepts what is there).
	missing := func() []string {
		var out []string
		for i, sp := range specs {
			b, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(sp.name), "package.json"))
			var doc struct{ Version string }
			if err != nil || json.Unmarshal(b, &doc) != nil || (exactVersion.MatchString(sp.version) && doc.Version != sp.version) {
				out = append(out, pkgs[i])
			}
		}
		return out
	}
	if len(missing()) == 0 {
		return nil
	}
	what := strings.Join(pkgs, " ")
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("lambda: cannot install %s (Lambda's Node.js runtime includes the AWS SDK for JavaScript v3): npm is not on PATH; install npm (it comes with Node.js), or bundle it with the function (npm install %s in its code directory)", what, what)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lambda: installing %s: %w", what, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".switchboard-install.lock"))
	if err != nil {
		return fmt.Errorf("lambda: installing %s: locking %s: %w", what, dir, err)
	}
	defer unlock()
	todo := missing() // another process may have installed them meanwhile
	if len(todo) == 0 {
		return nil
	}
	manifest := filepath.Join(dir, "package.json")
	if _, err := os.Stat(manifest); err != nil {
		doc := `{"name":"switchboard-nodejs-aws-sdk","private":true,"description":"AWS SDK for JavaScript v3 packages that Switchboard provides to Node.js Lambda functions, as Lambda's runtime does"}` + "\n"
		if err := os.WriteFile(manifest, []byte(doc), 0o644); err != nil {
			return fmt.Errorf("lambda: installing %s: %w", what, err)
		}
	}
	what = strings.Join(todo, " ")
	if function != "" {
		log.Info(fmt.Sprintf("lambda: installing %s for function %s (Lambda's Node.js runtime includes the AWS SDK for JavaScript v3) into %s", what, function, dir))
	} else {
		log.Info(fmt.Sprintf("lambda: installing %s (Lambda's Node.js runtime includes the AWS SDK for JavaScript v3) into %s", what, dir))
	}
	start := time.Now()
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error", "--prefer-offline",
		"--fetch-retries=2", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000"}, todo...)
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("lambda: installing %s: %w", what, ctx.Err())
		}
		return fmt.Errorf("lambda: npm could not install %s into %s (offline? Lambda's Node.js runtime includes the AWS SDK for JavaScript v3; bundle it with the function, or install it beforehand): %w\n%s", what, dir, err, tail(out, 20))
	}
	if left := missing(); len(left) > 0 {
		return fmt.Errorf("lambda: npm installed %s, yet %s is not in %s", what, strings.Join(left, " "), filepath.Join(dir, "node_modules"))
	}
	log.Info("lambda: installed "+what, "dir", dir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// tail is the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// handleInstall serves POST /switchboard/node-sdk/install?package=NAME, the
// runtime client's request for an SDK package the function imports without
// bundling it. The time it takes does not count against the init or
// invocation timeout.
func (in *instance) handleInstall(w http.ResponseWriter, r *http.Request) {
	f := in.f
	pkg := r.URL.Query().Get("package")
	w.Header().Set("Content-Type", "application/json")
	if f.node == nil || !sdkPackage.MatchString(pkg) || strings.Contains(pkg[1:], "@") {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"errorMessage": fmt.Sprintf("%q is not an @aws-sdk/* or @smithy/* package", pkg)})
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"errorMessage": ErrClosed.Error()})
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	defer f.wg.Done()
	in.pause(true)
	err := installNodeSDK(f.ctx, f.node.sdkDir, f.log, f.opts.FunctionName, pkg)
	in.pause(false)
	if err != nil {
		in.log.Warn("lambda: installing the AWS SDK", "package", pkg, "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"dir": f.node.sdkDir})
}

// pause starts (on) or ends a period that does not count against the
// instance's init and invocation timeouts.
func (in *instance) pause(on bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if on {
		if in.pausing == 0 {
			in.pauseStart = time.Now()
		}
		in.pausing++
		return
	}
	in.pausing--
	if in.pausing == 0 {
		in.paused += time.Since(in.pauseStart)
	}
}

// pausePoll is how often a timeout that fell during a pause looks again.
const pausePoll = 100 * time.Millisecond

// pausedTotal is the instance's paused time so far, and whether a pause is
// in progress.
func (in *instance) pausedTotal() (time.Duration, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	total := in.paused
	if in.pausing > 0 {
		total += time.Since(in.pauseStart)
	}
	return total, in.pausing > 0
}

// extension is how much longer a timeout that has just expired must run to
// leave out the paused time: that not yet in *accounted (which it adds), or
// pausePoll while a pause is in progress; 0 when the timeout stands.
func (in *instance) extension(accounted *time.Duration) time.Duration {
	total, pausing := in.pausedTotal()
	ext := total - *accounted
	if pausing {
		ext = max(ext, pausePoll)
	}
	if ext <= 0 {
		return 0
	}
	*accounted += ext
	return ext
}
