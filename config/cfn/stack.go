package cfn

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Options are what a local run decides that AWS would: the stack's name,
// region and account, parameter values, and the URLs of local endpoints.
type Options struct {
	// Dir is the template's directory: relative code paths (CodeUri, Code,
	// CDK asset paths) are resolved from it. Default: the working directory.
	Dir string
	// Parameters override the parameters' Default values (ParseOverrides
	// reads them in --parameter-overrides syntax).
	Parameters map[string]string
	// StackName names the stack (AWS::StackName, and the generated names
	// {StackName}-{LogicalId}-{SUFFIX}). Default: StackNameFrom(base of Dir).
	StackName string
	// Region is AWS::Region, default us-east-1; AccountID is
	// AWS::AccountId, default 000000000000.
	Region, AccountID string
	// QueueURL gives a queue's URL (Ref of an AWS::SQS::Queue, QueueUrl).
	// Default: https://sqs.{region}.amazonaws.com/{account}/{name}.
	QueueURL func(name string) string
	// APIEndpoint gives a WebSocket API's ApiEndpoint attribute. Default:
	// wss://{apiId}.execute-api.{region}.amazonaws.com.
	APIEndpoint func(apiID string) string
}

// Stack is a template evaluated for one stack: the resources a local run
// serves, with their physical names, and every other resource listed as
// skipped. Lists are in the template's order.
type Stack struct {
	Name, Region, AccountID, Partition string
	Functions                          []*Function
	Tables                             []*Table
	Queues                             []*Queue
	APIs                               []*API // WebSocket APIs
	EventSources                       []*EventSource
	Skipped                            []Skipped
	// Warnings are things that run differently locally (a SAM event type
	// that is not run, Layers that are not mounted, ...).
	Warnings []string
}

// Skipped is a resource (or a SAM event) that a local run has nothing to
// do for.
type Skipped struct {
	LogicalID string // "MyRole", or "MyFunction.Events.Nightly"
	Type      string // "AWS::IAM::Role", or "Schedule event"
	Reason    string // why, when it is not obvious
}

func (s Skipped) String() string {
	if s.Reason != "" {
		return fmt.Sprintf("%s (%s: %s)", s.LogicalID, s.Type, s.Reason)
	}
	return fmt.Sprintf("%s (%s)", s.LogicalID, s.Type)
}

// Function is an AWS::Lambda::Function or AWS::Serverless::Function.
type Function struct {
	LogicalID string
	Line      int    // the resource's line in the template
	Name      string // the physical name (FunctionName or generated)
	Arn       string
	Runtime   string
	Handler   string
	// Code is the absolute local path of the code: a directory, or a .zip
	// file. CodeField is where it was given ("Resources.F.Properties.CodeUri"
	// or "Resources.F.Metadata.aws:asset:path"), CodeLine its line.
	Code      string
	CodeField string
	CodeLine  int
	// Environment is Environment.Variables, evaluated.
	Environment   map[string]string
	Timeout       int // seconds; 0: not set (Lambda's default, 3)
	MemorySize    int // MB; 0: not set
	Architectures []string
	// ReservedConcurrency is ReservedConcurrentExecutions (nil: not set).
	ReservedConcurrency *int
	// BuildMethod is SAM's Metadata.BuildMethod (go1.x, makefile,
	// esbuild, ...): then Code is the source that sam build builds.
	BuildMethod string
}

// Table is an AWS::DynamoDB::Table (or GlobalTable) or an
// AWS::Serverless::SimpleTable, as the CreateTable call that makes it.
type Table struct {
	LogicalID string
	Name      string
	Arn       string
	StreamArn string // "" without StreamSpecification
	Create    *dynamodb.CreateTableInput
	// TTLAttribute is TimeToLiveSpecification.AttributeName when enabled.
	TTLAttribute string
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID         string
	Name, URL, Arn    string
	Fifo              bool
	VisibilityTimeout int // seconds; SQS's default 30 when not set
	// MaxReceiveCount and DeadLetterTargetArn are the RedrivePolicy's (0
	// and "" without one).
	MaxReceiveCount     int
	DeadLetterTargetArn string
}

// API is an AWS::ApiGatewayV2::Api of ProtocolType WEBSOCKET, with its
// routes and stages.
type API struct {
	LogicalID                string
	ID                       string // the 10-character api id
	Name                     string
	RouteSelectionExpression string
	Routes                   []*Route
	Stages                   []*Stage
}

// Route is an AWS::ApiGatewayV2::Route.
type Route struct {
	LogicalID   string
	Key         string
	Integration *Integration
	// AuthorizationType is NONE or CUSTOM (with Authorizer).
	AuthorizationType string
	Authorizer        *Authorizer
	// RouteResponse: an AWS::ApiGatewayV2::RouteResponse with key $default
	// belongs to the route: the integration's response goes to the client.
	RouteResponse bool
}

// Integration is an AWS_PROXY AWS::ApiGatewayV2::Integration with a
// function of the template.
type Integration struct {
	LogicalID string
	Function  *Function
}

// Authorizer is a REQUEST AWS::ApiGatewayV2::Authorizer.
type Authorizer struct {
	LogicalID      string
	Name           string
	IdentitySource []string
	Function       *Function
}

// Stage is an AWS::ApiGatewayV2::Stage.
type Stage struct {
	LogicalID string
	Name      string
	Variables map[string]string
}

// EventSource is an AWS::Lambda::EventSourceMapping, or an SQS or DynamoDB
// event of an AWS::Serverless::Function: records of Queue or of Table's
// stream go to Function. Zero values mean "not set" (Lambda's defaults).
type EventSource struct {
	LogicalID string // the mapping's, or "Function.Events.Name"
	Function  *Function
	Queue     *Queue // an SQS source
	Table     *Table // a DynamoDB stream source
	Enabled   bool

	BatchSize                      int
	MaximumBatchingWindowInSeconds int
	FunctionResponseTypes          []string
	// Filters are FilterCriteria.Filters' patterns (JSON).
	Filters []string
	// SQS: ScalingConfig.MaximumConcurrency.
	MaximumConcurrency int
	// DynamoDB streams.
	StartingPosition           string // TRIM_HORIZON, LATEST or AT_TIMESTAMP
	StartingPositionTimestamp  float64
	MaximumRetryAttempts       *int
	MaximumRecordAgeInSeconds  *int
	BisectBatchOnFunctionError bool
	ParallelizationFactor      int
	TumblingWindowInSeconds    int
}

// Load reads, parses and resolves a template file; o.Dir defaults to the
// file's directory.
func Load(path string, o Options) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", err)
	}
	t, err := Parse(b, filepath.Base(path))
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		o.Dir = filepath.Dir(path)
	}
	return t.Resolve(o)
}

// Resolve evaluates the template for one stack: parameters (overrides
// checked against Type and constraints), Rules, Conditions, every
// intrinsic function of the resources a local run uses, and the physical
// names. It reads no file: code paths are made absolute, not checked.
func (t *Template) Resolve(o Options) (*Stack, error) {
	e, err := t.newEvaluator(o)
	if err != nil {
		return nil, err
	}
	o = e.o
	errs := &errs{file: t.name}
	part, _ := partition(o.Region)
	s := &Stack{Name: o.StackName, Region: o.Region, AccountID: o.AccountID, Partition: part}
	c := &converter{e: e, s: s, errs: errs, byName: map[string]*Function{}, queuesByArn: map[string]*Queue{},
		tablesByStream: map[string]*Table{}, tablesByArn: map[string]*Table{}, apis: map[string]*API{}, broken: map[string]bool{}}
	c.run()
	if len(errs.list) > 0 {
		return nil, errs.err()
	}
	return s, nil
}

// newEvaluator applies o's defaults, reads the parameters and checks the
// Rules.
func (t *Template) newEvaluator(o Options) (*evaluator, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("template directory: %w", err)
	}
	o.Dir = dir
	if o.StackName == "" {
		o.StackName = StackNameFrom(filepath.Base(dir))
	} else if !validStackName(o.StackName) {
		return nil, fmt.Errorf("%w: stack name %q: letters, digits and '-', starting with a letter, at most 128", ErrInvalid, o.StackName)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	_, suffix := partition(o.Region)
	if o.QueueURL == nil {
		region, acct := o.Region, o.AccountID
		o.QueueURL = func(name string) string {
			return fmt.Sprintf("https://sqs.%s.%s/%s/%s", region, suffix, acct, name)
		}
	}
	if o.APIEndpoint == nil {
		region := o.Region
		o.APIEndpoint = func(id string) string {
			return fmt.Sprintf("wss://%s.execute-api.%s.%s", id, region, suffix)
		}
	}
	e := &evaluator{t: t, o: o, params: map[string]*Node{}, paramErr: map[string]string{},
		conds: map[string]bool{}, condBusy: map[string]bool{}, phys: map[string]*physical{}, physBusy: map[string]bool{}}
	errs := &errs{file: t.name}
	e.loadParams(errs)
	if len(errs.list) > 0 {
		return nil, errs.err()
	}
	if err := e.checkRules(); err != nil {
		errs.addErr(err)
		return nil, errs.err()
	}
	return e, nil
}

// checkRules evaluates the Rules' assertions the way CloudFormation does
// before it creates anything. A rule that cannot be evaluated locally (one
// that reads an SSM parameter, or Fn::ValueOf) is not checked.
func (e *evaluator) checkRules() error {
	if e.t.rules == nil || e.t.rules.Kind != Map {
		return nil
	}
	names := append([]string(nil), e.t.rules.Keys...)
	sort.Strings(names)
	for _, name := range names {
		rule := e.t.rules.Fields[name]
		path := "Rules." + name
		if rc := rule.Get("RuleCondition"); rc != nil {
			ok, err := e.condExpr(rc, path+".RuleCondition")
			if err != nil || !ok {
				continue
			}
		}
		as := rule.Get("Assertions")
		if as == nil || as.Kind != List {
			continue
		}
		for _, a := range as.Items {
			ok, err := e.condExpr(a.Get("Assert"), path)
			if err != nil || ok {
				continue
			}
			msg := "the assertion is false"
			if d := a.Get("AssertDescription"); d.scalar() {
				msg = d.Value
			}
			return fail(path, a, "%s", msg)
		}
	}
	return nil
}
