package deploy_test

// A small Terraform evaluator: enough of the language to evaluate the
// module for given inputs without providers or cloud calls. Variables
// (defaults, types, validations), locals, for_each and count, each.* and
// count.index, path.module and the functions the module uses are real;
// a resource attribute that only exists once deployed evaluates to the
// symbol "${ADDRESS.ATTRIBUTE}" (with the ARNs and URLs AWS derives from an
// id spelt out, see tfSynthesized), so that the checks can follow
// references between resources.

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

type tfModule struct {
	dir       string // absolute
	root      string // repository root, for file names in messages
	variables map[string]*tfVariable
	locals    map[string]*hclsyntax.Attribute
	resources []*tfResource // resources and data sources, in file order
	modules   map[string]*tfBlockDef
	outputs   map[string]*hclsyntax.Attribute // output name -> its value
	attrNames map[string]bool                 // every attribute name traversed anywhere
}

type tfVariable struct {
	name        string
	typ         cty.Type
	def         cty.Value
	hasDefault  bool
	validations []*hclsyntax.Body
	file        string
}

type tfResource struct {
	mode      string // "resource" or "data"
	typ, name string
	body      *hclsyntax.Body
	file      string
}

type tfBlockDef struct {
	name string
	body *hclsyntax.Body
	file string
}

func (r *tfResource) addr() string {
	if r.mode == "data" {
		return "data." + r.typ + "." + r.name
	}
	return r.typ + "." + r.name
}

func parseTFModule(t testing.TB, root, dir string) *tfModule {
	t.Helper()
	m := &tfModule{dir: dir, root: root, variables: map[string]*tfVariable{}, locals: map[string]*hclsyntax.Attribute{},
		modules: map[string]*tfBlockDef{}, outputs: map[string]*hclsyntax.Attribute{}, attrNames: map[string]bool{}}
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no .tf files (%v)", rel(root, dir), err)
	}
	sort.Strings(paths)
	p := hclparse.NewParser()
	for _, path := range paths {
		name := rel(root, path)
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		if len(body.Attributes) > 0 {
			t.Fatalf("%s: attributes at the top level", name)
		}
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			var tr hcl.Traversal
			switch e := n.(type) {
			case *hclsyntax.ScopeTraversalExpr:
				tr = e.Traversal
			case *hclsyntax.RelativeTraversalExpr:
				tr = e.Traversal
			}
			for _, step := range tr {
				if a, ok := step.(hcl.TraverseAttr); ok {
					m.attrNames[a.Name] = true
				}
			}
			return nil
		})
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				v := &tfVariable{name: b.Labels[0], typ: cty.DynamicPseudoType, file: name}
				if a := b.Body.Attributes["type"]; a != nil {
					ty, diags := typeexpr.TypeConstraint(a.Expr)
					if diags.HasErrors() {
						t.Fatalf("%s: variable %q: %s", name, v.name, diags.Error())
					}
					v.typ = ty
				}
				if a := b.Body.Attributes["default"]; a != nil {
					val, diags := a.Expr.Value(nil)
					if diags.HasErrors() {
						t.Fatalf("%s: variable %q: default: %s", name, v.name, diags.Error())
					}
					v.def, v.hasDefault = val, true
				}
				for _, vb := range b.Body.Blocks {
					if vb.Type == "validation" {
						v.validations = append(v.validations, vb.Body)
					}
				}
				m.variables[v.name] = v
			case "locals":
				for k, a := range b.Body.Attributes {
					m.locals[k] = a
				}
			case "resource", "data":
				m.resources = append(m.resources, &tfResource{mode: b.Type, typ: b.Labels[0], name: b.Labels[1], body: b.Body, file: name})
			case "module":
				m.modules[b.Labels[0]] = &tfBlockDef{name: b.Labels[0], body: b.Body, file: name}
			case "output":
				if a := b.Body.Attributes["value"]; a != nil {
					m.outputs[b.Labels[0]] = a
				}
			case "terraform", "provider", "moved", "import", "check":
			default:
				t.Fatalf("%s: unknown block %q", name, b.Type)
			}
		}
	}
	return m
}

// tfEval evaluates one module for one set of inputs.
type tfEval struct {
	t      testing.TB
	m      *tfModule
	vars   cty.Value
	locals map[string]cty.Value
	busy   map[string]bool
	types  map[string]cty.Value // resource type (or "data") -> its object
	funcs  map[string]function.Function
}

// newTFEval sets the module's variables from inputs (which must be of the
// variables' types or convertible) and checks their validations.
func newTFEval(t testing.TB, m *tfModule, inputs map[string]cty.Value) *tfEval {
	t.Helper()
	e := &tfEval{t: t, m: m, locals: map[string]cty.Value{}, busy: map[string]bool{}, types: map[string]cty.Value{}}
	e.funcs = tfFunctions(m)
	for k := range inputs {
		if m.variables[k] == nil {
			t.Fatalf("%s: no variable %q for the input", rel(m.root, m.dir), k)
		}
	}
	vals := map[string]cty.Value{}
	for name, v := range m.variables {
		val, ok := inputs[name]
		switch {
		case ok:
		case v.hasDefault:
			val = v.def
		default:
			t.Fatalf("%s: variable %q has no default and no input", v.file, name)
		}
		if val.IsNull() {
			vals[name] = cty.NullVal(v.typ)
			continue
		}
		conv, err := convert.Convert(val, v.typ)
		if err != nil {
			t.Fatalf("%s: variable %q: %v", v.file, name, err)
		}
		vals[name] = conv
	}
	e.vars = cty.ObjectVal(vals)
	for _, name := range slices.Sorted(maps.Keys(m.variables)) {
		v := m.variables[name]
		for _, b := range v.validations {
			ok := e.value(b.Attributes["condition"].Expr, nil, v.file+": variable "+name+" validation")
			if ok.IsNull() || ok.False() {
				msg := e.value(b.Attributes["error_message"].Expr, nil, v.file)
				t.Fatalf("%s: variable %q = %#v fails its validation: %s", v.file, name, vals[name].GoString(), msg.AsString())
			}
		}
	}
	return e
}

func (e *tfEval) fail(where string, diags hcl.Diagnostics) {
	e.t.Helper()
	e.t.Fatalf("%s: %s", where, diags.Error())
}

// value evaluates an expression; extra adds each.*/count.* and the like.
func (e *tfEval) value(expr hcl.Expression, extra map[string]cty.Value, where string) cty.Value {
	e.t.Helper()
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: e.funcs}
	for k, v := range extra {
		ctx.Variables[k] = v
	}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if _, ok := ctx.Variables[root]; ok {
			continue
		}
		switch root {
		case "var":
			ctx.Variables["var"] = e.vars
		case "local":
			// Filled below, with every local this expression names.
		case "path":
			ctx.Variables["path"] = cty.ObjectVal(map[string]cty.Value{
				"module": cty.StringVal(e.m.dir), "root": cty.StringVal(e.m.dir), "cwd": cty.StringVal(e.m.dir)})
		case "each", "count", "self":
			e.t.Fatalf("%s: %s.* outside a resource with for_each or count", where, root)
		case "module", "terraform":
			e.t.Fatalf("%s: %s.* is not supported by this evaluator", where, root)
		default:
			ctx.Variables[root] = e.resourceType(root, where)
		}
	}
	locals := map[string]cty.Value{}
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		name := tr[1].(hcl.TraverseAttr).Name
		locals[name] = e.local(name, where)
	}
	if len(locals) > 0 {
		ctx.Variables["local"] = cty.ObjectVal(locals)
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		e.fail(where, diags)
	}
	v, _ = v.UnmarkDeep()
	return v
}

func (e *tfEval) local(name, where string) cty.Value {
	e.t.Helper()
	if v, ok := e.locals[name]; ok {
		return v
	}
	a := e.m.locals[name]
	if a == nil {
		e.t.Fatalf("%s: no local %q", where, name)
	}
	if e.busy[name] {
		e.t.Fatalf("%s: local %q refers to itself", where, name)
	}
	e.busy[name] = true
	v := e.value(a.Expr, nil, fmt.Sprintf("%s: local.%s", rel(e.m.root, a.SrcRange.Filename), name))
	e.busy[name] = false
	e.locals[name] = v
	return v
}

// tfInstance is one instance of a resource: its key (none, a for_each key
// or a count index) and the each/count values its expressions see.
type tfInstance struct {
	res   *tfResource
	key   string // `["k"]`, `[0]` or ""
	extra map[string]cty.Value
}

func (i tfInstance) addr() string { return i.res.addr() + i.key }

func (e *tfEval) instances(r *tfResource) []tfInstance {
	e.t.Helper()
	where := r.file + ": " + r.addr()
	if a := r.body.Attributes["for_each"]; a != nil {
		v := e.value(a.Expr, nil, where+": for_each")
		if !v.CanIterateElements() {
			e.t.Fatalf("%s: for_each is not a map or set", where)
		}
		var out []tfInstance
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			if v.Type().IsSetType() {
				k = val
			}
			key := k.AsString()
			out = append(out, tfInstance{res: r, key: "[" + strconv.Quote(key) + "]", extra: map[string]cty.Value{
				"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": val})}})
		}
		return out
	}
	if a := r.body.Attributes["count"]; a != nil {
		v := e.value(a.Expr, nil, where+": count")
		n, _ := v.AsBigFloat().Int64()
		var out []tfInstance
		for i := range n {
			out = append(out, tfInstance{res: r, key: fmt.Sprintf("[%d]", i), extra: map[string]cty.Value{
				"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(i)})}})
		}
		return out
	}
	return []tfInstance{{res: r}}
}

// tfSynthesized spells out attributes AWS derives from an id, so that
// both template formats name them alike.
var tfSynthesized = map[string]map[string]func(addr string) string{
	"aws_apigatewayv2_api": {
		"api_endpoint": func(a string) string { return "wss://${" + a + ".id}.execute-api.${AWS::Region}.${AWS::URLSuffix}" },
		"execution_arn": func(a string) string {
			return "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${" + a + ".id}"
		},
	},
	"aws_lambda_function": {
		"invoke_arn": func(a string) string {
			return "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${" + a + ".arn}/invocations"
		},
	},
}

func (e *tfEval) symbols(typ, addr string) map[string]cty.Value {
	out := map[string]cty.Value{}
	for name := range e.m.attrNames {
		s := "${" + addr + "." + name + "}"
		if f := tfSynthesized[typ][name]; f != nil {
			s = f(addr)
		}
		out[name] = cty.StringVal(s)
	}
	return out
}

// resourceType is the object a resource type's name evaluates to: each
// resource of that type by name, its instances by key.
func (e *tfEval) resourceType(typ, where string) cty.Value {
	e.t.Helper()
	if v, ok := e.types[typ]; ok {
		return v
	}
	if e.busy["type:"+typ] {
		e.t.Fatalf("%s: the for_each or count of a %s refers to a %s", where, typ, typ)
	}
	e.busy["type:"+typ] = true
	defer delete(e.busy, "type:"+typ)
	byName := map[string]map[string]cty.Value{} // data: type -> name -> value
	for _, r := range e.m.resources {
		if (typ == "data") != (r.mode == "data") || (typ != "data" && r.typ != typ) {
			continue
		}
		var val cty.Value
		switch {
		case r.body.Attributes["for_each"] != nil:
			inst := map[string]cty.Value{}
			for _, i := range e.instances(r) {
				k, _ := strconv.Unquote(strings.Trim(i.key, "[]"))
				inst[k] = cty.ObjectVal(e.symbols(r.typ, i.addr()))
			}
			val = cty.ObjectVal(inst)
		case r.body.Attributes["count"] != nil:
			var inst []cty.Value
			for _, i := range e.instances(r) {
				inst = append(inst, cty.ObjectVal(e.symbols(r.typ, i.addr())))
			}
			val = cty.TupleVal(inst)
		default:
			val = cty.ObjectVal(e.symbols(r.typ, r.addr()))
		}
		group := typ
		if typ == "data" {
			group = r.typ
		}
		if byName[group] == nil {
			byName[group] = map[string]cty.Value{}
		}
		byName[group][r.name] = val
	}
	var v cty.Value
	if typ == "data" {
		groups := map[string]cty.Value{}
		for g, names := range byName {
			groups[g] = cty.ObjectVal(names)
		}
		v = cty.ObjectVal(groups)
	} else {
		if len(byName[typ]) == 0 {
			e.t.Fatalf("%s: refers to %s, which is neither a resource type of this module nor supported", where, typ)
		}
		v = cty.ObjectVal(byName[typ])
	}
	e.types[typ] = v
	return v
}

// tfBlock is an evaluated block: attributes and nested blocks.
type tfBlock struct {
	typ    string
	attrs  map[string]cty.Value
	blocks []*tfBlock
}

func (b *tfBlock) block(typ string) []*tfBlock {
	var out []*tfBlock
	for _, c := range b.blocks {
		if c.typ == typ {
			out = append(out, c)
		}
	}
	return out
}

var tfMetaArguments = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

func (e *tfEval) body(b *hclsyntax.Body, typ string, extra map[string]cty.Value, where string) *tfBlock {
	e.t.Helper()
	out := &tfBlock{typ: typ, attrs: map[string]cty.Value{}}
	for name, a := range b.Attributes {
		if typ == "resource" && tfMetaArguments[name] {
			continue
		}
		out.attrs[name] = e.value(a.Expr, extra, where+"."+name)
	}
	for _, c := range b.Blocks {
		switch c.Type {
		case "dynamic":
			e.t.Fatalf("%s: dynamic blocks are not supported by this evaluator", where)
		case "lifecycle":
			for _, pc := range c.Body.Blocks {
				if pc.Type != "precondition" {
					continue
				}
				ok := e.value(pc.Body.Attributes["condition"].Expr, extra, where+": precondition")
				if !ok.True() {
					msg := e.value(pc.Body.Attributes["error_message"].Expr, extra, where)
					e.t.Fatalf("%s: precondition failed: %s", where, msg.AsString())
				}
			}
			continue
		}
		out.blocks = append(out.blocks, e.body(c.Body, c.Type, extra, where+"."+c.Type))
	}
	return out
}

// tfResourceInstance is an evaluated resource instance.
type tfResourceInstance struct {
	*tfBlock
	typ, addr, file string
	refs            []string
}

// evaluate evaluates every resource instance of the module.
func (e *tfEval) evaluate() []*tfResourceInstance {
	e.t.Helper()
	var out []*tfResourceInstance
	for _, r := range e.m.resources {
		for _, i := range e.instances(r) {
			b := e.body(r.body, "resource", i.extra, r.file+": "+i.addr())
			var refs []string
			for _, v := range e.symbols(r.typ, i.addr()) {
				refs = append(refs, v.AsString())
			}
			sort.Strings(refs)
			out = append(out, &tfResourceInstance{tfBlock: b, typ: r.typ, addr: i.addr(), file: r.file, refs: refs})
		}
	}
	return out
}

// moduleInputs evaluates the arguments of a module block of this (root)
// module and parses the module it calls.
func (e *tfEval) moduleInputs(name string) (*tfModule, map[string]cty.Value) {
	e.t.Helper()
	mb := e.m.modules[name]
	if mb == nil {
		e.t.Fatalf("%s: no module %q", rel(e.m.root, e.m.dir), name)
	}
	src := e.value(mb.body.Attributes["source"].Expr, nil, mb.file)
	dir := filepath.Join(e.m.dir, src.AsString())
	if _, err := os.Stat(dir); err != nil {
		e.t.Fatalf("%s: module %q: source %s: %v", mb.file, name, src.AsString(), err)
	}
	inputs := map[string]cty.Value{}
	for k, a := range mb.body.Attributes {
		switch k {
		case "source", "version", "providers", "count", "for_each", "depends_on":
			continue
		}
		inputs[k] = e.value(a.Expr, nil, fmt.Sprintf("%s: module.%s.%s", mb.file, name, k))
	}
	return parseTFModule(e.t, e.m.root, dir), inputs
}

func tfFunctions(m *tfModule) map[string]function.Function {
	identity := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true, AllowMarked: true}},
		Type:   func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, _ := args[0].Unmark()
			return v, nil
		},
	})
	to := func(ty func(cty.Type) cty.Type) function.Function {
		return function.New(&function.Spec{
			Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true}},
			Type:   function.StaticReturnType(cty.DynamicPseudoType),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return convert.Convert(args[0], ty(args[0].Type()))
			},
		})
	}
	return map[string]function.Function{
		"can": tryfunc.CanFunc,
		"coalesce": function.New(&function.Spec{
			VarParam: &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowNull: true},
			Type:     function.StaticReturnType(cty.DynamicPseudoType),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				for _, a := range args {
					if a.IsNull() || (a.Type() == cty.String && a.AsString() == "") {
						continue
					}
					return a, nil
				}
				return cty.NilVal, fmt.Errorf("no non-null, non-empty-string arguments")
			},
		}),
		"concat":   stdlib.ConcatFunc,
		"contains": stdlib.ContainsFunc,
		"filebase64sha256": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.StringVal("${filebase64sha256(" + args[0].AsString() + ")}"), nil
			},
		}),
		"floor":      stdlib.FloorFunc,
		"format":     stdlib.FormatFunc,
		"join":       stdlib.JoinFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"keys":       stdlib.KeysFunc,
		"length": function.New(&function.Spec{ // Terraform's: strings too
			Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
			Type:   function.StaticReturnType(cty.Number),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				if args[0].Type() == cty.String {
					return stdlib.Strlen(args[0])
				}
				return stdlib.Length(args[0])
			},
		}),
		"lookup":       stdlib.LookupFunc,
		"lower":        stdlib.LowerFunc,
		"merge":        stdlib.MergeFunc,
		"nonsensitive": identity,
		"regex":        stdlib.RegexFunc,
		"replace":      stdlib.ReplaceFunc,
		"sensitive":    identity,
		"toset":        to(func(t cty.Type) cty.Type { return cty.Set(cty.DynamicPseudoType) }),
		"tolist":       to(func(t cty.Type) cty.Type { return cty.List(cty.DynamicPseudoType) }),
		"tostring":     to(func(cty.Type) cty.Type { return cty.String }),
		"upper":        stdlib.UpperFunc,
		"values":       stdlib.ValuesFunc,
	}
}

// --- From evaluated resources to the shared model.

func ctyString(v cty.Value) string {
	if !v.IsKnown() || v.IsNull() {
		return ""
	}
	if v.Type() != cty.String {
		if c, err := convert.Convert(v, cty.String); err == nil {
			return c.AsString()
		}
		return ""
	}
	return v.AsString()
}

func ctyStrings(v cty.Value) []string {
	if v.IsNull() || !v.CanIterateElements() {
		if s := ctyString(v); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		out = append(out, ctyString(el))
	}
	return out
}

func ctyBool(v cty.Value) bool {
	if v.IsNull() || !v.IsKnown() {
		return false
	}
	c, err := convert.Convert(v, cty.Bool)
	return err == nil && c.True()
}

func ctyNumber(v cty.Value) float64 {
	if v.IsNull() || !v.IsKnown() {
		return 0
	}
	c, err := convert.Convert(v, cty.Number)
	if err != nil {
		return 0
	}
	f, _ := c.AsBigFloat().Float64()
	return f
}

func (b *tfBlock) str(name string) string {
	if v, ok := b.attrs[name]; ok {
		return ctyString(v)
	}
	return ""
}

func (b *tfBlock) first(typ string) *tfBlock {
	if bs := b.block(typ); len(bs) > 0 {
		return bs[0]
	}
	return &tfBlock{typ: typ, attrs: map[string]cty.Value{}}
}

// policyStatements decodes an IAM policy document (JSON).
func policyStatements(t testing.TB, source, doc string) []statement {
	var p struct {
		Statement []struct {
			Effect   string
			Action   any
			Resource any
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("%s: policy is not JSON: %v", source, err)
	}
	var out []statement
	for _, s := range p.Statement {
		out = append(out, statement{source: source, effect: s.Effect, actions: anyStrings(s.Action), resources: anyStrings(s.Resource)})
	}
	return out
}

// redrivePolicy decodes an SQS redrive policy (JSON; maxReceiveCount a
// number or a string of one).
func redrivePolicy(t testing.TB, source, doc string) (dlqARN string, maxReceive int) {
	var p struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("%s: redrive policy is not JSON: %v", source, err)
	}
	n, err := strconv.Atoi(fmt.Sprint(p.MaxReceiveCount))
	if err != nil {
		t.Fatalf("%s: redrive policy maxReceiveCount %v is not a whole number", source, p.MaxReceiveCount)
	}
	return p.DeadLetterTargetArn, n
}

func anyStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// tfDeployment evaluates a module and models what it deploys.
func tfDeployment(t testing.TB, root, label string, e *tfEval) *deployment {
	t.Helper()
	d := &deployment{label: label, root: root}
	insts := e.evaluate()
	res := func(i *tfResourceInstance) resource {
		return resource{file: i.file, name: i.addr, refs: i.refs}
	}
	roles := map[string]*tfResourceInstance{}
	var rolePolicies, attachments []*tfResourceInstance
	managed := map[string]*tfResourceInstance{}
	for _, i := range insts {
		switch i.typ {
		case "aws_apigatewayv2_api":
			d.api = append(d.api, &api{resource: res(i), protocol: i.str("protocol_type"),
				routeSelection: i.str("route_selection_expression"), id: "${" + i.addr + ".id}",
				executionARN: tfSynthesized["aws_apigatewayv2_api"]["execution_arn"](i.addr)})
		case "aws_apigatewayv2_stage":
			rs, al := i.first("default_route_settings"), i.first("access_log_settings")
			d.stages = append(d.stages, &stage{resource: res(i), apiID: i.str("api_id"), name: i.str("name"),
				autoDeploy: ctyBool(i.attrs["auto_deploy"]), rateLimit: ctyNumber(rs.attrs["throttling_rate_limit"]),
				burstLimit: ctyNumber(rs.attrs["throttling_burst_limit"]), accessLogDest: al.str("destination_arn"),
				accessLogFmt: al.str("format")})
		case "aws_apigatewayv2_authorizer":
			d.authorizers = append(d.authorizers, &authorizer{resource: res(i), apiID: i.str("api_id"),
				typ: i.str("authorizer_type"), uri: i.str("authorizer_uri"), identitySources: ctyStrings(i.attrs["identity_sources"])})
		case "aws_apigatewayv2_integration":
			d.integrations = append(d.integrations, &integration{resource: res(i), apiID: i.str("api_id"),
				typ: i.str("integration_type"), uri: i.str("integration_uri")})
		case "aws_apigatewayv2_route":
			d.routes = append(d.routes, &route{resource: res(i), apiID: i.str("api_id"), key: i.str("route_key"),
				authType: i.str("authorization_type"), authorizerID: i.str("authorizer_id"), target: i.str("target")})
		case "aws_lambda_function":
			env := map[string]string{}
			if v := i.first("environment").attrs["variables"]; v != cty.NilVal && !v.IsNull() {
				for it := v.ElementIterator(); it.Next(); {
					k, val := it.Element()
					env[k.AsString()] = ctyString(val)
				}
			}
			d.functions = append(d.functions, &lambdaFunction{resource: res(i), handler: i.str("handler"), runtime: i.str("runtime"),
				code: i.str("filename"), fnName: i.str("function_name"), architectures: ctyStrings(i.attrs["architectures"]), env: env,
				role: i.str("role"), timeout: ctyNumber(i.attrs["timeout"])})
		case "aws_dynamodb_table":
			tb := &table{resource: res(i), nameRef: "${" + i.addr + ".name}", arn: "${" + i.addr + ".arn}",
				streamARN: "${" + i.addr + ".stream_arn}", hashKey: i.str("hash_key"), rangeKey: i.str("range_key"),
				billing: i.str("billing_mode"), streamEnabled: ctyBool(i.attrs["stream_enabled"]), streamView: i.str("stream_view_type"),
				attributes: map[string]string{}, gsis: map[string]gsi{}}
			ttl := i.first("ttl")
			tb.ttlAttribute, tb.ttlEnabled = ttl.str("attribute_name"), ctyBool(ttl.attrs["enabled"])
			for _, a := range i.block("attribute") {
				tb.attributes[a.str("name")] = a.str("type")
			}
			for _, g := range i.block("global_secondary_index") {
				tb.gsis[g.str("name")] = gsi{g.str("hash_key"), g.str("range_key"), g.str("projection_type")}
			}
			d.tables = append(d.tables, tb)
		case "aws_lambda_event_source_mapping":
			m := &mapping{resource: res(i), source: i.str("event_source_arn"), function: i.str("function_name"),
				batchSize: int(ctyNumber(i.attrs["batch_size"])), responseTypes: ctyStrings(i.attrs["function_response_types"])}
			for _, fc := range i.block("filter_criteria") {
				for _, f := range fc.block("filter") {
					m.filters = append(m.filters, f.str("pattern"))
				}
			}
			d.mappings = append(d.mappings, m)
		case "aws_cloudwatch_log_group":
			d.logGroups = append(d.logGroups, &logGroup{resource: res(i), logName: i.str("name"),
				retention: int(ctyNumber(i.attrs["retention_in_days"])), streamsARN: "${" + i.addr + ".arn}:*"})
		case "aws_lambda_permission":
			d.permissions = append(d.permissions, &permission{resource: res(i), function: i.str("function_name"),
				principal: i.str("principal"), action: i.str("action"), sourceARN: i.str("source_arn")})
		case "aws_sqs_queue":
			q := &sqsQueue{resource: res(i), urlRefs: []string{"${" + i.addr + ".url}", "${" + i.addr + ".id}"},
				nameRefs: []string{"${" + i.addr + ".name}"}, arn: "${" + i.addr + ".arn}", visibility: 30, retention: 345600}
			if n := i.str("name"); n != "" {
				q.nameRefs = append(q.nameRefs, n)
			}
			if v, ok := i.attrs["visibility_timeout_seconds"]; ok {
				q.visibility = int(ctyNumber(v))
			}
			if v, ok := i.attrs["message_retention_seconds"]; ok {
				q.retention = int(ctyNumber(v))
			}
			q.encrypted = ctyBool(i.attrs["sqs_managed_sse_enabled"]) || i.str("kms_master_key_id") != ""
			if rp := i.str("redrive_policy"); rp != "" {
				q.redrive = true
				q.dlqARN, q.maxReceive = redrivePolicy(t, i.file+": "+i.addr, rp)
			}
			d.queues = append(d.queues, q)
		case "aws_cloudwatch_metric_alarm":
			al := &alarm{resource: res(i), namespace: i.str("namespace"), metric: i.str("metric_name"),
				comparison: i.str("comparison_operator"), threshold: ctyNumber(i.attrs["threshold"]), dimensions: map[string]string{}}
			if v := i.attrs["dimensions"]; v != cty.NilVal && !v.IsNull() {
				for it := v.ElementIterator(); it.Next(); {
					k, val := it.Element()
					al.dimensions[k.AsString()] = ctyString(val)
				}
			}
			d.alarms = append(d.alarms, al)
		case "aws_iam_role":
			roles[i.addr] = i
		case "aws_iam_role_policy":
			rolePolicies = append(rolePolicies, i)
		case "aws_iam_role_policy_attachment":
			attachments = append(attachments, i)
		case "aws_iam_policy":
			managed[i.addr] = i
		}
	}
	// Each function's permissions: the inline and attached policies of its role.
	roleOf := func(sym string) *tfResourceInstance {
		for _, r := range roles {
			if slices.Contains(r.refs, sym) {
				return r
			}
		}
		return nil
	}
	for _, f := range d.functions {
		role := roleOf(f.role)
		if role == nil {
			f.roleProblems = append(f.roleProblems, "its role is not a role of this module")
			continue
		}
		for _, ip := range role.block("inline_policy") {
			f.statements = append(f.statements, policyStatements(t, role.file+": "+role.addr+" inline_policy", ip.str("policy"))...)
		}
		if len(ctyStrings(role.attrs["managed_policy_arns"])) > 0 {
			f.roleProblems = append(f.roleProblems, role.addr+" has managed_policy_arns, whose permissions these checks cannot see")
		}
		for _, p := range rolePolicies {
			if roleOf(p.str("role")) == role {
				f.statements = append(f.statements, policyStatements(t, p.file+": "+p.addr, p.str("policy"))...)
			}
		}
		for _, a := range attachments {
			if roleOf(a.str("role")) != role {
				continue
			}
			var pol *tfResourceInstance
			for _, m := range managed {
				if slices.Contains(m.refs, a.str("policy_arn")) {
					pol = m
				}
			}
			if pol == nil {
				f.roleProblems = append(f.roleProblems, fmt.Sprintf("%s: %s attaches %s, whose permissions these checks cannot see", a.file, a.addr, a.str("policy_arn")))
				continue
			}
			f.statements = append(f.statements, policyStatements(t, pol.file+": "+pol.addr, pol.str("policy"))...)
		}
	}
	return d
}
