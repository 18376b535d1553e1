package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/internal/chattest"
	"github.com/switchboard-ws/switchboard/internal/localca"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

// TestTemplateStreamFilters: a template's stream event source with
// FilterCriteria delivers only the records that match: the function, in
// node, sees the deletion and none of the writes before it.
func TestTemplateStreamFilters(t *testing.T) {
	needNode(t)
	endpoint := testutil.DynamoDB(t)
	out := filepath.Join(t.TempDir(), "records")
	tpl, err := config.LoadTemplate("testdata/filters/template.yaml", config.TemplateOptions{
		StackName: fmt.Sprintf("filters-%d", time.Now().UnixNano()), Parameters: map[string]string{"OutFile": out}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := tpl.File.Build(context.Background(), config.BuildEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	ts, err := startTemplateSources(context.Background(), tpl, rt, endpoint, "us-east-1", testutil.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer ts.close()
	db := dynamo.LocalClient(endpoint)
	table := tpl.Tables[0].Create.TableName
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: table}) })
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
	}
	ctx := context.Background()
	for i, pk := range []string{"a", "b", "a"} { // INSERT, INSERT, MODIFY
		item := key(pk)
		item["n"] = &types.AttributeValueMemberN{Value: fmt.Sprint(i)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key("a")}); err != nil {
		t.Fatal(err)
	}
	var got string
	chattest.Eventually(t, 30*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		got = string(b)
		return got != ""
	}, "the function gets the deletion")
	if got != "[\"REMOVE:a\"]\n" {
		t.Errorf("the function got %q, want only the REMOVE of a", got)
	}
	if s := ts.streams[0].Stats(); s.Filtered != 3 {
		t.Errorf("stats %+v: want the 3 writes passed over", s)
	}
}

// TestTemplateFilterCriteriaRefused: serve refuses, before serving, a
// template whose FilterCriteria Lambda would refuse, naming the event
// source and the fault.
func TestTemplateFilterCriteriaRefused(t *testing.T) {
	t.Setenv(localca.EnvDir, filepath.Join(t.TempDir(), "ca"))
	orig, err := os.ReadFile("testdata/filters/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "fn"), 0o755)
	b, _ := os.ReadFile("testdata/filters/fn/index.js")
	os.WriteFile(filepath.Join(dir, "fn", "index.js"), b, 0o644)
	doc := strings.Replace(string(orig), `'{"eventName": ["REMOVE"]}'`, `'{"eventName": "REMOVE"}'`, 1)
	path := filepath.Join(dir, "template.yaml")
	os.WriteFile(path, []byte(doc), 0o644)
	code, stdout, stderr := run("serve", "--template", path, "--parameter-overrides", "OutFile=/dev/null", "--addr", "127.0.0.1:0")
	if code != 1 || strings.Contains(stdout, "listening") {
		t.Fatalf("exit %d, want 1 before serving\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	want := `Resources.Fn.Properties.Events.Changes.Properties.FilterCriteria: Filters[0]: eventName: "REMOVE" must be in a list, as ["REMOVE"]`
	if !strings.Contains(stderr, want) {
		t.Errorf("the error does not say %q:\n%s", want, stderr)
	}
}
