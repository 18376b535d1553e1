package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
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

// EnvTTLSweepInterval, when set to a Go duration (e.g. "1s"), is how often
// serve's TTL sweepers sweep the template's tables on a local DynamoDB
// endpoint, instead of eventsource.DefaultSweepInterval (10 s). Tests that
// wait for expired items to be deleted set it short.
const EnvTTLSweepInterval = "SWITCHBOARD_TTL_SWEEP_INTERVAL"

// ttlSweepInterval reads EnvTTLSweepInterval: 0 (the default) when unset.
func ttlSweepInterval() (time.Duration, error) {
	v := os.Getenv(EnvTTLSweepInterval)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 1s or 500ms", EnvTTLSweepInterval, v)
	}
	return d, nil
}

// templateSources are the template's DynamoDB stream event sources,
// running, and the TTL sweepers of its tables.
type templateSources struct {
	streams  []*eventsource.DynamoDBStream
	sweepers []*eventsource.TTLSweeper
}

// startTemplateSources creates the template's tables on the endpoint when
// they are missing and starts its stream event sources, whose functions
// are rt's (tpl.File built).
func startTemplateSources(ctx context.Context, tpl *config.Template, rt *config.Runtime, endpoint, region string, log *slog.Logger) (*templateSources, error) {
	ts := &templateSources{}
	if len(tpl.Tables) == 0 && len(tpl.Streams) == 0 {
		return ts, nil
	}
	interval, err := ttlSweepInterval()
	if err != nil {
		return nil, err
	}
	if interval == 0 {
		interval = eventsource.DefaultSweepInterval
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
	// DynamoDB Local 3.3 deletes an expired item itself only when the
	// item is in every global secondary index of its table: one that a
	// sparse index leaves out (the chat store's connections) stays for
	// ever, and the stream never carries its TTL deletion (package
	// eventsource). A sweeper does what TTL does for every table with TTL
	// (DynamoDB Local or the sweeper deletes an item first; each deletion
	// is conditional), and the mappings on its table deliver its
	// deletions as TTL's. Not on AWS's own endpoints, where TTL runs.
	sweepers := map[string]*eventsource.TTLSweeper{}
	for _, t := range tpl.Tables {
		name := aws.ToString(t.Create.TableName)
		if err := eventsource.EnsureTable(setup, db, t.Create, t.TTLAttribute); err != nil {
			return nil, fmt.Errorf("table %s (%s) on %s: %w", t.LogicalID, name, endpoint, err)
		}
		log.Info("table ready", "table", name, "resource", t.LogicalID)
		if t.TTLAttribute != "" && !awsEndpoint(endpoint) {
			sw, err := eventsource.NewTTLSweeper(eventsource.TTLSweeperOptions{Client: db, TableName: name, Interval: interval, Logger: log})
			if err != nil {
				return nil, fmt.Errorf("table %s (%s): %w", t.LogicalID, name, err)
			}
			sweepers[name] = sw
		}
	}
	for _, s := range tpl.Streams {
		fn, err := rt.Invoker(s.Function)
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
			Filters:                    s.Filters,
			Timeout:                    timeout, Region: region, Logger: log,
			TTLSweeper: sweepers[s.TableName],
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
	// Started once the mappings read the streams (from LATEST), so that
	// they see every deletion.
	for name, sw := range sweepers {
		if err := sw.Start(); err != nil {
			ts.close()
			return nil, fmt.Errorf("TTL of table %s: %w", name, err)
		}
		ts.sweepers = append(ts.sweepers, sw)
		log.Info("TTL sweeper running", "table", name, "interval", interval)
	}
	return ts, nil
}

// awsEndpoint reports whether a DynamoDB endpoint is AWS's own.
func awsEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".amazonaws.com") || strings.HasSuffix(h, ".amazonaws.com.cn")
}

// close stops the sweepers, then the event sources, waiting for
// invocations in flight.
func (ts *templateSources) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	for _, sw := range ts.sweepers {
		errs = append(errs, sw.Close(ctx))
	}
	ts.sweepers = nil
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
