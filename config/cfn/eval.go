package cfn

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// noValue is what AWS::NoValue evaluates to: the property or list item
// holding it is removed.
var noValue = &Node{Kind: Null}

// maxOutput bounds the bytes of strings evaluation may produce.
const maxOutput = 64 << 20

// evaluator evaluates a template's expressions for one stack.
type evaluator struct {
	t      *Template
	o      Options
	params map[string]*Node
	// paramErr holds the parameters that have no usable value (an SSM
	// parameter type without an override): an error only when used.
	paramErr map[string]string
	conds    map[string]bool
	condBusy map[string]bool
	phys     map[string]*physical
	physBusy map[string]bool
	produced int
}

func (e *evaluator) spend(n int, path string, at *Node) error {
	e.produced += n
	if e.produced > maxOutput {
		return fail(path, at, "the template's values grow beyond %d MiB", maxOutput>>20)
	}
	return nil
}

// resolve evaluates every intrinsic function in n. It returns noValue for
// AWS::NoValue, and drops such values from maps and lists.
func (e *evaluator) resolve(n *Node, path string) (*Node, error) {
	if n == nil {
		return nil, nil
	}
	if fn, arg, ok := n.intrinsic(); ok && fn != "Condition" {
		return e.call(fn, arg, n, path)
	}
	switch n.Kind {
	case List:
		out := &Node{Kind: List, Line: n.Line, Items: make([]*Node, 0, len(n.Items))}
		for i, it := range n.Items {
			v, err := e.resolve(it, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			if v != noValue {
				out.Items = append(out.Items, v)
			}
		}
		return out, nil
	case Map:
		out := newMap(n.Line)
		for _, k := range n.Keys {
			v, err := e.resolve(n.Fields[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			if v != noValue && v != nil {
				out.set(k, v)
			}
		}
		return out, nil
	}
	return n, nil
}

// resolveString evaluates n and wants a scalar.
func (e *evaluator) resolveString(n *Node, path, what string) (string, error) {
	v, err := e.resolve(n, path)
	if err != nil {
		return "", err
	}
	if v == nil || !v.scalar() {
		return "", fail(path, n, "%s: want a string, got %s", what, kindOf(v))
	}
	return v.Value, nil
}

func kindOf(n *Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n == noValue:
		return "AWS::NoValue"
	}
	return n.Kind.String()
}

func (e *evaluator) call(fn string, arg, at *Node, path string) (*Node, error) {
	switch fn {
	case "Ref":
		name, err := e.resolveString(arg, path, "Ref")
		if err != nil {
			return nil, err
		}
		return e.ref(name, at, path)
	case "Fn::GetAtt":
		var res, attr string
		switch {
		case arg != nil && arg.Kind == String:
			var ok bool
			res, attr, ok = strings.Cut(arg.Value, ".")
			if !ok {
				return nil, fail(path, at, "Fn::GetAtt %s: want Resource.Attribute", arg.Value)
			}
		case arg != nil && arg.Kind == List && len(arg.Items) == 2 && arg.Items[0].Kind == String:
			res = arg.Items[0].Value
			a, err := e.resolveString(arg.Items[1], path, "Fn::GetAtt attribute")
			if err != nil {
				return nil, err
			}
			attr = a
		default:
			return nil, fail(path, at, "Fn::GetAtt: want [Resource, Attribute] or Resource.Attribute")
		}
		s, err := e.getAtt(res, attr, at, path)
		if err != nil {
			return nil, err
		}
		return str(s, at.Line), nil
	case "Fn::Sub":
		return e.sub(arg, at, path)
	case "Fn::Join":
		if arg == nil || arg.Kind != List || len(arg.Items) != 2 {
			return nil, fail(path, at, "Fn::Join: want [delimiter, [values]]")
		}
		delim, err := e.resolveString(arg.Items[0], path, "Fn::Join delimiter")
		if err != nil {
			return nil, err
		}
		list, err := e.resolveList(arg.Items[1], path, "Fn::Join")
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(list))
		size := 0
		for i, it := range list {
			if !it.scalar() {
				return nil, fail(path, it, "Fn::Join: value %d is %s, want a string", i, kindOf(it))
			}
			parts[i] = it.Value
			size += len(it.Value) + len(delim)
		}
		if err := e.spend(size, path, at); err != nil {
			return nil, err
		}
		return str(strings.Join(parts, delim), at.Line), nil
	case "Fn::Select":
		if arg == nil || arg.Kind != List || len(arg.Items) != 2 {
			return nil, fail(path, at, "Fn::Select: want [index, [values]]")
		}
		is, err := e.resolveString(arg.Items[0], path, "Fn::Select index")
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, fail(path, at, "Fn::Select: index %q is not a whole number", is)
		}
		list, err := e.resolveList(arg.Items[1], path, "Fn::Select")
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(list) {
			return nil, fail(path, at, "Fn::Select: index %d is outside the list of %d values", i, len(list))
		}
		return list[i], nil
	case "Fn::Split":
		if arg == nil || arg.Kind != List || len(arg.Items) != 2 {
			return nil, fail(path, at, "Fn::Split: want [delimiter, string]")
		}
		delim, err := e.resolveString(arg.Items[0], path, "Fn::Split delimiter")
		if err != nil {
			return nil, err
		}
		if delim == "" {
			return nil, fail(path, at, "Fn::Split: the delimiter is empty")
		}
		s, err := e.resolveString(arg.Items[1], path, "Fn::Split source")
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, delim)
		if err := e.spend(len(s)+16*len(parts), path, at); err != nil {
			return nil, err
		}
		out := &Node{Kind: List, Line: at.Line, Items: make([]*Node, len(parts))}
		for i, p := range parts {
			out.Items[i] = str(p, at.Line)
		}
		return out, nil
	case "Fn::If":
		if arg == nil || arg.Kind != List || len(arg.Items) != 3 || arg.Items[0].Kind != String {
			return nil, fail(path, at, "Fn::If: want [condition name, value if true, value if false]")
		}
		ok, err := e.condition(arg.Items[0].Value, arg.Items[0], path)
		if err != nil {
			return nil, err
		}
		if ok {
			return e.resolve(arg.Items[1], path)
		}
		return e.resolve(arg.Items[2], path)
	case "Fn::FindInMap":
		return e.findInMap(arg, at, path)
	case "Fn::Base64":
		s, err := e.resolveString(arg, path, "Fn::Base64")
		if err != nil {
			return nil, err
		}
		if err := e.spend(len(s)*2, path, at); err != nil {
			return nil, err
		}
		return str(base64.StdEncoding.EncodeToString([]byte(s)), at.Line), nil
	case "Fn::GetAZs":
		region, err := e.resolveString(arg, path, "Fn::GetAZs")
		if err != nil {
			return nil, err
		}
		if region == "" {
			region = e.o.Region
		}
		out := &Node{Kind: List, Line: at.Line}
		for _, z := range "abc" {
			out.Items = append(out.Items, str(region+string(z), at.Line))
		}
		return out, nil
	case "Fn::Length":
		list, err := e.resolveList(arg, path, "Fn::Length")
		if err != nil {
			return nil, err
		}
		return &Node{Kind: Number, Value: strconv.Itoa(len(list)), Line: at.Line}, nil
	case "Fn::ToJsonString":
		v, err := e.resolve(arg, path)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(toJSON(v))
		if err != nil {
			return nil, fail(path, at, "Fn::ToJsonString: %v", err)
		}
		if err := e.spend(len(b), path, at); err != nil {
			return nil, err
		}
		return str(string(b), at.Line), nil
	case "Fn::ImportValue":
		what := ""
		if v, err := e.resolveString(arg, path, "Fn::ImportValue"); err == nil {
			what = " " + strconv.Quote(v)
		}
		return nil, fail(path, at, "Fn::ImportValue%s: not supported locally (it reads another stack's exports): make the value a parameter and pass it with --parameter-overrides", what)
	case "Fn::Cidr":
		return nil, fail(path, at, "Fn::Cidr: not supported locally")
	case "Fn::Transform":
		return nil, fail(path, at, "Fn::Transform: macros are not run locally")
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn":
		return nil, fail(path, at, "%s is a condition function: use it in Conditions (or Rules), and Fn::If here", fn)
	}
	return nil, fail(path, at, "unknown intrinsic function %s", fn)
}

// resolveList evaluates n and wants a list (a CommaDelimitedList
// parameter, Fn::Split, Fn::GetAZs, or a literal list).
func (e *evaluator) resolveList(n *Node, path, what string) ([]*Node, error) {
	v, err := e.resolve(n, path)
	if err != nil {
		return nil, err
	}
	if v == nil || v.Kind != List {
		return nil, fail(path, n, "%s: want a list, got %s", what, kindOf(v))
	}
	return v.Items, nil
}

func toJSON(n *Node) any {
	if n == nil || n == noValue {
		return nil
	}
	switch n.Kind {
	case String:
		return n.Value
	case Number:
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
		}
		return n.Value
	case Bool:
		return n.Value == "true"
	case List:
		out := make([]any, len(n.Items))
		for i, it := range n.Items {
			out[i] = toJSON(it)
		}
		return out
	case Map:
		out := make(map[string]any, len(n.Keys))
		for _, k := range n.Keys {
			out[k] = toJSON(n.Fields[k])
		}
		return out
	}
	return nil
}

// subPart is a piece of a Fn::Sub string: literal text, or a variable.
type subPart struct {
	literal  string
	variable string
}

// parseSub splits a Fn::Sub string: ${Name} is a variable, ${!Text} the
// literal ${Text}; a ${ without its } is literal text.
func parseSub(s string) []subPart {
	var parts []subPart
	var lit strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			lit.WriteString(s[i:])
			break
		}
		body := rest[:j]
		s = rest[j+1:]
		if strings.HasPrefix(body, "!") {
			lit.WriteString("${" + body[1:] + "}")
			continue
		}
		if lit.Len() > 0 {
			parts = append(parts, subPart{literal: lit.String()})
			lit.Reset()
		}
		parts = append(parts, subPart{variable: strings.TrimSpace(body)})
	}
	if lit.Len() > 0 {
		parts = append(parts, subPart{literal: lit.String()})
	}
	return parts
}

func (e *evaluator) sub(arg, at *Node, path string) (*Node, error) {
	var tmpl *Node
	locals := map[string]*Node{}
	switch {
	case arg != nil && arg.Kind == String:
		tmpl = arg
	case arg != nil && arg.Kind == List && len(arg.Items) == 2 && arg.Items[1].Kind == Map:
		s, err := e.resolve(arg.Items[0], path)
		if err != nil {
			return nil, err
		}
		if s == nil || s.Kind != String {
			return nil, fail(path, at, "Fn::Sub: want a string, got %s", kindOf(s))
		}
		tmpl = s
		vars := arg.Items[1]
		for _, k := range vars.Keys {
			locals[k] = vars.Fields[k]
		}
	default:
		return nil, fail(path, at, "Fn::Sub: want a string, or [string, {variables}]")
	}
	var b strings.Builder
	for _, p := range parseSub(tmpl.Value) {
		if p.variable == "" {
			b.WriteString(p.literal)
			continue
		}
		var v string
		if n, ok := locals[p.variable]; ok {
			s, err := e.resolveString(n, path, "Fn::Sub variable "+p.variable)
			if err != nil {
				return nil, err
			}
			v = s
		} else if res, attr, dotted := strings.Cut(p.variable, "."); dotted {
			s, err := e.getAtt(res, attr, at, path)
			if err != nil {
				return nil, err
			}
			v = s
		} else {
			n, err := e.ref(p.variable, at, path)
			if err != nil {
				return nil, err
			}
			if n == noValue {
				return nil, fail(path, at, "Fn::Sub: ${%s} cannot be used in a string", p.variable)
			}
			if !n.scalar() {
				return nil, fail(path, at, "Fn::Sub: ${%s} is %s, not a string", p.variable, kindOf(n))
			}
			v = n.Value
		}
		if err := e.spend(len(v), path, at); err != nil {
			return nil, err
		}
		b.WriteString(v)
	}
	return str(b.String(), at.Line), nil
}

func (e *evaluator) findInMap(arg, at *Node, path string) (*Node, error) {
	if arg == nil || arg.Kind != List || len(arg.Items) < 3 || len(arg.Items) > 4 {
		return nil, fail(path, at, "Fn::FindInMap: want [MapName, TopLevelKey, SecondLevelKey]")
	}
	var keys [3]string
	for i := range keys {
		s, err := e.resolveString(arg.Items[i], path, "Fn::FindInMap key")
		if err != nil {
			return nil, err
		}
		keys[i] = s
	}
	var found *Node
	if m := e.t.mappings.Get(keys[0]); m == nil {
		if len(arg.Items) < 4 {
			return nil, fail(path, at, "Fn::FindInMap: no mapping %q in Mappings", keys[0])
		}
	} else {
		found = m.Get(keys[1]).Get(keys[2])
	}
	if found == nil {
		if len(arg.Items) == 4 {
			if d := arg.Items[3].Get("DefaultValue"); d != nil {
				return e.resolve(d, path)
			}
			return nil, fail(path, at, "Fn::FindInMap: the fourth value is {DefaultValue: value}")
		}
		return nil, fail(path, at, "Fn::FindInMap: Mappings.%s has no %s.%s", keys[0], keys[1], keys[2])
	}
	return e.resolve(found, path)
}

// condition evaluates the named condition of the Conditions section.
func (e *evaluator) condition(name string, at *Node, path string) (bool, error) {
	if v, ok := e.conds[name]; ok {
		return v, nil
	}
	n := e.t.conditions.Get(name)
	if n == nil {
		return false, fail(path, at, "unknown condition %q", name)
	}
	if e.condBusy[name] {
		return false, fail("Conditions."+name, n, "the condition depends on itself")
	}
	e.condBusy[name] = true
	v, err := e.condExpr(n, "Conditions."+name)
	delete(e.condBusy, name)
	if err != nil {
		return false, err
	}
	e.conds[name] = v
	return v, nil
}

// condExpr evaluates a condition function: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, or {Condition: name}.
func (e *evaluator) condExpr(n *Node, path string) (bool, error) {
	fn, arg, ok := n.intrinsic()
	if !ok {
		if n != nil && n.Kind == Bool { // a literal true/false (rules allow it)
			return n.Value == "true", nil
		}
		return false, fail(path, n, "want a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition), got %s", kindOf(n))
	}
	switch fn {
	case "Condition":
		if arg == nil || arg.Kind != String {
			return false, fail(path, n, "Condition: want a condition name")
		}
		return e.condition(arg.Value, n, path)
	case "Fn::Equals":
		if arg == nil || arg.Kind != List || len(arg.Items) != 2 {
			return false, fail(path, n, "Fn::Equals: want [value, value]")
		}
		a, err := e.resolve(arg.Items[0], path)
		if err != nil {
			return false, err
		}
		b, err := e.resolve(arg.Items[1], path)
		if err != nil {
			return false, err
		}
		return equal(a, b), nil
	case "Fn::Not":
		if arg == nil || arg.Kind != List || len(arg.Items) != 1 {
			return false, fail(path, n, "Fn::Not: want [condition]")
		}
		v, err := e.condExpr(arg.Items[0], path)
		return !v, err
	case "Fn::And", "Fn::Or":
		if arg == nil || arg.Kind != List || len(arg.Items) < 2 || len(arg.Items) > 10 {
			return false, fail(path, n, "%s: want a list of 2 to 10 conditions", fn)
		}
		and := fn == "Fn::And"
		for _, c := range arg.Items {
			v, err := e.condExpr(c, path)
			if err != nil {
				return false, err
			}
			if v != and {
				return v, nil
			}
		}
		return and, nil
	case "Fn::Contains": // Rules
		if arg == nil || arg.Kind != List || len(arg.Items) != 2 {
			return false, fail(path, n, "Fn::Contains: want [[values], value]")
		}
		list, err := e.resolveList(arg.Items[0], path, "Fn::Contains")
		if err != nil {
			return false, err
		}
		v, err := e.resolve(arg.Items[1], path)
		if err != nil {
			return false, err
		}
		for _, it := range list {
			if equal(it, v) {
				return true, nil
			}
		}
		return false, nil
	case "Fn::EachMemberEquals", "Fn::EachMemberIn": // Rules
		if arg == nil || arg.Kind != List || len(arg.Items) != 2 {
			return false, fail(path, n, "%s: want [[values], value]", fn)
		}
		list, err := e.resolveList(arg.Items[0], path, fn)
		if err != nil {
			return false, err
		}
		want, err := e.resolve(arg.Items[1], path)
		if err != nil {
			return false, err
		}
		for _, it := range list {
			ok := false
			if fn == "Fn::EachMemberEquals" {
				ok = equal(it, want)
			} else if want != nil && want.Kind == List {
				for _, w := range want.Items {
					ok = ok || equal(it, w)
				}
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	}
	return false, fail(path, n, "%s is not a condition function (want Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition)", fn)
}

// equal compares two evaluated values as CloudFormation does: scalars by
// their text.
func equal(a, b *Node) bool {
	if a == nil || b == nil || a == noValue || b == noValue {
		return a == b
	}
	if a.scalar() && b.scalar() {
		return a.Value == b.Value
	}
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case Null:
		return true
	case List:
		if len(a.Items) != len(b.Items) {
			return false
		}
		for i := range a.Items {
			if !equal(a.Items[i], b.Items[i]) {
				return false
			}
		}
		return true
	case Map:
		if len(a.Keys) != len(b.Keys) {
			return false
		}
		for _, k := range a.Keys {
			if !equal(a.Fields[k], b.Fields[k]) {
				return false
			}
		}
		return true
	}
	return false
}
