package config

import (
	"archive/zip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/switchboard-ws/switchboard/config/cfn"
	"github.com/switchboard-ws/switchboard/eventsource/filter"
	"github.com/switchboard-ws/switchboard/queue"
)

// TemplateOptions are what a local run of a CloudFormation or SAM template
// decides that AWS would.
type TemplateOptions struct {
	// Parameters override the template's parameter defaults
	// (cfn.ParseOverrides reads sam's --parameter-overrides syntax).
	Parameters map[string]string
	// StackName names the stack: AWS::StackName and the generated names
	// {StackName}-{LogicalId}-{SUFFIX} of tables and queues, the same at
	// every start. Default: the template directory's name.
	StackName string
	// Region and AccountID: AWS::Region (us-east-1) and AWS::AccountId
	// (000000000000).
	Region, AccountID string
	// GatewayURL is where the gateway listens, e.g. http://127.0.0.1:8080:
	// Ref of a queue gives its local URL there (queue.QueueURL), and a
	// WebSocket API's ApiEndpoint is its ws:// form. Without it, queue URLs
	// and the endpoint are AWS's.
	GatewayURL string
	// Stage picks the AWS::ApiGatewayV2::Stage by StageName when the API
	// has several (default: its only one, or the first). Without any Stage
	// resource it names the stage (default dev).
	Stage string
	// API picks the WebSocket API by logical id when the template has
	// several.
	API string
	// CacheDir is where .zip code is extracted (default: the user's cache
	// directory, switchboard/code).
	CacheDir string
}

// Template is a template in the form `switchboard serve` runs: the API as
// the config model, and what else the run must provide.
type Template struct {
	// File is the WebSocket API: stage, routes, authorizer, lambda
	// integrations, and the queues that SQS event sources consume,
	// validated as for an api.yaml. Its Build makes what runs it.
	File *File
	// StackName is the stack's name (given or derived).
	StackName string
	// Tables are the DynamoDB tables to create when missing.
	Tables []TableSpec
	// Streams are the DynamoDB stream event sources.
	Streams []StreamSource
	// Skipped lists the resources a local run does nothing for, each as
	// "LogicalId (Type)", once.
	Skipped []string
	// Warnings are things that run differently locally.
	Warnings []string
	// Stack is the evaluated template, for callers that want more.
	Stack *cfn.Stack
}

// TableSpec is a table of the template: the CreateTable call that makes it
// (TableName is its physical name) and the TTL attribute to enable.
type TableSpec struct {
	LogicalID    string
	Create       *dynamodb.CreateTableInput
	TTLAttribute string // "" without TimeToLiveSpecification
}

// StreamSource is a DynamoDB stream event source mapping (an
// AWS::Lambda::EventSourceMapping or a SAM DynamoDB event): the records of
// TableName's stream go to the function. Lambda's defaults are filled in.
type StreamSource struct {
	LogicalID    string // the mapping's, or "Function.Events.Name"
	TableName    string
	FunctionName string
	// Function is the consumer's integration: Runtime.Invoker(Function)
	// gives the function, the same one a route with this integration uses.
	Function                       Integration
	BatchSize                      int    // default 100
	StartingPosition               string // TRIM_HORIZON, LATEST or AT_TIMESTAMP
	StartingPositionTimestamp      float64
	FunctionResponseTypes          []string // ReportBatchItemFailures
	MaximumRetryAttempts           int      // -1 (the default): until the record expires
	MaximumRecordAgeInSeconds      int      // -1 (the default): no limit
	BisectBatchOnFunctionError     bool
	MaximumBatchingWindowInSeconds int
	ParallelizationFactor          int // default 1
	TumblingWindowInSeconds        int
	// Filters are the FilterCriteria patterns (JSON): only records that
	// match one of them invoke the function.
	Filters []string
}

// LoadTemplate reads a CloudFormation or SAM template (YAML or JSON, such
// as cdk synth writes) and decodes its WebSocket API into the config
// model: a description that starts nothing (its File's Build makes what
// runs it). Every function's code is checked before it returns: a missing
// directory, a provided runtime without an executable bootstrap, a Node.js
// handler whose file does not exist. So is every FilterCriteria pattern
// (package eventsource/filter): a bad one is an error naming the event
// source. So is the API's File (File.Validate), whose errors begin with
// path. Code in a .zip file is extracted to o.CacheDir.
func LoadTemplate(path string, o TemplateOptions) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", err)
	}
	name := filepath.Base(path)
	t, err := cfn.Parse(data, name)
	if err != nil {
		return nil, err
	}
	co := cfn.Options{Dir: filepath.Dir(path), Parameters: o.Parameters, StackName: o.StackName, Region: o.Region, AccountID: o.AccountID}
	if o.GatewayURL != "" {
		base := strings.TrimSuffix(o.GatewayURL, "/")
		co.QueueURL = func(name string) string { return queue.QueueURL(base, name) }
		ws := "ws" + strings.TrimPrefix(base, "http")
		co.APIEndpoint = func(string) string { return ws }
	}
	st, err := t.Resolve(co)
	if err != nil {
		return nil, err
	}
	c := &templateConv{name: name, o: o, st: st, built: map[*cfn.Function]*Integration{}}
	tpl, err := c.run()
	if err != nil {
		return nil, err
	}
	if err := tpl.File.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tpl, nil
}

type templateConv struct {
	name  string
	o     TemplateOptions
	st    *cfn.Stack
	errs  []error
	warn  []string
	built map[*cfn.Function]*Integration
}

func (c *templateConv) fail(path string, line int, format string, args ...any) {
	c.errs = append(c.errs, &cfn.Error{File: c.name, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (c *templateConv) run() (*Template, error) {
	st := c.st
	out := &Template{StackName: st.Name, Stack: st, File: &File{Region: st.Region, AccountID: st.AccountID}}
	api := c.pickAPI()
	if api == nil {
		return nil, errors.Join(c.errs...)
	}
	f := out.File
	f.APIID = api.ID
	f.RouteSelectionExpression = api.RouteSelectionExpression
	c.pickStage(api, f)
	f.Routes = map[string]Route{}
	for _, r := range api.Routes {
		in := c.integration(r.Integration.Function)
		if in == nil {
			continue
		}
		f.Routes[r.Key] = Route{Integration: *in, RouteResponse: r.RouteResponse}
		if r.Authorizer != nil {
			c.authorizer(r.Authorizer, f)
		}
	}
	for _, es := range st.EventSources {
		in := c.integration(es.Function)
		if in == nil {
			continue
		}
		if _, err := filter.Compile(es.Filters); err != nil {
			c.fail(sourcePath(es)+".FilterCriteria", 0, "%v", err)
			continue
		}
		switch {
		case es.Queue != nil:
			c.queue(es, *in, f)
		case es.Table != nil:
			out.Streams = append(out.Streams, streamSource(es, *in))
		}
	}
	consumed := map[string]bool{}
	for name := range f.Queues {
		consumed[name] = true
	}
	for _, q := range st.Queues {
		if !consumed[q.Name] {
			c.warn = append(c.warn, fmt.Sprintf("%s: no function consumes queue %s, so it is not served locally (sending to it fails)", q.LogicalID, q.Name))
		}
	}
	for _, t := range st.Tables {
		out.Tables = append(out.Tables, TableSpec{LogicalID: t.LogicalID, Create: t.Create, TTLAttribute: t.TTLAttribute})
	}
	seen := map[string]bool{}
	for _, s := range st.Skipped {
		if k := s.String(); !seen[k] {
			seen[k] = true
			out.Skipped = append(out.Skipped, k)
		}
	}
	for _, a := range st.APIs {
		if a != api {
			out.Skipped = append(out.Skipped, fmt.Sprintf("%s (AWS::ApiGatewayV2::Api: not the API served; pick it with API)", a.LogicalID))
		}
	}
	out.Warnings = append(append(out.Warnings, st.Warnings...), c.warn...)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return out, nil
}

func (c *templateConv) pickAPI() *cfn.API {
	apis := c.st.APIs
	var ids []string
	for _, a := range apis {
		ids = append(ids, a.LogicalID)
	}
	switch {
	case c.o.API != "":
		for _, a := range apis {
			if a.LogicalID == c.o.API {
				return a
			}
		}
		c.fail("", 0, "no WebSocket API %s (the template's: %s)", c.o.API, strings.Join(ids, ", "))
	case len(apis) == 1:
		return apis[0]
	case len(apis) == 0:
		c.fail("Resources", 0, "no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET: nothing to serve")
	default:
		c.fail("Resources", 0, "%d WebSocket APIs (%s): pick one", len(apis), strings.Join(ids, ", "))
	}
	return nil
}

func (c *templateConv) pickStage(api *cfn.API, f *File) {
	var names []string
	for _, s := range api.Stages {
		names = append(names, s.Name)
	}
	switch {
	case len(api.Stages) == 0:
		f.Stage = c.o.Stage
		if f.Stage == "" {
			f.Stage = "dev"
		}
		c.warn = append(c.warn, fmt.Sprintf("%s has no AWS::ApiGatewayV2::Stage: serving it as stage %s", api.LogicalID, f.Stage))
	case c.o.Stage == "":
		f.Stage, f.StageVariables = api.Stages[0].Name, api.Stages[0].Variables
	default:
		for _, s := range api.Stages {
			if s.Name == c.o.Stage {
				f.Stage, f.StageVariables = s.Name, s.Variables
				return
			}
		}
		c.fail("", 0, "API %s has no stage %s (its stages: %s)", api.LogicalID, c.o.Stage, strings.Join(names, ", "))
	}
}

var identitySource = regexp.MustCompile(`^(route\.request\.querystring\.|route\.request\.header\.|stageVariables\.).+$`)

func (c *templateConv) authorizer(a *cfn.Authorizer, f *File) {
	in := c.integration(a.Function)
	if in == nil {
		return
	}
	path := "Resources." + a.LogicalID + ".Properties.IdentitySource"
	if len(a.IdentitySource) == 0 {
		c.fail(path, 0, "required locally: the request values the authorizer needs, e.g. [route.request.querystring.token]")
		return
	}
	for _, s := range a.IdentitySource {
		if !identitySource.MatchString(s) {
			c.fail(path, 0, "%q is not supported locally: want route.request.querystring.NAME, route.request.header.NAME or stageVariables.NAME", s)
			return
		}
	}
	f.Authorizer = &Authorizer{Integration: *in, IdentitySources: a.IdentitySource}
}

var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (c *templateConv) queue(es *cfn.EventSource, in Integration, f *File) {
	q := es.Queue
	path := "Resources." + q.LogicalID
	if q.Fifo || !queueNamePattern.MatchString(q.Name) {
		c.fail(path, 0, "queue %s: FIFO queues are not supported locally", q.Name)
		return
	}
	if prev, dup := f.Queues[q.Name]; dup {
		c.fail(path, 0, "queue %s has two consumers (%s and %s): one per queue is supported locally", q.Name, prev.Integration.FunctionName, in.FunctionName)
		return
	}
	lq := Queue{Integration: in, BatchSize: es.BatchSize, Concurrency: es.MaximumConcurrency, MaxReceiveCount: q.MaxReceiveCount, Filters: es.Filters}
	if lq.BatchSize > 10 {
		c.warn = append(c.warn, fmt.Sprintf("%s: batch size %d: local queues deliver at most 10 records per invocation", es.LogicalID, lq.BatchSize))
		lq.BatchSize = 10
	}
	if lq.MaxReceiveCount == 0 { // no redrive policy: SQS keeps retrying until the message expires
		lq.MaxReceiveCount = 1000
	}
	if q.VisibilityTimeout > 0 {
		lq.RetryDelay = fmt.Sprintf("%ds", q.VisibilityTimeout)
	}
	if !slices.Contains(es.FunctionResponseTypes, "ReportBatchItemFailures") {
		c.warn = append(c.warn, fmt.Sprintf("%s: without FunctionResponseTypes [ReportBatchItemFailures] Lambda ignores a batchItemFailures response; the local queue honours it", es.LogicalID))
	}
	if f.Queues == nil {
		f.Queues = map[string]Queue{}
	}
	f.Queues[q.Name] = lq
}

// sourcePath is where an event source's properties are in the template:
// an event source mapping's, or a SAM function event's (LogicalID
// "Function.Events.Name").
func sourcePath(es *cfn.EventSource) string {
	if fn, ev, ok := strings.Cut(es.LogicalID, ".Events."); ok {
		return "Resources." + fn + ".Properties.Events." + ev + ".Properties"
	}
	return "Resources." + es.LogicalID + ".Properties"
}

func streamSource(es *cfn.EventSource, in Integration) StreamSource {
	s := StreamSource{LogicalID: es.LogicalID, TableName: es.Table.Name, FunctionName: in.FunctionName, Function: in,
		BatchSize: es.BatchSize, StartingPosition: es.StartingPosition, StartingPositionTimestamp: es.StartingPositionTimestamp,
		FunctionResponseTypes: es.FunctionResponseTypes, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1,
		BisectBatchOnFunctionError: es.BisectBatchOnFunctionError, MaximumBatchingWindowInSeconds: es.MaximumBatchingWindowInSeconds,
		ParallelizationFactor: es.ParallelizationFactor, TumblingWindowInSeconds: es.TumblingWindowInSeconds, Filters: es.Filters}
	if s.BatchSize == 0 {
		s.BatchSize = 100
	}
	if s.ParallelizationFactor == 0 {
		s.ParallelizationFactor = 1
	}
	if es.MaximumRetryAttempts != nil {
		s.MaximumRetryAttempts = *es.MaximumRetryAttempts
	}
	if es.MaximumRecordAgeInSeconds != nil {
		s.MaximumRecordAgeInSeconds = *es.MaximumRecordAgeInSeconds
	}
	return s
}

// ---- functions

var nodeRuntime = regexp.MustCompile(`^nodejs\d+\.x$`)

// runtimeKind sorts the runtimes a local run supports: provided (the executable bootstrap),
// Node.js (the handler's file), and go1.x (the executable the handler
// names, run as a provided function).
func runtimeKind(rt string) string {
	switch {
	case rt == "provided" || strings.HasPrefix(rt, "provided."):
		return "provided"
	case rt == "go1.x":
		return "go"
	case nodeRuntime.MatchString(rt):
		return "node"
	}
	return ""
}

// integration makes (once per function) the lambda integration of a
// function, after checking its code.
func (c *templateConv) integration(fn *cfn.Function) *Integration {
	if in, ok := c.built[fn]; ok {
		return in
	}
	c.built[fn] = nil
	path := "Resources." + fn.LogicalID + ".Properties"
	rt := fn.Runtime
	kind := runtimeKind(rt)
	switch {
	case rt == "":
		c.fail(path+".Runtime", fn.Line, "required: provided.al2023, provided.al2 or nodejs20.x (or set it in Globals.Function)")
		return nil
	case kind == "":
		c.fail(path+".Runtime", fn.Line, "%s is not supported locally (provided.al2023, provided.al2, provided, nodejs18.x, nodejs20.x, nodejs22.x)", rt)
		return nil
	}
	buildHint := ""
	if fn.BuildMethod != "" {
		buildHint = fmt.Sprintf(" (Metadata.BuildMethod %s: run sam build and load .aws-sam/build/template.yaml)", fn.BuildMethod)
	}
	dir, err := c.codeDir(fn)
	if err != nil {
		c.fail(fn.CodeField, fn.CodeLine, "%v%s", err, buildHint)
		return nil
	}
	in := &Integration{Type: "lambda", Runtime: rt, CodeURI: dir, Handler: fn.Handler, FunctionName: fn.Name, MemoryMB: fn.MemorySize}
	switch kind {
	case "provided", "go":
		exe := filepath.Join(dir, "bootstrap")
		if kind == "go" {
			if fn.Handler == "" {
				c.fail(path+".Handler", fn.Line, "required for go1.x: the executable's name")
				return nil
			}
			exe = filepath.Join(dir, filepath.FromSlash(fn.Handler))
			in.Runtime = "provided"
		}
		if err := executable(exe); err != nil {
			c.fail(fn.CodeField, fn.CodeLine, "function %s (%s): %v%s", fn.LogicalID, rt, err, buildHint)
			return nil
		}
		in.Path = exe
		if m, ok := elfMachine(exe); ok && m != runtime.GOARCH {
			c.warn = append(c.warn, fmt.Sprintf("%s: %s is built for %s and this machine is %s: it will not start", fn.LogicalID, exe, m, runtime.GOARCH))
		}
	case "node":
		if err := nodeHandler(dir, fn.Handler); err != nil {
			c.fail(path+".Handler", fn.Line, "function %s (%s): %v%s", fn.LogicalID, rt, err, buildHint)
			return nil
		}
	}
	if fn.Timeout > 0 {
		in.Timeout = fmt.Sprintf("%ds", fn.Timeout)
	}
	if fn.ReservedConcurrency != nil {
		if *fn.ReservedConcurrency == 0 {
			c.warn = append(c.warn, fmt.Sprintf("%s: ReservedConcurrentExecutions 0 throttles every invocation on AWS; it runs locally", fn.LogicalID))
		} else {
			in.Concurrency = *fn.ReservedConcurrency
		}
	}
	if len(fn.Environment) > 0 || c.st.Region != "us-east-1" {
		in.Environment = map[string]string{}
		for k, v := range fn.Environment {
			in.Environment[k] = v
		}
		if c.st.Region != "us-east-1" {
			in.Environment["AWS_REGION"] = c.st.Region // Lambda's, which a template cannot set
			in.Environment["AWS_DEFAULT_REGION"] = c.st.Region
		}
	}
	c.built[fn] = in
	return in
}

// codeDir is the function's code directory: fn.Code, or the directory a
// .zip file is extracted to.
func (c *templateConv) codeDir(fn *cfn.Function) (string, error) {
	st, err := os.Stat(fn.Code)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s: no such directory (function %s)", fn.Code, fn.LogicalID)
	case err != nil:
		return "", fmt.Errorf("function %s: %w", fn.LogicalID, err)
	case st.IsDir():
		return fn.Code, nil
	case strings.HasSuffix(strings.ToLower(fn.Code), ".zip") || strings.HasSuffix(strings.ToLower(fn.Code), ".jar"):
		dir, err := extractZip(fn.Code, c.o.CacheDir)
		if err != nil {
			return "", fmt.Errorf("function %s: %w", fn.LogicalID, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("%s is a file, not the function's directory or a .zip (function %s)", fn.Code, fn.LogicalID)
}

func executable(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no %s: the code directory has no executable bootstrap", path)
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a file", path)
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable (chmod +x; in a zip, store it with mode 0755)", path)
	}
	return nil
}

// elfMachine reads the architecture of an ELF executable (GOARCH names).
func elfMachine(path string) (string, bool) {
	f, err := elf.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", true
	case elf.EM_AARCH64:
		return "arm64", true
	}
	return "", false
}

// nodeHandler checks a Node.js handler "path/file.export": the file
// (.js, .mjs or .cjs) must exist in the code directory.
func nodeHandler(dir, handler string) error {
	i := strings.LastIndexByte(handler, '.')
	if handler == "" || i <= 0 || i == len(handler)-1 {
		return fmt.Errorf("handler %q: want FILE.EXPORT, e.g. index.handler", handler)
	}
	base := filepath.Join(dir, filepath.FromSlash(handler[:i]))
	for _, ext := range []string{".js", ".mjs", ".cjs"} {
		if st, err := os.Stat(base + ext); err == nil && st.Mode().IsRegular() {
			return nil
		}
	}
	return fmt.Errorf("handler %s: no %s.js, .mjs or .cjs", handler, base)
}

// maxUnzipped bounds what a code zip may hold (Lambda's own limit is
// 250 MB).
const maxUnzipped = 1 << 30

// extractZip extracts a code zip once into cacheDir/SHA256 and returns
// that directory; a later load of the same zip reuses it.
func extractZip(path, cacheDir string) (string, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "switchboard", "code")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))[:32])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".extract-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	var total uint64
	for _, zf := range zr.File {
		name := filepath.FromSlash(zf.Name)
		if !filepath.IsLocal(name) {
			return "", fmt.Errorf("%s: entry %q points outside the directory", path, zf.Name)
		}
		dst := filepath.Join(tmp, name)
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return "", err
			}
			continue
		case mode&fs.ModeSymlink != 0:
			continue // not followed: a symlink could point anywhere
		}
		total += zf.UncompressedSize64
		if total > maxUnzipped {
			return "", fmt.Errorf("%s: more than %d MiB uncompressed", path, maxUnzipped>>20)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		perm := mode.Perm()
		if perm == 0 {
			perm = 0o644
		}
		if err := writeZipEntry(zf, dst, perm); err != nil {
			return "", fmt.Errorf("%s: %s: %w", path, zf.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr == nil {
			return dir, nil // another load extracted it meanwhile
		}
		os.RemoveAll(dir) // an earlier, interrupted extraction
		if err := os.Rename(tmp, dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func writeZipEntry(zf *zip.File, dst string, perm fs.FileMode) error {
	r, err := zf.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(r, maxUnzipped)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
