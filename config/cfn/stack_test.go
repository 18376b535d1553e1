package cfn

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// wsTemplate is a SAM WebSocket API written in the forms templates use for
// targets and integration URIs.
const wsTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: nodejs20.x
    Handler: index.handler
    Timeout: 10
    CodeUri: src/
    Architectures: [x86_64]
    Environment:
      Variables:
        TABLE: !Ref Connections
        QUEUE_URL: !Ref Work
        SHARED: global
Resources:
  Connections:
    Type: AWS::Serverless::SimpleTable
    Properties:
      PrimaryKey: {Name: connectionId, Type: String}
  Events:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${AWS::StackName}-events
      BillingMode: PROVISIONED
      ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 3}
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: N}
        - {AttributeName: gsi, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: byGsi
          KeySchema: [{AttributeName: gsi, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
      LocalSecondaryIndexes:
        - IndexName: local
          KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: gsi, KeyType: RANGE}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [a]}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 90
      RedrivePolicy: '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": 4}'
  ConnectFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub ${AWS::StackName}-connect
      Handler: connect.handler
      MemorySize: 256
      ReservedConcurrentExecutions: 2
      Environment:
        Variables:
          SHARED: mine
          EXTRA: !If [Never, x, !Ref AWS::NoValue]
  MessageFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./message
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:x:1]
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 3}
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Events.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 50
            MaximumRetryAttempts: 2
            BisectBatchOnFunctionError: true
            FilterCriteria:
              Filters: [{Pattern: '{"eventName": ["INSERT"]}'}]
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: auth.handler
      Architectures: [arm64]
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: chat
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: rest, ProtocolType: HTTP}
  HttpRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref HttpApi, RouteKey: GET /x}
  Authorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: auth
      AuthorizerType: REQUEST
      AuthorizerUri: !Join ["", ["arn:", !Ref AWS::Partition, ":apigateway:", !Ref AWS::Region, ":lambda:path/2015-03-31/functions/", !GetAtt AuthFunction.Arn, "/invocations"]]
      IdentitySource: [route.request.querystring.token, route.request.header.X-Team]
  ConnectIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ConnectFunction.Arn}/invocations
  MessageIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt MessageFunction.Arn
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Authorizer
      Target: !Join ["/", [integrations, !Ref ConnectIntegration]]
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      Target: !Sub integrations/${MessageIntegration}
  EchoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: echo
      RouteResponseSelectionExpression: $default
      Target: !Join ["", ["integrations/", !Ref MessageIntegration]]
  EchoRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref EchoRoute
      RouteResponseKey: $default
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [ConnectRoute, DefaultRoute, EchoRoute]
    Properties: {ApiId: !Ref Api}
  StageResource:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: !Ref Stage
      DeploymentId: !Ref Deployment
      StageVariables: {color: blue, count: 3}
      DefaultRouteSettings: {ThrottlingBurstLimit: 10, ThrottlingRateLimit: 5}
  ConnectPermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref ConnectFunction
      Principal: apigateway.amazonaws.com
  Topic:
    Type: AWS::SNS::Topic
  LogGroup:
    Type: AWS::Logs::LogGroup
    Properties: {RetentionInDays: 7}
Conditions:
  Never: !Equals [a, b]
`

func resolveDoc(t *testing.T, doc string, o Options) (*Stack, error) {
	t.Helper()
	tmpl, err := Parse([]byte(doc), "template.yaml")
	if err != nil {
		return nil, err
	}
	return tmpl.Resolve(o)
}

func TestStackFromSAM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := resolveDoc(t, wsTemplate, Options{Dir: dir, StackName: "chat", QueueURL: func(n string) string { return "http://127.0.0.1:8080/@sqs/000000000000/" + n }})
	if err != nil {
		t.Fatal(err)
	}
	fn := func(id string) *Function {
		for _, f := range st.Functions {
			if f.LogicalID == id {
				return f
			}
		}
		t.Fatalf("no function %s", id)
		return nil
	}
	conn, msg, auth := fn("ConnectFunction"), fn("MessageFunction"), fn("AuthFunction")
	// Globals: scalars from Globals unless the function sets them; maps merged.
	if conn.Name != "chat-connect" || conn.Runtime != "nodejs20.x" || conn.Handler != "connect.handler" || conn.Timeout != 10 || conn.MemorySize != 256 ||
		conn.Code != filepath.Join(dir, "src") || *conn.ReservedConcurrency != 2 || conn.CodeField != "Globals.Function.CodeUri (of ConnectFunction)" {
		t.Fatalf("connect function %+v", conn)
	}
	if conn.Environment["SHARED"] != "mine" || !regexp.MustCompile(`^chat-Connections-[A-Z0-9]{13}$`).MatchString(conn.Environment["TABLE"]) ||
		conn.Environment["QUEUE_URL"] != "http://127.0.0.1:8080/@sqs/000000000000/"+st.Queues[0].Name || len(conn.Environment) != 3 {
		t.Fatalf("connect environment %v", conn.Environment)
	}
	if msg.Code != filepath.Join(dir, "message") || msg.CodeField != "Resources.MessageFunction.Properties.CodeUri" || msg.Environment["SHARED"] != "global" || msg.Handler != "index.handler" {
		t.Fatalf("message function %+v", msg)
	}
	if !regexp.MustCompile(`^chat-MessageFunction-[A-Z0-9]{13}$`).MatchString(msg.Name) || msg.Arn != "arn:aws:lambda:us-east-1:000000000000:function:"+msg.Name {
		t.Fatalf("generated function name %s %s", msg.Name, msg.Arn)
	}
	if !slices.Equal(auth.Architectures, []string{"arm64"}) || !slices.Equal(conn.Architectures, []string{"x86_64"}) {
		t.Fatalf("architectures %v %v", auth.Architectures, conn.Architectures)
	}

	// The API: routes, targets in three forms, the authorizer, the route
	// response, the stage.
	if len(st.APIs) != 1 {
		t.Fatalf("%d APIs", len(st.APIs))
	}
	api := st.APIs[0]
	if api.RouteSelectionExpression != "$request.body.action" || api.Name != "chat" || !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(api.ID) {
		t.Fatalf("api %+v", api)
	}
	routes := map[string]*Route{}
	for _, r := range api.Routes {
		routes[r.Key] = r
	}
	if len(routes) != 3 || routes["$connect"].Integration.Function != conn || routes["$default"].Integration.Function != msg ||
		routes["echo"].Integration.Function != msg {
		t.Fatalf("routes %+v", routes)
	}
	if !routes["echo"].RouteResponse || routes["$default"].RouteResponse {
		t.Fatal("route response not on echo alone")
	}
	a := routes["$connect"].Authorizer
	if a == nil || a.Function != auth || !slices.Equal(a.IdentitySource, []string{"route.request.querystring.token", "route.request.header.X-Team"}) {
		t.Fatalf("authorizer %+v", a)
	}
	if len(api.Stages) != 1 || api.Stages[0].Name != "dev" || api.Stages[0].Variables["color"] != "blue" || api.Stages[0].Variables["count"] != "3" {
		t.Fatalf("stages %+v", api.Stages)
	}

	// Tables.
	if len(st.Tables) != 2 {
		t.Fatalf("%d tables", len(st.Tables))
	}
	simple, events := st.Tables[0].Create, st.Tables[1]
	if *simple.TableName != conn.Environment["TABLE"] || simple.BillingMode != types.BillingModePayPerRequest ||
		*simple.KeySchema[0].AttributeName != "connectionId" || simple.AttributeDefinitions[0].AttributeType != types.ScalarAttributeTypeS {
		t.Fatalf("simple table %+v", simple)
	}
	in := events.Create
	if *in.TableName != "chat-events" || in.BillingMode != types.BillingModeProvisioned || *in.ProvisionedThroughput.WriteCapacityUnits != 3 ||
		len(in.KeySchema) != 2 || in.KeySchema[1].KeyType != types.KeyTypeRange || len(in.AttributeDefinitions) != 3 ||
		*in.GlobalSecondaryIndexes[0].IndexName != "byGsi" || in.GlobalSecondaryIndexes[0].Projection.ProjectionType != types.ProjectionTypeKeysOnly ||
		*in.GlobalSecondaryIndexes[0].ProvisionedThroughput.ReadCapacityUnits != 2 ||
		in.LocalSecondaryIndexes[0].Projection.NonKeyAttributes[0] != "a" ||
		!aws.ToBool(in.StreamSpecification.StreamEnabled) || in.StreamSpecification.StreamViewType != types.StreamViewTypeNewAndOldImages ||
		events.TTLAttribute != "ttl" || !strings.HasPrefix(events.StreamArn, events.Arn+"/stream/") {
		t.Fatalf("events table %+v %+v", events, in)
	}

	// The queue and the event sources.
	q := st.Queues[0]
	if len(st.Queues) != 1 || q.VisibilityTimeout != 90 || q.MaxReceiveCount != 4 || q.DeadLetterTargetArn != "arn:aws:sqs:us-east-1:000000000000:dlq" ||
		q.URL != "http://127.0.0.1:8080/@sqs/000000000000/"+q.Name {
		t.Fatalf("queue %+v", q)
	}
	if len(st.EventSources) != 2 {
		t.Fatalf("event sources %+v", st.EventSources)
	}
	sqs, ddb := st.EventSources[0], st.EventSources[1]
	if sqs.Queue != q || sqs.Function != msg || sqs.BatchSize != 5 || sqs.MaximumConcurrency != 3 || !slices.Equal(sqs.FunctionResponseTypes, []string{"ReportBatchItemFailures"}) ||
		sqs.LogicalID != "MessageFunction.Events.Work" || !sqs.Enabled {
		t.Fatalf("sqs source %+v", sqs)
	}
	if ddb.Table != events || ddb.StartingPosition != "TRIM_HORIZON" || ddb.BatchSize != 50 || *ddb.MaximumRetryAttempts != 2 ||
		!ddb.BisectBatchOnFunctionError || ddb.Filters[0] != `{"eventName": ["INSERT"]}` || ddb.MaximumRecordAgeInSeconds != nil {
		t.Fatalf("dynamodb source %+v", ddb)
	}

	// What is skipped, and why; Permission and Deployment are silently fine.
	var skipped []string
	for _, s := range st.Skipped {
		skipped = append(skipped, s.String())
	}
	want := []string{
		"MessageFunction.Events.Nightly (Schedule event: not run locally)",
		"HttpApi (AWS::ApiGatewayV2::Api: ProtocolType HTTP, not WEBSOCKET)",
		"Topic (AWS::SNS::Topic)",
		"LogGroup (AWS::Logs::LogGroup)",
		"HttpRoute (AWS::ApiGatewayV2::Route: not part of a WebSocket API of this template)",
	}
	if !slices.Equal(skipped, want) {
		t.Fatalf("skipped:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(want, "\n"))
	}
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "MessageFunction: Layers are not mounted locally") {
		t.Fatalf("warnings %q", st.Warnings)
	}
}

// TestEventSourceMappings: AWS::Lambda::EventSourceMapping with the
// function named by Ref, by GetAtt and by name.
func TestEventSourceMappings(t *testing.T) {
	t.Parallel()
	doc := `Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties: {FunctionName: worker, Code: ./code, Runtime: provided.al2023, Handler: h}
  Q: {Type: AWS::SQS::Queue}
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: KEYS_ONLY}
  ByRef:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Q.Arn, FunctionName: !Ref Fn, BatchSize: 7, FunctionResponseTypes: [ReportBatchItemFailures]}
  ByArn:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt T.StreamArn, FunctionName: !GetAtt Fn.Arn, StartingPosition: LATEST, MaximumRecordAgeInSeconds: 60}
  ByName:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt T.StreamArn, FunctionName: "worker:live", StartingPosition: LATEST, Enabled: false}
  Kinesis:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: arn:aws:kinesis:us-east-1:1:stream/s, FunctionName: worker, StartingPosition: LATEST}
`
	st, err := resolveDoc(t, doc, Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.EventSources) != 2 {
		t.Fatalf("sources %+v", st.EventSources)
	}
	if s := st.EventSources[0]; s.Queue == nil || s.Function.Name != "worker" || s.BatchSize != 7 {
		t.Fatalf("ByRef %+v", s)
	}
	if s := st.EventSources[1]; s.Table == nil || s.Function.Name != "worker" || *s.MaximumRecordAgeInSeconds != 60 || s.StartingPosition != "LATEST" {
		t.Fatalf("ByArn %+v", s)
	}
	var skipped []string
	for _, s := range st.Skipped {
		skipped = append(skipped, s.String())
	}
	want := []string{"ByName (AWS::Lambda::EventSourceMapping: Enabled is false)", "Kinesis (AWS::Lambda::EventSourceMapping: kinesis event sources are not run locally)"}
	if !slices.Equal(skipped, want) {
		t.Fatalf("skipped %q", skipped)
	}
}

func TestStackErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, edit, with, want string
	}{
		{"missing CodeUri", "    CodeUri: src/\n", "", "Resources.ConnectFunction.Properties.CodeUri: required: the function's code, a local directory (or .zip file) relative to the template"},
		{"S3 CodeUri", "    CodeUri: src/\n", "    CodeUri: s3://bucket/code.zip\n", "Resources.ConnectFunction.Properties.CodeUri: s3://bucket/code.zip is in S3, not available locally"},
		{"bad target", "Target: !Sub integrations/${MessageIntegration}", "Target: !Sub integration/${MessageIntegration}", `Resources.DefaultRoute.Properties.Target: "integration/`},
		{"target of no integration", "Target: !Sub integrations/${MessageIntegration}", "Target: integrations/abc1234", `Resources.DefaultRoute.Properties.Target: "integrations/abc1234": no integration abc1234 in API Api`},
		{"no target", "      Target: !Sub integrations/${MessageIntegration}\n", "", "Resources.DefaultRoute.Properties.Target: required: integrations/{IntegrationId} (a route without an integration cannot run locally)"},
		{"http integration", "      IntegrationType: AWS_PROXY\n      IntegrationUri: !GetAtt", "      IntegrationType: HTTP_PROXY\n      IntegrationUri: !GetAtt", "Resources.MessageIntegration.Properties.IntegrationType: HTTP_PROXY integrations are not supported locally"},
		{"integration of another function", "IntegrationUri: !GetAtt MessageFunction.Arn", "IntegrationUri: arn:aws:lambda:us-east-1:123456789012:function:elsewhere", `IntegrationUri: "arn:aws:lambda:us-east-1:123456789012:function:elsewhere": function elsewhere is not in this template`},
		{"integration uri", "IntegrationUri: !GetAtt MessageFunction.Arn", "IntegrationUri: https://example.com/", `IntegrationUri: "https://example.com/": want a Lambda function of this template`},
		{"iam", "AuthorizationType: CUSTOM", "AuthorizationType: AWS_IAM", "Resources.ConnectRoute.Properties.AuthorizationType: AWS_IAM is not supported locally"},
		{"authorizer elsewhere", "      RouteKey: $default\n", "      RouteKey: $default\n      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Authorizer\n", "Resources.DefaultRoute.Properties.AuthorizationType: CUSTOM: only the $connect route of a WebSocket API has an authorizer"},
		{"jwt authorizer", "AuthorizerType: REQUEST", "AuthorizerType: JWT", "Resources.Authorizer.Properties.AuthorizerType: a WebSocket API's authorizer is of type REQUEST (got JWT)"},
		{"duplicate route", "RouteKey: echo", "RouteKey: $default", "Resources.EchoRoute.Properties.RouteKey: $default is also the key of route DefaultRoute"},
		{"no route selection", "      RouteSelectionExpression: $request.body.action\n", "", "Resources.Api.Properties.RouteSelectionExpression: required"},
		{"queue event of a table", "Queue: !GetAtt Work.Arn", "Queue: !GetAtt Events.Arn", "Resources.MessageFunction.Properties.Events.Work.Properties.Queue: arn:aws:dynamodb:us-east-1:000000000000:table/chat-events is the table's ARN: use its stream's, !GetAtt Events.StreamArn"},
		{"stream of elsewhere", "Stream: !GetAtt Events.StreamArn", "Stream: arn:aws:dynamodb:us-east-1:1:table/x/stream/y", `Resources.MessageFunction.Properties.Events.Changes.Properties.Stream: "arn:aws:dynamodb:us-east-1:1:table/x/stream/y" is not a queue or a table stream of this template`},
		{"key not defined", "KeySchema: [{AttributeName: gsi, KeyType: HASH}]", "KeySchema: [{AttributeName: other, KeyType: HASH}]", "Resources.Events.Properties.GlobalSecondaryIndexes[0].KeySchema: attribute other is not in AttributeDefinitions"},
		{"stream view", "StreamViewType: NEW_AND_OLD_IMAGES", "StreamViewType: ALL", "Resources.Events.Properties.StreamSpecification.StreamViewType: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES"},
		{"timeout", "    Timeout: 10\n", "    Timeout: 1000\n", "Resources.ConnectFunction.Properties.Timeout: between 1 and 900 seconds (got 1000)"},
		{"timeout text", "    Timeout: 10\n", "    Timeout: ten\n", `Resources.ConnectFunction.Properties.Timeout: want a whole number, got "ten"`},
		{"inline code", "      CodeUri: ./message\n", "      InlineCode: exports.handler = async () => ({})\n", "Resources.MessageFunction.Properties.InlineCode: inline code is not supported locally"},
		{"image", "      CodeUri: ./message\n", "      PackageType: Image\n      ImageUri: x\n", "Resources.MessageFunction.Properties.PackageType: container image functions are not supported locally"},
		{"import value", "TABLE: !Ref Connections", "TABLE: !ImportValue shared-table", `Resources.ConnectFunction.Properties.Environment.Variables.TABLE: Fn::ImportValue "shared-table": not supported locally`},
		{"unknown attribute", "QUEUE_URL: !Ref Work", "QUEUE_URL: !GetAtt Work.Url", "Fn::GetAtt Work.Url: AWS::SQS::Queue has no attribute Url available locally (it has Arn, QueueName, QueueUrl)"},
		{"same function name", "FunctionName: !Sub ${AWS::StackName}-connect", "FunctionName: !Ref AuthFunction", "Resources.AuthFunction.Properties.FunctionName: chat-AuthFunction-"},
	}
	for _, tc := range cases {
		if !strings.Contains(wsTemplate, tc.edit) {
			t.Fatalf("%s: the template has no %q", tc.name, tc.edit)
		}
		doc := strings.Replace(wsTemplate, tc.edit, tc.with, 1)
		_, err := resolveDoc(t, doc, Options{StackName: "chat"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v\nwant one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestCDKAssets: a cdk synth template's function code is the asset
// directory its metadata names; Code.ZipFile is refused clearly.
func TestCDKAssets(t *testing.T) {
	t.Parallel()
	doc := `{
 "Resources": {
  "Handler886CB40B": {
   "Type": "AWS::Lambda::Function",
   "Properties": {
    "Code": {"S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}, "S3Key": "0a1b.zip"},
    "Handler": "index.handler",
    "Runtime": {"Fn::FindInMap": ["LatestNodeRuntimeMap", {"Ref": "AWS::Region"}, "value"]}
   },
   "Metadata": {"aws:cdk:path": "S/Handler/Resource", "aws:asset:path": "asset.0a1b", "aws:asset:is-bundled": false, "aws:asset:property": "Code"}
  },
  "Inline": {
   "Type": "AWS::Lambda::Function",
   "Properties": {"Code": {"ZipFile": "exports.handler = async () => ({})"}, "Handler": "index.handler", "Runtime": "nodejs20.x"}
  }
 },
 "Mappings": {"LatestNodeRuntimeMap": {"us-east-1": {"value": "nodejs22.x"}}}
}`
	dir := t.TempDir()
	_, err := resolveDoc(t, doc, Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "Resources.Inline.Properties.Code.ZipFile: inline code is not supported locally") {
		t.Fatalf("inline code: %v", err)
	}
	st, err := resolveDoc(t, strings.Replace(doc, `{"ZipFile": "exports.handler = async () => ({})"}`, `"./inline"`, 1), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f := st.Functions[0]
	if f.Code != filepath.Join(dir, "asset.0a1b") || f.Runtime != "nodejs22.x" || f.CodeField != "Resources.Handler886CB40B.Metadata.aws:asset:path" {
		t.Fatalf("asset function %+v", f)
	}
	if st.Functions[1].Code != filepath.Join(dir, "inline") {
		t.Fatalf("Code as a path: %+v", st.Functions[1])
	}
}

// TestConditionalResources: a resource whose condition is false is not
// created, and listed as skipped.
func TestConditionalResources(t *testing.T) {
	t.Parallel()
	doc := `Parameters:
  WithQueue: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
Conditions:
  HasQueue: !Equals [!Ref WithQueue, "true"]
Resources:
  Q:
    Type: AWS::SQS::Queue
    Condition: HasQueue
  R:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !If [HasQueue, !Sub "${Q}-r", plain]
`
	st, err := resolveDoc(t, doc, Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Queues) != 1 || st.Queues[0].Name != "plain" || st.Skipped[0].String() != "Q (AWS::SQS::Queue: its condition HasQueue is false)" {
		t.Fatalf("queues %+v skipped %+v", st.Queues, st.Skipped)
	}
	st, err = resolveDoc(t, doc, Options{StackName: "s", Parameters: map[string]string{"WithQueue": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Queues) != 2 || !strings.HasSuffix(st.Queues[1].Name, "-r") {
		t.Fatalf("queues %+v", st.Queues)
	}
}

// TestSAMImplicitResources: templates refer to resources the SAM transform
// makes: a function's role and the API of its Api events.
func TestSAMImplicitResources(t *testing.T) {
	t.Parallel()
	doc := `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Runtime: nodejs20.x
      Handler: index.handler
      Environment:
        Variables:
          ROLE: !GetAtt FnRole.Arn
          REST: !Sub https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod
      Events:
        Get: {Type: Api, Properties: {Path: /, Method: get}}
`
	st, err := resolveDoc(t, doc, Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	env := st.Functions[0].Environment
	if !regexp.MustCompile(`^arn:aws:iam::000000000000:role/s-FnRole-[A-Z0-9]{13}$`).MatchString(env["ROLE"]) || !strings.HasPrefix(env["REST"], "https://s-ServerlessRestApi-") {
		t.Fatalf("environment %v", env)
	}
	if len(st.Skipped) != 1 || st.Skipped[0].String() != "Fn.Events.Get (Api event: not run locally)" {
		t.Fatalf("skipped %v", st.Skipped)
	}
}
