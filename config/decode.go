package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoded is a config document read into a File, with where each field
// was in the file.
type decoded struct {
	file      File
	problems  []*Problem            // unknown keys and values of the wrong kind
	positions map[string]*yaml.Node // YAML path → its value's node
}

// decode reads a YAML document into a File in two passes: the document as
// nodes (a syntax error stops here: nothing after it can be read), then a
// walk of the nodes against File's fields that reports every unknown key
// (with its YAML path and a "did you mean") and every value of the wrong
// kind, and records each path's position; then the nodes are decoded,
// unknown keys left out.
func decode(b []byte) (*decoded, []*Problem) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, []*Problem{syntaxProblem(err, b)}
	}
	if len(doc.Content) == 0 {
		return nil, []*Problem{{Msg: "the file is empty"}}
	}
	root := doc.Content[0]
	d := &decoded{positions: map[string]*yaml.Node{}}
	if root.Kind != yaml.MappingNode {
		return nil, []*Problem{{Line: root.Line, Column: root.Column, Msg: "the file must be a mapping of keys such as stage: and routes: (docs/config.md)"}}
	}
	d.walk(root, reflect.TypeOf(File{}), "")
	if len(d.problems) > 0 {
		// Decode what is right, so that validation reports the rest too.
		_ = root.Decode(&d.file)
		return d, d.problems
	}
	if err := root.Decode(&d.file); err != nil {
		// The walk should have found it; say it as yaml does.
		return d, []*Problem{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	return d, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml syntax error into a Problem with its line
// and that line's text (yaml.v3 gives no column).
func syntaxProblem(err error, b []byte) *Problem {
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return &Problem{Msg: "YAML syntax error: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	p := &Problem{Line: line, Msg: "YAML syntax error: " + m[2]}
	lines := strings.Split(string(b), "\n")
	if line >= 1 && line <= len(lines) {
		text := strings.TrimRight(lines[line-1], "\r")
		if strings.HasPrefix(strings.TrimLeft(text, " "), "\t") {
			p.Msg += " (a tab: YAML indents with spaces)"
		}
		if strings.TrimSpace(text) != "" {
			p.Msg += fmt.Sprintf(", near %q", strings.TrimSpace(text))
		}
	}
	return p
}

// walk checks node against type t at path.
func (d *decoded) walk(node *yaml.Node, t reflect.Type, path string) {
	if path != "" {
		d.positions[path] = node
	}
	if node.Kind == yaml.AliasNode {
		// The anchored node is checked where it is defined; following
		// aliases here could loop (an anchor inside itself) or multiply
		// the work (nested aliases).
		return
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return // absent: the zero value
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(format string, args ...any) {
		d.problems = append(d.problems, &Problem{Path: path, Line: node.Line, Column: node.Column, Msg: fmt.Sprintf(format, args...)})
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			bad("want a mapping of %s (got %s)", strings.Join(fieldNames(t), ", "), describe(node))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if k.Value == "<<" {
				continue // a merge key: its mapping's keys are checked by yaml
			}
			f, ok := fields[k.Value]
			if !ok {
				p := &Problem{Path: join(path, k.Value), Line: k.Line, Column: k.Column, Msg: "unknown field"}
				if s := suggest(k.Value, fieldNames(t)); s != "" {
					p.Msg += fmt.Sprintf(" (did you mean %s?)", s)
				} else {
					p.Msg += fmt.Sprintf(" (known here: %s)", strings.Join(fieldNames(t), ", "))
				}
				d.problems = append(d.problems, p)
				continue
			}
			d.walk(v, f.Type, join(path, k.Value))
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			bad("want a mapping (got %s)", describe(node))
			return
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			d.walk(node.Content[i+1], t.Elem(), join(path, node.Content[i].Value))
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			bad("want a list (got %s)", describe(node))
			return
		}
		for i, item := range node.Content {
			d.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if node.Kind != yaml.ScalarNode {
			bad("want %s (got %s)", kindName(t), describe(node))
			return
		}
		if err := node.Decode(reflect.New(t).Interface()); err != nil {
			bad("want %s (got %q)", kindName(t), node.Value)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a single value"
}

// yamlFields maps t's YAML keys to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for n := range yamlFields(t) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// suggest returns the known name closest to name, if it is close: the
// same but for case, or within an edit distance of a third of its length
// (at least 1, at most 3).
func suggest(name string, known []string) string {
	best, bestD := "", 0
	limit := min(max(1, len(name)/3), 3)
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d <= limit && (best == "" || d < bestD) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
