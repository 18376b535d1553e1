package config_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/config"
)

// TestQueueFilters: a config queue's filters delete the messages that
// match none of them without invoking the consumer; a bad pattern is an
// error naming the queue.
func TestQueueFilters(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev events.SQSEvent
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		for _, rec := range ev.Records {
			got = append(got, rec.Body)
		}
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	defer consumer.Close()
	doc := "stage: dev\nrouteSelectionExpression: $request.body.action\nqueues:\n  jobs:\n" +
		"    filters: ['{\"body\": {\"kind\": [\"keep\"]}}', '{\"body\": [{\"prefix\": \"urgent\"}]}']\n" +
		"    integration: {type: http, url: " + consumer.URL + "}\n"
	f, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	q := build(t, f, config.BuildEnv{}).Queue("jobs")
	bodies := []string{`{"kind": "keep"}`, `{"kind": "drop"}`, `urgent: x`, `later: y`}
	for _, b := range bodies {
		if err := q.Send(context.Background(), [][]byte{[]byte(b)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	slices.Sort(got)
	if want := []string{`urgent: x`, `{"kind": "keep"}`}; !slices.Equal(got, want) {
		t.Errorf("the consumer got %q, want %q", got, want)
	}
	mu.Unlock()
	if s := q.Stats(); s.Filtered != 2 {
		t.Errorf("stats %+v: want 2 filtered", s)
	}

	bad := "stage: dev\nrouteSelectionExpression: $request.body.action\nqueues:\n  jobs:\n" +
		"    filters: ['{\"body\": {\"kind\": \"keep\"}}']\n" +
		"    integration: {type: http, url: " + consumer.URL + "}\n"
	_, err = config.Parse([]byte(bad))
	if err == nil || !strings.Contains(err.Error(), `queues.jobs.filters: Filters[0]: body.kind: "keep" must be in a list, as ["keep"]`) {
		t.Errorf("a bad filter: %v", err)
	}
}

// TestTemplateFilterCriteria: an SQS event's FilterCriteria becomes the
// local queue's filters (no warning any more), and a bad pattern, of an
// SQS or DynamoDB source, a SAM event or an event source mapping, stops
// the template from loading with the place and the fault.
func TestTemplateFilterCriteria(t *testing.T) {
	t.Parallel()
	bin := echoBootstrap(t)
	const head = `Transform: AWS::Serverless-2016-10-31
Resources:
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${Integration}"}
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Runtime: provided.al2023
`
	load := func(t *testing.T, doc string) (*config.Template, error) {
		dir := t.TempDir()
		copyFile(t, bin, filepath.Join(dir, "code", "bootstrap"), 0o755)
		path := filepath.Join(dir, "template.yaml")
		if err := os.WriteFile(path, []byte(head+doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return config.LoadTemplate(path, config.TemplateOptions{StackName: "s"})
	}

	tpl, err := load(t, `      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            FilterCriteria: {Filters: [{Pattern: '{"body": {"kind": ["keep"]}}'}]}
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: LATEST
            FilterCriteria: {Filters: [{Pattern: '{"eventName": ["INSERT"]}'}, {Pattern: '{"eventName": ["REMOVE"]}'}]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if q := tpl.File.Queues["jobs"]; !slices.Equal(q.Filters, []string{`{"body": {"kind": ["keep"]}}`}) {
		t.Errorf("queue %+v", q)
	}
	if len(tpl.Streams) != 1 || len(tpl.Streams[0].Filters) != 2 {
		t.Errorf("streams %+v", tpl.Streams)
	}
	if slices.ContainsFunc(tpl.Warnings, func(w string) bool { return strings.Contains(w, "FilterCriteria") }) {
		t.Errorf("warnings %q", tpl.Warnings)
	}
	q := build(t, tpl.File, config.BuildEnv{}).Queue("jobs")
	if err := q.Send(context.Background(), [][]byte{[]byte(`{"kind": "drop"}`), []byte("plain")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Filtered != 2 || s.Received != 0 {
		t.Errorf("stats %+v: want both messages deleted without invoking", s)
	}

	bad := []struct{ doc, want string }{
		{`      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            FilterCriteria: {Filters: [{Pattern: '{"body": {"kind": []}}'}]}
`, `template.yaml: Resources.Fn.Properties.Events.Jobs.Properties.FilterCriteria: Filters[0]: body.kind: an empty list matches nothing`},
		{`      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: LATEST
            FilterCriteria: {Filters: [{Pattern: '{"eventName": ["INSERT"]}'}, {Pattern: '{"eventName": "REMOVE"}'}]}
`, `Resources.Fn.Properties.Events.Changes.Properties.FilterCriteria: Filters[1]: eventName: "REMOVE" must be in a list, as ["REMOVE"]`},
		{`  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Table.StreamArn
      FunctionName: !Ref Fn
      StartingPosition: TRIM_HORIZON
      FilterCriteria: {Filters: [{Pattern: '{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", "5"]}]}}}}'}]}
`, `Resources.Mapping.Properties.FilterCriteria: Filters[0]: dynamodb.NewImage.n.N: numeric: > "5": want a number (not in quotes)`},
	}
	for _, c := range bad {
		_, err := load(t, c.doc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v\nwant one containing %q", err, c.want)
		}
	}
}
