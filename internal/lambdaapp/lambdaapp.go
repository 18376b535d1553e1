// Package lambdaapp builds the chat handlers for the Lambda bootstrap from
// environment variables:
//
//	_HANDLER            authorizer | connect | disconnect | message | cleanup | fanout (required; set by Lambda from the function's handler)
//	TABLE_NAME          the DynamoDB table (required except for authorizer)
//	CALLBACK_URL        the @connections endpoint, https://{apiId}.execute-api.{region}.amazonaws.com/{stage} (required except for authorizer)
//	DYNAMODB_ENDPOINT   optional: DynamoDB Local or another emulator
//	JWT_SECRET          authorizer: HS256 secret (at least 32 bytes)
//	JWKS_URL            authorizer: accept RS256/ES256 tokens from this key set (Cognito)
//	JWT_ISSUER, JWT_AUDIENCE, JWT_TOKEN_USE   authorizer: required claims
//	MAX_CONTENT_BYTES   message: content limit (default 4096)
//	CONNECTION_TTL      connect, message: connection expiry without heartbeat (default 10m)
//	TYPING_INTERVAL     message: at most one typingStart per connection per interval (default 250ms)
//	FANOUT_QUEUE_URL    the SQS queue of the fanout function (required for fanout, optional for
//	                    the others): broadcasts to more than FANOUT_THRESHOLD connections go
//	                    through it in batches
//	FANOUT_THRESHOLD    connections above which a broadcast is queued (default 500)
//	FANOUT_BATCH_SIZE   connections per queued batch (default 500, at most 1000)
//	SQS_ENDPOINT        optional: an SQS-compatible endpoint (a local gateway's queue)
//
// An invalid or missing variable stops the function at start with an error
// naming it.
package lambdaapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
	"github.com/switchboard-ws/switchboard/push"
	"github.com/switchboard-ws/switchboard/queue"
)

// Handlers the bootstrap offers (the values of _HANDLER).
var Handlers = []string{"authorizer", "connect", "disconnect", "message", "cleanup", "fanout"}

// Env lists every environment variable the bootstrap reads.
var Env = []string{"_HANDLER", "TABLE_NAME", "CALLBACK_URL", "DYNAMODB_ENDPOINT", "JWT_SECRET", "JWKS_URL",
	"JWT_ISSUER", "JWT_AUDIENCE", "JWT_TOKEN_USE", "MAX_CONTENT_BYTES", "CONNECTION_TTL", "TYPING_INTERVAL",
	"FANOUT_QUEUE_URL", "FANOUT_THRESHOLD", "FANOUT_BATCH_SIZE", "SQS_ENDPOINT", "CURSOR_KEY"}

// Config is the validated environment.
type Config struct {
	Handler          string
	Table            string
	CallbackURL      string
	DynamoDBEndpoint string
	FanoutQueueURL   string
	SQSEndpoint      string
	Auth             auth.Config
	Chat             chat.Config
}

// ConfigFromEnv reads and validates the environment.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
	}
	c := Config{
		Handler:          getenv("_HANDLER"),
		Table:            getenv("TABLE_NAME"),
		CallbackURL:      getenv("CALLBACK_URL"),
		DynamoDBEndpoint: getenv("DYNAMODB_ENDPOINT"),
		FanoutQueueURL:   getenv("FANOUT_QUEUE_URL"),
		SQSEndpoint:      getenv("SQS_ENDPOINT"),
	}
	known := false
	for _, h := range Handlers {
		known = known || h == c.Handler
	}
	if !known {
		bad("_HANDLER", "%q is not one of %v", c.Handler, Handlers)
	}
	if c.Handler == "authorizer" {
		c.Auth = auth.Config{
			HS256Secret: []byte(getenv("JWT_SECRET")),
			JWKSURL:     getenv("JWKS_URL"),
			Issuer:      getenv("JWT_ISSUER"),
			Audience:    getenv("JWT_AUDIENCE"),
			TokenUse:    getenv("JWT_TOKEN_USE"),
		}
		if len(c.Auth.HS256Secret) == 0 {
			c.Auth.HS256Secret = nil
		}
		if c.Auth.HS256Secret == nil && c.Auth.JWKSURL == "" {
			bad("JWT_SECRET", "set JWT_SECRET or JWKS_URL: the authorizer needs a way to check tokens")
		}
	} else if known {
		if c.Table == "" {
			bad("TABLE_NAME", "required")
		}
		if c.CallbackURL == "" {
			bad("CALLBACK_URL", "required: the @connections endpoint, https://{apiId}.execute-api.{region}.amazonaws.com/{stage}")
		}
	}
	if v := getenv("MAX_CONTENT_BYTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100*1024 {
			bad("MAX_CONTENT_BYTES", "want a number of bytes between 1 and 102400 (got %q)", v)
		}
		c.Chat.MaxContentBytes = n
	}
	if v := getenv("CONNECTION_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			bad("CONNECTION_TTL", "want a duration of at least 1m such as 10m (got %q)", v)
		}
		c.Chat.ConnectionTTL = d
	}
	if v := getenv("TYPING_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			bad("TYPING_INTERVAL", "want a duration up to 1m such as 250ms (got %q)", v)
		}
		c.Chat.TypingInterval = d
	}
	count := func(name string, dst *int, max int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > max {
				bad(name, "want a number of connections between 1 and %d (got %q)", max, v)
			}
			*dst = n
		}
	}
	// Cursors are signed with CURSOR_KEY, else with a key derived from
	// JWT_SECRET; with neither they are still bound to their listing.
	if v := getenv("CURSOR_KEY"); v != "" {
		c.Chat.CursorKey = []byte(v)
	} else {
		c.Chat.CursorKey = chat.CursorKey([]byte(getenv("JWT_SECRET")))
	}
	count("FANOUT_THRESHOLD", &c.Chat.FanoutThreshold, 10000)
	// A batch's ids (about 20 bytes each) and a broadcast of up to 128 KiB
	// must fit one SQS message (256 KiB).
	count("FANOUT_BATCH_SIZE", &c.Chat.FanoutBatchSize, 1000)
	if c.Handler == "fanout" && c.FanoutQueueURL == "" {
		bad("FANOUT_QUEUE_URL", "required for the fanout handler: it queues the unreached rest of a partly delivered batch")
	}
	if c.FanoutQueueURL != "" && !strings.HasPrefix(c.FanoutQueueURL, "https://") && !strings.HasPrefix(c.FanoutQueueURL, "http://") {
		bad("FANOUT_QUEUE_URL", "want the queue's URL, https://sqs.{region}.amazonaws.com/{account}/{name} (got %q)", c.FanoutQueueURL)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// Handler returns the function for lambda.Start.
func Handler(ctx context.Context, c Config) (any, error) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	c.Chat.Logger = log
	if c.Handler == "authorizer" {
		v, err := auth.NewVerifier(ctx, c.Auth)
		if err != nil {
			return nil, fmt.Errorf("JWT_SECRET/JWKS_URL: %w", err)
		}
		return chat.New(nil, nil, v, c.Chat).Authorize, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	var db *dynamodb.Client
	if c.DynamoDBEndpoint != "" {
		db = dynamo.LocalClient(c.DynamoDBEndpoint)
	} else {
		db = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			// An emulator named by AWS_ENDPOINT_URL_DYNAMODB (DynamoDB
			// Local) sends error responses without x-amz-crc32: checking
			// it there only logs false alarms.
			if ep := aws.ToString(awsCfg.BaseEndpoint); ep == "" {
				if ep = os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); ep != "" && !strings.Contains(ep, ".amazonaws.com") {
					o.DisableValidateResponseChecksum = true
				}
			}
		})
	}
	var st store.Store = dynamo.New(db, c.Table, dynamo.Options{})
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	if awsCfg.Credentials == nil {
		awsCfg.Credentials = aws.AnonymousCredentials{}
	}
	if c.FanoutQueueURL != "" {
		client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
			if c.SQSEndpoint != "" {
				o.BaseEndpoint = aws.String(c.SQSEndpoint)
			}
		})
		c.Chat.Queue = queue.NewSQS(client, c.FanoutQueueURL)
	}
	svc := chat.New(st, push.NewSDK(c.CallbackURL, awsCfg), nil, c.Chat)
	switch c.Handler {
	case "connect":
		return svc.Connect, nil
	case "disconnect":
		return svc.Disconnect, nil
	case "message":
		return svc.Message, nil
	case "cleanup":
		return svc.Cleanup, nil
	case "fanout":
		return svc.Fanout, nil
	}
	return nil, fmt.Errorf("_HANDLER: %q is not one of %v", c.Handler, Handlers)
}
