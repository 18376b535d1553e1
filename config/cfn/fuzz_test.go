package cfn

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes, and mutations of real templates, to
// Parse and Resolve (with parameter overrides read by ParseOverrides):
// whatever the input, they return a value or an error, never panic.
func FuzzParse(f *testing.F) {
	seeds := []string{
		wsTemplate,
		strings.Replace(exprTemplate, "EXPR", `!Sub ["${A}-${Env}", {A: !Select [1, !Split [",", !Join [",", !Ref Names]]]}]`, 1),
		strings.Replace(exprTemplate, "EXPR", `!If [Both, !FindInMap [Sizes, !Ref Env, Memory], !GetAtt Table.StreamArn]`, 1),
		`{"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "q"]]}}}}}`,
		"Resources:\n  A: &a {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub '${B}'}}\n  B: *a\n",
	}
	if b, err := os.ReadFile("../../deploy/sam/template.yaml"); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add([]byte(s), "JwtSecret=0123456789abcdef0123456789abcdef Env=prod")
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, data []byte, overrides string) {
		params, err := ParseOverrides(overrides)
		if err != nil {
			params = nil
		}
		for _, name := range []string{"template.yaml", "template.json"} {
			tmpl, err := Parse(data, name)
			if err != nil {
				continue
			}
			st, err := tmpl.Resolve(Options{Dir: "/nonexistent", StackName: "fuzz", Parameters: params})
			if err == nil && st == nil {
				t.Fatal("Resolve returned neither a stack nor an error")
			}
			if err != nil {
				_ = err.Error()
			}
		}
	})
}
