package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/switchboard-ws/switchboard/config"
	"github.com/switchboard-ws/switchboard/config/cfn"
	"github.com/switchboard-ws/switchboard/eventsource"
)

// loadTemplate reads a template for `serve --template` and says, once,
// what it does not run.
func loadTemplate(path, overrides, stackName, stage, gatewayURL, ddbEndpoint string, stdout io.Writer) (*config.Template, error) {
	params, err := cfn.ParseOverrides(overrides)
	if err != nil {
		return nil, fmt.Errorf("--parameter-overrides: %w", err)
	}
	tpl, err := config.LoadTemplate(path, config.TemplateOptions{Parameters: params, StackName: stackName, Stage: stage, GatewayURL: gatewayURL})
	if err != nil {
		return nil, err
	}
	if (len(tpl.Tables) > 0 || len(tpl.Streams) > 0) && ddbEndpoint == "" {
		var names []string
		for _, t := range tpl.Tables {
			names = append(names, t.LogicalID)
		}
		return nil, fmt.Errorf("%s declares DynamoDB tables (%s): pass --dynamodb-endpoint URL, e.g. DynamoDB Local's http://127.0.0.1:8000, where serve creates them", path, strings.Join(names, ", "))
	}
	if len(tpl.Skipped) > 0 {
		fmt.Fprintf(stdout, "switchboard: not run locally (no local equivalent needed): %s\n", strings.Join(tpl.Skipped, ", "))
	}
	for _, w := range tpl.Warnings {
		fmt.Fprintf(stdout, "switchboard: %s\n", w)
	}
	return tpl, nil
}

// templateSources are the template's DynamoDB stream event sources,
// running.
type templateSources struct {
	streams []*eventsource.DynamoDBStream
}

// startTemplateSources creates the template's tables on the endpoint when
// they are missing and starts its stream event sources.
func startTemplateSources(ctx context.Context, tpl *config.Template, endpoint, region string, log *slog.Logger) (*templateSources, error) {
	ts := &templateSources{}
	if len(tpl.Tables) == 0 && len(tpl.Streams) == 0 {
		return ts, nil
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("SWITCHBOARDLOCAL", "switchboard-local", ""),
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.DisableValidateResponseChecksum = true
	})
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })
	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, t := range tpl.Tables {
		if err := eventsource.EnsureTable(setup, db, t.Create, t.TTLAttribute); err != nil {
			return nil, fmt.Errorf("table %s (%s) on %s: %w", t.LogicalID, aws.ToString(t.Create.TableName), endpoint, err)
		}
		log.Info("table ready", "table", aws.ToString(t.Create.TableName), "resource", t.LogicalID)
	}
	for _, s := range tpl.Streams {
		fn, err := tpl.File.Invoker(s.Function)
		if err != nil {
			ts.close()
			return nil, fmt.Errorf("%s: %w", s.LogicalID, err)
		}
		retries := s.MaximumRetryAttempts
		timeout := 3 * time.Second
		if d, err := time.ParseDuration(s.Function.Timeout); err == nil && d > 0 {
			timeout = d
		}
		m, err := eventsource.NewDynamoDBStream(eventsource.DynamoDBStreamOptions{
			Streams: streams, DynamoDB: db, TableName: s.TableName,
			Function: fn, FunctionName: s.FunctionName,
			BatchSize: s.BatchSize, StartingPosition: eventsource.StartingPosition(s.StartingPosition),
			MaximumRetryAttempts:       &retries,
			BisectBatchOnFunctionError: s.BisectBatchOnFunctionError,
			ReportBatchItemFailures:    hasString(s.FunctionResponseTypes, "ReportBatchItemFailures"),
			Timeout:                    timeout, Region: region, Logger: log,
		})
		if err == nil {
			err = m.Start(setup)
		}
		if err != nil {
			ts.close()
			return nil, fmt.Errorf("%s (stream of %s to %s): %w", s.LogicalID, s.TableName, s.FunctionName, err)
		}
		ts.streams = append(ts.streams, m)
		log.Info("stream event source running", "table", s.TableName, "function", s.FunctionName, "resource", s.LogicalID)
	}
	return ts, nil
}

// close stops the event sources, waiting for invocations in flight.
func (ts *templateSources) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	for _, m := range ts.streams {
		errs = append(errs, m.Close(ctx))
	}
	ts.streams = nil
	return errors.Join(errs...)
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
