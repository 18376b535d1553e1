package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
)

func runToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	data := fs.String("data", defaultDataDir, "the data directory of switchboard dev (holds the dev secret)")
	user := fs.String("user", "", "user id (the token's sub; required)")
	name := fs.String("name", "", "display name (default: the user id)")
	tenant := fs.String("tenant", auth.DefaultTenantID, "tenant id")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *user == "" {
		fmt.Fprintln(stderr, "switchboard token: --user is required")
		fs.Usage()
		return errUsage
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive")
	}
	secret, err := auth.LoadOrCreateDevSecret(*data)
	if err != nil {
		return err
	}
	tok, err := auth.MintDevToken(secret, auth.Identity{UserID: *user, Username: *name, TenantID: *tenant}, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
