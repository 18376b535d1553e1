package cfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Kind is the type of a template value.
type Kind uint8

// The kinds of values a template holds. Numbers and booleans keep their
// text, as CloudFormation passes every scalar on as a string.
const (
	Null Kind = iota
	String
	Number
	Bool
	List
	Map
)

func (k Kind) String() string {
	return [...]string{"null", "a string", "a number", "a boolean", "a list", "a map"}[k]
}

// Node is one value of a template: a scalar (Value), a list (Items) or a
// map (Keys in document order, Fields). Intrinsic functions are maps of one
// key ("Ref", "Fn::Sub", "Condition"), whatever the source's syntax: the
// YAML short forms (!Ref, !Sub, ...) are turned into the long form. Line is
// the line in the source (0 when unknown).
type Node struct {
	Kind   Kind
	Value  string
	Items  []*Node
	Keys   []string
	Fields map[string]*Node
	Line   int
	// keyLines are the lines of Keys (a map's keys), when known.
	keyLines map[string]int
}

// KeyLine is the line of a map's key (the value's line when unknown).
func (n *Node) KeyLine(key string) int {
	if n == nil {
		return 0
	}
	if l, ok := n.keyLines[key]; ok {
		return l
	}
	if v := n.Get(key); v != nil {
		return v.Line
	}
	return n.Line
}

func (n *Node) setKeyLine(key string, line int) {
	if n.keyLines == nil {
		n.keyLines = map[string]int{}
	}
	n.keyLines[key] = line
}

// Get returns the field key of a map node (nil when n is no map or has no
// such field).
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Map {
		return nil
	}
	return n.Fields[key]
}

// scalar reports whether n is a string, number or boolean.
func (n *Node) scalar() bool {
	return n != nil && (n.Kind == String || n.Kind == Number || n.Kind == Bool)
}

// intrinsic returns the function name and argument of a map of one key
// that names an intrinsic function (Ref, Condition or Fn::*).
func (n *Node) intrinsic() (string, *Node, bool) {
	if n == nil || n.Kind != Map || len(n.Keys) != 1 {
		return "", nil, false
	}
	k := n.Keys[0]
	if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
		return k, n.Fields[k], true
	}
	return "", nil, false
}

func str(s string, line int) *Node { return &Node{Kind: String, Value: s, Line: line} }

func newMap(line int) *Node { return &Node{Kind: Map, Fields: map[string]*Node{}, Line: line} }

func (n *Node) set(key string, v *Node) {
	if _, ok := n.Fields[key]; !ok {
		n.Keys = append(n.Keys, key)
	}
	n.Fields[key] = v
}

// String renders n compactly for messages.
func (n *Node) String() string {
	if n == nil {
		return "null"
	}
	switch n.Kind {
	case String:
		return strconv.Quote(n.Value)
	case Number, Bool:
		return n.Value
	case List:
		parts := make([]string, len(n.Items))
		for i, it := range n.Items {
			parts[i] = it.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case Map:
		parts := make([]string, len(n.Keys))
		for i, k := range n.Keys {
			parts[i] = k + ": " + n.Fields[k].String()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "null"
}

// maxNodes bounds the values a document may expand to (YAML aliases can
// make a small file large).
const maxNodes = 1 << 20

// decode reads a template in JSON or YAML.
func decode(data []byte, name string) (*Node, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8 text", name)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: the template is empty", name)
	}
	if strings.HasSuffix(name, ".json") {
		n, err := decodeJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return n, nil
	}
	if trimmed[0] == '{' { // JSON, or (rarely) a YAML flow mapping
		n, jerr := decodeJSON(data)
		if jerr == nil {
			return n, nil
		}
		if n, err := decodeYAML(data); err == nil {
			return n, nil
		}
		return nil, fmt.Errorf("%s: %w", name, jerr)
	}
	n, err := decodeYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// ---- YAML

func decodeYAML(data []byte) (n *Node, err error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the template is empty")
		}
		return nil, fmt.Errorf("YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: a template is one YAML document (found a second)", extra.Line)
	}
	c := &yamlConv{}
	return c.node(&doc, 0)
}

type yamlConv struct{ count int }

// shortTags maps the YAML short forms to the long names of the functions.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!ImportValue": "Fn::ImportValue",
	"!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs", "!Cidr": "Fn::Cidr", "!Transform": "Fn::Transform",
	"!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString", "!Contains": "Fn::Contains",
	"!EachMemberEquals": "Fn::EachMemberEquals", "!EachMemberIn": "Fn::EachMemberIn",
	"!ValueOf": "Fn::ValueOf", "!ValueOfAll": "Fn::ValueOfAll", "!RefAll": "Fn::RefAll",
}

func (c *yamlConv) node(y *yaml.Node, depth int) (*Node, error) {
	c.count++
	if c.count > maxNodes {
		return nil, errors.New("the template expands to too many values (YAML aliases?)")
	}
	if depth > 500 {
		return nil, fmt.Errorf("line %d: values nested too deeply", y.Line)
	}
	var n *Node
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, errors.New("the template is empty")
		}
		return c.node(y.Content[0], depth+1)
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", y.Line)
		}
		a, err := c.node(y.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		return a, nil
	case yaml.ScalarNode:
		n = &Node{Kind: String, Value: y.Value, Line: y.Line}
		if !strings.HasPrefix(y.Tag, "!") || strings.HasPrefix(y.Tag, "!!") {
			switch y.ShortTag() {
			case "!!int", "!!float":
				n.Kind = Number
			case "!!bool":
				n.Kind = Bool
				n.Value = strings.ToLower(y.Value)
			case "!!null":
				n.Kind, n.Value = Null, ""
			}
		}
	case yaml.SequenceNode:
		n = &Node{Kind: List, Line: y.Line, Items: make([]*Node, 0, len(y.Content))}
		for _, it := range y.Content {
			v, err := c.node(it, depth+1)
			if err != nil {
				return nil, err
			}
			n.Items = append(n.Items, v)
		}
	case yaml.MappingNode:
		n = newMap(y.Line)
		var merges []*Node
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a map key must be a plain string", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				m, err := c.node(v, depth+1)
				if err != nil {
					return nil, err
				}
				merges = append(merges, m)
				continue
			}
			if _, dup := n.Fields[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			val, err := c.node(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.set(k.Value, val)
			n.setKeyLine(k.Value, k.Line)
		}
		for _, m := range merges { // YAML merge keys: explicit keys win
			var srcs []*Node
			switch m.Kind {
			case Map:
				srcs = []*Node{m}
			case List:
				srcs = m.Items
			}
			for _, s := range srcs {
				if s.Kind != Map {
					return nil, fmt.Errorf("line %d: << merges maps only", s.Line)
				}
				for _, k := range s.Keys {
					if _, ok := n.Fields[k]; !ok {
						n.set(k, s.Fields[k])
					}
				}
			}
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", y.Line)
	}
	if strings.HasPrefix(y.Tag, "!") && !strings.HasPrefix(y.Tag, "!!") {
		fn, ok := shortTags[y.Tag]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown tag %s", y.Line, y.Tag)
		}
		if fn == "Fn::GetAtt" && n.Kind == String { // !GetAtt A.B (the attribute may hold dots)
			res, attr, found := strings.Cut(n.Value, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %s: want Resource.Attribute", y.Line, n.Value)
			}
			n = &Node{Kind: List, Line: y.Line, Items: []*Node{str(res, y.Line), str(attr, y.Line)}}
		}
		w := newMap(y.Line)
		w.set(fn, n)
		n = w
	}
	return n, nil
}

// ---- JSON

// decodeJSON reads JSON with line numbers: encoding/json's tokens, and
// their offsets mapped to lines.
func decodeJSON(data []byte) (*Node, error) {
	d := &jsonConv{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	d.dec.UseNumber()
	n, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: data after the template's closing brace", d.line())
	}
	return n, nil
}

type jsonConv struct {
	dec   *json.Decoder
	data  []byte
	lines []int // offsets of line starts
	count int
}

func (d *jsonConv) line() int {
	if d.lines == nil {
		d.lines = []int{0}
		for i, b := range d.data {
			if b == '\n' {
				d.lines = append(d.lines, i+1)
			}
		}
	}
	off := int(d.dec.InputOffset())
	for off < len(d.data) && (d.data[off] == ' ' || d.data[off] == '\t' || d.data[off] == '\r' || d.data[off] == '\n' || d.data[off] == ',' || d.data[off] == ':') {
		off++
	}
	return sort.Search(len(d.lines), func(i int) bool { return d.lines[i] > off })
}

func (d *jsonConv) value(depth int) (*Node, error) {
	d.count++
	if d.count > maxNodes {
		return nil, errors.New("the template has too many values")
	}
	if depth > 500 {
		return nil, fmt.Errorf("line %d: values nested too deeply", d.line())
	}
	line := d.line()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, jsonErr(err, line)
	}
	return d.fromToken(tok, line, depth)
}

func jsonErr(err error, line int) error {
	if errors.Is(err, io.EOF) {
		return errors.New("JSON: unexpected end of the template")
	}
	return fmt.Errorf("JSON: line %d: %v", line, err)
}

func (d *jsonConv) fromToken(tok json.Token, line, depth int) (*Node, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := newMap(line)
			for d.dec.More() {
				kline := d.line()
				ktok, err := d.dec.Token()
				if err != nil {
					return nil, jsonErr(err, kline)
				}
				k, ok := ktok.(string)
				if !ok {
					return nil, fmt.Errorf("JSON: line %d: a key must be a string", kline)
				}
				if _, dup := n.Fields[k]; dup {
					return nil, fmt.Errorf("JSON: line %d: duplicate key %q", kline, k)
				}
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.set(k, v)
				n.setKeyLine(k, kline)
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, jsonErr(err, d.line())
			}
			return n, nil
		case '[':
			n := &Node{Kind: List, Line: line}
			for d.dec.More() {
				v, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Items = append(n.Items, v)
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, jsonErr(err, d.line())
			}
			return n, nil
		}
		return nil, fmt.Errorf("JSON: line %d: unexpected %v", line, t)
	case string:
		return &Node{Kind: String, Value: t, Line: line}, nil
	case json.Number:
		return &Node{Kind: Number, Value: t.String(), Line: line}, nil
	case bool:
		return &Node{Kind: Bool, Value: strconv.FormatBool(t), Line: line}, nil
	case nil:
		return &Node{Kind: Null, Line: line}, nil
	}
	return nil, fmt.Errorf("JSON: line %d: unexpected token", line)
}
