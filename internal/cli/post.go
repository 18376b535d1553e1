package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

func runPost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("post", stderr)
	endpoint := fs.String("endpoint", "", "the management API: http://ADDR/{stage} (Switchboard) or https://{apiId}.execute-api.{region}.amazonaws.com/{stage} (required)")
	region := fs.String("region", "us-east-1", "region for SigV4")
	get := fs.Bool("get", false, "describe the connection instead of posting")
	del := fs.Bool("delete", false, "disconnect the connection instead of posting")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchboard post --endpoint URL [flags] CONNECTION_ID [MESSAGE]\n\nSigns with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when set.")
		fs.PrintDefaults()
	}
	// Flags may follow the positional arguments.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	wantArgs := 2
	if *get || *del {
		wantArgs = 1
	}
	if *endpoint == "" || len(pos) != wantArgs || (*get && *del) {
		fs.Usage()
		return errUsage
	}
	opts := apigatewaymanagementapi.Options{BaseEndpoint: aws.String(*endpoint), Region: *region, Credentials: aws.AnonymousCredentials{}}
	if id := os.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(id, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	}
	client := apigatewaymanagementapi.New(opts)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id := aws.String(pos[0])
	var err error
	switch {
	case *get:
		var out *apigatewaymanagementapi.GetConnectionOutput
		out, err = client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: id})
		if err == nil {
			info := map[string]any{"connectedAt": out.ConnectedAt, "lastActiveAt": out.LastActiveAt}
			if out.Identity != nil {
				info["identity"] = map[string]string{"sourceIp": aws.ToString(out.Identity.SourceIp), "userAgent": aws.ToString(out.Identity.UserAgent)}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(info)
		}
	case *del:
		_, err = client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: id})
		if err == nil {
			fmt.Fprintln(stdout, "disconnected", pos[0])
		}
	default:
		_, err = client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: id, Data: []byte(pos[1])})
	}
	var gone *types.GoneException
	var forbidden *types.ForbiddenException
	switch {
	case errors.As(err, &gone):
		return fmt.Errorf("connection %s is gone (410 GoneException)", pos[0])
	case errors.As(err, &forbidden):
		return fmt.Errorf("forbidden (403): the endpoint wants valid credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	}
	return err
}
