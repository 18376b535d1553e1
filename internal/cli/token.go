package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/switchboard-ws/switchboard/chat/auth"
)

// runToken mints a dev token with the secret switchboard dev keeps in its
// data directory. It never creates the secret: a token signed with a new
// one would be refused by the running server.
func runToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("token", stderr)
	data := fset.String("data", defaultDataDir, "the data directory of switchboard dev (holds the dev secret switchboard dev created)")
	user := fset.String("user", "", "user id (the token's sub; required)")
	name := fset.String("name", "", "display name (default: the user id)")
	tenant := fset.String("tenant", auth.DefaultTenantID, "tenant id (the browser UI's workspace; its sign-in proposes the same default)")
	ttl := fset.Duration("ttl", time.Hour, "how long the token is valid")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if *user == "" {
		fmt.Fprintln(stderr, "switchboard token: --user is required")
		fset.Usage()
		return errUsage
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive")
	}
	secret, err := auth.LoadDevSecret(*data)
	if errors.Is(err, fs.ErrNotExist) {
		dir := *data
		if abs, aerr := filepath.Abs(dir); aerr == nil {
			dir = abs
		}
		return fmt.Errorf("no dev secret in %s (looked for %s): switchboard dev creates it when it starts there; "+
			"start switchboard dev first, or give --data the directory switchboard dev runs with (its --data flag, default %s, relative to where it was started)",
			dir, filepath.Join(dir, auth.DevSecretFile), defaultDataDir)
	}
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
