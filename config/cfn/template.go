package cfn

import (
	"fmt"
	"sort"
	"strings"
)

// SAMTransform is the transform of AWS SAM templates.
const SAMTransform = "AWS::Serverless-2016-10-31"

// languageExtensions is the transform that adds Fn::Length,
// Fn::ToJsonString and FindInMap's DefaultValue (all supported here) and
// Fn::ForEach (not supported).
const languageExtensions = "AWS::LanguageExtensions"

// Template is a parsed template: its sections checked, nothing evaluated.
// Resolve evaluates it for one stack.
type Template struct {
	name        string
	Description string
	// SAM reports whether the template has the SAM transform.
	SAM        bool
	params     map[string]*Node
	paramOrder []string
	mappings   *Node
	conditions *Node
	rules      *Node
	globals    *Node
	resources  map[string]*resource
	order      []string // logical ids, in document order
}

type resource struct {
	id        string
	typ       string
	node      *Node
	props     *Node // Properties, SAM Globals merged in; nil when absent
	own       *Node // Properties as written (before Globals)
	metadata  *Node
	condition string
	dependsOn []string
	implicit  bool // made by the SAM transform (a function's role), not in the file
}

func (r *resource) path() string { return "Resources." + r.id }

var sections = map[string]bool{
	"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true, "Parameters": true,
	"Rules": true, "Mappings": true, "Conditions": true, "Transform": true, "Resources": true,
	"Outputs": true, "Globals": true, "Hooks": true,
}

var resourceAttributes = map[string]bool{
	"Type": true, "Properties": true, "Condition": true, "DependsOn": true, "Metadata": true,
	"DeletionPolicy": true, "UpdateReplacePolicy": true, "UpdatePolicy": true, "CreationPolicy": true,
	"Version": true, // custom resources
}

// pseudo parameters and whether they are supported.
var pseudo = map[string]bool{
	"AWS::Region": true, "AWS::AccountId": true, "AWS::StackName": true, "AWS::StackId": true,
	"AWS::Partition": true, "AWS::URLSuffix": true, "AWS::NoValue": true, "AWS::NotificationARNs": true,
}

// Parse reads a template (YAML with the short intrinsic tags, or JSON) and
// checks its structure: the sections, every resource's Type, that every
// Ref, Fn::GetAtt, Fn::Sub variable, DependsOn and condition names
// something that exists, and that resources do not depend on each other in
// a cycle. name is used in messages (the file's name). Parsing starts
// nothing and reads no other file.
func Parse(data []byte, name string) (*Template, error) {
	root, err := decode(data, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	e := &errs{file: name}
	if root.Kind != Map {
		e.add("", root.Line, "a template is a map of sections (Resources, Parameters, ...), not %s", root.Kind)
		return nil, e.err()
	}
	t := &Template{name: name, params: map[string]*Node{}, resources: map[string]*resource{}}
	for _, k := range root.Keys {
		if !sections[k] {
			e.add(k, root.KeyLine(k), "not a template section (want Resources, Parameters, Conditions, Mappings, Outputs, ...)")
		}
	}
	if d := root.Get("Description"); d != nil && d.scalar() {
		t.Description = d.Value
	}
	if tr := root.Get("Transform"); tr != nil {
		var names []*Node
		switch tr.Kind {
		case String:
			names = []*Node{tr}
		case List:
			names = tr.Items
		default:
			e.add("Transform", tr.Line, "want a transform name or a list of them")
		}
		for _, n := range names {
			switch {
			case n.Kind == String && n.Value == SAMTransform:
				t.SAM = true
			case n.Kind == String && n.Value == languageExtensions:
			default:
				e.add("Transform", n.Line, "%s: only %s and %s are supported locally (macros are not run)", n.String(), SAMTransform, languageExtensions)
			}
		}
	}
	t.mappings = root.Get("Mappings")
	t.conditions = root.Get("Conditions")
	t.rules = root.Get("Rules")
	t.globals = root.Get("Globals")
	if t.globals != nil && !t.SAM {
		e.add("Globals", t.globals.Line, "Globals needs Transform: %s", SAMTransform)
	}
	for _, sec := range []string{"Mappings", "Conditions", "Rules", "Globals", "Parameters", "Outputs", "Metadata"} {
		if n := root.Get(sec); n != nil && n.Kind != Map {
			e.add(sec, n.Line, "want a map, got %s", n.Kind)
		}
	}
	if p := root.Get("Parameters"); p != nil && p.Kind == Map {
		for _, k := range p.Keys {
			v := p.Fields[k]
			if v.Kind != Map {
				e.add("Parameters."+k, v.Line, "want a map with Type, Default, ...")
				continue
			}
			if !logicalID(k) {
				e.add("Parameters."+k, v.Line, "a parameter name is letters and digits")
			}
			t.params[k] = v
			t.paramOrder = append(t.paramOrder, k)
		}
	}
	res := root.Get("Resources")
	switch {
	case res == nil:
		e.add("Resources", 0, "required: a template has at least one resource")
	case res.Kind != Map:
		e.add("Resources", res.Line, "want a map of resources, got %s", res.Kind)
	default:
		for _, id := range res.Keys {
			t.addResource(e, id, res.Fields[id])
		}
	}
	if len(e.list) > 0 {
		return nil, e.err()
	}
	if t.SAM {
		t.applyGlobals(e)
	}
	t.check(e)
	if len(e.list) > 0 {
		return nil, e.err()
	}
	return t, nil
}

func logicalID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (t *Template) addResource(e *errs, id string, n *Node) {
	path := "Resources." + id
	if strings.HasPrefix(id, "Fn::ForEach") {
		e.add(path, n.Line, "Fn::ForEach is not supported locally")
		return
	}
	if !logicalID(id) {
		e.add(path, n.Line, "a logical id is letters and digits")
		return
	}
	if n.Kind != Map {
		e.add(path, n.Line, "want a map with Type and Properties, got %s", n.Kind)
		return
	}
	r := &resource{id: id, node: n, props: n.Get("Properties"), metadata: n.Get("Metadata")}
	if r.props != nil && r.props.Kind == Null { // "Properties:" with nothing
		r.props = nil
	}
	r.own = r.props
	for _, k := range n.Keys {
		if !resourceAttributes[k] {
			e.add(path+"."+k, n.KeyLine(k), "not a resource attribute (want Type, Properties, Condition, DependsOn, Metadata, ...)")
		}
	}
	typ := n.Get("Type")
	if typ == nil || typ.Kind != String || typ.Value == "" {
		e.add(path+".Type", n.Line, "required: the resource type, e.g. AWS::Lambda::Function")
		return
	}
	r.typ = typ.Value
	if strings.HasPrefix(r.typ, "AWS::Serverless::") && !t.SAM {
		e.add(path+".Type", typ.Line, "%s needs Transform: %s", r.typ, SAMTransform)
	}
	if r.props != nil && r.props.Kind != Map {
		e.add(path+".Properties", r.props.Line, "want a map, got %s", r.props.Kind)
	}
	if c := n.Get("Condition"); c != nil {
		if c.Kind != String {
			e.add(path+".Condition", c.Line, "want a condition name")
		} else {
			r.condition = c.Value
		}
	}
	if d := n.Get("DependsOn"); d != nil {
		switch {
		case d.Kind == String:
			r.dependsOn = []string{d.Value}
		case d.Kind == List:
			for _, it := range d.Items {
				if it.Kind != String {
					e.add(path+".DependsOn", it.Line, "want logical ids")
					continue
				}
				r.dependsOn = append(r.dependsOn, it.Value)
			}
		default:
			e.add(path+".DependsOn", d.Line, "want a logical id or a list of them")
		}
	}
	t.resources[id] = r
	t.order = append(t.order, id)
	if r.typ == "AWS::Serverless::Function" {
		t.implicitResources(r)
	}
}

// implicitResources registers the resources the SAM transform makes for a
// function that templates refer to: its role (FunctionRole), and the APIs
// of its Api and HttpApi events (ServerlessRestApi, ServerlessHttpApi).
func (t *Template) implicitResources(r *resource) {
	add := func(id, typ string) {
		if t.resources[id] == nil {
			t.resources[id] = &resource{id: id, typ: typ, implicit: true, condition: r.condition}
		}
	}
	if r.props.Get("Role") == nil {
		add(r.id+"Role", "AWS::IAM::Role")
	}
	if events := r.props.Get("Events"); events != nil && events.Kind == Map {
		for _, k := range events.Keys {
			switch typ := events.Fields[k].Get("Type"); {
			case typ == nil || typ.Kind != String:
			case typ.Value == "Api" && events.Fields[k].Get("Properties").Get("RestApiId") == nil:
				add("ServerlessRestApi", "AWS::ApiGateway::RestApi")
			case typ.Value == "HttpApi" && events.Fields[k].Get("Properties").Get("ApiId") == nil:
				add("ServerlessHttpApi", "AWS::ApiGatewayV2::Api")
			}
		}
	}
}

// check verifies names and builds the dependency graph to find cycles.
func (t *Template) check(e *errs) {
	conds := map[string]bool{}
	if t.conditions != nil && t.conditions.Kind == Map {
		for _, k := range t.conditions.Keys {
			conds[k] = true
		}
		for _, k := range t.conditions.Keys {
			t.walkRefs(e, "Conditions."+k, t.conditions.Fields[k], nil, nil, conds, true)
		}
	}
	graph := map[string][]string{}
	for _, id := range t.order {
		r := t.resources[id]
		deps := map[string]bool{}
		if r.condition != "" && !conds[r.condition] {
			e.add(r.path()+".Condition", r.node.Get("Condition").Line, "unknown condition %q", r.condition)
		}
		for _, d := range r.dependsOn {
			switch {
			case t.resources[d] == nil:
				e.add(r.path()+".DependsOn", r.node.Get("DependsOn").Line, "unknown resource %q", d)
			default:
				deps[d] = true
			}
		}
		if r.props != nil {
			t.walkRefs(e, r.path()+".Properties", r.props, nil, deps, conds, false)
		}
		if r.metadata != nil {
			t.walkRefs(e, r.path()+".Metadata", r.metadata, nil, deps, conds, false)
		}
		for d := range deps {
			graph[id] = append(graph[id], d)
		}
		sort.Strings(graph[id])
	}
	for _, cycle := range cycles(t.order, graph) {
		first := t.resources[cycle[0]]
		e.add("Resources", first.node.Line, "circular dependency between resources %s (through Ref, Fn::GetAtt, Fn::Sub or DependsOn)", strings.Join(cycle, ", "))
	}
}

// walkRefs checks the names an expression uses and records the resources
// it depends on. locals are Fn::Sub's own variables; inConditions
// restricts Ref to parameters, as CloudFormation does.
func (t *Template) walkRefs(e *errs, path string, n *Node, locals map[string]bool, deps map[string]bool, conds map[string]bool, inConditions bool) {
	if n == nil {
		return
	}
	name := func(s string, line int, what string, getAtt bool) {
		switch {
		case locals[s]:
		case !getAtt && (pseudo[s] || t.params[s] != nil):
		case t.resources[s] != nil:
			if inConditions {
				e.add(path, line, "%s %s: conditions may refer to parameters only, not to resources", what, s)
			}
			if deps != nil {
				deps[s] = true
			}
		case getAtt && t.params[s] != nil:
			e.add(path, line, "%s %s: %s is a parameter, not a resource", what, s, s)
		case strings.HasPrefix(s, "AWS::") && !getAtt:
			e.add(path, line, "%s %s: unknown pseudo parameter", what, s)
		default:
			e.add(path, line, "%s %s: no resource or parameter of that name", what, s)
		}
	}
	if fn, arg, ok := n.intrinsic(); ok {
		switch fn {
		case "Ref":
			if arg != nil && arg.Kind == String {
				name(arg.Value, n.Line, "Ref", false)
				return
			}
		case "Fn::GetAtt":
			var res string
			switch {
			case arg != nil && arg.Kind == String:
				res, _, _ = strings.Cut(arg.Value, ".")
			case arg != nil && arg.Kind == List && len(arg.Items) > 0 && arg.Items[0].Kind == String:
				res = arg.Items[0].Value
			default:
				e.add(path, n.Line, "Fn::GetAtt: want [Resource, Attribute] or Resource.Attribute")
				return
			}
			name(res, n.Line, "Fn::GetAtt", true)
			if arg.Kind == List {
				for _, it := range arg.Items[1:] {
					t.walkRefs(e, path, it, locals, deps, conds, inConditions)
				}
			}
			return
		case "Fn::Sub":
			var s *Node
			sublocals := locals
			switch {
			case arg != nil && arg.Kind == String:
				s = arg
			case arg != nil && arg.Kind == List && len(arg.Items) == 2 && arg.Items[0].Kind == String && arg.Items[1].Kind == Map:
				s = arg.Items[0]
				sublocals = map[string]bool{}
				for k := range locals {
					sublocals[k] = true
				}
				for _, k := range arg.Items[1].Keys {
					sublocals[k] = true
					t.walkRefs(e, path, arg.Items[1].Fields[k], locals, deps, conds, inConditions)
				}
			default:
				t.walkRefs(e, path, arg, locals, deps, conds, inConditions)
				return
			}
			for _, part := range parseSub(s.Value) {
				if part.variable == "" || sublocals[part.variable] {
					continue
				}
				if res, _, dotted := strings.Cut(part.variable, "."); dotted && !sublocals[res] {
					name(res, s.Line, "Fn::Sub ${"+part.variable+"}", true)
				} else if !dotted {
					name(part.variable, s.Line, "Fn::Sub ${"+part.variable+"}", false)
				}
			}
			return
		case "Fn::If":
			if arg != nil && arg.Kind == List && len(arg.Items) > 0 && arg.Items[0].Kind == String && !conds[arg.Items[0].Value] {
				e.add(path, n.Line, "Fn::If: unknown condition %q", arg.Items[0].Value)
			}
		case "Condition":
			if arg != nil && arg.Kind == String {
				if inConditions && !conds[arg.Value] {
					e.add(path, n.Line, "Condition: unknown condition %q", arg.Value)
				}
				return
			}
		}
	}
	switch n.Kind {
	case List:
		for _, it := range n.Items {
			t.walkRefs(e, path, it, locals, deps, conds, inConditions)
		}
	case Map:
		for _, k := range n.Keys {
			p := path + "." + k
			if fn, _, ok := n.intrinsic(); ok && fn == k {
				p = path
			}
			t.walkRefs(e, p, n.Fields[k], locals, deps, conds, inConditions)
		}
	}
}

// cycles returns the strongly connected components of more than one
// resource (or a resource that depends on itself), each sorted.
func cycles(order []string, graph map[string][]string) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range graph[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			self := false
			for _, w := range graph[v] {
				self = self || w == v
			}
			if len(comp) > 1 || self {
				sort.Strings(comp)
				out = append(out, comp)
			}
		}
	}
	for _, v := range order {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
