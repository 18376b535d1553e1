package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// `code` spans and the targets of relative Markdown links.
	docCode = regexp.MustCompile("`([^`\\s]+)`")
	docLink = regexp.MustCompile(`\]\(([^)\s#]+)(#[^)]*)?\)`)
	goIdent = regexp.MustCompile(`^(.+)\.[A-Z][A-Za-z0-9_]*$`)
)

// TestDocsCitePathsThatExist: every repository path docs/*.md cites —
// a `code` span that starts with one of the repository's top-level
// directories or files, a bare `name_test.go`, or a relative link — exists
// (a path outside the repository is an error too). Placeholders ({stage},
// *, …) and Go identifiers after a package path (chat/store.Store) are
// not paths.
func TestDocsCitePathsThatExist(t *testing.T) {
	t.Parallel()
	base := root(t)
	top := map[string]bool{}
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			top[e.Name()] = true
		}
	}
	testFiles := map[string]bool{}
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && p != base) {
			return filepath.SkipDir
		}
		if strings.HasSuffix(d.Name(), "_test.go") {
			testFiles[d.Name()] = true
		}
		return nil
	})
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(base, rel))
		return err == nil
	}
	docs, _ := filepath.Glob(filepath.Join(base, "docs", "*.md"))
	if len(docs) == 0 {
		t.Fatal("no docs/*.md")
	}
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name := "docs/" + filepath.Base(doc)
		for _, m := range docCode.FindAllStringSubmatch(string(b), -1) {
			p := strings.TrimRight(m[1], ".,:;")
			if strings.ContainsAny(p, "{}*<>$=…") || strings.Contains(p, "...") || strings.Contains(p, "://") {
				continue
			}
			switch {
			case strings.HasPrefix(p, "../"):
				t.Errorf("%s cites %s, outside the repository", name, p)
				continue
			case !strings.Contains(p, "/"):
				if strings.HasSuffix(p, "_test.go") && !testFiles[p] {
					t.Errorf("%s cites %s: no such file in the repository", name, p)
				}
				checked++
				continue
			}
			p = strings.TrimPrefix(p, "./")
			if !top[strings.Split(p, "/")[0]] {
				continue // not a repository path (a URL path, a header, …)
			}
			checked++
			if exists(p) {
				continue
			}
			if g := goIdent.FindStringSubmatch(p); g != nil && exists(g[1]) {
				continue // chat/store.Store
			}
			t.Errorf("%s cites %s: no such file or directory in the repository", name, p)
		}
		for _, m := range docLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, ":") {
				continue // a URL
			}
			checked++
			rel, err := filepath.Rel(base, filepath.Join(filepath.Dir(doc), target))
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the repository", name, target)
				continue
			}
			if !exists(rel) {
				t.Errorf("%s links to %s: no such file", name, target)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d paths checked: the test no longer finds the docs' citations", checked)
	}
}
