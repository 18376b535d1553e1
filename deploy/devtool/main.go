// Command devtool helps run and try the deployed chat backend:
//
//	go run ./deploy/devtool create-table --endpoint http://127.0.0.1:8000 [--table switchboard-local]
//	go run ./deploy/devtool token --user alice [--name Alice] [--tenant default] [--ttl 1h]
//
// create-table makes the table of dynamo.TableSchema, with TTL on
// expiresAt, in DynamoDB Local (deploy/local/api.yaml); on AWS the
// templates create it. token prints a client token signed with the HS256
// secret in JWT_SECRET: the secret a deployment's authorizer was given
// (jwt_secret, JwtSecret) or deploy/local/api.yaml's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
	"github.com/switchboard-ws/switchboard/chat/store/dynamo"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "devtool:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: devtool create-table|token [flags]")
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "create-table":
		endpoint := fs.String("endpoint", "", "DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000 (required)")
		table := fs.String("table", "switchboard-local", "table name")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *endpoint == "" {
			return errors.New("create-table: --endpoint is required (this command is for DynamoDB Local; on AWS the templates create the table)")
		}
		if err := dynamo.CreateTable(ctx, dynamo.LocalClient(*endpoint), *table); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created table %s at %s\n", *table, *endpoint)
		return nil
	case "token":
		user := fs.String("user", "", "user id, the token's sub (required)")
		name := fs.String("name", "", "display name (default: the user id)")
		tenant := fs.String("tenant", auth.DefaultTenantID, "tenant id")
		ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		secret := getenv("JWT_SECRET")
		switch {
		case *user == "":
			return errors.New("token: --user is required")
		case secret == "":
			return errors.New("token: set JWT_SECRET to the authorizer's HS256 secret")
		case *ttl <= 0:
			return errors.New("token: --ttl must be positive")
		}
		tok, err := auth.MintDevToken([]byte(secret), auth.Identity{UserID: *user, Username: *name, TenantID: *tenant}, *ttl, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		return nil
	}
	return fmt.Errorf("unknown command %q (want create-table or token)", args[0])
}
