// Package deploy_test checks the deployment templates against the code,
// without providers, cloud calls or the artifact: deploy/terraform (HCL,
// evaluated by terraform_test.go) and deploy/sam (YAML, evaluated by
// sam_test.go) are each turned into the model of model_test.go, for several
// sets of inputs, and compared with what code_test.go derives from the code:
//
//   - every route the code serves (chat.Actions(), $connect, $disconnect,
//     $default) exists, reaches through an AWS_PROXY integration the
//     function of the right handler (actions and $default: message), and
//     no other route exists; $connect has the REQUEST authorizer on
//     ?token=, whose function is the authorizer;
//   - every handler of lambdaapp.Handlers has exactly one function
//     (provided.al2023, the artifact of scripts/build-lambda for its
//     architecture); each sets only variables of lambdaapp.Env (never
//     _HANDLER or DYNAMODB_ENDPOINT), and lambdaapp.ConfigFromEnv accepts
//     exactly those; TABLE_NAME and CALLBACK_URL name this table and stage;
//   - IAM: the DynamoDB actions on the table are exactly those of
//     chat/store/dynamo's operations, the indexes are only queried, the stream
//     is readable by the cleanup function alone, execute-api:ManageConnections
//     is on this API's stage's @connections for the methods push uses, each
//     function writes only its own log group, and the authorizer has none
//     of it;
//   - the table matches dynamo.TableSchema (keys, GSIs, billing, stream,
//     TTL on expiresAt); the stream reaches the cleanup function filtered
//     to TTL deletions; the stage auto-deploys with throttling and access
//     logs; every function and the stage log to a group with retention;
//     API Gateway may invoke exactly from this API;
//   - the fan-out path: the handlers that broadcast (those whose chat.Service
//     method reaches the use of the Config's Queue, code_test.go) and only
//     those have FANOUT_QUEUE_URL, the fan-out queue's URL, agree on
//     FANOUT_THRESHOLD and FANOUT_BATCH_SIZE, and may sqs:* exactly the
//     actions of the SQS calls of the bootstrap's packages (queue.SQSAPI:
//     sqs:SendMessage) on that queue; the handler of SQS events (fanout)
//     also the polling actions. No function may act on the dead-letter
//     queue. One event source mapping from the queue reaches the fanout
//     function, with ReportBatchItemFailures, at most 10 records and no
//     filter; the queue's visibility timeout is at least 6 times the
//     function's timeout, its redrive policy sends a batch to the
//     dead-letter queue after as many receives as queue.Local (switchboard
//     dev) makes, it keeps a batch for all of them, and both queues are
//     encrypted; the dead-letter queue keeps messages 14 days, longer than
//     the queue, and has an alarm on ApproximateNumberOfMessagesVisible > 0.
//
// Every problem names the file and the resource. TestChecksCatchDrift
// breaks the templates, and TestCodeDriftIsCaught the code, in the ways
// these checks exist for, and expects each to be reported.
package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

const (
	tfModuleDir  = "deploy/terraform/modules/switchboard"
	tfExampleDir = "deploy/terraform/examples/basic"
	samFile      = "deploy/sam/template.yaml"
	testSecret   = "a-test-hs256-secret-of-at-least-32-bytes"
	testJWKS     = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example/.well-known/jwks.json"
	testIssuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
)

type tfScenario struct {
	name    string
	example map[string]cty.Value // inputs of the example root module, or
	module  map[string]cty.Value // of the module itself
}

func tfScenarios(root string) []tfScenario {
	return []tfScenario{
		{name: "example HS256", example: map[string]cty.Value{"jwt_secret": cty.StringVal(testSecret)}},
		{name: "example Cognito x86_64", example: map[string]cty.Value{
			"jwks_url": cty.StringVal(testJWKS), "jwt_issuer": cty.StringVal(testIssuer), "jwt_audience": cty.StringVal("client-id"),
			"jwt_token_use": cty.StringVal("access"), "architecture": cty.StringVal("x86_64"), "stage_name": cty.StringVal("live"),
			"create_api_gateway_account_role": cty.True,
		}},
		{name: "module every option", module: map[string]cty.Value{
			"lambda_zip": cty.StringVal(filepath.Join(root, "dist", "lambda", "bootstrap-arm64.zip")),
			"name":       cty.StringVal("chat"), "table_name": cty.StringVal("chat-data"),
			"jwt_secret": cty.StringVal(testSecret), "jwks_url": cty.StringVal(testJWKS), "jwt_audience": cty.StringVal("client-id"),
			"max_content_bytes": cty.NumberIntVal(8192), "connection_ttl": cty.StringVal("15m"), "log_retention_days": cty.NumberIntVal(30),
			"typing_interval": cty.StringVal("500ms"), "fanout_threshold": cty.NumberIntVal(200), "fanout_batch_size": cty.NumberIntVal(100),
			"fanout_timeout": cty.NumberIntVal(120), "alarm_topic_arn": cty.StringVal("arn:aws:sns:eu-west-1:123456789012:ops"),
		}},
	}
}

// tfEvaluate evaluates the module of a scenario, through the example or
// directly, with the module's files in moduleDir.
func tfEvaluate(t testing.TB, root, moduleDir string, sc tfScenario) *deployment {
	t.Helper()
	label := rel(root, moduleDir) + " [" + sc.name + "]"
	if sc.example != nil {
		ex := parseTFModule(t, root, filepath.Join(root, tfExampleDir))
		mod, inputs := newTFEval(t, ex, sc.example).moduleInputs("switchboard")
		if moduleDir != mod.dir {
			mod = parseTFModule(t, root, moduleDir)
		}
		return tfDeployment(t, root, label, newTFEval(t, mod, inputs))
	}
	mod := parseTFModule(t, root, moduleDir)
	return tfDeployment(t, root, label, newTFEval(t, mod, sc.module))
}

func TestTerraform(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	x := expected(t)
	for _, sc := range tfScenarios(root) {
		t.Run(sc.name, func(t *testing.T) {
			d := tfEvaluate(t, root, filepath.Join(root, tfModuleDir), sc)
			for _, p := range check(d, x) {
				t.Error(p)
			}
		})
	}
}

type samScenario struct {
	name   string
	params map[string]string
}

var samScenarios = []samScenario{
	{"HS256", map[string]string{"JwtSecret": testSecret}},
	{"Cognito", map[string]string{"JwksUrl": testJWKS, "JwtIssuer": testIssuer, "JwtAudience": "client-id", "JwtTokenUse": "access",
		"StageName": "live", "CreateApiGatewayAccountRole": "true"}},
	{"every option", map[string]string{"JwtSecret": testSecret, "JwksUrl": testJWKS, "MaxContentBytes": "8192", "ConnectionTtl": "15m",
		"LogRetentionDays": "30", "ThrottlingRateLimit": "50", "ThrottlingBurstLimit": "100", "TypingInterval": "500ms",
		"FanoutThreshold": "200", "FanoutBatchSize": "100", "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}},
}

func samEvaluate(t testing.TB, root string, data []byte, sc samScenario) *deployment {
	t.Helper()
	s := parseSAMBytes(t, root, filepath.Join(root, samFile), data, sc.params)
	return samDeployment(t, root, samFile+" ["+sc.name+"]", s)
}

func TestSAM(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	x := expected(t)
	data, err := os.ReadFile(filepath.Join(root, samFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range samScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, p := range check(samEvaluate(t, root, data, sc), x) {
				t.Error(p)
			}
		})
	}
}

// TestTokensRequired: without a secret or a JWK Set, both templates refuse
// to deploy (the authorizer could check no token).
func TestTokensRequired(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	msg := expectFatal(t, func(tb testing.TB) {
		tfEvaluate(tb, root, filepath.Join(root, tfModuleDir), tfScenario{name: "no tokens", example: map[string]cty.Value{}})
	})
	if !strings.Contains(msg, "precondition failed") || !strings.Contains(msg, "jwt_secret") {
		t.Errorf("Terraform without jwt_secret or jwks_url: %q, want the authorizer's precondition to fail", msg)
	}
	data, err := os.ReadFile(filepath.Join(root, samFile))
	if err != nil {
		t.Fatal(err)
	}
	msg = expectFatal(t, func(tb testing.TB) { samEvaluate(tb, root, data, samScenario{"no tokens", nil}) })
	if !strings.Contains(msg, "TokensCanBeChecked") {
		t.Errorf("SAM without JwtSecret or JwksUrl: %q, want rule TokensCanBeChecked to fail", msg)
	}
	msg = expectFatal(t, func(tb testing.TB) {
		tfEvaluate(tb, root, filepath.Join(root, tfModuleDir), tfScenario{name: "short secret",
			example: map[string]cty.Value{"jwt_secret": cty.StringVal("short")}})
	})
	if !strings.Contains(msg, "jwt_secret") || !strings.Contains(msg, "validation") {
		t.Errorf("Terraform with a short secret: %q, want jwt_secret's validation to fail", msg)
	}
}

// TestChecksCatchDrift breaks the templates in the ways the checks exist
// for and expects each to be reported, naming the file.
func TestChecksCatchDrift(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	x := expected(t)
	samData, err := os.ReadFile(filepath.Join(root, samFile))
	if err != nil {
		t.Fatal(err)
	}
	samCases := []struct {
		name, old, new, want string
	}{
		{"route missing", "  PingRoute:\n", "  PingRouteGone:\n    Condition: CreateAccountRole\n", `no route "ping"`},
		{"route to the wrong function", "RouteKey: $default\n      Target: !Sub integrations/${MessageIntegration}",
			"RouteKey: $default\n      Target: !Sub integrations/${ConnectIntegration}", `route "$default" reaches ConnectFunction`},
		{"extra route", "RouteKey: ping\n", "RouteKey: pong\n", `route "pong" is not served by the code`},
		{"Scan granted", "              - dynamodb:UpdateItem\n", "              - dynamodb:UpdateItem\n              - dynamodb:Scan\n", "DynamoDB actions on the table"},
		{"@connections of every stage", "${StageName}/POST/@connections/*", "*/POST/@connections/*", "execute-api:ManageConnections on"},
		{"CALLBACK_URL missing", "      Handler: disconnect\n      Role: !GetAtt DisconnectRole.Arn\n      Environment:\n        Variables:\n          TABLE_NAME: !Ref Table\n          CALLBACK_URL",
			"      Handler: disconnect\n      Role: !GetAtt DisconnectRole.Arn\n      Environment:\n        Variables:\n          TABLE_NAME: !Ref Table\n          NOT_CALLBACK_URL", "CALLBACK_URL: required"},
		{"unknown variable", "          MAX_CONTENT_BYTES:", "          MAX_CONTENT_BYTE:", "sets MAX_CONTENT_BYTE, which internal/lambdaapp does not read"},
		{"TTL attribute", "AttributeName: expiresAt", "AttributeName: ttl", "TTL true on \"ttl\""},
		{"stream filter", `"userIdentity":{"type":["Service"],`, `"userIdentity":{"type":["User"],`, "TTL deletions only"},
		{"token in a header", "IdentitySource: [route.request.querystring.token]", "IdentitySource: [route.request.header.Authorization]", "identity sources"},
		{"no retention", "      LogGroupName: !Sub /aws/lambda/${AWS::StackName}-cleanup\n      RetentionInDays: !Ref LogRetentionDays\n",
			"      LogGroupName: !Sub /aws/lambda/${AWS::StackName}-cleanup\n", "CleanupLogGroup: no retention"},
		{"table for the authorizer", "Roles: [!Ref ConnectRole,", "Roles: [!Ref AuthorizerRole, !Ref ConnectRole,", "AuthorizerFunction: the authorizer handler uses neither"},
		// The fan-out path.
		{"no dead-letter queue", "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt FanoutDeadLetterQueue.Arn\n        maxReceiveCount: 3\n", "",
			"FanoutQueue: no redrive policy"},
		{"maxReceiveCount unlike the code", "        maxReceiveCount: 3\n", "        maxReceiveCount: 5\n", "FanoutQueue: redrive maxReceiveCount 5, want 3"},
		{"no ReportBatchItemFailures", "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "", "lack ReportBatchItemFailures"},
		{"message may sqs:*", "                Resource: !GetAtt MessageLogGroup.Arn\n",
			"                Resource: !GetAtt MessageLogGroup.Arn\n              - Effect: Allow\n                Action: ['sqs:*']\n                Resource: '*'\n",
			`MessageFunction: deploy/sam/template.yaml: MessageRole (policy logs): sqs:* on "*", which is not the fan-out queue`},
		{"send is sqs:*", "            Action: [sqs:SendMessage]\n", "            Action: ['sqs:*']\n", "MessageFunction: SQS actions on the fan-out queue [sqs:*], want exactly [sqs:SendMessage]"},
		{"fanout cannot poll", "Action: [sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage]", "Action: [sqs:ReceiveMessage]",
			"FanoutFunction: SQS actions on the fan-out queue [sqs:ReceiveMessage sqs:SendMessage], want exactly [sqs:DeleteMessage sqs:GetQueueAttributes sqs:ReceiveMessage sqs:SendMessage]"},
		{"visibility timeout too short", "VisibilityTimeout: 360", "VisibilityTimeout: 60", "FanoutQueue: visibility timeout 60s is less than 6 times the fanout function's timeout (60s)"},
		{"fanout timeout too long", "change both.\n      Timeout: 60\n", "change both.\n      Timeout: 300\n",
			"FanoutQueue: visibility timeout 360s is less than 6 times the fanout function's timeout (300s)"},
		{"FANOUT_QUEUE_URL missing", "          FANOUT_QUEUE_URL: !Ref FanoutQueue\n          FANOUT_THRESHOLD: !Ref FanoutThreshold\n          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n          CONNECTION_TTL: !If [HasConnectionTtl, !Ref ConnectionTtl, !Ref AWS::NoValue]\n          MAX_CONTENT_BYTES",
			"          FANOUT_THRESHOLD: !Ref FanoutThreshold\n          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n          CONNECTION_TTL: !If [HasConnectionTtl, !Ref ConnectionTtl, !Ref AWS::NoValue]\n          MAX_CONTENT_BYTES",
			"MessageFunction: no FANOUT_QUEUE_URL"},
		{"FANOUT_QUEUE_URL of the dead-letter queue", "          FANOUT_QUEUE_URL: !Ref FanoutQueue\n          FANOUT_THRESHOLD: !Ref FanoutThreshold\n          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n      Events:\n        Batches:",
			"          FANOUT_QUEUE_URL: !Ref FanoutDeadLetterQueue\n          FANOUT_THRESHOLD: !Ref FanoutThreshold\n          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n      Events:\n        Batches:",
			`FanoutFunction: FANOUT_QUEUE_URL "${FanoutDeadLetterQueue}" is not the URL of the fan-out queue`},
		{"FANOUT_QUEUE_URL for the authorizer", "          JWT_SECRET: !If", "          FANOUT_QUEUE_URL: !Ref FanoutQueue\n          JWT_SECRET: !If",
			"AuthorizerFunction: sets FANOUT_QUEUE_URL, but the authorizer handler does not broadcast"},
		{"SQS_ENDPOINT set", "          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n      Events:\n        Batches:", "          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n          SQS_ENDPOINT: http://127.0.0.1:9324\n      Events:\n        Batches:",
			"FanoutFunction: sets SQS_ENDPOINT, which a deployed function must not"},
		{"threshold differs", "          FANOUT_THRESHOLD: !Ref FanoutThreshold\n          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n          CONNECTION_TTL: !If [HasConnectionTtl, !Ref ConnectionTtl, !Ref AWS::NoValue]\n          MAX_CONTENT_BYTES",
			"          FANOUT_THRESHOLD: \"1000\"\n          FANOUT_BATCH_SIZE: !Ref FanoutBatchSize\n          CONNECTION_TTL: !If [HasConnectionTtl, !Ref ConnectionTtl, !Ref AWS::NoValue]\n          MAX_CONTENT_BYTES",
			`MessageFunction: FANOUT_THRESHOLD "1000", but CleanupFunction has "200"`},
		{"send to the dead-letter queue", "            Action: [sqs:SendMessage]\n            Resource: !GetAtt FanoutQueue.Arn\n", "            Action: [sqs:SendMessage]\n            Resource: [!GetAtt FanoutQueue.Arn, !GetAtt FanoutDeadLetterQueue.Arn]\n",
			"ConnectFunction: deploy/sam/template.yaml: FanoutSendPolicy: sqs:SendMessage on the dead-letter queue FanoutDeadLetterQueue"},
		{"alarm on the wrong queue", "          Value: !GetAtt FanoutDeadLetterQueue.QueueName", "          Value: !GetAtt FanoutQueue.QueueName",
			"FanoutDeadLetterQueue: no alarm on its ApproximateNumberOfMessagesVisible > 0"},
		{"dead-letter retention short", "      MessageRetentionPeriod: 1209600\n", "      MessageRetentionPeriod: 345600\n",
			"FanoutDeadLetterQueue: retention 345600s is not longer than the fan-out queue's 345600s"},
		{"queue unencrypted", "      MessageRetentionPeriod: 345600\n      SqsManagedSseEnabled: true\n", "      MessageRetentionPeriod: 345600\n      SqsManagedSseEnabled: false\n",
			"FanoutQueue: no server-side encryption"},
		{"batches filtered", "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "            FunctionResponseTypes: [ReportBatchItemFailures]\n            FilterCriteria:\n              Filters:\n                - Pattern: '{\"body\":{\"attempt\":[{\"exists\":false}]}}'\n",
			"FanoutFunction.Events.Batches: filter criteria: SQS deletes the messages a filter drops"},
		{"no fanout function", "      Handler: fanout\n", "      Handler: message\n", `no function has handler "fanout"`},
	}
	for _, c := range samCases {
		t.Run("sam/"+c.name, func(t *testing.T) {
			if strings.Count(string(samData), c.old) != 1 {
				t.Fatalf("the mutation's text %q is not in %s exactly once", c.old, samFile)
			}
			data := []byte(strings.Replace(string(samData), c.old, c.new, 1))
			expectProblem(t, check(samEvaluate(t, root, data, samScenarios[2]), x), c.want, samFile)
		})
	}

	tfCases := []struct {
		name, file, old, new, want string
	}{
		{"route missing", "main.tf", `"listRooms", "ping", "sendMessage"`, `"listRooms", "sendMessage"`, `no route "ping"`},
		{"Scan granted", "iam.tf", `"dynamodb:UpdateItem",`, `"dynamodb:UpdateItem", "dynamodb:Scan",`, "DynamoDB actions on the table"},
		{"@connections of every API", "iam.tf", `"${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/POST/@connections/*"`, `"*"`, "execute-api:ManageConnections on"},
		{"CALLBACK_URL missing", "main.tf", "    CALLBACK_URL = local.callback_url\n", "", "CALLBACK_URL: required"},
		{"GSI renamed", "dynamodb.tf", `name            = "GSI2"`, `name            = "GSI3"`, "global secondary indexes"},
		{"wrong artifact", "main.tf", "architectures    = [var.architecture]", `architectures    = ["x86_64"]`, "want the x86_64 artifact"},
		{"message on $disconnect", "main.tf", `{ "$disconnect" = "disconnect", "$default" = "message" }`, `{ "$disconnect" = "message", "$default" = "message" }`, `route "$disconnect" reaches aws_lambda_function.fn["message"]`},
		// The fan-out path.
		{"no dead-letter queue", "sqs.tf", "  redrive_policy = jsonencode({\n    deadLetterTargetArn = aws_sqs_queue.fanout_dlq.arn\n    maxReceiveCount     = local.fanout_max_receive_count\n  })\n", "",
			"aws_sqs_queue.fanout: no redrive policy"},
		{"maxReceiveCount unlike the code", "sqs.tf", "fanout_max_receive_count = 3", "fanout_max_receive_count = 10", "aws_sqs_queue.fanout: redrive maxReceiveCount 10, want 3"},
		{"no ReportBatchItemFailures", "sqs.tf", `  function_response_types = ["ReportBatchItemFailures"]` + "\n", "", "lack ReportBatchItemFailures"},
		{"message may sqs:*", "iam.tf", `Action   = ["sqs:SendMessage"]`, `Action   = ["sqs:*"]`, `aws_lambda_function.fn["message"]: SQS actions on the fan-out queue [sqs:*], want exactly [sqs:SendMessage]`},
		{"visibility timeout too short", "sqs.tf", "fanout_visibility_timeout = 6 * var.fanout_timeout", "fanout_visibility_timeout = 2 * var.fanout_timeout",
			"aws_sqs_queue.fanout: visibility timeout 120s is less than 6 times the fanout function's timeout (60s)"},
		{"FANOUT_QUEUE_URL missing", "main.tf", "    disconnect = merge(local.data_env, local.fanout_env)\n", "    disconnect = local.data_env\n", `aws_lambda_function.fn["disconnect"]: no FANOUT_QUEUE_URL`},
		{"fanout polls the dead-letter queue", "iam.tf", "\"sqs:ReceiveMessage\"]\n      Resource = aws_sqs_queue.fanout.arn", "\"sqs:ReceiveMessage\"]\n      Resource = aws_sqs_queue.fanout_dlq.arn",
			"sqs:ReceiveMessage on the dead-letter queue aws_sqs_queue.fanout_dlq"},
		{"queue to the message function", "sqs.tf", `function_name           = aws_lambda_function.fn["fanout"].arn`, `function_name           = aws_lambda_function.fn["message"].arn`,
			"aws_lambda_event_source_mapping.fanout: function \"${aws_lambda_function.fn[\\\"message\\\"].arn}\" is not the fanout function"},
		{"no alarm", "sqs.tf", `metric_name         = "ApproximateNumberOfMessagesVisible"`, `metric_name         = "NumberOfMessagesSent"`,
			"aws_sqs_queue.fanout_dlq: no alarm on its ApproximateNumberOfMessagesVisible > 0"},
	}
	for _, c := range tfCases {
		t.Run("terraform/"+c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(root, tfModuleDir)
			files, _ := filepath.Glob(filepath.Join(src, "*.tf"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if filepath.Base(f) == c.file {
					if strings.Count(string(b), c.old) != 1 {
						t.Fatalf("the mutation's text %q is not in %s exactly once", c.old, c.file)
					}
					b = []byte(strings.Replace(string(b), c.old, c.new, 1))
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			d := tfEvaluate(t, root, dir, tfScenarios(root)[0])
			expectProblem(t, check(d, x), c.want, rel(root, dir))
		})
	}
}

func expectProblem(t *testing.T, probs []string, want, file string) {
	t.Helper()
	for _, p := range probs {
		if strings.Contains(p, want) && strings.Contains(p, file) {
			return
		}
	}
	t.Errorf("no problem reported with %q naming %s; got:\n%s", want, file, strings.Join(probs, "\n"))
}

// fatalTB turns Fatal into a recorded message, for tests of what must fail.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func expectFatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	if f.msg == "" {
		t.Errorf("did not fail")
	}
	return f.msg
}

// fanoutQueues returns the fan-out queue (the one with a redrive policy)
// and its dead-letter queue.
func fanoutQueues(t *testing.T, d *deployment) (q, dlq *sqsQueue) {
	t.Helper()
	for _, c := range d.queues {
		if c.redrive {
			q = c
		}
	}
	if q == nil || queueByARN(d, q.dlqARN) == nil {
		t.Fatalf("%s: no fan-out queue with a dead-letter queue", d.label)
	}
	return q, queueByARN(d, q.dlqARN)
}

// TestOutputs: the outputs docs/deploy.md tells operators to read (to
// inspect and redrive the dead-letter queue, among others) exist in the
// Terraform example and the SAM template, and the queue outputs name the
// fan-out queue and its dead-letter queue.
func TestOutputs(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	ex := parseTFModule(t, root, filepath.Join(root, tfExampleDir))
	mod := parseTFModule(t, root, filepath.Join(root, tfModuleDir))
	tfNamed := regexp.MustCompile(`terraform output (?:-raw |-json )?([a-z_]+)`).FindAllSubmatch(doc, -1)
	if len(tfNamed) < 3 {
		t.Fatalf("docs/deploy.md names %d terraform outputs; the checks below would check nothing", len(tfNamed))
	}
	for _, m := range tfNamed {
		name := string(m[1])
		a := ex.outputs[name]
		if a == nil {
			t.Errorf("docs/deploy.md runs `terraform output %s` in %s, which has no such output", name, tfExampleDir)
			continue
		}
		// The example passes the module's output of the same name through.
		tr, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr)
		if !ok || len(tr.Traversal) != 3 || tr.Traversal.RootName() != "module" ||
			tr.Traversal[2].(hcl.TraverseAttr).Name != name || mod.outputs[name] == nil {
			t.Errorf("%s: output %s is not module.switchboard.%s, an output of %s", tfExampleDir, name, name, tfModuleDir)
		}
	}

	d := tfEvaluate(t, root, filepath.Join(root, tfModuleDir), tfScenarios(root)[0])
	q, dlq := fanoutQueues(t, d)
	e := newTFEval(t, mod, map[string]cty.Value{"lambda_zip": cty.StringVal("bootstrap.zip"), "jwt_secret": cty.StringVal(testSecret)})
	for name, want := range map[string][]string{
		"fanout_queue_url": q.urlRefs, "fanout_queue_arn": {q.arn}, "fanout_dlq_url": dlq.urlRefs, "fanout_dlq_arn": {dlq.arn},
	} {
		a := mod.outputs[name]
		if a == nil {
			t.Errorf("%s: no output %s", tfModuleDir, name)
			continue
		}
		if got := ctyString(e.value(a.Expr, nil, tfModuleDir+": output "+name)); !slices.Contains(want, got) {
			t.Errorf("%s: output %s is %q, want %q", tfModuleDir, name, got, want[0])
		}
		if ex.outputs[name] == nil {
			t.Errorf("%s: no output %s (the module's)", tfExampleDir, name)
		}
	}

	data, err := os.ReadFile(filepath.Join(root, samFile))
	if err != nil {
		t.Fatal(err)
	}
	s := parseSAMBytes(t, root, filepath.Join(root, samFile), data, samScenarios[0].params)
	sd := samDeployment(t, root, samFile, s)
	sq, sdlq := fanoutQueues(t, sd)
	outputs, _ := s.doc["Outputs"].(map[string]any)
	value := func(name string) (string, bool) {
		o, ok := outputs[name].(map[string]any)
		if !ok {
			return "", false
		}
		return samStr(s.eval(t, o["Value"], "Outputs."+name, func(c string) bool { return s.conditions[c] })), true
	}
	for _, m := range regexp.MustCompile(`OutputKey=='([A-Za-z]+)'`).FindAllSubmatch(doc, -1) {
		if _, ok := value(string(m[1])); !ok {
			t.Errorf("docs/deploy.md reads the SAM output %s, which %s does not have", m[1], samFile)
		}
	}
	for name, want := range map[string][]string{
		"FanoutQueueUrl": sq.urlRefs, "FanoutQueueArn": {sq.arn}, "FanoutDeadLetterQueueUrl": sdlq.urlRefs, "FanoutDeadLetterQueueArn": {sdlq.arn},
	} {
		if got, ok := value(name); !ok || !slices.Contains(want, got) {
			t.Errorf("%s: output %s is %q, want %q", samFile, name, got, want[0])
		}
	}
}
