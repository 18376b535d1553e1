package deploy_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/internal/lambdaapp"
)

// A deployment is what a template (Terraform or SAM) makes, evaluated for
// one set of inputs, in terms both formats share. Values that only exist
// once deployed are symbols: "${ADDRESS.ATTRIBUTE}" in Terraform,
// "${LogicalId}" (Ref) and "${LogicalId.Attribute}" (GetAtt) in SAM, with
// the pseudo parameters ${AWS::Region}, ${AWS::AccountId},
// ${AWS::Partition} and ${AWS::URLSuffix} for both (the Terraform
// evaluator builds the ARNs and URLs API Gateway and Lambda derive from an
// id the same way). Each resource knows the symbols that refer to it.
type deployment struct {
	label        string
	root         string // repository root, for artifact paths
	api          []*api
	stages       []*stage
	authorizers  []*authorizer
	integrations []*integration
	routes       []*route
	functions    []*lambdaFunction
	tables       []*table
	mappings     []*mapping
	logGroups    []*logGroup
	permissions  []*permission
	queues       []*sqsQueue
	alarms       []*alarm
}

type resource struct {
	file string // relative to the repository root
	name string // Terraform address or SAM logical id
	refs []string
}

func (r *resource) String() string { return r.file + ": " + r.name }

func (r *resource) is(sym string) bool { return slices.Contains(r.refs, sym) }

type api struct {
	resource
	protocol, routeSelection string
	id, executionARN         string
}

type stage struct {
	resource
	apiID, name                 string
	autoDeploy                  bool
	rateLimit, burstLimit       float64
	accessLogDest, accessLogFmt string
}

type authorizer struct {
	resource
	apiID, typ, uri string
	identitySources []string
}

type integration struct {
	resource
	apiID, typ, uri string
}

type route struct {
	resource
	apiID, key, authType, authorizerID, target string
}

type lambdaFunction struct {
	resource
	handler, runtime, code, fnName string
	role                           string  // the symbol of its role
	timeout                        float64 // seconds (Lambda's default: 3)
	architectures                  []string
	env                            map[string]string
	statements                     []statement
	roleProblems                   []string // permissions the extractor could not model
}

type statement struct {
	source    string // file: policy resource
	effect    string
	actions   []string
	resources []string
}

type table struct {
	resource
	nameRef, arn, streamARN    string
	hashKey, rangeKey, billing string
	streamEnabled              bool
	streamView                 string
	ttlAttribute               string
	ttlEnabled                 bool
	attributes                 map[string]string // name -> type
	gsis                       map[string]gsi
}

type gsi struct{ hash, rng, projection string }

type mapping struct {
	resource
	source, function string
	filters          []string
	batchSize        int // 0: the default of the source (SQS: 10)
	responseTypes    []string
}

type sqsQueue struct {
	resource
	urlRefs, nameRefs []string // what a template writes for its URL, its name
	arn               string
	visibility        int // seconds
	retention         int // seconds
	encrypted         bool
	redrive           bool // has a redrive policy, to dlqARN after maxReceive receives
	dlqARN            string
	maxReceive        int
}

type alarm struct {
	resource
	namespace, metric, comparison string
	threshold                     float64
	dimensions                    map[string]string
}

type logGroup struct {
	resource
	logName    string
	retention  int
	streamsARN string // what a policy names to let a function write its streams
}

type permission struct {
	resource
	function, principal, action, sourceARN string
}

// expectations is what the code serves and needs (code_test.go derives it).
type expectations struct {
	handlers     []string          // lambdaapp.Handlers
	env          []string          // lambdaapp.Env
	routes       map[string]string // route key -> handler
	tableActions []string          // IAM actions on the table (chat/store/dynamo)
	indexActions []string          // IAM actions on the indexes
	connMethods  []string          // HTTP methods of @connections calls (push)
	sendActions  []string          // IAM actions of the SQS calls of the Lambda path
	pollActions  []string          // IAM actions an SQS event source mapping needs
	broadcasters []string          // handlers that queue large broadcasts
	consumer     string            // the handler of the queue's events
	// queue.Local's defaults, the queue `switchboard dev` runs: deliveries
	// before dead-lettering, records per invocation.
	maxReceiveCount, eventBatchSize int
}

const (
	tokenSource   = "route.request.querystring.token" // chat.tokenOf reads ?token=
	runtimeAL2023 = "provided.al2023"
)

// Reserved or local-only variables no deployed function may set: Lambda
// sets _HANDLER from the handler setting, and DYNAMODB_ENDPOINT and
// SQS_ENDPOINT point at emulators.
var forbiddenEnv = []string{"_HANDLER", "DYNAMODB_ENDPOINT", "SQS_ENDPOINT"}

const (
	// SQS: the longest retention (the dead-letter queue's: time to look
	// and redrive), and AWS's rule for the visibility timeout of a Lambda
	// event source.
	sqsMaxRetention        = 14 * 24 * 3600
	visibilityPerTimeout   = 6
	sqsMaxEventBatch       = 10 // more needs a batching window
	reportBatchItemFailure = "ReportBatchItemFailures"
)

// symbolRE matches the symbols of values known only once deployed.
var symbolRE = regexp.MustCompile(`\$\{[^}]*\}`)

// check returns every way d differs from what the code serves and needs,
// each naming the file and resource at fault.
func check(d *deployment, x expectations) []string {
	var probs []string
	bad := func(where fmt.Stringer, format string, args ...any) {
		probs = append(probs, fmt.Sprintf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	whole := stringer(d.label)

	// The API.
	if len(d.api) != 1 {
		bad(whole, "want one WebSocket API, found %d", len(d.api))
		return probs
	}
	a := d.api[0]
	if a.protocol != "WEBSOCKET" {
		bad(a, "protocol %q, want WEBSOCKET", a.protocol)
	}
	// chat's Message reads the request's "action" member.
	if a.routeSelection != "$request.body.action" {
		bad(a, "route selection expression %q, want $request.body.action", a.routeSelection)
	}
	sameAPI := func(r fmt.Stringer, id string) {
		if !a.is(id) {
			bad(r, "belongs to API %q, not %s", id, a.name)
		}
	}

	// The functions: one per handler.
	byHandler := map[string]*lambdaFunction{}
	for _, f := range d.functions {
		if !slices.Contains(x.handlers, f.handler) {
			bad(f, "handler %q is not one of lambdaapp.Handlers %v", f.handler, x.handlers)
			continue
		}
		if g := byHandler[f.handler]; g != nil {
			bad(f, "a second function with handler %q (the first is %s)", f.handler, g.name)
		}
		byHandler[f.handler] = f
	}
	for _, h := range x.handlers {
		if byHandler[h] == nil {
			bad(whole, "no function has handler %q (lambdaapp.Handlers)", h)
		}
	}
	fnByRef := func(sym string) *lambdaFunction {
		for _, f := range d.functions {
			if f.is(sym) {
				return f
			}
		}
		return nil
	}
	fnByURI := func(uri string) *lambdaFunction {
		m := regexp.MustCompile(`^arn:\$\{AWS::Partition\}:apigateway:\$\{AWS::Region\}:lambda:path/2015-03-31/functions/(.+)/invocations$`).FindStringSubmatch(uri)
		if m == nil {
			return nil
		}
		return fnByRef(m[1])
	}

	for _, f := range d.functions {
		checkFunction(d, x, f, bad)
	}

	// The authorizer.
	var authz *authorizer
	if len(d.authorizers) != 1 {
		bad(whole, "want one authorizer, found %d", len(d.authorizers))
	} else {
		authz = d.authorizers[0]
		sameAPI(authz, authz.apiID)
		if authz.typ != "REQUEST" {
			bad(authz, "type %q, want REQUEST", authz.typ)
		}
		if !slices.Equal(authz.identitySources, []string{tokenSource}) {
			bad(authz, "identity sources %q, want [%s] (the token the authorizer reads)", authz.identitySources, tokenSource)
		}
		if f := fnByURI(authz.uri); f == nil {
			bad(authz, "URI %q is not the invocation of a function of this template", authz.uri)
		} else if f.handler != "authorizer" {
			bad(authz, "calls %s, whose handler is %q, not authorizer", f.name, f.handler)
		}
	}

	// The routes.
	seen := map[string]*route{}
	for _, r := range d.routes {
		sameAPI(r, r.apiID)
		want, ok := x.routes[r.key]
		if !ok {
			bad(r, "route %q is not served by the code (chat.Actions() and $connect, $disconnect, $default)", r.key)
			continue
		}
		if o := seen[r.key]; o != nil {
			bad(r, "route %q is also %s", r.key, o.name)
		}
		seen[r.key] = r
		var in *integration
		for _, i := range d.integrations {
			if slices.ContainsFunc(i.refs, func(s string) bool { return "integrations/"+s == r.target }) {
				in = i
			}
		}
		if in == nil {
			bad(r, "target %q is not an integration of this template", r.target)
			continue
		}
		if in.typ != "AWS_PROXY" {
			bad(in, "integration type %q, want AWS_PROXY", in.typ)
		}
		f := fnByURI(in.uri)
		switch {
		case f == nil:
			bad(in, "URI %q is not the invocation of a function of this template", in.uri)
		case f.handler != want:
			bad(r, "route %q reaches %s (handler %q), want the %s function", r.key, f.name, f.handler, want)
		}
		if r.key == "$connect" {
			if r.authType != "CUSTOM" {
				bad(r, "$connect authorization %q, want CUSTOM (the token authorizer)", r.authType)
			}
			if authz != nil && !authz.is(r.authorizerID) {
				bad(r, "$connect authorizer %q is not %s", r.authorizerID, authz.name)
			}
		} else if r.authType != "" && r.authType != "NONE" {
			bad(r, "authorization %q: only $connect is authorized on a WebSocket API", r.authType)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(x.routes)) {
		if seen[k] == nil {
			bad(whole, "no route %q (the code serves it: want the %s function)", k, x.routes[k])
		}
	}
	for _, in := range d.integrations {
		sameAPI(in, in.apiID)
	}

	// The stage.
	var st *stage
	if len(d.stages) != 1 {
		bad(whole, "want one stage, found %d", len(d.stages))
	} else {
		st = d.stages[0]
		sameAPI(st, st.apiID)
		if !st.autoDeploy {
			bad(st, "auto deploy is off: route changes would not be deployed")
		}
		if st.rateLimit <= 0 || st.burstLimit <= 0 {
			bad(st, "default route throttling not set (rate %v, burst %v)", st.rateLimit, st.burstLimit)
		}
		if lg := logGroupByRef(d, st.accessLogDest); lg == nil {
			bad(st, "access log destination %q is not a log group of this template", st.accessLogDest)
		}
		if !strings.Contains(st.accessLogFmt, "$context.requestId") || !strings.Contains(st.accessLogFmt, "$context.connectionId") {
			bad(st, "access log format lacks $context.requestId or $context.connectionId: %q", st.accessLogFmt)
		}
	}

	// The fan-out queue, its dead-letter queue and the mapping to the
	// consumer; the table and its stream's mapping.
	var tb *table
	if len(d.tables) != 1 {
		bad(whole, "want one DynamoDB table, found %d", len(d.tables))
	} else {
		tb = d.tables[0]
		checkTable(tb, bad)
	}
	var streamMaps, queueMaps []*mapping
	for _, m := range d.mappings {
		switch {
		case tb != nil && m.source == tb.streamARN:
			streamMaps = append(streamMaps, m)
		case queueByARN(d, m.source) != nil:
			queueMaps = append(queueMaps, m)
		default:
			bad(m, "source %q is neither the table's stream nor a queue of this template", m.source)
		}
	}
	q, dlq := checkFanout(d, x, queueMaps, fnByRef, bad)

	// Environment references and IAM, which need the API, stage, table and queues.
	if st != nil && tb != nil {
		for _, f := range d.functions {
			checkReferences(a, st, tb, q, f, x, bad)
			checkIAM(a, st, tb, q, dlq, f, x, bad)
		}
	}
	checkFanoutSettings(d, x, bad)

	// API Gateway may invoke the functions it integrates, from this API only.
	invoked := map[*lambdaFunction]bool{}
	if authz != nil {
		if f := fnByURI(authz.uri); f != nil {
			invoked[f] = true
		}
	}
	for _, in := range d.integrations {
		if f := fnByURI(in.uri); f != nil {
			invoked[f] = true
		}
	}
	allowed := map[*lambdaFunction]bool{}
	for _, p := range d.permissions {
		f := fnByRef(p.function)
		if f == nil {
			bad(p, "function %q is not a function of this template", p.function)
			continue
		}
		if p.action != "lambda:InvokeFunction" || p.principal != "apigateway.amazonaws.com" {
			bad(p, "want lambda:InvokeFunction for apigateway.amazonaws.com, got %q for %q", p.action, p.principal)
			continue
		}
		if !strings.HasPrefix(p.sourceARN, a.executionARN+"/") {
			bad(p, "source ARN %q is not within this API (%s/...)", p.sourceARN, a.executionARN)
			continue
		}
		allowed[f] = true
	}
	for _, f := range d.functions {
		if invoked[f] && !allowed[f] {
			bad(f, "API Gateway invokes it but no lambda permission lets it (source ARN within %s)", a.executionARN)
		}
	}

	// The stream: TTL deletions to the cleanup function.
	if len(streamMaps) != 1 {
		bad(whole, "want one event source mapping from the table's stream (to the cleanup function), found %d", len(streamMaps))
	} else {
		checkMapping(streamMaps[0], tb, fnByRef, bad)
	}

	// Log groups with retention for every function.
	for _, f := range d.functions {
		var lg *logGroup
		for _, l := range d.logGroups {
			if f.fnName != "" && l.logName == "/aws/lambda/"+f.fnName {
				lg = l
			}
		}
		if lg == nil {
			bad(f, "no log group /aws/lambda/%s: Lambda would make one that keeps logs forever", f.fnName)
			continue
		}
		if lg.retention <= 0 {
			bad(lg, "no retention")
		}
		// The function writes its own log group, and no other.
		writes := false
		for _, s := range f.statements {
			for _, act := range s.actions {
				if !strings.HasPrefix(act, "logs:") {
					continue
				}
				for _, res := range s.resources {
					if res != lg.streamsARN {
						bad(f, "%s: %s on %q, which is not its log group's streams (%s)", s.source, act, res, lg.streamsARN)
					} else if act == "logs:PutLogEvents" {
						writes = true
					}
				}
			}
		}
		if !writes {
			bad(f, "may not write its log group %s (logs:PutLogEvents on %s)", lg.name, lg.streamsARN)
		}
	}
	for _, lg := range d.logGroups {
		if lg.retention <= 0 {
			bad(lg, "no retention")
		}
	}
	return probs
}

type stringer string

func (s stringer) String() string { return string(s) }

func logGroupByRef(d *deployment, sym string) *logGroup {
	for _, l := range d.logGroups {
		if l.is(sym) {
			return l
		}
	}
	return nil
}

// checkFunction: runtime, artifact, and the environment lambdaapp reads.
func checkFunction(d *deployment, x expectations, f *lambdaFunction, bad func(fmt.Stringer, string, ...any)) {
	if f.runtime != runtimeAL2023 {
		bad(f, "runtime %q, want %s", f.runtime, runtimeAL2023)
	}
	goArch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	if len(f.architectures) != 1 || goArch[f.architectures[0]] == "" {
		bad(f, "architectures %q, want [arm64] or [x86_64]", f.architectures)
	} else {
		want := filepath.Join(d.root, "dist", "lambda", "bootstrap-"+goArch[f.architectures[0]]+".zip")
		if filepath.Clean(f.code) != want {
			bad(f, "code %q, want the %s artifact of scripts/build-lambda (%s)", f.code, f.architectures[0], rel(d.root, want))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.env)) {
		switch {
		case slices.Contains(forbiddenEnv, k):
			bad(f, "sets %s, which a deployed function must not (reserved by Lambda, or local only)", k)
		case !slices.Contains(x.env, k):
			bad(f, "sets %s, which internal/lambdaapp does not read (lambdaapp.Env %v)", k, x.env)
		}
	}
	// With exactly its variables (values known only once deployed filled
	// with dummies), the bootstrap must start.
	env := map[string]string{"_HANDLER": f.handler}
	for k, v := range f.env {
		// A queue's URL as SQS makes it.
		for _, q := range d.queues {
			for _, ref := range q.urlRefs {
				v = strings.ReplaceAll(v, ref, "https://sqs.${AWS::Region}.amazonaws.com/${AWS::AccountId}/dummy")
			}
		}
		env[k] = symbolRE.ReplaceAllString(v, "dummy")
	}
	if _, err := lambdaapp.ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
		bad(f, "the bootstrap would not start with this environment (%s): %v", strings.Join(slices.Sorted(maps.Keys(f.env)), ", "), oneLine(err))
	}
	for _, p := range f.roleProblems {
		bad(f, "%s", p)
	}
}

// checkReferences: TABLE_NAME and CALLBACK_URL name this table and stage;
// the functions that broadcast, and only those, have FANOUT_QUEUE_URL, the
// fan-out queue's.
func checkReferences(a *api, st *stage, tb *table, q *sqsQueue, f *lambdaFunction, x expectations, bad func(fmt.Stringer, string, ...any)) {
	if v, ok := f.env["TABLE_NAME"]; ok && v != tb.nameRef {
		bad(f, "TABLE_NAME %q is not the table %s (%s)", v, tb.name, tb.nameRef)
	}
	v, ok := f.env["FANOUT_QUEUE_URL"]
	switch broadcasts := slices.Contains(x.broadcasters, f.handler); {
	case broadcasts && !ok:
		bad(f, "no FANOUT_QUEUE_URL: the %s handler broadcasts, and would post a broadcast to a room of any size itself instead of queueing it to the fanout function", f.handler)
	case !broadcasts && ok:
		bad(f, "sets FANOUT_QUEUE_URL, but the %s handler does not broadcast", f.handler)
	case ok && q != nil && !slices.Contains(q.urlRefs, v):
		bad(f, "FANOUT_QUEUE_URL %q is not the URL of the fan-out queue %s (%s)", v, q.name, q.urlRefs[0])
	}
	want := "https://" + a.id + ".execute-api.${AWS::Region}.${AWS::URLSuffix}/" + st.name
	if v, ok := f.env["CALLBACK_URL"]; ok && v != want {
		bad(f, "CALLBACK_URL %q is not the @connections endpoint of this stage (%s)", v, want)
	}
}

// checkIAM: exactly the DynamoDB actions of the store on the table and its
// indexes, the stream for the cleanup function, and @connections of this
// API and stage, for the handlers that use them; nothing else.
func checkIAM(a *api, st *stage, tb *table, q, dlq *sqsQueue, f *lambdaFunction, x expectations, bad func(fmt.Stringer, string, ...any)) {
	onQueue := map[string]bool{}
	indexARNs := map[string]bool{}
	for name := range tb.gsis {
		indexARNs[tb.arn+"/index/"+name] = true
	}
	streamActions := []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
	onTable, onIndex, onStream := map[string]bool{}, map[string]bool{}, map[string]bool{}
	indexesNamed := map[string]bool{}
	var connResources []string
	connActions := map[string]bool{}
	for _, s := range f.statements {
		if s.effect != "Allow" {
			continue
		}
		for _, act := range s.actions {
			service, _, _ := strings.Cut(act, ":")
			switch service {
			case "logs": // checked with the log groups
			case "dynamodb":
				for _, res := range s.resources {
					switch {
					case res == tb.arn:
						onTable[act] = true
					case indexARNs[res]:
						onIndex[act] = true
						indexesNamed[res] = true
					case res == tb.streamARN && slices.Contains(streamActions, act):
						onStream[act] = true
					case res == tb.arn+"/stream/*" && act == "dynamodb:ListStreams":
						onStream[act] = true
					default:
						bad(f, "%s: %s on %q: not this table, one of its indexes (%s) or, for reading the stream, its stream", s.source, act, res, strings.Join(slices.Sorted(maps.Keys(indexARNs)), ", "))
					}
				}
			case "execute-api":
				connActions[act] = true
				connResources = append(connResources, s.resources...)
			case "sqs":
				for _, res := range s.resources {
					switch {
					case q != nil && res == q.arn:
						onQueue[act] = true
					case dlq != nil && res == dlq.arn:
						bad(f, "%s: %s on the dead-letter queue %s: no function needs it (SQS moves failed batches there itself)", s.source, act, dlq.name)
					default:
						bad(f, "%s: %s on %q, which is not the fan-out queue", s.source, act, res)
					}
				}
			default:
				bad(f, "%s: %s: no handler needs it", s.source, act)
			}
		}
	}
	usesTable := f.handler != "authorizer"
	if usesTable {
		if got := slices.Sorted(maps.Keys(onTable)); !slices.Equal(got, x.tableActions) {
			bad(f, "DynamoDB actions on the table %v, want exactly %v (the operations of chat/store/dynamo)", got, x.tableActions)
		}
		if got := slices.Sorted(maps.Keys(onIndex)); !slices.Equal(got, x.indexActions) {
			bad(f, "DynamoDB actions on the indexes %v, want exactly %v", got, x.indexActions)
		}
		if len(indexesNamed) != len(indexARNs) {
			bad(f, "queries indexes %v, want all of %v", slices.Sorted(maps.Keys(indexesNamed)), slices.Sorted(maps.Keys(indexARNs)))
		}
		var want []string
		for _, m := range x.connMethods {
			want = append(want, a.executionARN+"/"+st.name+"/"+m+"/@connections/*")
		}
		sort.Strings(connResources)
		if got := slices.Sorted(maps.Keys(connActions)); !slices.Equal(got, []string{"execute-api:ManageConnections"}) {
			bad(f, "execute-api actions %v, want exactly [execute-api:ManageConnections]", got)
		}
		if !slices.Equal(slices.Compact(connResources), want) {
			bad(f, "execute-api:ManageConnections on %q, want exactly %q (the @connections calls of push, on this API and stage)", connResources, want)
		}
	} else {
		if len(onTable)+len(onIndex)+len(onStream) > 0 || len(connActions) > 0 {
			bad(f, "the %s handler uses neither the table nor @connections, yet may (%v %v %v %v)", f.handler,
				slices.Sorted(maps.Keys(onTable)), slices.Sorted(maps.Keys(onIndex)), slices.Sorted(maps.Keys(onStream)), slices.Sorted(maps.Keys(connActions)))
		}
	}
	wantQueue := map[string]bool{}
	if slices.Contains(x.broadcasters, f.handler) {
		for _, act := range x.sendActions {
			wantQueue[act] = true
		}
	}
	if f.handler == x.consumer {
		for _, act := range x.pollActions {
			wantQueue[act] = true
		}
	}
	if got, want := slices.Sorted(maps.Keys(onQueue)), slices.Sorted(maps.Keys(wantQueue)); !slices.Equal(got, want) {
		bad(f, "SQS actions on the fan-out queue %v, want exactly %v (the SQS calls of the bootstrap's packages for a handler that broadcasts, the event source mapping's polling for the %s handler)",
			got, want, x.consumer)
	}
	wantStream := []string{}
	if f.handler == "cleanup" {
		wantStream = append(slices.Clone(streamActions), "dynamodb:ListStreams")
		sort.Strings(wantStream)
	}
	if got := slices.Sorted(maps.Keys(onStream)); !slices.Equal(got, wantStream) {
		bad(f, "stream actions %v, want exactly %v", got, wantStream)
	}
}

// checkTable compares the table with dynamo.TableSchema.
func checkTable(tb *table, bad func(fmt.Stringer, string, ...any)) {
	want := dynamo.TableSchema("t")
	attrs := map[string]string{}
	for _, ad := range want.AttributeDefinitions {
		attrs[*ad.AttributeName] = string(ad.AttributeType)
	}
	if !maps.Equal(tb.attributes, attrs) {
		bad(tb, "attributes %v, want %v (dynamo.TableSchema)", tb.attributes, attrs)
	}
	keys := func(ks []struct{ name, typ string }) (h, r string) {
		for _, k := range ks {
			if k.typ == "HASH" {
				h = k.name
			} else {
				r = k.name
			}
		}
		return
	}
	var ks []struct{ name, typ string }
	for _, k := range want.KeySchema {
		ks = append(ks, struct{ name, typ string }{*k.AttributeName, string(k.KeyType)})
	}
	h, r := keys(ks)
	if tb.hashKey != h || tb.rangeKey != r {
		bad(tb, "key %s/%s, want %s (HASH) / %s (RANGE)", tb.hashKey, tb.rangeKey, h, r)
	}
	gsis := map[string]gsi{}
	for _, g := range want.GlobalSecondaryIndexes {
		ks = ks[:0]
		for _, k := range g.KeySchema {
			ks = append(ks, struct{ name, typ string }{*k.AttributeName, string(k.KeyType)})
		}
		h, r := keys(ks)
		gsis[*g.IndexName] = gsi{h, r, string(g.Projection.ProjectionType)}
	}
	if !maps.Equal(tb.gsis, gsis) {
		bad(tb, "global secondary indexes %v, want %v", tb.gsis, gsis)
	}
	if tb.billing != string(want.BillingMode) {
		bad(tb, "billing %q, want %s", tb.billing, want.BillingMode)
	}
	if !tb.streamEnabled || tb.streamView != string(want.StreamSpecification.StreamViewType) {
		bad(tb, "stream %v %q, want %s: the cleanup function reads TTL deletions", tb.streamEnabled, tb.streamView, want.StreamSpecification.StreamViewType)
	}
	if !tb.ttlEnabled || tb.ttlAttribute != dynamo.TTLAttribute {
		bad(tb, "TTL %v on %q, want on %s", tb.ttlEnabled, tb.ttlAttribute, dynamo.TTLAttribute)
	}
}

// checkMapping: the table's stream to the cleanup function, filtered to
// what chat.Cleanup acts on: REMOVE records of TTL deletions (userIdentity
// Service dynamodb.amazonaws.com, as chat's ttlDeletion checks) and, if
// filtered by type, at least connections and memberships.
func checkMapping(m *mapping, tb *table, fnByRef func(string) *lambdaFunction, bad func(fmt.Stringer, string, ...any)) {
	if m.source != tb.streamARN {
		bad(m, "source %q is not the stream of %s (%s)", m.source, tb.name, tb.streamARN)
	}
	if f := fnByRef(m.function); f == nil || f.handler != "cleanup" {
		bad(m, "function %q is not the cleanup function", m.function)
	}
	if len(m.filters) != 1 {
		bad(m, "want one filter (TTL deletions), found %d", len(m.filters))
		return
	}
	var p struct {
		EventName    []string `json:"eventName"`
		UserIdentity struct {
			Type        []string `json:"type"`
			PrincipalID []string `json:"principalId"`
		} `json:"userIdentity"`
		DynamoDB *struct {
			OldImage struct {
				Type struct {
					S []string `json:"S"`
				} `json:"type"`
			} `json:"OldImage"`
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal([]byte(m.filters[0]), &p); err != nil {
		bad(m, "filter pattern is not JSON: %v", err)
		return
	}
	if !slices.Equal(p.EventName, []string{"REMOVE"}) || !slices.Equal(p.UserIdentity.Type, []string{"Service"}) ||
		!slices.Equal(p.UserIdentity.PrincipalID, []string{"dynamodb.amazonaws.com"}) {
		bad(m, "filter %s, want eventName [REMOVE] and userIdentity {type [Service], principalId [dynamodb.amazonaws.com]}: TTL deletions only", m.filters[0])
	}
	if p.DynamoDB != nil {
		types := p.DynamoDB.OldImage.Type.S
		for _, t := range []string{store.TypeConnection, store.TypeMembership} {
			if !slices.Contains(types, t) {
				bad(m, "filter drops %s items, which chat.Cleanup handles", t)
			}
		}
	}
}

func queueByARN(d *deployment, arn string) *sqsQueue {
	for _, q := range d.queues {
		if q.arn == arn {
			return q
		}
	}
	return nil
}

// checkFanout: one event source mapping, from the fan-out queue to the
// consumer, reporting batch item failures; the queue's redrive policy to a
// dead-letter queue after queue.Local's number of receives; visibility
// timeout and retentions that let a batch be retried and kept; encryption;
// an alarm on the dead-letter queue. It returns the two queues.
func checkFanout(d *deployment, x expectations, maps []*mapping, fnByRef func(string) *lambdaFunction, bad func(fmt.Stringer, string, ...any)) (q, dlq *sqsQueue) {
	whole := stringer(d.label)
	if len(maps) != 1 {
		bad(whole, "want one event source mapping from the fan-out queue to the %s function, found %d", x.consumer, len(maps))
		if len(maps) == 0 {
			if len(d.queues) == 0 {
				bad(whole, "no fan-out queue: the broadcasts of large rooms have nowhere to go")
			}
			return nil, nil
		}
	}
	m := maps[0]
	q = queueByARN(d, m.source)
	f := fnByRef(m.function)
	if f == nil || f.handler != x.consumer {
		bad(m, "function %q is not the %s function (the handler of SQS events)", m.function, x.consumer)
	}
	if !slices.Contains(m.responseTypes, reportBatchItemFailure) {
		bad(m, "function response types %q lack %s: Lambda would ignore the batches chat.Fanout reports failed and delete them, and their connections would miss the broadcast", m.responseTypes, reportBatchItemFailure)
	}
	batch := m.batchSize
	if batch == 0 {
		batch = 10
	}
	if batch < 1 || batch > sqsMaxEventBatch {
		bad(m, "batch size %d, want 1 to %d (more needs a batching window, which delays every large broadcast)", batch, sqsMaxEventBatch)
	}
	if len(m.filters) > 0 {
		bad(m, "filter criteria: SQS deletes the messages a filter drops, and their connections would miss the broadcast")
	}
	if q.visibility < visibilityPerTimeout*int(f.timeoutOr(3)) {
		bad(q, "visibility timeout %ds is less than %d times the %s function's timeout (%gs): a batch still being posted becomes visible again and is posted twice", q.visibility, visibilityPerTimeout, x.consumer, f.timeoutOr(3))
	}
	if !q.encrypted {
		bad(q, "no server-side encryption (SqsManagedSseEnabled / sqs_managed_sse_enabled, or a KMS key)")
	}
	if !q.redrive {
		bad(q, "no redrive policy: a batch that always fails is delivered again until it expires, never reaching a dead-letter queue")
	} else {
		if q.maxReceive != x.maxReceiveCount {
			bad(q, "redrive maxReceiveCount %d, want %d, as queue.Local (switchboard dev) delivers a failing batch", q.maxReceive, x.maxReceiveCount)
		}
		if dlq = queueByARN(d, q.dlqARN); dlq == nil {
			bad(q, "redrive target %q is not a queue of this template", q.dlqARN)
		}
	}
	if q.retention < q.maxReceive*q.visibility {
		bad(q, "retention %ds is shorter than %d receives of %ds: a failing batch could expire before it reaches the dead-letter queue", q.retention, q.maxReceive, q.visibility)
	}
	if dlq != nil {
		if dlq == q {
			bad(q, "its own dead-letter queue")
			dlq = nil
		}
	}
	if dlq != nil {
		if dlq.redrive {
			bad(dlq, "the dead-letter queue has a redrive policy itself")
		}
		if dlq.retention != sqsMaxRetention {
			bad(dlq, "retention %ds, want %d (14 days): time to look at failed batches and redrive them", dlq.retention, sqsMaxRetention)
		}
		if dlq.retention <= q.retention {
			bad(dlq, "retention %ds is not longer than the fan-out queue's %ds: a moved message keeps its enqueue time and would expire early", dlq.retention, q.retention)
		}
		if !dlq.encrypted {
			bad(dlq, "no server-side encryption")
		}
		alarmed := false
		for _, al := range d.alarms {
			on := slices.Contains(dlq.nameRefs, al.dimensions["QueueName"]) && len(al.dimensions) == 1
			if al.namespace == "AWS/SQS" && al.metric == "ApproximateNumberOfMessagesVisible" && on &&
				((al.comparison == "GreaterThanThreshold" && al.threshold == 0) || (al.comparison == "GreaterThanOrEqualToThreshold" && al.threshold == 1)) {
				alarmed = true
			}
		}
		if !alarmed {
			bad(dlq, "no alarm on its ApproximateNumberOfMessagesVisible > 0 (AWS/SQS, dimension QueueName): nobody would learn that broadcasts were lost")
		}
	}
	for _, o := range d.queues {
		if o != q && o != dlq {
			bad(o, "a queue no function reads and no queue dead-letters to")
		}
	}
	return q, dlq
}

func (f *lambdaFunction) timeoutOr(def float64) float64 {
	if f == nil || f.timeout == 0 {
		return def
	}
	return f.timeout
}

// checkFanoutSettings: the functions that broadcast agree on
// FANOUT_THRESHOLD and FANOUT_BATCH_SIZE (otherwise whether a room's
// broadcasts are queued would depend on which function makes them).
func checkFanoutSettings(d *deployment, x expectations, bad func(fmt.Stringer, string, ...any)) {
	for _, k := range []string{"FANOUT_THRESHOLD", "FANOUT_BATCH_SIZE"} {
		var first *lambdaFunction
		for _, f := range d.functions {
			if !slices.Contains(x.broadcasters, f.handler) {
				continue
			}
			if first == nil {
				first = f
				continue
			}
			if v, w := f.env[k], first.env[k]; v != w {
				bad(f, "%s %q, but %s has %q: all functions that broadcast must agree", k, v, first.name, w)
			}
		}
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
