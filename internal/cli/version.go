package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3";
// when it is not, versionString reads the module version and the VCS
// stamp Go writes into every binary built from a checkout or installed
// with go install.
var Version = "dev"

// readBuildInfo is replaceable in tests.
var readBuildInfo = debug.ReadBuildInfo

// versionString is what `switchboard version` prints after "switchboard":
// the -X version if set, else the module version (go install m@v1.2.3),
// with the commit, its time and "modified" for a dirty tree when the
// binary was built in a checkout; "dev" alone only when nothing is known.
func versionString() string {
	v := Version
	bi, ok := readBuildInfo()
	if !ok {
		return v
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var extra []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		extra = append(extra, "commit "+rev)
	}
	if when != "" {
		extra = append(extra, when)
	}
	if modified {
		extra = append(extra, "modified")
	}
	if bi.GoVersion != "" {
		extra = append(extra, bi.GoVersion)
	}
	if len(extra) == 0 {
		return v
	}
	return fmt.Sprintf("%s (%s)", v, strings.Join(extra, ", "))
}
