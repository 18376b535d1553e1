package deploy_test

// A small CloudFormation/SAM evaluator: the template's YAML (with the short
// intrinsic tags), parameters with defaults and overrides, conditions,
// Globals.Function, and the intrinsic functions the template uses. Refs to
// resources and GetAtt evaluate to the symbols "${LogicalId}" and
// "${LogicalId.Attribute}"; pseudo parameters stay "${AWS::Region}" and so
// on, so that Fn::Sub results read like the ARNs they become.

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type samTemplate struct {
	file       string // relative to the repository root
	dir        string // absolute
	doc        map[string]any
	params     map[string]string
	conditions map[string]bool
	resources  map[string]map[string]any // evaluated, conditions applied
	rawTypes   map[string]string
}

// cfnYAML turns a YAML node into plain Go values, the short intrinsic tags
// into their long forms ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...).
func cfnYAML(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return cfnYAML(n.Content[0])
	case yaml.AliasNode:
		return cfnYAML(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i < len(n.Content); i += 2 {
			val, err := cfnYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		var l []any
		for _, c := range n.Content {
			val, err := cfnYAML(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	tag := strings.TrimPrefix(n.Tag, "!")
	switch tag {
	case "Ref", "Condition":
		return map[string]any{tag: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			logical, attr, _ := strings.Cut(s, ".")
			return map[string]any{"Fn::GetAtt": []any{logical, attr}}, nil
		}
	}
	return map[string]any{"Fn::" + tag: v}, nil
}

// parseSAMBytes evaluates the template data, read from path, for the
// parameter values of overrides (the others take their defaults).
func parseSAMBytes(t testing.TB, root, path string, b []byte, overrides map[string]string) *samTemplate {
	t.Helper()
	name := rel(root, path)
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	v, err := cfnYAML(&n)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s := &samTemplate{file: name, dir: filepath.Dir(path), doc: v.(map[string]any), params: map[string]string{},
		conditions: map[string]bool{}, resources: map[string]map[string]any{}, rawTypes: map[string]string{}}
	params, _ := s.doc["Parameters"].(map[string]any)
	for k := range overrides {
		if params[k] == nil {
			t.Fatalf("%s: no parameter %q for the override", name, k)
		}
	}
	for k, p := range params {
		p := p.(map[string]any)
		val, ok := overrides[k]
		if !ok {
			d, has := p["Default"]
			if !has {
				t.Fatalf("%s: parameter %s has no default and no value", name, k)
			}
			val = fmt.Sprint(d)
		}
		// The constraints CloudFormation checks before it starts.
		if allowed, ok := p["AllowedValues"].([]any); ok && !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == val }) {
			t.Fatalf("%s: parameter %s = %q is not one of %v", name, k, val, allowed)
		}
		s.params[k] = val
	}
	conds, _ := s.doc["Conditions"].(map[string]any)
	var cond func(string) bool
	busy := map[string]bool{}
	cond = func(c string) bool {
		if v, ok := s.conditions[c]; ok {
			return v
		}
		if busy[c] || conds[c] == nil {
			t.Fatalf("%s: condition %q is unknown or refers to itself", name, c)
		}
		busy[c] = true
		s.conditions[c] = s.truth(t, s.eval(t, conds[c], "Conditions."+c, cond), "Conditions."+c)
		return s.conditions[c]
	}
	for c := range conds {
		cond(c)
	}
	// Rules: every assertion must hold for these parameters.
	rules, _ := s.doc["Rules"].(map[string]any)
	for rn, r := range rules {
		for i, a := range r.(map[string]any)["Assertions"].([]any) {
			a := a.(map[string]any)
			if !s.truth(t, s.eval(t, a["Assert"], "Rules."+rn, cond), "Rules."+rn) {
				t.Fatalf("%s: rule %s, assertion %d fails for these parameters: %v", name, rn, i, a["AssertDescription"])
			}
		}
	}
	globals, _ := s.doc["Globals"].(map[string]any)
	globalFn, _ := globals["Function"].(map[string]any)
	resources := s.doc["Resources"].(map[string]any)
	for id, r := range resources {
		r := r.(map[string]any)
		typ, _ := r["Type"].(string)
		s.rawTypes[id] = typ
		if c, ok := r["Condition"].(string); ok && !cond(c) {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if typ == "AWS::Serverless::Function" {
			props = mergeGlobals(globalFn, props)
		}
		ev, _ := s.eval(t, props, "Resources."+id, cond).(map[string]any)
		if ev == nil {
			ev = map[string]any{}
		}
		s.resources[id] = map[string]any{"Type": typ, "Properties": ev}
	}
	return s
}

// mergeGlobals applies Globals.Function as SAM does: the function's own
// values win; maps merge.
func mergeGlobals(g, p map[string]any) map[string]any {
	out := maps.Clone(g)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range p {
		gm, ok1 := out[k].(map[string]any)
		pm, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = mergeGlobals(gm, pm)
		} else {
			out[k] = v
		}
	}
	return out
}

// noValue marks AWS::NoValue: the property is left out.
type noValue struct{}

func (s *samTemplate) truth(t testing.TB, v any, where string) bool {
	b, ok := v.(bool)
	if !ok {
		t.Fatalf("%s: %s: want a boolean, got %v", s.file, where, v)
	}
	return b
}

func (s *samTemplate) ref(t testing.TB, name, where string) any {
	if v, ok := s.params[name]; ok {
		return v
	}
	switch {
	case name == "AWS::NoValue":
		return noValue{}
	case strings.HasPrefix(name, "AWS::"):
		return "${" + name + "}"
	}
	if _, ok := s.doc["Resources"].(map[string]any)[name]; !ok {
		t.Fatalf("%s: %s: Ref to %q, which is neither a parameter nor a resource", s.file, where, name)
	}
	return "${" + name + "}"
}

func (s *samTemplate) eval(t testing.TB, v any, where string, cond func(string) bool) any {
	t.Helper()
	switch v := v.(type) {
	case []any:
		var out []any
		for i, x := range v {
			ev := s.eval(t, x, fmt.Sprintf("%s[%d]", where, i), cond)
			if _, no := ev.(noValue); !no {
				out = append(out, ev)
			}
		}
		return out
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return s.intrinsic(t, k, arg, where, cond)
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			ev := s.eval(t, x, where+"."+k, cond)
			if _, no := ev.(noValue); !no {
				out[k] = ev
			}
		}
		return out
	}
	return v
}

func (s *samTemplate) intrinsic(t testing.TB, fn string, arg any, where string, cond func(string) bool) any {
	t.Helper()
	args := func(n int) []any {
		l, ok := arg.([]any)
		if !ok || (n > 0 && len(l) != n) {
			t.Fatalf("%s: %s: %s wants %d arguments, got %v", s.file, where, fn, n, arg)
		}
		return l
	}
	str := func(x any) string {
		x = s.eval(t, x, where, cond)
		if _, ok := x.(string); !ok {
			return fmt.Sprint(x)
		}
		return x.(string)
	}
	switch fn {
	case "Ref":
		return s.ref(t, arg.(string), where)
	case "Condition":
		return cond(arg.(string))
	case "Fn::GetAtt":
		l := args(2)
		if _, ok := s.doc["Resources"].(map[string]any)[fmt.Sprint(l[0])]; !ok {
			t.Fatalf("%s: %s: GetAtt of %v, which is not a resource", s.file, where, l[0])
		}
		return fmt.Sprintf("${%v.%v}", l[0], l[1])
	case "Fn::Sub":
		var tmpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			tmpl = a[0].(string)
			for k, x := range a[1].(map[string]any) {
				vars[k] = s.eval(t, x, where, cond)
			}
		}
		var b strings.Builder
		for {
			i := strings.Index(tmpl, "${")
			if i < 0 {
				b.WriteString(tmpl)
				break
			}
			b.WriteString(tmpl[:i])
			j := strings.Index(tmpl[i:], "}")
			if j < 0 {
				t.Fatalf("%s: %s: unterminated ${ in Fn::Sub", s.file, where)
			}
			name := tmpl[i+2 : i+j]
			tmpl = tmpl[i+j+1:]
			switch {
			case strings.HasPrefix(name, "!"):
				b.WriteString("${" + name[1:] + "}")
			case vars[name] != nil:
				b.WriteString(fmt.Sprint(vars[name]))
			case strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::"):
				logical, attr, _ := strings.Cut(name, ".")
				b.WriteString(fmt.Sprint(s.intrinsic(t, "Fn::GetAtt", []any{logical, attr}, where, cond)))
			default:
				b.WriteString(fmt.Sprint(s.ref(t, name, where)))
			}
		}
		return b.String()
	case "Fn::If":
		l := args(3)
		if cond(l[0].(string)) {
			return s.eval(t, l[1], where, cond)
		}
		return s.eval(t, l[2], where, cond)
	case "Fn::Equals":
		l := args(2)
		return str(l[0]) == str(l[1])
	case "Fn::Not":
		return !s.truth(t, s.eval(t, args(1)[0], where, cond), where)
	case "Fn::And", "Fn::Or":
		all := fn == "Fn::And"
		for _, x := range args(0) {
			if s.truth(t, s.eval(t, x, where, cond), where) != all {
				return !all
			}
		}
		return all
	case "Fn::Join":
		l := args(2)
		var parts []string
		for _, x := range s.eval(t, l[1], where, cond).([]any) {
			parts = append(parts, fmt.Sprint(x))
		}
		return strings.Join(parts, str(l[0]))
	case "Fn::Select":
		l := args(2)
		i, _ := strconv.Atoi(str(l[0]))
		return s.eval(t, l[1], where, cond).([]any)[i]
	}
	t.Fatalf("%s: %s: %s is not supported by this evaluator", s.file, where, fn)
	return nil
}

// --- From the evaluated template to the shared model.

func samStr(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	return fmt.Sprint(v)
}

func samStrings(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, samStr(x))
		}
		return out
	case nil:
		return nil
	}
	return []string{samStr(v)}
}

func samNumber(v any) float64 {
	f, _ := strconv.ParseFloat(samStr(v), 64)
	return f
}

func samBool(v any) bool {
	b, ok := v.(bool)
	return ok && b || samStr(v) == "true"
}

func samMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

func samDeployment(t testing.TB, root, label string, s *samTemplate) *deployment {
	t.Helper()
	d := &deployment{label: label, root: root}
	res := func(id string, attrs ...string) resource {
		r := resource{file: s.file, name: id, refs: []string{"${" + id + "}"}}
		for _, a := range attrs {
			r.refs = append(r.refs, "${"+id+"."+a+"}")
		}
		return r
	}
	roles := map[string]map[string]any{}
	var managed []string
	for _, id := range slices.Sorted(maps.Keys(s.resources)) {
		r := s.resources[id]
		p := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::ApiGatewayV2::Api":
			d.api = append(d.api, &api{resource: res(id, "ApiId", "ApiEndpoint"), protocol: samStr(p["ProtocolType"]),
				routeSelection: samStr(p["RouteSelectionExpression"]), id: "${" + id + "}",
				executionARN: "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${" + id + "}"})
		case "AWS::ApiGatewayV2::Stage":
			rs, al := samMap(p["DefaultRouteSettings"]), samMap(p["AccessLogSettings"])
			d.stages = append(d.stages, &stage{resource: res(id), apiID: samStr(p["ApiId"]), name: samStr(p["StageName"]),
				autoDeploy: samBool(p["AutoDeploy"]), rateLimit: samNumber(rs["ThrottlingRateLimit"]), burstLimit: samNumber(rs["ThrottlingBurstLimit"]),
				accessLogDest: samStr(al["DestinationArn"]), accessLogFmt: samStr(al["Format"])})
		case "AWS::ApiGatewayV2::Authorizer":
			d.authorizers = append(d.authorizers, &authorizer{resource: res(id, "AuthorizerId"), apiID: samStr(p["ApiId"]),
				typ: samStr(p["AuthorizerType"]), uri: samStr(p["AuthorizerUri"]), identitySources: samStrings(p["IdentitySource"])})
		case "AWS::ApiGatewayV2::Integration":
			d.integrations = append(d.integrations, &integration{resource: res(id, "IntegrationId"), apiID: samStr(p["ApiId"]),
				typ: samStr(p["IntegrationType"]), uri: samStr(p["IntegrationUri"])})
		case "AWS::ApiGatewayV2::Route":
			d.routes = append(d.routes, &route{resource: res(id, "RouteId"), apiID: samStr(p["ApiId"]), key: samStr(p["RouteKey"]),
				authType: samStr(p["AuthorizationType"]), authorizerID: samStr(p["AuthorizerId"]), target: samStr(p["Target"])})
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			f := &lambdaFunction{resource: res(id, "Arn"), handler: samStr(p["Handler"]), runtime: samStr(p["Runtime"]),
				fnName: samStr(p["FunctionName"]), architectures: samStrings(p["Architectures"]), env: map[string]string{},
				role: samStr(p["Role"]), timeout: samNumber(p["Timeout"])}
			if f.architectures == nil {
				f.architectures = []string{"x86_64"} // Lambda's default
			}
			if code, ok := p["CodeUri"].(string); ok && !strings.HasPrefix(code, "s3://") {
				f.code = filepath.Join(s.dir, code)
			} else {
				f.code = samStr(p["CodeUri"])
			}
			for k, v := range samMap(samMap(p["Environment"])["Variables"]) {
				f.env[k] = samStr(v)
			}
			if f.role == "" {
				f.roleProblems = append(f.roleProblems, "no Role: SAM would make one with AWSLambdaBasicExecutionRole (logs on every log group)")
			}
			if p["Policies"] != nil {
				f.roleProblems = append(f.roleProblems, "Policies on the function: with Role set, SAM ignores them")
			}
			d.functions = append(d.functions, f)
			for en, ev := range samMap(p["Events"]) {
				ev := samMap(ev)
				ep := samMap(ev["Properties"])
				switch ev["Type"] {
				case "DynamoDB":
					m := &mapping{resource: resource{file: s.file, name: id + ".Events." + en}, source: samStr(ep["Stream"]), function: "${" + id + "}"}
					for _, flt := range samMap(ep["FilterCriteria"])["Filters"].([]any) {
						m.filters = append(m.filters, samStr(samMap(flt)["Pattern"]))
					}
					d.mappings = append(d.mappings, m)
				case "SQS":
					m := &mapping{resource: resource{file: s.file, name: id + ".Events." + en}, source: samStr(ep["Queue"]), function: "${" + id + "}",
						batchSize: int(samNumber(ep["BatchSize"])), responseTypes: samStrings(ep["FunctionResponseTypes"])}
					if fc := samMap(ep["FilterCriteria"]); fc["Filters"] != nil {
						for _, flt := range fc["Filters"].([]any) {
							m.filters = append(m.filters, samStr(samMap(flt)["Pattern"]))
						}
					}
					d.mappings = append(d.mappings, m)
				default:
					f.roleProblems = append(f.roleProblems, fmt.Sprintf("event %s of type %v is not modelled by these checks", en, ev["Type"]))
				}
			}
		case "AWS::Lambda::EventSourceMapping":
			m := &mapping{resource: res(id), source: samStr(p["EventSourceArn"]), function: samStr(p["FunctionName"]),
				batchSize: int(samNumber(p["BatchSize"])), responseTypes: samStrings(p["FunctionResponseTypes"])}
			if fc := samMap(p["FilterCriteria"]); fc["Filters"] != nil {
				for _, flt := range fc["Filters"].([]any) {
					m.filters = append(m.filters, samStr(samMap(flt)["Pattern"]))
				}
			}
			d.mappings = append(d.mappings, m)
		case "AWS::DynamoDB::Table":
			tb := &table{resource: res(id, "Arn", "StreamArn"), nameRef: "${" + id + "}", arn: "${" + id + ".Arn}",
				streamARN: "${" + id + ".StreamArn}", billing: samStr(p["BillingMode"]), attributes: map[string]string{}, gsis: map[string]gsi{}}
			keys := func(v any) (h, r string) {
				for _, k := range v.([]any) {
					k := samMap(k)
					if k["KeyType"] == "HASH" {
						h = samStr(k["AttributeName"])
					} else {
						r = samStr(k["AttributeName"])
					}
				}
				return
			}
			tb.hashKey, tb.rangeKey = keys(p["KeySchema"])
			for _, a := range p["AttributeDefinitions"].([]any) {
				tb.attributes[samStr(samMap(a)["AttributeName"])] = samStr(samMap(a)["AttributeType"])
			}
			if gs, ok := p["GlobalSecondaryIndexes"].([]any); ok {
				for _, g := range gs {
					g := samMap(g)
					h, r := keys(g["KeySchema"])
					tb.gsis[samStr(g["IndexName"])] = gsi{h, r, samStr(samMap(g["Projection"])["ProjectionType"])}
				}
			}
			ss := samMap(p["StreamSpecification"])
			tb.streamEnabled, tb.streamView = ss["StreamViewType"] != nil, samStr(ss["StreamViewType"])
			ttl := samMap(p["TimeToLiveSpecification"])
			tb.ttlAttribute, tb.ttlEnabled = samStr(ttl["AttributeName"]), samBool(ttl["Enabled"])
			d.tables = append(d.tables, tb)
		case "AWS::Logs::LogGroup":
			name := samStr(p["LogGroupName"])
			lg := &logGroup{resource: res(id, "Arn"), logName: name, retention: int(samNumber(p["RetentionInDays"])),
				streamsARN: "${" + id + ".Arn}"} // GetAtt Arn ends in :*
			lg.refs = append(lg.refs, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${"+id+"}",
				"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"+name)
			d.logGroups = append(d.logGroups, lg)
		case "AWS::Lambda::Permission":
			d.permissions = append(d.permissions, &permission{resource: res(id), function: samStr(p["FunctionName"]),
				principal: samStr(p["Principal"]), action: samStr(p["Action"]), sourceARN: samStr(p["SourceArn"])})
		case "AWS::SQS::Queue":
			q := &sqsQueue{resource: res(id, "Arn", "QueueName", "QueueUrl"), urlRefs: []string{"${" + id + "}", "${" + id + ".QueueUrl}"},
				nameRefs: []string{"${" + id + ".QueueName}"}, arn: "${" + id + ".Arn}", visibility: 30, retention: 345600}
			if n := samStr(p["QueueName"]); n != "" {
				q.nameRefs = append(q.nameRefs, n)
			}
			if v, ok := p["VisibilityTimeout"]; ok {
				q.visibility = int(samNumber(v))
			}
			if v, ok := p["MessageRetentionPeriod"]; ok {
				q.retention = int(samNumber(v))
			}
			q.encrypted = samBool(p["SqsManagedSseEnabled"]) || samStr(p["KmsMasterKeyId"]) != ""
			switch rp := p["RedrivePolicy"].(type) {
			case nil:
			case string:
				q.redrive = true
				q.dlqARN, q.maxReceive = redrivePolicy(t, s.file+": "+id, rp)
			default:
				b, _ := json.Marshal(rp)
				q.redrive = true
				q.dlqARN, q.maxReceive = redrivePolicy(t, s.file+": "+id, string(b))
			}
			d.queues = append(d.queues, q)
		case "AWS::CloudWatch::Alarm":
			al := &alarm{resource: res(id), namespace: samStr(p["Namespace"]), metric: samStr(p["MetricName"]),
				comparison: samStr(p["ComparisonOperator"]), threshold: samNumber(p["Threshold"]), dimensions: map[string]string{}}
			if ds, ok := p["Dimensions"].([]any); ok {
				for _, dim := range ds {
					al.dimensions[samStr(samMap(dim)["Name"])] = samStr(samMap(dim)["Value"])
				}
			}
			d.alarms = append(d.alarms, al)
		case "AWS::IAM::Role":
			roles[id] = p
		case "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::RolePolicy":
			managed = append(managed, id)
		}
	}
	for _, f := range d.functions {
		roleID := strings.TrimSuffix(strings.TrimPrefix(f.role, "${"), ".Arn}")
		role := roles[roleID]
		if role == nil {
			if f.role != "" {
				f.roleProblems = append(f.roleProblems, fmt.Sprintf("role %q is not a role of this template", f.role))
			}
			continue
		}
		if len(samStrings(role["ManagedPolicyArns"])) > 0 {
			f.roleProblems = append(f.roleProblems, roleID+" has ManagedPolicyArns, whose permissions these checks cannot see")
		}
		for _, pol := range role["Policies"].([]any) {
			pol := samMap(pol)
			f.statements = append(f.statements, samStatements(t, s.file+": "+roleID+" (policy "+samStr(pol["PolicyName"])+")", pol["PolicyDocument"])...)
		}
		for _, id := range managed {
			p := s.resources[id]["Properties"].(map[string]any)
			attached := samStrings(p["Roles"])
			if v := samStr(p["RoleName"]); v != "" {
				attached = append(attached, v)
			}
			if slices.Contains(attached, "${"+roleID+"}") {
				f.statements = append(f.statements, samStatements(t, s.file+": "+id, p["PolicyDocument"])...)
			}
		}
	}
	return d
}

func samStatements(t testing.TB, source string, doc any) []statement {
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	return policyStatements(t, source, string(b))
}
