package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
	// Flags may follow the positional arguments. A connection id may start
	// with "-" (URL-safe base64): one is never taken for a flag.
	flags, pos := splitArgs(fs, args)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	pos = append(pos, fs.Args()...)
	wantArgs := 2
	if *get || *del {
		wantArgs = 1
	}
	var problem string
	switch {
	case *get && *del:
		problem = "give at most one of --get and --delete"
	case *endpoint == "":
		problem = "missing --endpoint (the management API, e.g. http://127.0.0.1:8080/dev)"
	case len(pos) == 0:
		problem = "missing the connection id"
	case len(pos) == 1 && wantArgs == 2:
		problem = "missing the message to post (the second argument; --get describes and --delete disconnects instead)"
	case len(pos) > wantArgs:
		problem = fmt.Sprintf("unexpected argument %q", pos[wantArgs])
		if wantArgs == 2 {
			problem += " (quote a message with spaces)"
		}
	}
	if problem != "" {
		fmt.Fprintln(stderr, "switchboard post: "+problem)
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

// looksLikeConnectionID says whether arg is a connection id as API Gateway
// and Switchboard make them: 16 characters of URL-safe base64 ending in
// "=" (no flag of post looks so).
func looksLikeConnectionID(arg string) bool {
	if len(arg) != 16 || arg[15] != '=' {
		return false
	}
	for _, c := range arg[:15] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// splitArgs separates the flags of fs (with their values) from the
// positional arguments, which may come first, last or in between; a
// connection id is positional even when it starts with "-". After "--"
// everything is positional.
func splitArgs(fs *flag.FlagSet, args []string) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(pos, args[i+1:]...)
		case looksLikeConnectionID(a) || !strings.HasPrefix(a, "-") || a == "-":
			pos = append(pos, a)
		default:
			flags = append(flags, a)
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			f := fs.Lookup(name)
			if f == nil || hasValue {
				continue
			}
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return flags, pos
}
