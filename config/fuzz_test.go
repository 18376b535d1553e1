package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-ws/switchboard/config"
)

// fuzzTemplate is a small SAM template with a WebSocket API, a Node.js
// function (the SAM chat example's code) and a queue, as a seed: the
// fuzzer's mutations stay fast on inputs of this size, not on the 25 KB of
// a CDK synth output.
const fuzzTemplate = `Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Sub 'integrations/${Integration}'}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
  StageRes:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: !Ref Stage}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs22.x
      CodeUri: src/
      Handler: default.handler
      Environment: {Variables: {QUEUE: !Ref Q, TABLE: !Ref T}}
      Events:
        Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 5}}
  Q: {Type: AWS::SQS::Queue}
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
`

// FuzzLoadTemplate feeds arbitrary templates, and mutations of real ones
// (beside the SAM chat example's function code), to LoadTemplate, the
// template reader of `switchboard serve --template`: whatever the input,
// it returns an error or a template whose File is valid, and never panics.
func FuzzLoadTemplate(f *testing.F) {
	dir := f.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "src"), os.DirFS("../examples/sam-chat/src")); err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"../examples/sam-chat/template.yaml", "testdata/templates/sam-go/template.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(fuzzTemplate))
	f.Add([]byte(`{"Resources": {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}}}}`))
	cache := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"template.yaml", "template.json"} {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			tpl, err := config.LoadTemplate(path, config.TemplateOptions{StackName: "fuzz", GatewayURL: "http://127.0.0.1:9", CacheDir: cache})
			if err != nil {
				_ = err.Error()
				continue
			}
			if tpl == nil || tpl.File == nil {
				t.Fatalf("%s: neither a template nor an error", name)
			}
			if err := tpl.File.Validate(); err != nil {
				t.Fatalf("%s: LoadTemplate returned an invalid File: %v", name, err)
			}
		}
	})
}
