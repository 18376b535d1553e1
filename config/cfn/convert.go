package cfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// converter turns the resources into the Stack's model: a first pass over
// every resource, then a pass that links routes, integrations, authorizers,
// stages and event sources to what they name.
type converter struct {
	e    *evaluator
	s    *Stack
	errs *errs

	byName         map[string]*Function
	queuesByArn    map[string]*Queue
	tablesByStream map[string]*Table
	tablesByArn    map[string]*Table
	apis           map[string]*API // by api id

	apiChildren []*resource // routes, integrations, ... linked in pass 2
	sources     []*pendingSource

	// broken are the functions (by name), integrations and authorizers
	// (by api id/id) that had errors of their own: what refers to them
	// reports nothing more.
	broken map[string]bool
}

// pendingSource is an event source whose queue or stream is known by ARN.
type pendingSource struct {
	es       *EventSource
	path     string
	line     int
	arn      string
	fnRef    string // AWS::Lambda::EventSourceMapping's FunctionName
	resource string // for Skipped
	samType  string // "SQS" or "DynamoDB" for a SAM event
}

func (c *converter) warn(format string, args ...any) {
	c.s.Warnings = append(c.s.Warnings, fmt.Sprintf(format, args...))
}

func (c *converter) skip(id, typ, reason string) {
	c.s.Skipped = append(c.s.Skipped, Skipped{LogicalID: id, Type: typ, Reason: reason})
}

func (c *converter) run() {
	for _, id := range c.e.t.order {
		r := c.e.t.resources[id]
		if r.condition != "" {
			ok, err := c.e.condition(r.condition, r.node.Get("Condition"), r.path()+".Condition")
			if err != nil {
				c.errs.addErr(err)
				continue
			}
			if !ok {
				c.skip(id, r.typ, "its condition "+r.condition+" is false")
				continue
			}
		}
		switch r.typ {
		case "AWS::Lambda::Function":
			c.function(r, false)
		case "AWS::Serverless::Function":
			c.function(r, true)
		case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable":
			c.table(r)
		case "AWS::Serverless::SimpleTable":
			c.simpleTable(r)
		case "AWS::SQS::Queue":
			c.queue(r)
		case "AWS::ApiGatewayV2::Api":
			c.api(r)
		case "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer",
			"AWS::ApiGatewayV2::RouteResponse", "AWS::ApiGatewayV2::Stage":
			c.apiChildren = append(c.apiChildren, r)
		case "AWS::ApiGatewayV2::Deployment", "AWS::Lambda::Permission":
			// Nothing to do: a local API is deployed as it is read, and
			// every function may be invoked.
		case "AWS::Lambda::EventSourceMapping":
			c.mapping(r)
		default:
			c.skip(id, r.typ, "")
		}
	}
	c.linkAPIs()
	c.linkSources()
}

// ---- property access

// props reads the properties of a resource (or of a SAM event), evaluating
// only those asked for. The first error of each property is recorded.
type props struct {
	c    *converter
	raw  *Node
	base string
	bad  bool
}

func (c *converter) props(raw *Node, base string) *props { return &props{c: c, raw: raw, base: base} }

func (p *props) fail(key string, at *Node, format string, args ...any) {
	p.bad = true
	path := p.base
	if key != "" {
		path += "." + key
	}
	if at == nil {
		at = p.raw.Get(key)
	}
	if at == nil {
		at = p.raw
	}
	p.c.errs.addErr(fail(path, at, format, args...))
}

func (p *props) has(key string) bool { return p.raw.Get(key) != nil }

// get evaluates a property; nil when absent, AWS::NoValue or wrong.
func (p *props) get(key string) *Node {
	raw := p.raw.Get(key)
	if raw == nil {
		return nil
	}
	v, err := p.c.e.resolve(raw, p.base+"."+key)
	if err != nil {
		p.bad = true
		p.c.errs.addErr(err)
		return nil
	}
	if v == noValue {
		return nil
	}
	return v
}

func (p *props) str(key string) string {
	v := p.get(key)
	if v == nil {
		return ""
	}
	if !v.scalar() {
		p.fail(key, nil, "want a string, got %s", v.Kind)
		return ""
	}
	return v.Value
}

func (p *props) required(key, what string) string {
	v := p.get(key)
	switch {
	case v == nil:
		if p.raw.Get(key) == nil {
			p.fail(key, p.raw, "required: %s", what)
		}
		return ""
	case !v.scalar():
		p.fail(key, nil, "want a string, got %s", v.Kind)
		return ""
	}
	return v.Value
}

func (p *props) int(key string) (int, bool) {
	v := p.get(key)
	if v == nil {
		return 0, false
	}
	n, err := asInt(v)
	if err != nil {
		p.fail(key, nil, "%v", err)
		return 0, false
	}
	return n, true
}

func (p *props) bool(key string, def bool) bool {
	v := p.get(key)
	if v == nil {
		return def
	}
	b, err := asBool(v)
	if err != nil {
		p.fail(key, nil, "%v", err)
		return def
	}
	return b
}

func (p *props) strings(key string) []string {
	v := p.get(key)
	if v == nil {
		return nil
	}
	if v.scalar() {
		return []string{v.Value}
	}
	if v.Kind != List {
		p.fail(key, nil, "want a list of strings, got %s", v.Kind)
		return nil
	}
	out := make([]string, 0, len(v.Items))
	for _, it := range v.Items {
		if !it.scalar() {
			p.fail(key, it, "want a list of strings, got an item that is %s", it.Kind)
			return nil
		}
		out = append(out, it.Value)
	}
	return out
}

func asInt(v *Node) (int, error) {
	if v == nil || !v.scalar() || v.Kind == Bool {
		return 0, fmt.Errorf("want a whole number, got %s", kindOf(v))
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		return 0, fmt.Errorf("want a whole number, got %q", v.Value)
	}
	return int(f), nil
}

func asBool(v *Node) (bool, error) {
	if v != nil && v.scalar() {
		switch strings.ToLower(v.Value) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("want true or false, got %s", v.String())
}

// stringMap reads a map of scalars (environment variables, stage
// variables); null values are empty strings.
func (p *props) stringMap(v *Node, key string) map[string]string {
	if v == nil {
		return nil
	}
	if v.Kind != Map {
		p.fail(key, v, "want a map of strings, got %s", v.Kind)
		return nil
	}
	out := make(map[string]string, len(v.Keys))
	for _, k := range v.Keys {
		it := v.Fields[k]
		switch {
		case it.scalar():
			out[k] = it.Value
		case it.Kind == Null:
			out[k] = ""
		default:
			p.fail(key+"."+k, it, "want a string, got %s", it.Kind)
		}
	}
	return out
}

func (c *converter) abs(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(c.e.o.Dir, filepath.FromSlash(path))
}

// ---- functions

func (c *converter) function(r *resource, sam bool) {
	base := r.path() + ".Properties"
	p := c.props(r.props, base)
	phys, err := c.e.physical(r, nil, base)
	if err != nil {
		c.errs.addErr(err)
		return
	}
	f := &Function{LogicalID: r.id, Line: r.node.Line, Name: phys.ref, Arn: phys.attrs["Arn"]}
	if pt := p.str("PackageType"); pt == "Image" {
		p.fail("PackageType", nil, "container image functions are not supported locally (provided.al2023 and nodejs zip functions are)")
		return
	}
	f.Runtime = p.str("Runtime")
	f.Handler = p.str("Handler")
	if bm := r.metadata.Get("BuildMethod"); bm.scalar() {
		f.BuildMethod = bm.Value
	}
	if sam {
		c.samCode(r, p, f)
	} else {
		c.lambdaCode(r, p, f)
	}
	if env := p.get("Environment"); env != nil {
		if env.Kind != Map {
			p.fail("Environment", env, "want {Variables: {...}}, got %s", env.Kind)
		} else {
			f.Environment = p.stringMap(env.Get("Variables"), "Environment.Variables")
		}
	}
	if n, ok := p.int("Timeout"); ok {
		if n < 1 || n > 900 {
			p.fail("Timeout", nil, "between 1 and 900 seconds (got %d)", n)
		}
		f.Timeout = n
	}
	if n, ok := p.int("MemorySize"); ok {
		if n < 128 || n > 10240 {
			p.fail("MemorySize", nil, "between 128 and 10240 MB (got %d)", n)
		}
		f.MemorySize = n
	}
	if n, ok := p.int("ReservedConcurrentExecutions"); ok {
		if n < 0 {
			p.fail("ReservedConcurrentExecutions", nil, "must not be negative (got %d)", n)
		}
		f.ReservedConcurrency = &n
	}
	f.Architectures = p.strings("Architectures")
	for _, a := range f.Architectures {
		if a != "x86_64" && a != "arm64" {
			p.fail("Architectures", nil, "x86_64 or arm64 (got %q)", a)
		}
	}
	if len(f.Architectures) > 1 {
		p.fail("Architectures", nil, "one architecture (got %s)", strings.Join(f.Architectures, ", "))
	}
	if p.raw.Get("Layers") != nil {
		if l := p.get("Layers"); l != nil && l.Kind == List && len(l.Items) > 0 {
			c.warn("%s: Layers are not mounted locally: a function that loads code from /opt will not find it", r.id)
		}
	}
	if p.bad {
		c.broken[f.Name] = true
		return
	}
	if other, dup := c.byName[f.Name]; dup {
		c.errs.add(base+".FunctionName", r.node.Line, "%s is also the name of %s", f.Name, other.LogicalID)
		return
	}
	c.byName[f.Name] = f
	c.s.Functions = append(c.s.Functions, f)
	if sam {
		c.samEvents(r, f)
	}
}

func (c *converter) samCode(r *resource, p *props, f *Function) {
	switch {
	case p.has("InlineCode"):
		p.fail("InlineCode", nil, "inline code is not supported locally: put the code in a directory and point CodeUri at it")
		return
	case p.has("ImageUri"):
		p.fail("ImageUri", nil, "container image functions are not supported locally")
		return
	}
	cu := p.get("CodeUri")
	if cu == nil {
		if !p.bad {
			p.fail("CodeUri", r.node, "required: the function's code, a local directory (or .zip file) relative to the template")
		}
		return
	}
	f.CodeField, f.CodeLine = p.base+".CodeUri", cu.Line
	if r.own.Get("CodeUri") == nil {
		f.CodeField = "Globals.Function.CodeUri (of " + r.id + ")"
	}
	switch {
	case cu.Kind == Map:
		p.fail("CodeUri", cu, "an S3 location (Bucket, Key) is not available locally: point CodeUri at the local directory of the code")
	case !cu.scalar() || cu.Value == "":
		p.fail("CodeUri", cu, "want a local path, got %s", cu.String())
	case strings.HasPrefix(cu.Value, "s3://"):
		p.fail("CodeUri", cu, "%s is in S3, not available locally: point CodeUri at the local directory of the code", cu.Value)
	default:
		f.Code = c.abs(cu.Value)
	}
}

func (c *converter) lambdaCode(r *resource, p *props, f *Function) {
	// CDK: the asset directory (or zip) next to the template, named in the
	// metadata; Code holds its S3 location.
	if ap := r.metadata.Get("aws:asset:path"); ap.scalar() {
		prop := r.metadata.Get("aws:asset:property")
		if prop == nil || prop.Value == "Code" {
			f.Code, f.CodeField, f.CodeLine = c.abs(ap.Value), r.path()+".Metadata.aws:asset:path", ap.Line
			return
		}
	}
	code := p.get("Code")
	switch {
	case code == nil:
		if !p.bad {
			p.fail("Code", r.node, "required: the function's code, a local directory relative to the template")
		}
		return
	case code.scalar() && code.Value != "":
		if strings.HasPrefix(code.Value, "s3://") {
			p.fail("Code", code, "%s is in S3, not available locally: point Code at the local directory of the code", code.Value)
			return
		}
		f.Code, f.CodeField, f.CodeLine = c.abs(code.Value), p.base+".Code", code.Line
	case code.Kind == Map && code.Get("ZipFile") != nil:
		p.fail("Code.ZipFile", code, "inline code is not supported locally: put the code in a directory and point Code at it (Code: ./src)")
	case code.Kind == Map && code.Get("ImageUri") != nil:
		p.fail("Code.ImageUri", code, "container image functions are not supported locally")
	case code.Kind == Map && code.Get("S3Bucket") != nil:
		p.fail("Code", code, "an S3 object is not available locally: point Code at the local directory of the code (or use cdk synth's template, whose asset directories are next to it)")
	default:
		p.fail("Code", code, "want a local directory, got %s", code.String())
	}
}

// samEvents turns a SAM function's SQS and DynamoDB events into event
// sources; other events are listed as skipped.
func (c *converter) samEvents(r *resource, f *Function) {
	events := r.props.Get("Events")
	if events == nil {
		return
	}
	base := r.path() + ".Properties.Events"
	if events.Kind != Map {
		c.errs.add(base, events.Line, "want a map of events, got %s", events.Kind)
		return
	}
	for _, name := range events.Keys {
		ev := events.Fields[name]
		path := base + "." + name
		typ, err := c.e.resolveString(ev.Get("Type"), path+".Type", "Type")
		if err != nil {
			c.errs.addErr(err)
			continue
		}
		id := r.id + ".Events." + name
		if typ != "SQS" && typ != "DynamoDB" {
			c.skip(id, typ+" event", "not run locally")
			continue
		}
		p := c.props(ev.Get("Properties"), path+".Properties")
		if p.raw == nil {
			c.errs.add(path+".Properties", ev.Line, "required")
			continue
		}
		src := &pendingSource{es: &EventSource{LogicalID: id, Function: f}, path: p.base, line: ev.Line, resource: id, samType: typ}
		if typ == "SQS" {
			src.arn = p.required("Queue", "the queue's ARN, e.g. !GetAtt Queue.Arn")
		} else {
			src.arn = p.required("Stream", "the table's stream ARN, e.g. !GetAtt Table.StreamArn")
		}
		c.sourceProps(p, src.es)
		if !p.bad {
			c.sources = append(c.sources, src)
		}
	}
}

// mapping is an AWS::Lambda::EventSourceMapping.
func (c *converter) mapping(r *resource) {
	p := c.props(r.props, r.path()+".Properties")
	src := &pendingSource{es: &EventSource{LogicalID: r.id}, path: p.base, line: r.node.Line, resource: r.id}
	src.arn = p.required("EventSourceArn", "the queue's or the stream's ARN")
	src.fnRef = p.required("FunctionName", "the function, e.g. !Ref Function")
	c.sourceProps(p, src.es)
	if !p.bad {
		c.sources = append(c.sources, src)
	}
}

func (c *converter) sourceProps(p *props, es *EventSource) {
	es.Enabled = p.bool("Enabled", true)
	es.BatchSize, _ = p.int("BatchSize")
	es.MaximumBatchingWindowInSeconds, _ = p.int("MaximumBatchingWindowInSeconds")
	es.FunctionResponseTypes = p.strings("FunctionResponseTypes")
	es.StartingPosition = p.str("StartingPosition")
	if v := p.get("StartingPositionTimestamp"); v != nil {
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil {
			p.fail("StartingPositionTimestamp", v, "want seconds since the epoch, got %q", v.Value)
		}
		es.StartingPositionTimestamp = f
	}
	if n, ok := p.int("MaximumRetryAttempts"); ok {
		es.MaximumRetryAttempts = &n
	}
	if n, ok := p.int("MaximumRecordAgeInSeconds"); ok {
		es.MaximumRecordAgeInSeconds = &n
	}
	es.BisectBatchOnFunctionError = p.bool("BisectBatchOnFunctionError", false)
	es.ParallelizationFactor, _ = p.int("ParallelizationFactor")
	es.TumblingWindowInSeconds, _ = p.int("TumblingWindowInSeconds")
	if sc := p.get("ScalingConfig"); sc != nil {
		if n, err := asInt(sc.Get("MaximumConcurrency")); err == nil {
			es.MaximumConcurrency = n
		}
	}
	if fc := p.get("FilterCriteria"); fc != nil {
		filters := fc.Get("Filters")
		if filters != nil && filters.Kind != List {
			p.fail("FilterCriteria.Filters", filters, "want a list of {Pattern: ...}")
		} else if filters != nil {
			for _, f := range filters.Items {
				pat := f.Get("Pattern")
				if !pat.scalar() {
					p.fail("FilterCriteria.Filters", f, "want {Pattern: JSON}")
					continue
				}
				if !json.Valid([]byte(pat.Value)) {
					p.fail("FilterCriteria.Filters", pat, "Pattern is not JSON: %s", pat.Value)
					continue
				}
				es.Filters = append(es.Filters, pat.Value)
			}
		}
	}
}

// lambdaFunctionName reads a function name from a name, an ARN or a
// partial ARN (ACCOUNT:function:NAME), with or without a qualifier.
func lambdaFunctionName(s string) string {
	if i := strings.Index(s, "function:"); i >= 0 && (i == 0 || s[i-1] == ':') {
		s = s[i+len("function:"):]
	}
	if j := strings.IndexByte(s, ':'); j >= 0 {
		s = s[:j] // name:alias
	}
	return s
}

func (c *converter) linkSources() {
	for _, src := range c.sources {
		es := src.es
		if es.Function == nil {
			name := lambdaFunctionName(src.fnRef)
			es.Function = c.byName[name]
			if es.Function == nil {
				if c.broken[name] {
					continue
				}
				c.errs.add(src.path+".FunctionName", src.line, "%q: no function of that name in this template", src.fnRef)
				continue
			}
		}
		typ := "AWS::Lambda::EventSourceMapping"
		if src.samType != "" {
			typ = src.samType + " event"
		}
		field := "EventSourceArn"
		switch src.samType {
		case "SQS":
			field = "Queue"
		case "DynamoDB":
			field = "Stream"
		}
		if q := c.queuesByArn[src.arn]; q != nil && src.samType != "DynamoDB" {
			es.Queue = q
		} else if t := c.tablesByStream[src.arn]; t != nil && src.samType != "SQS" {
			es.Table = t
		} else if t := c.tablesByArn[src.arn]; t != nil {
			c.errs.add(src.path+"."+field, src.line, "%s is the table's ARN: use its stream's, !GetAtt %s.StreamArn", src.arn, t.LogicalID)
			continue
		} else if svc := arnService(src.arn); svc == "kinesis" || svc == "kafka" || svc == "mq" || svc == "rds" || svc == "docdb-elastic" {
			c.skip(src.resource, typ, svc+" event sources are not run locally")
			continue
		} else {
			c.errs.add(src.path+"."+field, src.line, "%q is not a queue or a table stream of this template", src.arn)
			continue
		}
		if !es.Enabled {
			c.skip(src.resource, typ, "Enabled is false")
			continue
		}
		c.s.EventSources = append(c.s.EventSources, es)
	}
}

func arnService(arn string) string {
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) < 4 || parts[0] != "arn" {
		return ""
	}
	return parts[2]
}

// ---- queues and tables

func (c *converter) queue(r *resource) {
	p := c.props(r.props, r.path()+".Properties")
	phys, err := c.e.physical(r, nil, p.base)
	if err != nil {
		c.errs.addErr(err)
		return
	}
	q := &Queue{LogicalID: r.id, Name: phys.attrs["QueueName"], URL: phys.ref, Arn: phys.attrs["Arn"], VisibilityTimeout: 30}
	q.Fifo = p.bool("FifoQueue", false)
	if n, ok := p.int("VisibilityTimeout"); ok {
		if n < 0 || n > 43200 {
			p.fail("VisibilityTimeout", nil, "between 0 and 43200 seconds (got %d)", n)
		}
		q.VisibilityTimeout = n
	}
	if rp := p.get("RedrivePolicy"); rp != nil {
		if rp.scalar() { // the JSON string form
			var m map[string]any
			if err := json.Unmarshal([]byte(rp.Value), &m); err != nil {
				p.fail("RedrivePolicy", rp, "want a map or its JSON: %v", err)
			} else {
				q.DeadLetterTargetArn, _ = m["deadLetterTargetArn"].(string)
				switch v := m["maxReceiveCount"].(type) {
				case float64:
					q.MaxReceiveCount = int(v)
				case string:
					q.MaxReceiveCount, _ = strconv.Atoi(v)
				}
			}
		} else {
			if n, err := asInt(rp.Get("maxReceiveCount")); err == nil {
				q.MaxReceiveCount = n
			} else {
				p.fail("RedrivePolicy.maxReceiveCount", rp, "%v", err)
			}
			if t := rp.Get("deadLetterTargetArn"); t.scalar() {
				q.DeadLetterTargetArn = t.Value
			}
		}
	}
	if p.bad {
		return
	}
	c.queuesByArn[q.Arn] = q
	c.s.Queues = append(c.s.Queues, q)
}

func (c *converter) table(r *resource) {
	p := c.props(r.props, r.path()+".Properties")
	phys, err := c.e.physical(r, nil, p.base)
	if err != nil {
		c.errs.addErr(err)
		return
	}
	t := &Table{LogicalID: r.id, Name: phys.ref, Arn: phys.attrs["Arn"], StreamArn: phys.attrs["StreamArn"]}
	in := &dynamodb.CreateTableInput{TableName: aws.String(t.Name)}
	defined := map[string]bool{}
	if v := p.get("AttributeDefinitions"); v != nil {
		for _, it := range listItems(p, "AttributeDefinitions", v) {
			name, typ := it.Get("AttributeName"), it.Get("AttributeType")
			if !name.scalar() || !typ.scalar() || (typ.Value != "S" && typ.Value != "N" && typ.Value != "B") {
				p.fail("AttributeDefinitions", it, "want {AttributeName: name, AttributeType: S, N or B}")
				continue
			}
			defined[name.Value] = true
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
				AttributeName: aws.String(name.Value), AttributeType: types.ScalarAttributeType(typ.Value)})
		}
	}
	in.KeySchema = keySchema(p, "KeySchema", p.get("KeySchema"), defined)
	if len(in.KeySchema) == 0 && !p.bad {
		p.fail("KeySchema", r.node, "required: [{AttributeName: id, KeyType: HASH}]")
	}
	billing := p.str("BillingMode")
	pt := throughput(p, "ProvisionedThroughput", p.get("ProvisionedThroughput"))
	switch {
	case billing == "" && pt != nil, billing == "PROVISIONED":
		in.BillingMode = types.BillingModeProvisioned
		if pt == nil {
			pt = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)}
		}
		in.ProvisionedThroughput = pt
	case billing == "", billing == "PAY_PER_REQUEST":
		in.BillingMode = types.BillingModePayPerRequest
	default:
		p.fail("BillingMode", nil, "PAY_PER_REQUEST or PROVISIONED (got %q)", billing)
	}
	if v := p.get("GlobalSecondaryIndexes"); v != nil {
		for i, it := range listItems(p, "GlobalSecondaryIndexes", v) {
			key := fmt.Sprintf("GlobalSecondaryIndexes[%d]", i)
			g := types.GlobalSecondaryIndex{IndexName: indexName(p, key, it),
				KeySchema: keySchema(p, key+".KeySchema", it.Get("KeySchema"), defined), Projection: projection(p, key, it.Get("Projection"))}
			g.ProvisionedThroughput = throughput(p, key+".ProvisionedThroughput", it.Get("ProvisionedThroughput"))
			if g.ProvisionedThroughput == nil && in.BillingMode == types.BillingModeProvisioned {
				g.ProvisionedThroughput = in.ProvisionedThroughput
			}
			if in.BillingMode == types.BillingModePayPerRequest {
				g.ProvisionedThroughput = nil
			}
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, g)
		}
	}
	if v := p.get("LocalSecondaryIndexes"); v != nil {
		for i, it := range listItems(p, "LocalSecondaryIndexes", v) {
			key := fmt.Sprintf("LocalSecondaryIndexes[%d]", i)
			in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{IndexName: indexName(p, key, it),
				KeySchema: keySchema(p, key+".KeySchema", it.Get("KeySchema"), defined), Projection: projection(p, key, it.Get("Projection"))})
		}
	}
	if ss := p.get("StreamSpecification"); ss != nil {
		view := ss.Get("StreamViewType")
		switch {
		case view.scalar() && (view.Value == "KEYS_ONLY" || view.Value == "NEW_IMAGE" || view.Value == "OLD_IMAGE" || view.Value == "NEW_AND_OLD_IMAGES"):
			in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(view.Value)}
		default:
			p.fail("StreamSpecification.StreamViewType", ss, "KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES")
		}
	}
	if ttl := p.get("TimeToLiveSpecification"); ttl != nil {
		enabled, err := asBool(ttl.Get("Enabled"))
		name := ttl.Get("AttributeName")
		switch {
		case err != nil:
			p.fail("TimeToLiveSpecification.Enabled", ttl, "%v", err)
		case enabled && !name.scalar():
			p.fail("TimeToLiveSpecification.AttributeName", ttl, "required when Enabled")
		case enabled:
			t.TTLAttribute = name.Value
		}
	}
	if p.bad {
		return
	}
	t.Create = in
	c.tablesByArn[t.Arn] = t
	if t.StreamArn != "" {
		c.tablesByStream[t.StreamArn] = t
	}
	c.s.Tables = append(c.s.Tables, t)
}

func listItems(p *props, key string, v *Node) []*Node {
	if v.Kind != List {
		p.fail(key, v, "want a list, got %s", v.Kind)
		return nil
	}
	return v.Items
}

func indexName(p *props, key string, it *Node) *string {
	n := it.Get("IndexName")
	if !n.scalar() {
		p.fail(key+".IndexName", it, "required")
		return nil
	}
	return aws.String(n.Value)
}

func keySchema(p *props, key string, v *Node, defined map[string]bool) []types.KeySchemaElement {
	if v == nil {
		return nil
	}
	var out []types.KeySchemaElement
	for _, it := range listItems(p, key, v) {
		name, typ := it.Get("AttributeName"), it.Get("KeyType")
		if !name.scalar() || !typ.scalar() || (typ.Value != "HASH" && typ.Value != "RANGE") {
			p.fail(key, it, "want {AttributeName: name, KeyType: HASH or RANGE}")
			continue
		}
		if !defined[name.Value] {
			p.fail(key, it, "attribute %s is not in AttributeDefinitions", name.Value)
			continue
		}
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(name.Value), KeyType: types.KeyType(typ.Value)})
	}
	return out
}

func projection(p *props, key string, v *Node) *types.Projection {
	if v == nil {
		p.fail(key+".Projection", nil, "required: {ProjectionType: ALL}")
		return nil
	}
	out := &types.Projection{}
	if t := v.Get("ProjectionType"); t.scalar() {
		out.ProjectionType = types.ProjectionType(t.Value)
	} else {
		out.ProjectionType = types.ProjectionTypeAll
	}
	if na := v.Get("NonKeyAttributes"); na != nil && na.Kind == List {
		for _, it := range na.Items {
			out.NonKeyAttributes = append(out.NonKeyAttributes, it.Value)
		}
	}
	return out
}

func throughput(p *props, key string, v *Node) *types.ProvisionedThroughput {
	if v == nil {
		return nil
	}
	r, err1 := asInt(v.Get("ReadCapacityUnits"))
	w, err2 := asInt(v.Get("WriteCapacityUnits"))
	if err := errors.Join(err1, err2); err != nil {
		p.fail(key, v, "want {ReadCapacityUnits: n, WriteCapacityUnits: n}")
		return nil
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(int64(r)), WriteCapacityUnits: aws.Int64(int64(w))}
}

// simpleTable is AWS::Serverless::SimpleTable: a table with one hash key.
func (c *converter) simpleTable(r *resource) {
	p := c.props(r.props, r.path()+".Properties")
	phys, err := c.e.physical(r, nil, p.base)
	if err != nil {
		c.errs.addErr(err)
		return
	}
	t := &Table{LogicalID: r.id, Name: phys.ref, Arn: phys.attrs["Arn"]}
	name, typ := "id", "S"
	if pk := p.get("PrimaryKey"); pk != nil {
		n, kt := pk.Get("Name"), pk.Get("Type")
		if !n.scalar() {
			p.fail("PrimaryKey.Name", pk, "required")
		} else {
			name = n.Value
		}
		switch {
		case !kt.scalar():
			p.fail("PrimaryKey.Type", pk, "required: String, Number or Binary")
		case kt.Value == "String":
		case kt.Value == "Number":
			typ = "N"
		case kt.Value == "Binary":
			typ = "B"
		default:
			p.fail("PrimaryKey.Type", kt, "String, Number or Binary (got %q)", kt.Value)
		}
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(t.Name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeType(typ)}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(name), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest}
	if pt := throughput(p, "ProvisionedThroughput", p.get("ProvisionedThroughput")); pt != nil {
		in.BillingMode, in.ProvisionedThroughput = types.BillingModeProvisioned, pt
	}
	if p.bad {
		return
	}
	t.Create = in
	c.tablesByArn[t.Arn] = t
	c.s.Tables = append(c.s.Tables, t)
}

// ---- the WebSocket API

func (c *converter) api(r *resource) {
	p := c.props(r.props, r.path()+".Properties")
	proto := p.str("ProtocolType")
	if proto != "WEBSOCKET" {
		if !p.bad {
			c.skip(r.id, r.typ, "ProtocolType "+proto+", not WEBSOCKET")
		}
		return
	}
	phys, err := c.e.physical(r, nil, p.base)
	if err != nil {
		c.errs.addErr(err)
		return
	}
	a := &API{LogicalID: r.id, ID: phys.ref, Name: p.str("Name")}
	a.RouteSelectionExpression = p.required("RouteSelectionExpression", "how a message picks its route, e.g. $request.body.action")
	if p.bad {
		return
	}
	c.apis[a.ID] = a
	c.s.APIs = append(c.s.APIs, a)
}

// linkAPIs reads routes, integrations, authorizers, route responses and
// stages, in that order, each into the API its ApiId names.
func (c *converter) linkAPIs() {
	integrations := map[string]*Integration{}
	authorizers := map[string]*Authorizer{}
	routes := map[string]*Route{}
	api := func(r *resource, p *props) *API {
		id := p.required("ApiId", "the API, e.g. !Ref WebSocketApi")
		if p.bad {
			return nil
		}
		a := c.apis[id]
		if a == nil {
			c.skip(r.id, r.typ, "not part of a WebSocket API of this template")
		}
		return a
	}
	for _, pass := range []string{"AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Route",
		"AWS::ApiGatewayV2::RouteResponse", "AWS::ApiGatewayV2::Stage"} {
		for _, r := range c.apiChildren {
			if r.typ != pass {
				continue
			}
			p := c.props(r.props, r.path()+".Properties")
			a := api(r, p)
			if a == nil {
				continue
			}
			phys, err := c.e.physical(r, nil, p.base)
			if err != nil {
				c.errs.addErr(err)
				continue
			}
			switch r.typ {
			case "AWS::ApiGatewayV2::Integration":
				typ := p.required("IntegrationType", "AWS_PROXY")
				uri := p.str("IntegrationUri")
				if typ != "AWS_PROXY" && !p.bad {
					p.fail("IntegrationType", nil, "%s integrations are not supported locally: only AWS_PROXY with a Lambda function of this template", typ)
				}
				if p.bad {
					c.broken[a.ID+"/"+phys.ref] = true
					continue
				}
				fn := c.functionFromURI(p, "IntegrationUri", uri)
				if fn == nil {
					c.broken[a.ID+"/"+phys.ref] = true
					continue
				}
				integrations[a.ID+"/"+phys.ref] = &Integration{LogicalID: r.id, Function: fn}
			case "AWS::ApiGatewayV2::Authorizer":
				typ := p.required("AuthorizerType", "REQUEST")
				uri := p.required("AuthorizerUri", "the function, arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations")
				sources := p.strings("IdentitySource")
				if typ != "REQUEST" && !p.bad {
					p.fail("AuthorizerType", nil, "a WebSocket API's authorizer is of type REQUEST (got %s)", typ)
				}
				var fn *Function
				if !p.bad {
					fn = c.functionFromURI(p, "AuthorizerUri", uri)
				}
				if fn == nil {
					c.broken[a.ID+"/"+phys.ref] = true
					continue
				}
				authorizers[a.ID+"/"+phys.ref] = &Authorizer{LogicalID: r.id, Name: p.str("Name"), IdentitySource: sources, Function: fn}
			case "AWS::ApiGatewayV2::Route":
				c.route(r, p, a, phys.ref, integrations, authorizers, routes)
			case "AWS::ApiGatewayV2::RouteResponse":
				routeID := p.required("RouteId", "the route, e.g. !Ref Route")
				key := p.required("RouteResponseKey", "$default")
				if p.bad {
					continue
				}
				rt := routes[a.ID+"/"+routeID]
				switch {
				case rt == nil:
					p.fail("RouteId", nil, "%q is not a route of API %s", routeID, a.LogicalID)
				case key != "$default":
					c.warn("%s: route response key %s: a WebSocket route answers with its $default route response only", r.id, key)
				default:
					rt.RouteResponse = true
				}
			case "AWS::ApiGatewayV2::Stage":
				st := &Stage{LogicalID: r.id, Name: phys.ref}
				if !p.has("StageName") {
					p.fail("StageName", r.node, "required")
					continue
				}
				st.Variables = p.stringMap(p.get("StageVariables"), "StageVariables")
				if !p.bad {
					a.Stages = append(a.Stages, st)
				}
			}
		}
	}
}

func (c *converter) route(r *resource, p *props, a *API, id string, integrations map[string]*Integration, authorizers map[string]*Authorizer, routes map[string]*Route) {
	rt := &Route{LogicalID: r.id}
	rt.Key = p.required("RouteKey", "$connect, $disconnect, $default or an action")
	target := p.str("Target")
	rt.AuthorizationType = p.str("AuthorizationType")
	authorizerID := p.str("AuthorizerId")
	if p.bad {
		return
	}
	if rt.AuthorizationType == "" {
		rt.AuthorizationType = "NONE"
	}
	if target == "" {
		p.fail("Target", r.node, "required: integrations/{IntegrationId} (a route without an integration cannot run locally)")
		return
	}
	iid, ok := strings.CutPrefix(target, "integrations/")
	rt.Integration = integrations[a.ID+"/"+iid]
	switch {
	case !ok || iid == "" || strings.Contains(iid, "/"):
		p.fail("Target", nil, "%q: want integrations/{IntegrationId}, e.g. !Join [/, [integrations, !Ref Integration]] or !Sub integrations/${Integration}", target)
		return
	case rt.Integration == nil:
		if !c.broken[a.ID+"/"+iid] {
			p.fail("Target", nil, "%q: no integration %s in API %s", target, iid, a.LogicalID)
		}
		return
	}
	switch rt.AuthorizationType {
	case "NONE":
	case "CUSTOM":
		if rt.Key != "$connect" {
			p.fail("AuthorizationType", nil, "CUSTOM: only the $connect route of a WebSocket API has an authorizer")
			return
		}
		rt.Authorizer = authorizers[a.ID+"/"+authorizerID]
		if rt.Authorizer == nil && c.broken[a.ID+"/"+authorizerID] {
			return
		}
		if rt.Authorizer == nil {
			p.fail("AuthorizerId", nil, "%q: no authorizer of that id in API %s", authorizerID, a.LogicalID)
			return
		}
	case "AWS_IAM":
		p.fail("AuthorizationType", nil, "AWS_IAM is not supported locally (use NONE or CUSTOM)")
		return
	default:
		p.fail("AuthorizationType", nil, "NONE, CUSTOM or AWS_IAM (got %q)", rt.AuthorizationType)
		return
	}
	for _, other := range a.Routes {
		if other.Key == rt.Key {
			p.fail("RouteKey", nil, "%s is also the key of route %s", rt.Key, other.LogicalID)
			return
		}
	}
	routes[a.ID+"/"+id] = rt
	a.Routes = append(a.Routes, rt)
}

// functionFromURI finds the function an integration or authorizer invokes:
// arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations,
// or the function's ARN.
func (c *converter) functionFromURI(p *props, key, uri string) *Function {
	fn := uri
	if strings.Contains(uri, ":apigateway:") || strings.Contains(uri, ":lambda:path/") {
		i := strings.Index(uri, "/functions/")
		j := strings.LastIndex(uri, "/invocations")
		if !strings.Contains(uri, ":lambda:path/") || i < 0 || j < i+len("/functions/") {
			p.fail(key, nil, "%q: want arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations", uri)
			return nil
		}
		fn = uri[i+len("/functions/") : j]
	}
	if strings.Contains(fn, "${stageVariables.") {
		p.fail(key, nil, "%q: a function chosen by a stage variable is not supported locally", uri)
		return nil
	}
	if !strings.HasPrefix(fn, "arn:") || arnService(fn) != "lambda" {
		p.fail(key, nil, "%q: want a Lambda function of this template (its ARN, or the apigateway invocation ARN)", uri)
		return nil
	}
	f := c.byName[lambdaFunctionName(fn)]
	if f == nil && !c.broken[lambdaFunctionName(fn)] {
		p.fail(key, nil, "%q: function %s is not in this template", uri, lambdaFunctionName(fn))
	}
	return f
}
