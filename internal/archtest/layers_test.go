package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/switchboard-ws/switchboard"

// gatewayTier are the packages of the gateway product (and what it is built
// from): none may import the chat application or the commands.
var gatewayTier = []string{
	"gateway", "cluster", "integration", "config", "queue", "eventsource", "sigv4", "push",
	"internal/wsproto", "internal/routeselect", "internal/tlsmux", "internal/localca",
	"internal/connectproxy", "internal/localonly", "internal/httpserve", "internal/originguard",
}

// applicationOnly are what the gateway tier must not import.
var applicationOnly = []string{"chat", "cmd", "internal/cli", "internal/bench", "internal/chattest", "internal/lambdaapp", "internal/seedtest", "examples", "deploy"}

// pkg is one directory's package: its import path relative to the module,
// and what its files import (test files apart).
type pkg struct {
	imports, testImports map[string]bool
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s", dir)
	}
	return dir
}

// packages parses the imports of every Go package in the module.
func packages(t *testing.T) map[string]*pkg {
	t.Helper()
	base := root(t)
	out := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != base && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(base, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		p := out[rel]
		if p == nil {
			p = &pkg{imports: map[string]bool{}, testImports: map[string]bool{}}
			out[rel] = p
		}
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if strings.HasSuffix(path, "_test.go") {
				p.testImports[ip] = true
			} else {
				p.imports[ip] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func within(rel, prefix string) bool { return rel == prefix || strings.HasPrefix(rel, prefix+"/") }

func local(ip string) (string, bool) {
	if ip == module {
		return "", true
	}
	return strings.CutPrefix(ip, module+"/")
}

func TestGatewayTierDoesNotImportTheApplication(t *testing.T) {
	t.Parallel()
	for rel, p := range packages(t) {
		inGateway := false
		for _, g := range gatewayTier {
			inGateway = inGateway || within(rel, g)
		}
		if !inGateway {
			continue
		}
		for ip := range p.imports {
			dep, ok := local(ip)
			if !ok {
				continue
			}
			for _, app := range applicationOnly {
				if within(dep, app) {
					t.Errorf("%s (gateway tier) imports %s (application tier)", rel, dep)
				}
			}
		}
	}
}

func TestGoSDKImportsNoServerPackage(t *testing.T) {
	t.Parallel()
	p := packages(t)["chat/client"]
	if p == nil {
		t.Fatal("no chat/client package")
	}
	for ip := range p.imports {
		if dep, ok := local(ip); ok && dep != "chat/protocol" {
			t.Errorf("the Go SDK (chat/client) imports %s: it may use only chat/protocol of this module", dep)
		}
	}
}

func TestProtocolIsStandardLibraryOnly(t *testing.T) {
	t.Parallel()
	p := packages(t)["chat/protocol"]
	if p == nil {
		t.Fatal("no chat/protocol package")
	}
	for ip := range p.imports {
		if first, _, _ := strings.Cut(ip, "/"); strings.Contains(first, ".") {
			t.Errorf("chat/protocol imports %s: the wire protocol depends on the standard library alone", ip)
		}
	}
}

// TestArchitectureDocNamesEveryPackage checks docs/architecture.md's package
// tables against the module's packages, both ways.
func TestArchitectureDocNamesEveryPackage(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| ([^|]+)\\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		for _, c := range regexp.MustCompile("`([a-z0-9/_-]+)`").FindAllStringSubmatch(m[1], -1) {
			named[c[1]] = true
		}
	}
	var missing []string
	pk := packages(t)
	for rel, p := range pk {
		if len(p.imports) == 0 && len(p.testImports) > 0 && !hasNonTest(t, rel) {
			continue // a directory of tests only
		}
		if !named[rel] {
			missing = append(missing, rel)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("docs/architecture.md's package tables do not name %s", m)
	}
	for n := range named {
		if _, ok := pk[n]; !ok && isDir(t, n) {
			t.Errorf("docs/architecture.md names %s, a directory without a Go package", n)
		}
	}
}

// TestArchitectureDocDependencies checks the "depends on" column of
// docs/architecture.md's package tables against the packages' imports (test
// files apart), for the rows that name one package.
func TestArchitectureDocDependencies(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	pk := packages(t)
	name := regexp.MustCompile("`([a-z0-9/_-]+)`")
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 { // | package | provides | depends on |
			continue
		}
		pkgs := name.FindAllStringSubmatch(cells[1], -1)
		if len(pkgs) != 1 {
			continue
		}
		rel := pkgs[0][1]
		p, ok := pk[rel]
		if !ok {
			continue
		}
		rows++
		want := map[string]bool{}
		for _, m := range name.FindAllStringSubmatch(cells[3], -1) {
			if _, isPkg := pk[m[1]]; isPkg {
				want[m[1]] = true
			}
		}
		got := map[string]bool{}
		for ip := range p.imports {
			if dep, ok := local(ip); ok {
				got[dep] = true
			}
		}
		for d := range got {
			if !want[d] {
				t.Errorf("docs/architecture.md: %s imports %s, which its row does not say", rel, d)
			}
		}
		for d := range want {
			if !got[d] {
				t.Errorf("docs/architecture.md: %s's row says it depends on %s, which it does not import", rel, d)
			}
		}
	}
	if rows < 20 {
		t.Fatalf("found only %d package rows in docs/architecture.md", rows)
	}
}

func hasNonTest(t *testing.T, rel string) bool {
	entries, _ := os.ReadDir(filepath.Join(root(t), rel))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			return true
		}
	}
	return false
}

func isDir(t *testing.T, rel string) bool {
	st, err := os.Stat(filepath.Join(root(t), rel))
	return err == nil && st.IsDir()
}
