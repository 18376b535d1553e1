package cfn

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc, want string
	}{
		{"cycle", `Resources:
  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub "${B.QueueName}-a"}}
  B: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt C.QueueName}}
  C: {Type: AWS::SQS::Queue, DependsOn: A}
  D: {Type: AWS::SQS::Queue, DependsOn: [D]}
  E: {Type: AWS::SQS::Queue, Properties: {QueueName: !Ref A}}
`, "circular dependency between resources A, B, C (through Ref, Fn::GetAtt, Fn::Sub or DependsOn)"},
		{"self cycle", `Resources:
  D: {Type: AWS::SQS::Queue, DependsOn: [D]}
`, "t.yaml:2: Resources: circular dependency between resources D"},
		{"unknown ref", `Resources:
  A:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref Nope
`, "t.yaml:5: Resources.A.Properties.QueueName: Ref Nope: no resource or parameter of that name"},
		{"unknown getatt", `Resources:
  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt Nope.Arn}}
`, "Fn::GetAtt Nope: no resource or parameter of that name"},
		{"getatt of a parameter", `Parameters: {P: {Type: String}}
Resources:
  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt P.Arn}}
`, "Fn::GetAtt P: P is a parameter, not a resource"},
		{"unknown sub variable", `Resources:
  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub "${AWS::Regio}-x"}}
`, "Fn::Sub ${AWS::Regio} AWS::Regio: unknown pseudo parameter"},
		{"unknown depends", `Resources:
  A: {Type: AWS::SQS::Queue, DependsOn: B}
`, `Resources.A.DependsOn: unknown resource "B"`},
		{"unknown condition", `Resources:
  A: {Type: AWS::SQS::Queue, Condition: Nope}
`, `Resources.A.Condition: unknown condition "Nope"`},
		{"unknown if condition", `Conditions: {C: !Equals [a, a]}
Resources:
  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !If [Nope, a, b]}}
`, `Fn::If: unknown condition "Nope"`},
		{"resource in a condition", `Conditions: {C: !Equals [!Ref A, a]}
Resources:
  A: {Type: AWS::SQS::Queue}
`, "Conditions.C: Ref A: conditions may refer to parameters only, not to resources"},
		{"globals without transform", `Globals: {Function: {Timeout: 3}}
Resources:
  A: {Type: AWS::SQS::Queue}
`, "Globals: Globals needs Transform: AWS::Serverless-2016-10-31"},
		{"sam type without transform", `Resources:
  A: {Type: AWS::Serverless::Function}
`, "Resources.A.Type: AWS::Serverless::Function needs Transform: AWS::Serverless-2016-10-31"},
		{"macro", `Transform: [AWS::Serverless-2016-10-31, MyMacro]
Resources:
  A: {Type: AWS::SQS::Queue}
`, `Transform: "MyMacro": only AWS::Serverless-2016-10-31 and AWS::LanguageExtensions are supported locally (macros are not run)`},
		{"unknown section", `Resource:
  A: {Type: AWS::SQS::Queue}
`, "t.yaml:1: Resource: not a template section"},
		{"no resources", `Description: nothing
`, "Resources: required"},
		{"no type", `Resources:
  A: {Properties: {}}
`, "Resources.A.Type: required"},
		{"bad attribute", `Resources:
  A: {Type: AWS::SQS::Queue, Propertes: {}}
`, "Resources.A.Propertes: not a resource attribute"},
		{"bad logical id", `Resources:
  my-queue: {Type: AWS::SQS::Queue}
`, "Resources.my-queue: a logical id is letters and digits"},
		{"foreach", `Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::Queues: [Q, [a, b], {"Queue${Q}": {Type: AWS::SQS::Queue}}]
`, "Fn::ForEach is not supported locally"},
		{"yaml syntax", "Resources:\n  A: {Type: [\n", "t.yaml: YAML: yaml: line 2"},
		{"duplicate key", "Resources:\n  A: {Type: AWS::SQS::Queue}\n  A: {Type: AWS::SQS::Queue}\n", `line 3: duplicate key "A"`},
		{"unknown tag", "Resources:\n  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Reff x}}\n", "line 2: unknown tag !Reff"},
		{"two documents", "Resources: {A: {Type: AWS::SQS::Queue}}\n---\nResources: {}\n", "a template is one YAML document"},
		{"json syntax", "{\n \"Resources\": {\n  \"A\": {\"Type\": }\n }\n}\n", "JSON: line 3"},
		{"json duplicate", "{\"Resources\": {}, \n\"Resources\": {}}", `JSON: line 2: duplicate key "Resources"`},
		{"not a map", "- a\n- b\n", "a template is a map of sections"},
		{"empty", "  \n", "the template is empty"},
	}
	for _, tc := range cases {
		name := "t.yaml"
		if strings.HasPrefix(tc.doc, "{") {
			name = "t.json"
		}
		_, err := Parse([]byte(tc.doc), name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
	}
}

// TestCycleNamesEveryResource: each cycle is reported once, naming all
// its resources, and resources outside it are not named.
func TestCycleNamesEveryResource(t *testing.T) {
	t.Parallel()
	doc := `Resources:
  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub "${B.QueueName}-a"}}
  B: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt C.QueueName}}
  C: {Type: AWS::SQS::Queue, DependsOn: A}
  X: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Y.Arn}}}
  Y: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt X.Arn}}}
  Z: {Type: AWS::SQS::Queue, Properties: {QueueName: !Ref A}}
`
	_, err := Parse([]byte(doc), "t.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "resources A, B, C ") || !strings.Contains(msg, "resources X, Y ") || strings.Contains(msg, "Z") {
		t.Fatalf("error: %s", msg)
	}
	if n := strings.Count(msg, "circular"); n != 2 {
		t.Fatalf("%d cycles reported: %s", n, msg)
	}
}

func TestGeneratedNames(t *testing.T) {
	t.Parallel()
	a := generatedName("chat", "ConnectionsTable", 255)
	if !regexp.MustCompile(`^chat-ConnectionsTable-[A-Z0-9]{13}$`).MatchString(a) {
		t.Fatalf("name %s", a)
	}
	if generatedName("chat", "ConnectionsTable", 255) != a {
		t.Fatal("not deterministic")
	}
	if generatedName("chat2", "ConnectionsTable", 255) == a || generatedName("chat", "ConnectionsTable2", 255) == a {
		t.Fatal("another stack or resource gets the same name")
	}
	long := generatedName(strings.Repeat("s", 100), strings.Repeat("L", 100), 64)
	if len(long) != 64 || !strings.HasPrefix(long, "sssss") || !strings.Contains(long, "-LLLL") {
		t.Fatalf("long name %s (%d)", long, len(long))
	}
	if n := generatedName("st", strings.Repeat("L", 100), 64); len(n) != 64 || !strings.HasPrefix(n, "st-LLL") {
		t.Fatalf("long logical id %s", n)
	}
	if id := shortID("api", "chat", "Api", 10); !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(id) || id != shortID("api", "chat", "Api", 10) {
		t.Fatalf("api id %s", id)
	}
	for in, want := range map[string]string{"my app": "my-app", "sam": "sam", "2024_proj.v2": "stack-2024-proj-v2", "": "switchboard", "--": "switchboard", "Étude": "tude"} {
		if got := StackNameFrom(in); got != want {
			t.Errorf("StackNameFrom(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestYAMLFeatures(t *testing.T) {
	t.Parallel()
	// Anchors, aliases and merge keys; YAML long forms; dates and numbers
	// keep their text.
	doc := `AWSTemplateFormatVersion: 2010-09-09
Parameters:
  P: &param {Type: String, Default: x}
  Q: *param
Resources:
  A:
    Type: AWS::SQS::Queue
    Properties: &props
      QueueName:
        Fn::Join: ["-", [{Ref: P}, {Ref: Q}, 1.50, true]]
  B:
    Type: AWS::SQS::Queue
    Properties:
      <<: *props
      VisibilityTimeout: 60
`
	tmpl, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := tmpl.Resolve(Options{StackName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Queues[0].Name != "x-x-1.50-true" || st.Queues[1].Name != "x-x-1.50-true" || st.Queues[1].VisibilityTimeout != 60 {
		t.Fatalf("queues %+v %+v", st.Queues[0], st.Queues[1])
	}
}
