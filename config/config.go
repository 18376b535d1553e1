// Package config reads the description of a WebSocket API (stage, route
// selection, routes and their integrations, authorizer, limits,
// management-API credentials, queues) from a YAML file or a
// CloudFormation/SAM template, and builds what runs it.
//
// It works in two steps, as Caddy's modules do (decode and validate, then
// provision, then clean up). Decoding (Parse, Load, LoadTemplate) returns
// a File that is only a description: it is validated — every error at
// once, each naming its field — reading the file system (a function's
// executable, its code directory) but starting nothing: no process, no
// goroutine, no watcher. File.Build then makes the lambda functions, the
// local queues and their SQS API, and returns a Runtime that owns them
// (with the gateway's options) until its Close. docs/config.md documents
// the format.
package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-ws/switchboard/eventsource/filter"
	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/integration"
	"github.com/switchboard-ws/switchboard/integration/lambda"
	"github.com/switchboard-ws/switchboard/internal/originguard"
	"github.com/switchboard-ws/switchboard/internal/routeselect"
	"github.com/switchboard-ws/switchboard/queue"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// File is the YAML document: a description of the API, which starts
// nothing. Parse and Load validate it; Build makes what runs it.
type File struct {
	Listen                   string            `yaml:"listen"`
	Stage                    string            `yaml:"stage"`
	RouteSelectionExpression string            `yaml:"routeSelectionExpression"`
	APIID                    string            `yaml:"apiId"`
	Region                   string            `yaml:"region"`
	AccountID                string            `yaml:"accountId"`
	DomainName               string            `yaml:"domainName"`
	StageVariables           map[string]string `yaml:"stageVariables"`
	Routes                   map[string]Route  `yaml:"routes"`
	Authorizer               *Authorizer       `yaml:"authorizer"`
	Limits                   Limits            `yaml:"limits"`
	Management               Management        `yaml:"management"`
	Queues                   map[string]Queue  `yaml:"queues"`
	// Cluster, when set, makes serve a node of a cluster (cluster.go).
	Cluster *Cluster `yaml:"cluster"`
}

// Queue is a local queue with SQS's semantics whose consumer is an
// integration (the fanout function of the chat backend): producers send to
// it through the SQS API at queue.APIPath.
type Queue struct {
	Integration     Integration `yaml:"integration"`
	BatchSize       int         `yaml:"batchSize"`       // records per invocation, default 10
	Concurrency     int         `yaml:"concurrency"`     // invocations at a time, default 4
	MaxReceiveCount int         `yaml:"maxReceiveCount"` // deliveries before the dead-letter queue, default 3
	RetryDelay      string      `yaml:"retryDelay"`      // a failed record comes again after this, doubling; default 1s
	// Filters are FilterCriteria patterns (JSON, see package
	// eventsource/filter): a message that matches none of them is deleted
	// without invoking the integration, as Lambda does. None: every
	// message is delivered.
	Filters []string `yaml:"filters"`
}

// Route is one entry of routes.
type Route struct {
	Integration   Integration `yaml:"integration"`
	RouteResponse bool        `yaml:"routeResponse"`
}

// Integration says where a route's handler is.
type Integration struct {
	Type    string            `yaml:"type"` // http | lambda | builtin
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Name    string            `yaml:"name"` // builtin
	// lambda: Runtime is provided.al2023 (the default; also provided.al2
	// and provided), whose Path is a custom-runtime executable (the
	// deployable bootstrap) and Handler its _HANDLER; or nodejs18.x,
	// nodejs20.x or nodejs22.x, whose Handler ("file.export") is loaded
	// from CodeURI.
	Runtime string `yaml:"runtime"`
	CodeURI string `yaml:"codeUri"`
	Path    string `yaml:"path"`
	Handler string `yaml:"handler"`
	// FunctionName names the function (AWS_LAMBDA_FUNCTION_NAME, its log
	// lines, its ARN). Default: the executable's name, and the handler's
	// after a dash ("bootstrap-message"). Integrations alike in every field
	// are one function with one pool of instances, as on AWS several routes
	// integrate with one function.
	FunctionName string            `yaml:"functionName"`
	Environment  map[string]string `yaml:"environment"`
	Timeout      string            `yaml:"timeout"`     // per invocation, default 3s as on Lambda
	Concurrency  int               `yaml:"concurrency"` // instances at most, default 4
	MemoryMB     int               `yaml:"memoryMB"`
}

// Authorizer is the REQUEST authorizer on $connect.
type Authorizer struct {
	Integration     Integration `yaml:"integration"`
	IdentitySources []string    `yaml:"identitySources"`
}

// Limits mirror gateway.Limits; durations are Go duration strings ("10m").
type Limits struct {
	MaxMessageBytes       *int     `yaml:"maxMessageBytes"`
	MaxFrameBytes         *int     `yaml:"maxFrameBytes"`
	IdleTimeout           string   `yaml:"idleTimeout"`
	MaxConnectionDuration string   `yaml:"maxConnectionDuration"`
	IntegrationTimeout    string   `yaml:"integrationTimeout"`
	ConnectTimeout        string   `yaml:"connectTimeout"`
	SendQueueBytes        *int     `yaml:"sendQueueBytes"`
	WriteTimeout          string   `yaml:"writeTimeout"`
	InboundQueue          *int     `yaml:"inboundQueue"`
	InboundQueueBytes     *int     `yaml:"inboundQueueBytes"`
	ConnectRate           *float64 `yaml:"connectRate"`

	// The listener and each source address (docs/limits.md). Durations
	// and counts take -1 ("none" for a duration) for no limit.
	HTTPReadTimeout      string   `yaml:"httpReadTimeout"`
	HTTPWriteTimeout     string   `yaml:"httpWriteTimeout"`
	HTTPIdleTimeout      string   `yaml:"httpIdleTimeout"`
	MaxConnections       *int     `yaml:"maxConnections"`
	SourceConnectRate    *float64 `yaml:"sourceConnectRate"`
	MaxSourceConnections *int     `yaml:"maxSourceConnections"`
	MaxSources           *int     `yaml:"maxSources"`
	// Server pings: off unless pingInterval is set (AWS sends none).
	PingInterval   string `yaml:"pingInterval"`
	MaxMissedPongs *int   `yaml:"maxMissedPongs"`
}

// Management configures the @connections API (and the batch extension
// and /metrics, which follow the same rules).
type Management struct {
	Credentials []Credential `yaml:"credentials"`
	// AllowedOrigins are web origins allowed to call them besides the
	// gateway's own ("https://admin.example.com"; "*": any). Browsers send
	// an Origin; SDKs and curl do not.
	AllowedOrigins []string `yaml:"allowedOrigins"`
	// AllowedHosts are host names served besides the loopback names, the
	// address a client reached, domainName and the API's execute-api name
	// ("*.example.com" for a domain's names; "*": any Host).
	AllowedHosts []string `yaml:"allowedHosts"`
}

// Credential is one key pair allowed to call the management API.
type Credential struct {
	AccessKeyID        string `yaml:"accessKeyId"`
	SecretAccessKey    string `yaml:"secretAccessKey"`
	SecretAccessKeyEnv string `yaml:"secretAccessKeyEnv"`
}

// Builtins resolves integrations of type builtin (handlers compiled into the
// binary) by name; nil means none are available.
type Builtins func(name string) (gateway.Integration, gateway.Authorizer, bool)

// ErrInvalid wraps every validation error.
var ErrInvalid = errors.New("invalid config")

// Load reads a config file and decodes and validates it (Parse); an
// invalid file's *Error names the file. It starts nothing.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	f, err := Parse(b)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes a config document and validates it (File.Validate): the
// File it returns describes the API and starts nothing. ${NAME} and
// ${NAME:-default} are replaced by environment variables first; $$ is a
// literal $ (and a $ not followed by { stays as it is, so route selection
// expressions need no escaping).
//
// An invalid document gives an *Error with every problem at once: a YAML
// syntax error alone (with its line), else each unknown key (with a "did
// you mean"), each value of the wrong kind and each validation error, with
// its YAML path and, where the file has it, its line and column.
func Parse(b []byte) (*File, error) {
	b, err := expandEnv(b)
	if err != nil {
		return nil, &Error{Problems: asProblems(err)}
	}
	d, problems := decode(b)
	if d == nil {
		return nil, &Error{Problems: problems}
	}
	// A value that could not be decoded is left zero: validation's word on
	// that path would only repeat the problem.
	undecoded := map[string]bool{}
	for _, p := range problems {
		undecoded[p.Path] = true
	}
	for _, p := range asProblems(d.file.Validate()) {
		if !undecoded[p.Path] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			if p.Line != 0 {
				continue
			}
			// "routes.x.integration" with "url: ..." is at the url.
			n := d.positions[p.Path]
			if sub, _, ok := strings.Cut(p.Msg, ": "); ok && !strings.ContainsAny(sub, " \"") {
				if m := d.positions[p.Path+"."+sub]; m != nil {
					n = m
				}
			}
			if n != nil {
				p.Line, p.Column = n.Line, n.Column
			}
		}
		sort.SliceStable(problems, func(i, j int) bool {
			a, b := problems[i], problems[j]
			if (a.Line == 0) != (b.Line == 0) {
				return b.Line == 0
			}
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		})
		return nil, &Error{Problems: problems}
	}
	f := d.file
	return &f, nil
}

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${NAME} and ${NAME:-default}; an unset NAME without a
// default is an error, so that a typo does not become an empty URL.
func expandEnv(b []byte) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		if string(m) == "$$" {
			return []byte("$")
		}
		sub := envRef.FindSubmatch(m)
		if v, ok := os.LookupEnv(string(sub[1])); ok && v != "" {
			return []byte(v)
		}
		if sub[2] != nil {
			return sub[3]
		}
		missing = append(missing, string(sub[1]))
		return m
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: environment variable %s is not set (use ${%s:-default} for a default)", ErrInvalid, strings.Join(missing, ", "), missing[0])
	}
	return out, nil
}

var stagePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Validate checks f and returns every error it finds, joined, each
// wrapping ErrInvalid and naming its field (routes.echo.integration:
// url: ...). It reads the file system — a lambda integration's executable
// must exist and be executable, its code directory must be one — and
// starts nothing. Builtin integrations are looked up by Build, which has
// the Builtins.
func (f *File) Validate() error {
	_, err := f.walk(nil, nil)
	return err
}

// walk validates f and, with a Runtime, builds into it: the functions of
// lambda integrations (rt.fns), the queues (rt.queues), and the gateway
// options it returns. Without one it only checks (fns in check mode).
func (f *File) walk(builtins Builtins, rt *Runtime) (gateway.Options, error) {
	fns := &functions{}
	if rt != nil {
		fns = &rt.fns
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &Problem{Path: field, Msg: fmt.Sprintf(format, args...)})
	}
	opts := gateway.Options{
		Stage:                    f.Stage,
		RouteSelectionExpression: f.RouteSelectionExpression,
		APIID:                    f.APIID,
		Region:                   f.Region,
		AccountID:                f.AccountID,
		DomainName:               f.DomainName,
		StageVariables:           f.StageVariables,
		Routes:                   map[string]gateway.Route{},
	}
	if !stagePattern.MatchString(f.Stage) {
		bad("stage", "required: letters, digits, '-' and '_' (got %q)", f.Stage)
	}
	if f.RouteSelectionExpression == "" {
		bad("routeSelectionExpression", "required, e.g. $request.body.action")
	} else if _, err := routeselect.Parse(f.RouteSelectionExpression); err != nil {
		bad("routeSelectionExpression", "%v", err)
	}

	keys := make([]string, 0, len(f.Routes))
	for k := range f.Routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		r := f.Routes[key]
		field := fmt.Sprintf("routes.%s", key)
		switch {
		case key == "":
			bad("routes", "empty route key")
			continue
		case strings.HasPrefix(key, "$") && key != gateway.RouteConnect && key != gateway.RouteDisconnect && key != gateway.RouteDefault:
			bad(field, "custom route keys may not start with $ (the reserved keys are $connect, $disconnect and $default)")
			continue
		}
		in, _, err := r.Integration.build(f.Region, fns, builtins, false)
		if err != nil {
			bad(field+".integration", "%v", err)
			continue
		}
		if in != nil {
			opts.Routes[key] = gateway.Route{Integration: in, RouteResponse: r.RouteResponse}
		}
	}
	if len(f.Routes) > 300 {
		bad("routes", "%d routes; API Gateway allows at most 300", len(f.Routes))
	}

	if a := f.Authorizer; a != nil {
		_, authz, err := a.Integration.build(f.Region, fns, builtins, true)
		if err != nil {
			bad("authorizer.integration", "%v", err)
		}
		if len(a.IdentitySources) == 0 {
			bad("authorizer.identitySources", "required, e.g. [route.request.querystring.token]")
		}
		for i, src := range a.IdentitySources {
			if !strings.HasPrefix(src, "route.request.querystring.") && !strings.HasPrefix(src, "route.request.header.") && !strings.HasPrefix(src, "stageVariables.") ||
				strings.HasSuffix(src, ".") {
				bad(fmt.Sprintf("authorizer.identitySources[%d]", i), "%q: want route.request.querystring.NAME, route.request.header.NAME or stageVariables.NAME", src)
			}
		}
		opts.Authorizer = &gateway.AuthorizerConfig{Authorizer: authz, IdentitySources: a.IdentitySources}
	}

	opts.Limits = f.Limits.build(bad)

	if len(f.Management.Credentials) > 0 {
		opts.Credentials = sigv4.Credentials{}
		for i, c := range f.Management.Credentials {
			field := fmt.Sprintf("management.credentials[%d]", i)
			secret := c.SecretAccessKey
			switch {
			case c.AccessKeyID == "":
				bad(field+".accessKeyId", "required")
			case secret != "" && c.SecretAccessKeyEnv != "":
				bad(field, "set secretAccessKey or secretAccessKeyEnv, not both")
			case c.SecretAccessKeyEnv != "":
				secret = os.Getenv(c.SecretAccessKeyEnv)
				if secret == "" {
					bad(field+".secretAccessKeyEnv", "environment variable %s is empty or unset", c.SecretAccessKeyEnv)
				}
			case secret == "":
				bad(field+".secretAccessKey", "required (or secretAccessKeyEnv)")
			}
			opts.Credentials[c.AccessKeyID] = secret
		}
	}
	f.Management.guard(&opts, bad)
	if f.Cluster != nil {
		if _, err := f.Cluster.ClusterConfig(f.APIID, f.Stage); err != nil {
			errs = append(errs, err)
		}
	}
	f.queues(fns, rt, bad, opts.Credentials)
	if len(errs) > 0 {
		return gateway.Options{}, errors.Join(errs...)
	}
	return opts, nil
}

var (
	queueName    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	notInName    = regexp.MustCompile(`[^A-Za-z0-9_-]`)
)

// queues checks f's queues and, with a Runtime, makes them (which starts
// their workers).
func (f *File) queues(fns *functions, rt *Runtime, bad func(field, format string, args ...any), creds sigv4.Credentials) {
	names := make([]string, 0, len(f.Queues))
	for k := range f.Queues {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		q := f.Queues[name]
		field := "queues." + name
		if !queueName.MatchString(name) {
			bad(field, "a queue name is 1 to 80 letters, digits, '-' or '_'")
			continue
		}
		if q.Integration.Type == "builtin" {
			bad(field+".integration", "type: a queue's consumer is of type lambda or http")
			continue
		}
		inv, err := q.Integration.invoker(f.Region, fns)
		if err != nil {
			bad(field+".integration", "%v", err)
			continue
		}
		o := queue.LocalOptions{Name: name, BatchSize: q.BatchSize, Concurrency: q.Concurrency, MaxReceiveCount: q.MaxReceiveCount,
			Region: f.Region, Timeout: q.Integration.timeout()}
		if q.BatchSize < 0 || q.BatchSize > 10 {
			bad(field+".batchSize", "between 1 and 10, as for an SQS event source (got %d)", q.BatchSize)
		}
		if q.Concurrency < 0 || q.MaxReceiveCount < 0 || q.MaxReceiveCount > 1000 {
			bad(field, "concurrency must not be negative; maxReceiveCount is between 1 and 1000")
		}
		flt, err := filter.Compile(q.Filters)
		if err != nil {
			bad(field+".filters", "%v", err)
		}
		o.Filter = flt
		if q.RetryDelay != "" {
			d, err := time.ParseDuration(q.RetryDelay)
			if err != nil || d <= 0 || d > 12*time.Hour {
				bad(field+".retryDelay", "want a duration up to 12h such as 30s (got %q)", q.RetryDelay)
			}
			o.RetryDelay = d
		}
		if rt == nil || inv == nil {
			continue
		}
		if rt.queues == nil {
			rt.queues = map[string]*queue.Local{}
		}
		rt.queues[name] = queue.NewLocal(integration.Queue(inv), o)
	}
	if rt != nil && len(rt.queues) > 0 && len(creds) > 0 {
		rt.verifier = &sigv4.Verifier{Credentials: creds, Service: "sqs"}
	}
}

// build checks an integration of a route or the authorizer and, when fns
// builds, makes it (nil handlers when it only checks).
func (in Integration) build(region string, fns *functions, builtins Builtins, forAuthorizer bool) (gateway.Integration, gateway.Authorizer, error) {
	switch in.Type {
	case "lambda", "http":
		inv, err := in.invoker(region, fns)
		if err != nil || inv == nil {
			return nil, nil, err
		}
		return integration.Route(inv), integration.Authorizer(inv), nil
	case "builtin":
		if in.Name == "" {
			return nil, nil, fmt.Errorf("name: required for type builtin")
		}
		if !fns.build {
			return nil, nil, nil // the names are Build's to look up
		}
		if builtins == nil {
			return nil, nil, fmt.Errorf("name: no builtin handlers are available in this command (got %q)", in.Name)
		}
		route, authz, ok := builtins(in.Name)
		if !ok || (forAuthorizer && authz == nil) || (!forAuthorizer && route == nil) {
			return nil, nil, fmt.Errorf("name: unknown builtin handler %q", in.Name)
		}
		return route, authz, nil
	case "":
		return nil, nil, fmt.Errorf("type: required (http, lambda or builtin)")
	default:
		return nil, nil, fmt.Errorf("type: unknown integration type %q (want http, lambda or builtin)", in.Type)
	}
}

// timeout bounds one invocation: a lambda integration's timeout
// (validated by invoker; 3s by default, as on Lambda), 30s for HTTP.
func (in Integration) timeout() time.Duration {
	if d, err := time.ParseDuration(in.Timeout); err == nil && d > 0 && in.Type == "lambda" {
		return d
	}
	if in.Type == "lambda" {
		return 3 * time.Second
	}
	return 30 * time.Second
}

// invoker checks an out-of-process integration and, when fns builds,
// makes it: a Lambda function (one per distinct integration, in fns,
// stopped by Runtime.Close) or an HTTP endpoint. When fns only checks, a
// valid lambda integration gives a nil Invoker.
func (in Integration) invoker(region string, fns *functions) (integration.Invoker, error) {
	switch in.Type {
	case "lambda":
		if in.Path == "" && in.CodeURI == "" {
			return nil, fmt.Errorf("path: required for type lambda (the bootstrap executable), unless codeUri names the function's code directory")
		}
		timeout := 3 * time.Second
		if in.Timeout != "" {
			d, err := time.ParseDuration(in.Timeout)
			if err != nil || d <= 0 || d > 15*time.Minute {
				return nil, fmt.Errorf("timeout: want a duration up to 15m such as 10s (got %q)", in.Timeout)
			}
			timeout = d
		}
		if in.Concurrency < 0 || in.MemoryMB < 0 {
			return nil, fmt.Errorf("concurrency and memoryMB must not be negative")
		}
		name := in.FunctionName
		if name == "" {
			name = filepath.Base(in.Path)
			if in.Path == "" {
				name = filepath.Base(in.CodeURI)
			}
			if in.Handler != "" {
				name += "-" + in.Handler
			}
			name = notInName.ReplaceAllString(name, "-")
			name = name[:min(len(name), 64)]
		}
		if !functionName.MatchString(name) {
			return nil, fmt.Errorf("functionName: 1 to 64 letters, digits, '-' or '_' (got %q)", name)
		}
		env := in.Environment
		if _, set := env["AWS_REGION"]; region != "" && !set {
			// A function runs in its API's region, as on AWS.
			env = maps.Clone(env)
			if env == nil {
				env = map[string]string{}
			}
			env["AWS_REGION"] = region
		}
		o := lambda.Options{Runtime: in.Runtime, CodeDir: in.CodeURI, Path: in.Path, Handler: in.Handler, Env: env, FunctionName: name,
			Timeout: timeout, Concurrency: in.Concurrency, MemoryMB: in.MemoryMB}
		return fns.function(o)
	case "http":
		u, err := url.Parse(in.URL)
		if in.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("url: want an http:// or https:// URL (got %q)", in.URL)
		}
		if in.Name != "" {
			return nil, fmt.Errorf("name: only for type builtin")
		}
		return &integration.HTTP{URL: in.URL, Headers: in.Headers}, nil
	}
	return nil, fmt.Errorf("type: %q is not an out-of-process integration", in.Type)
}

func (l Limits) build(bad func(field, format string, args ...any)) gateway.Limits {
	var out gateway.Limits
	size := func(field string, v *int, dst *int, max int) {
		if v == nil {
			return
		}
		if *v <= 0 || (max > 0 && *v > max) {
			bad("limits."+field, "must be between 1 and %d (got %d)", max, *v)
			return
		}
		*dst = *v
	}
	dur := func(field, v string, dst *time.Duration) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("limits."+field, "want a positive duration such as 30s or 10m (got %q)", v)
			return
		}
		*dst = d
	}
	size("maxMessageBytes", l.MaxMessageBytes, &out.MaxMessageBytes, 16<<20)
	size("maxFrameBytes", l.MaxFrameBytes, &out.MaxFrameBytes, 16<<20)
	size("sendQueueBytes", l.SendQueueBytes, &out.SendQueueBytes, 1<<30)
	size("inboundQueue", l.InboundQueue, &out.InboundQueue, 1<<16)
	size("inboundQueueBytes", l.InboundQueueBytes, &out.InboundQueueBytes, 1<<30)
	dur("idleTimeout", l.IdleTimeout, &out.IdleTimeout)
	dur("maxConnectionDuration", l.MaxConnectionDuration, &out.MaxConnectionDuration)
	dur("integrationTimeout", l.IntegrationTimeout, &out.IntegrationTimeout)
	dur("connectTimeout", l.ConnectTimeout, &out.ConnectTimeout)
	dur("writeTimeout", l.WriteTimeout, &out.WriteTimeout)
	if l.ConnectRate != nil {
		switch {
		case *l.ConnectRate == -1:
			out.ConnectRate = -1
		case !(*l.ConnectRate > 0) || math.IsInf(*l.ConnectRate, 0):
			bad("limits.connectRate", "want a positive number of connections per second, or -1 for no limit (got %v)", *l.ConnectRate)
		default:
			out.ConnectRate = *l.ConnectRate
		}
	}
	l.buildListener(&out, bad)
	dur("pingInterval", l.PingInterval, &out.PingInterval)
	size("maxMissedPongs", l.MaxMissedPongs, &out.MaxMissedPongs, 1000)
	if l.MaxMissedPongs != nil && l.PingInterval == "" {
		bad("limits.maxMissedPongs", "only with limits.pingInterval (pings are off without it)")
	}
	if out.MaxFrameBytes > 0 && out.MaxMessageBytes > 0 && out.MaxFrameBytes > out.MaxMessageBytes {
		bad("limits.maxFrameBytes", "larger than limits.maxMessageBytes")
	}
	if out.SendQueueBytes > 0 {
		maxMsg := out.MaxMessageBytes
		if maxMsg == 0 {
			maxMsg = gateway.DefaultMaxMessageBytes
		}
		if out.SendQueueBytes < maxMsg+16 {
			bad("limits.sendQueueBytes", "must hold at least one message: maxMessageBytes + 16 = %d", maxMsg+16)
		}
	}
	return out
}

// buildListener reads the limits of the listener and of each source
// address: a positive value, or -1 (a duration: "none") for no limit.
func (l Limits) buildListener(out *gateway.Limits, bad func(field, format string, args ...any)) {
	dur := func(field, v string, dst *time.Duration) {
		switch v {
		case "":
			return
		case "none", "-1":
			*dst = -1
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("limits."+field, "want a positive duration such as 30s or 2m, or none (got %q)", v)
			return
		}
		*dst = d
	}
	count := func(field string, v *int, dst *int, none bool) {
		switch {
		case v == nil:
		case *v == -1 && none:
			*dst = -1
		case *v < 1:
			if none {
				bad("limits."+field, "must be at least 1, or -1 for no limit (got %d)", *v)
			} else {
				bad("limits."+field, "must be at least 1 (got %d)", *v)
			}
		default:
			*dst = *v
		}
	}
	dur("httpReadTimeout", l.HTTPReadTimeout, &out.HTTPReadTimeout)
	dur("httpWriteTimeout", l.HTTPWriteTimeout, &out.HTTPWriteTimeout)
	dur("httpIdleTimeout", l.HTTPIdleTimeout, &out.HTTPIdleTimeout)
	count("maxConnections", l.MaxConnections, &out.MaxConnections, true)
	count("maxSourceConnections", l.MaxSourceConnections, &out.MaxSourceConnections, true)
	count("maxSources", l.MaxSources, &out.MaxSources, false)
	if v := l.SourceConnectRate; v != nil {
		switch {
		case *v == -1:
			out.SourceConnectRate = -1
		case !(*v > 0) || math.IsInf(*v, 0):
			bad("limits.sourceConnectRate", "want a positive number of handshakes per second, or -1 for no limit (got %v)", *v)
		default:
			out.SourceConnectRate = *v
		}
	}
}

// guard checks management.allowedHosts and allowedOrigins and sets them
// in opts.
func (m Management) guard(opts *gateway.Options, bad func(field, format string, args ...any)) {
	for i, h := range m.AllowedHosts {
		if _, err := originguard.New(originguard.Config{Hosts: []string{h}}); err != nil {
			bad(fmt.Sprintf("management.allowedHosts[%d]", i), "%q: want a host name or address, \"*.domain\" or \"*\"", h)
		}
	}
	for i, o := range m.AllowedOrigins {
		if _, err := originguard.New(originguard.Config{Origins: []string{o}}); err != nil {
			bad(fmt.Sprintf("management.allowedOrigins[%d]", i), "%q: want scheme://host[:port] such as https://admin.example.com, or \"*\"", o)
		}
	}
	opts.AllowedHosts, opts.AllowedOrigins = m.AllowedHosts, m.AllowedOrigins
}
