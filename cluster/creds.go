package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// validateCreds checks the combinations of the external NATS's
// credentials: one kind only.
func (c *Config) validateCreds() []error {
	var errs []error
	if c.CredsFile != "" && c.NkeyFile != "" {
		errs = append(errs, errors.New("credsFile and nkeyFile: set one (a .creds file holds its own nkey seed)"))
	}
	if (c.CredsFile != "" || c.NkeyFile != "") && (c.User != "" || c.Password != "" || c.Token != "" || urlHasUser(c.URL)) {
		errs = append(errs, errors.New("credsFile and nkeyFile: not with user, password or token in the config or the URL (NATS takes one kind of credentials)"))
	}
	return errs
}

// urlHasUser reports whether one of a comma-separated list of URLs holds
// credentials.
func urlHasUser(list string) bool {
	for _, s := range strings.Split(list, ",") {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// credsOptions are the NATS options of c's credentials files. The files
// are read and checked now, so that a missing or malformed file is told
// at start, naming the file and never its content; nats.go reads them
// again at each (re)connect, so a rotated file is picked up.
func credsOptions(c *Config) ([]nats.Option, error) {
	var opts []nats.Option
	if c.CredsFile != "" {
		b, err := os.ReadFile(c.CredsFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: credsFile: %w", err)
		}
		jwt, _ := nkeys.ParseDecoratedJWT(b) // the whole content when undecorated
		kp, kerr := nkeys.ParseDecoratedUserNKey(b)
		clear(b)
		if kp != nil {
			kp.Wipe()
		}
		if strings.Count(jwt, ".") != 2 || strings.ContainsAny(jwt, " \n") || kerr != nil {
			return nil, fmt.Errorf("cluster: credsFile %s: not a NATS credentials file (a user JWT and its nkey seed, as `nsc generate creds` writes)", c.CredsFile)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NkeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(c.NkeyFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("cluster: nkeyFile: %w", err)
			}
			return nil, fmt.Errorf("cluster: nkeyFile %s: not an nkey user seed (SU..., as `nk -gen user` writes)", c.NkeyFile)
		}
		opts = append(opts, opt)
	}
	return opts, nil
}
