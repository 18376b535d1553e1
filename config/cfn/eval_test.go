package cfn

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// exprTemplate holds one expression (EXPR, the Value of Outputs.Out)
// among resources and parameters of every kind the intrinsics refer to.
const exprTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::LanguageExtensions
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Count: {Type: Number, Default: 3}
  Names: {Type: CommaDelimitedList, Default: "a,b,c"}
  Nums: {Type: "List<Number>", Default: "1, 2"}
  Attr: {Type: String, Default: Arn}
  Bootstrap: {Type: "AWS::SSM::Parameter::Value<String>", Default: /cdk-bootstrap/version}
Mappings:
  Sizes:
    dev: {Memory: 128}
    prod: {Memory: 1024}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals [!Ref Count, 3]]
  Either: !Or [!Condition IsProd, !Equals [a, b]]
  InRegion: !Equals [!Ref AWS::Region, eu-west-1]
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties: {FunctionName: my-fn, Code: ./code, Runtime: provided.al2023, Handler: x}
  Gen:
    Type: AWS::Lambda::Function
    Properties: {Code: ./code, Runtime: provided.al2023}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: tbl
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: q}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Role:
    Type: AWS::IAM::Role
    Properties: {RoleName: r}
  Sub:
    Type: AWS::SNS::Subscription
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
Outputs:
  Out:
    Value: EXPR
`

var exprOptions = Options{StackName: "stk", Region: "eu-west-1", AccountID: "123456789012"}

// evalExpr evaluates Outputs.Out.Value of the template.
func evalExpr(data []byte, name string, o Options) (*Node, error) {
	t, err := Parse(data, name)
	if err != nil {
		return nil, err
	}
	root, err := decode(data, name)
	if err != nil {
		return nil, err
	}
	e, err := t.newEvaluator(o)
	if err != nil {
		return nil, err
	}
	return e.resolve(root.Get("Outputs").Get("Out").Get("Value"), "Outputs.Out.Value")
}

// render is a value as tests compare it: a scalar's text, or the compact
// form of a list or map.
func render(n *Node) string {
	if n.scalar() {
		return n.Value
	}
	return n.String()
}

// asJSON turns a YAML template into the JSON long form cdk synth writes.
func asJSON(t *testing.T, yamlDoc string) []byte {
	t.Helper()
	n, err := decode([]byte(yamlDoc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(toJSON(n), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIntrinsics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr  string // YAML, short forms
		want  string // exact, or
		match string // a pattern, or
		err   string // part of the error
	}{
		// Ref: parameters, pseudo parameters, resources' physical ids.
		{expr: `!Ref Env`, want: "dev"},
		{expr: `!Ref Count`, want: "3"},
		{expr: `!Ref Names`, want: `["a", "b", "c"]`},
		{expr: `!Ref Nums`, want: `["1", "2"]`},
		{expr: `!Ref AWS::Region`, want: "eu-west-1"},
		{expr: `!Ref AWS::AccountId`, want: "123456789012"},
		{expr: `!Ref AWS::StackName`, want: "stk"},
		{expr: `!Ref AWS::Partition`, want: "aws"},
		{expr: `!Ref AWS::URLSuffix`, want: "amazonaws.com"},
		{expr: `!Ref AWS::NotificationARNs`, want: "[]"},
		{expr: `!Ref AWS::StackId`, match: `^arn:aws:cloudformation:eu-west-1:123456789012:stack/stk/[0-9a-f-]{36}$`},
		{expr: `!Ref Fn`, want: "my-fn"},
		{expr: `!Ref Gen`, match: `^stk-Gen-[A-Z0-9]{13}$`},
		{expr: `!Ref Table`, want: "tbl"},
		{expr: `!Ref Queue`, want: "https://sqs.eu-west-1.amazonaws.com/123456789012/q"},
		{expr: `!Ref Api`, match: `^[a-z0-9]{10}$`},
		{expr: `!Ref Role`, want: "r"},
		{expr: `!Ref ProdOnly`, err: "ProdOnly is not created: its condition IsProd is false"},
		{expr: `!Ref Bootstrap`, err: "parameter Bootstrap is read from SSM Parameter Store"},
		{expr: `{Ref: !Join ["", [E, nv]]}`, want: "dev"},
		// Fn::GetAtt, both forms.
		{expr: `!GetAtt Fn.Arn`, want: "arn:aws:lambda:eu-west-1:123456789012:function:my-fn"},
		{expr: `!GetAtt [Table, Arn]`, want: "arn:aws:dynamodb:eu-west-1:123456789012:table/tbl"},
		{expr: `!GetAtt Table.StreamArn`, match: `^arn:aws:dynamodb:eu-west-1:123456789012:table/tbl/stream/.+$`},
		{expr: `!GetAtt Plain.StreamArn`, err: "Fn::GetAtt Plain.StreamArn: the table has no StreamSpecification"},
		{expr: `!GetAtt Queue.Arn`, want: "arn:aws:sqs:eu-west-1:123456789012:q"},
		{expr: `!GetAtt Queue.QueueUrl`, want: "https://sqs.eu-west-1.amazonaws.com/123456789012/q"},
		{expr: `!GetAtt Queue.QueueName`, want: "q"},
		{expr: `!GetAtt Api.ApiEndpoint`, match: `^wss://[a-z0-9]{10}\.execute-api\.eu-west-1\.amazonaws\.com$`},
		{expr: `!GetAtt Api.ApiId`, match: `^[a-z0-9]{10}$`},
		{expr: `!GetAtt Role.Arn`, want: "arn:aws:iam::123456789012:role/r"},
		{expr: `!GetAtt [Fn, !Ref Attr]`, want: "arn:aws:lambda:eu-west-1:123456789012:function:my-fn"},
		{expr: `!GetAtt Fn.SnapStartResponse`, err: "Fn::GetAtt Fn.SnapStartResponse: AWS::Lambda::Function has no attribute SnapStartResponse available locally (it has Arn)"},
		{expr: `!GetAtt Sub.Foo`, err: "Fn::GetAtt Sub.Foo: the attributes of AWS::SNS::Subscription are not available locally"},
		// Fn::Sub.
		{expr: `!Sub "${Env}-${AWS::Region}-${Fn}-${Fn.Arn}"`, want: "dev-eu-west-1-my-fn-arn:aws:lambda:eu-west-1:123456789012:function:my-fn"},
		{expr: `!Sub "${!Literal} ${Env} $ {y} $"`, want: "${Literal} dev $ {y} $"},
		{expr: `!Sub ["${A}-${Env}-${B}", {A: !Ref Count, B: !GetAtt Queue.QueueName}]`, want: "3-dev-q"},
		{expr: `!Sub "open ${Env"`, want: "open ${Env"},
		{expr: `!Sub "${Names}"`, err: "${Names} is a list, not a string"},
		{expr: `!Sub "${AWS::NoValue}"`, err: "${AWS::NoValue} cannot be used in a string"},
		// Fn::Join, Fn::Select, Fn::Split.
		{expr: `!Join ["-", [a, !Ref Env, !GetAtt Queue.QueueName]]`, want: "a-dev-q"},
		{expr: `!Join [",", !Ref Names]`, want: "a,b,c"},
		{expr: `!Join ["", []]`, want: ""},
		{expr: `!Join [",", a]`, err: "Fn::Join: want a list, got a string"},
		{expr: `!Join ["", [a, [b]]]`, err: "Fn::Join: value 1 is a list, want a string"},
		{expr: `!Select [1, !Ref Names]`, want: "b"},
		{expr: `!Select ["0", [x, y]]`, want: "x"},
		{expr: `!Select [!Ref Count, [x]]`, err: "Fn::Select: index 3 is outside the list of 1 values"},
		{expr: `!Select [one, [x]]`, err: `Fn::Select: index "one" is not a whole number`},
		{expr: `!Select [1, !Split [",", "p,q"]]`, want: "q"},
		{expr: `!Split ["/", "a/b/c"]`, want: `["a", "b", "c"]`},
		{expr: `!Split ["", "abc"]`, err: "Fn::Split: the delimiter is empty"},
		// Fn::If and conditions, AWS::NoValue.
		{expr: `!If [IsProd, big, small]`, want: "small"},
		{expr: `!If [IsDev, big, small]`, want: "big"},
		{expr: `!If [Both, y, n]`, want: "y"},
		{expr: `!If [Either, y, n]`, want: "n"},
		{expr: `!If [InRegion, !Ref Env, other]`, want: "dev"},
		{expr: `{A: !If [IsProd, x, !Ref AWS::NoValue], B: b}`, want: `{B: "b"}`},
		{expr: `[a, !Ref AWS::NoValue, c]`, want: `["a", "c"]`},
		{expr: `!If [IsDev, !Ref ProdOnly, fine]`, err: "ProdOnly is not created"},
		{expr: `!If [IsProd, !Ref ProdOnly, fine]`, want: "fine"},
		// Fn::FindInMap, with the language extensions' DefaultValue.
		{expr: `!FindInMap [Sizes, !Ref Env, Memory]`, want: "128"},
		{expr: `!FindInMap [Sizes, test, Memory, {DefaultValue: 64}]`, want: "64"},
		{expr: `!FindInMap [Sizes, test, Memory]`, err: "Fn::FindInMap: Mappings.Sizes has no test.Memory"},
		{expr: `!FindInMap [Nope, dev, Memory]`, err: `Fn::FindInMap: no mapping "Nope" in Mappings`},
		// The rest.
		{expr: `!Base64 hello`, want: "aGVsbG8="},
		{expr: `!GetAZs ""`, want: `["eu-west-1a", "eu-west-1b", "eu-west-1c"]`},
		{expr: `!Select [0, !GetAZs us-east-2]`, want: "us-east-2a"},
		{expr: `!Length [a, b, !Ref AWS::NoValue]`, want: "2"},
		{expr: `!ToJsonString {a: 1, b: [x, true]}`, want: `{"a":1,"b":["x",true]}`},
		{expr: `!ImportValue shared-table`, err: `Fn::ImportValue "shared-table": not supported locally (it reads another stack's exports): make the value a parameter and pass it with --parameter-overrides`},
		{expr: `!Cidr [10.0.0.0/16, 2, 8]`, err: "Fn::Cidr: not supported locally"},
		{expr: `!Equals [a, a]`, err: "Fn::Equals is a condition function"},
		{expr: `{"Fn::Nope": 1}`, err: "unknown intrinsic function Fn::Nope"},
		{expr: `{Condition: kept, Other: map}`, want: `{Condition: "kept", Other: "map"}`},
	}
	for _, tc := range cases {
		doc := strings.Replace(exprTemplate, "EXPR", tc.expr, 1)
		for _, form := range []struct {
			name string
			data []byte
		}{{"yaml", []byte(doc)}, {"json", asJSON(t, doc)}} {
			got, err := evalExpr(form.data, "t."+form.name, exprOptions)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%s (%s): error %v, want one containing %q", tc.expr, form.name, err, tc.err)
				}
				if err != nil && !errors.Is(err, ErrInvalid) {
					t.Errorf("%s (%s): %v does not wrap ErrInvalid", tc.expr, form.name, err)
				}
			case err != nil:
				t.Errorf("%s (%s): %v", tc.expr, form.name, err)
			case tc.match != "":
				if !regexp.MustCompile(tc.match).MatchString(render(got)) {
					t.Errorf("%s (%s) = %s, want %s", tc.expr, form.name, render(got), tc.match)
				}
			case render(got) != tc.want:
				t.Errorf("%s (%s) = %s, want %s", tc.expr, form.name, render(got), tc.want)
			}
		}
	}
}

// TestJSONLongForm: a template written as JSON (as cdk synth writes it)
// means what its YAML twin does.
func TestJSONLongForm(t *testing.T) {
	t.Parallel()
	doc := `{
 "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
 "Conditions": {"IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]}},
 "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Env}-q"}}}},
 "Outputs": {"Out": {"Value": {"Fn::If": ["IsDev", {"Fn::Join": ["|", [{"Ref": "Q"}, {"Fn::GetAtt": "Q.Arn"}, {"Fn::GetAtt": ["Q", "QueueName"]}]]}, "no"]}}}
}`
	got, err := evalExpr([]byte(doc), "t.template.json", exprOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://sqs.eu-west-1.amazonaws.com/123456789012/dev-q|arn:aws:sqs:eu-west-1:123456789012:dev-q|dev-q"
	if render(got) != want {
		t.Fatalf("got %s, want %s", render(got), want)
	}
}

func TestParameters(t *testing.T) {
	t.Parallel()
	const doc = `Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Secret: {Type: String, AllowedPattern: "^.{8,}$", ConstraintDescription: at least 8 characters}
  Size: {Type: Number, Default: 5, MinValue: 1, MaxValue: 10}
  Name: {Type: String, Default: abc, MinLength: 2, MaxLength: 5}
  Zones: {Type: CommaDelimitedList, Default: [a, b]}
  Version: {Type: "AWS::SSM::Parameter::Value<String>", Default: /cdk/version}
Resources:
  Q: {Type: AWS::SQS::Queue}
Outputs:
  Out:
    Value: !Join [" ", [!Ref Env, !Ref Secret, !Ref Size, !Ref Name, !Join [",", !Ref Zones]]]
`
	cases := []struct {
		overrides map[string]string
		want, err string
	}{
		{overrides: map[string]string{"Secret": "12345678"}, want: "dev 12345678 5 abc a,b"},
		{overrides: map[string]string{"Secret": "12345678", "Env": "prod", "Size": "10", "Name": "xy", "Zones": "x, y ,z"}, want: "prod 12345678 10 xy x,y,z"},
		{overrides: nil, err: "Parameters.Secret: no Default and no value: pass one with --parameter-overrides Secret=VALUE"},
		{overrides: map[string]string{"Secret": "short"}, err: `Parameters.Secret: "short" does not match the AllowedPattern ^.{8,}$ (at least 8 characters)`},
		{overrides: map[string]string{"Secret": "12345678", "Env": "test"}, err: `Parameters.Env: "test" is not one of the AllowedValues [dev, prod]`},
		{overrides: map[string]string{"Secret": "12345678", "Size": "big"}, err: `Parameters.Size: "big" is not a number (Type Number)`},
		{overrides: map[string]string{"Secret": "12345678", "Size": "11"}, err: "Parameters.Size: 11 is more than MaxValue 10"},
		{overrides: map[string]string{"Secret": "12345678", "Name": "toolong"}, err: `Parameters.Name: "toolong" is longer than MaxLength 5`},
		{overrides: map[string]string{"Secret": "12345678", "Nope": "x"}, err: "parameter override Nope: the template has no parameter Nope (its parameters: Env, Secret, Size, Name, Zones, Version)"},
	}
	for _, tc := range cases {
		o := exprOptions
		o.Parameters = tc.overrides
		got, err := evalExpr([]byte(doc), "t.yaml", o)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.overrides, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.overrides, err)
		case render(got) != tc.want:
			t.Errorf("%v: got %q, want %q", tc.overrides, render(got), tc.want)
		}
	}
	// An SSM parameter is fine unused, and usable once overridden.
	o := exprOptions
	o.Parameters = map[string]string{"Secret": "12345678", "Version": "6"}
	doc2 := strings.Replace(doc, `!Join [" ", [!Ref Env`, `!Join [" ", [!Ref Version`, 1)
	if got, err := evalExpr([]byte(doc2), "t.yaml", o); err != nil || !strings.HasPrefix(render(got), "6 ") {
		t.Fatalf("overridden SSM parameter: %v, %v", got, err)
	}
	o.Parameters = map[string]string{"Secret": "12345678"}
	if _, err := evalExpr([]byte(doc2), "t.yaml", o); err == nil || !strings.Contains(err.Error(), "Version is read from SSM Parameter Store (/cdk/version), which is not available locally: pass its value with --parameter-overrides Version=VALUE") {
		t.Fatalf("SSM parameter without a value: %v", err)
	}
}

func TestParseOverrides(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want map[string]string
		err  string
	}{
		{in: "", want: map[string]string{}},
		{in: "Env=prod Size=3", want: map[string]string{"Env": "prod", "Size": "3"}},
		{in: "  Url=https://x/?a=b  Empty= ", want: map[string]string{"Url": "https://x/?a=b", "Empty": ""}},
		{in: `Name="my app" Other='it''s' Esc="a\"b"`, want: map[string]string{"Name": "my app", "Other": "its", "Esc": `a"b`}},
		{in: "ParameterKey=Env,ParameterValue=prod ParameterKey=List,ParameterValue=a,b", want: map[string]string{"Env": "prod", "List": "a,b"}},
		{in: `ParameterKey=Msg,ParameterValue="hello world" Env=dev`, want: map[string]string{"Msg": "hello world", "Env": "dev"}},
		{in: "Env", err: `"Env": want Name=value`},
		{in: "Env=a Env=b", err: "Env is given twice"},
		{in: "my-param=x", err: `"my-param" is not a parameter name`},
		{in: `Name="open`, err: "unterminated \" quote"},
		{in: "ParameterKey=Env", err: "want ParameterKey=Name,ParameterValue=value"},
		{in: "ParameterKey=Env,UsePreviousValue=true", err: "UsePreviousValue has no meaning locally"},
	}
	for _, tc := range cases {
		got, err := ParseOverrides(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q = %v, want %v", tc.in, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func TestConditionErrors(t *testing.T) {
	t.Parallel()
	const doc = `Conditions:
  A: !Condition B
  B: !Not [!Condition A]
  Bad: !Equals [x]
Resources:
  Q: {Type: AWS::SQS::Queue}
Outputs:
  Out:
    Value: EXPR
`
	for expr, want := range map[string]string{
		`!If [A, x, y]`:   "the condition depends on itself",
		`!If [Bad, x, y]`: "Conditions.Bad: Fn::Equals: want [value, value]",
	} {
		_, err := evalExpr([]byte(strings.Replace(doc, "EXPR", expr, 1)), "t.yaml", exprOptions)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", expr, err, want)
		}
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	const doc = `Parameters:
  Secret: {Type: String, Default: ""}
  Jwks: {Type: String, Default: ""}
  BootstrapVersion: {Type: "AWS::SSM::Parameter::Value<String>", Default: /cdk-bootstrap/hnb659fds/version}
Rules:
  CheckBootstrapVersion:
    Assertions:
      - Assert: {"Fn::Not": [{"Fn::Contains": [["1", "2", "3"], {"Ref": "BootstrapVersion"}]}]}
        AssertDescription: CDK bootstrap stack version 6 required.
  TokensCanBeChecked:
    Assertions:
      - Assert: !Or [!Not [!Equals [!Ref Secret, ""]], !Not [!Equals [!Ref Jwks, ""]]]
        AssertDescription: Set Secret or Jwks.
Resources:
  Q: {Type: AWS::SQS::Queue}
`
	tmpl, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Resolve(exprOptions)
	if err == nil || !strings.Contains(err.Error(), "t.yaml:12: Rules.TokensCanBeChecked: Set Secret or Jwks.") {
		t.Fatalf("failing assertion: %v", err)
	}
	o := exprOptions
	o.Parameters = map[string]string{"Jwks": "https://example.com/jwks.json"}
	if _, err := tmpl.Resolve(o); err != nil {
		t.Fatalf("passing assertions (the SSM one is not checked): %v", err)
	}
	o.Parameters["BootstrapVersion"] = "2"
	if _, err := tmpl.Resolve(o); err == nil || !strings.Contains(err.Error(), "CDK bootstrap stack version 6 required.") {
		t.Fatalf("SSM rule with its value: %v", err)
	}
}
