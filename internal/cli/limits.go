package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/httpserve"
)

// limitFlags are the listener's and the per-source limits of serve and dev
// (docs/limits.md); a flag given overrides the config file's value.
type limitFlags struct {
	fs                                 *flag.FlagSet
	maxConns, maxSourceConns           int
	sourceRate                         float64
	readTimeout, writeTimeout, idleOut time.Duration
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	f := &limitFlags{fs: fs}
	fs.IntVar(&f.maxConns, "max-connections", 0, "open connections at most, of every kind (beyond: the longest idle is closed, else 503); 0: the file-descriptor limit less a reserve; -1: none")
	fs.Float64Var(&f.sourceRate, "source-connect-rate", 0, "WebSocket handshakes per second of one source address (beyond: 429 with Retry-After); 0: half of --connect-rate; -1: none")
	fs.IntVar(&f.maxSourceConns, "max-source-connections", 0, "open WebSocket connections of one source address (beyond: 429); 0: "+strconv.Itoa(gateway.DefaultMaxSourceConnections)+"; -1: none")
	fs.DurationVar(&f.readTimeout, "http-read-timeout", 0, "time to read a whole HTTP request, body included (0: "+httpserve.DefaultReadTimeout.String()+"; -1s: none)")
	fs.DurationVar(&f.writeTimeout, "http-write-timeout", 0, "time to write an HTTP response (0: "+httpserve.DefaultWriteTimeout.String()+"; -1s: none)")
	fs.DurationVar(&f.idleOut, "http-idle-timeout", 0, "how long a keep-alive connection may wait for its next request (0: "+httpserve.DefaultIdleTimeout.String()+"; -1s: none)")
	return f
}

// check refuses counts below -1 and rates that are not numbers.
func (f *limitFlags) check() error {
	for name, v := range map[string]int{"--max-connections": f.maxConns, "--max-source-connections": f.maxSourceConns} {
		if v < -1 {
			return fmt.Errorf("%s %d: want a positive number, 0 for the default or -1 for no limit", name, v)
		}
	}
	if math.IsNaN(f.sourceRate) || math.IsInf(f.sourceRate, 0) || f.sourceRate < 0 && f.sourceRate != -1 {
		return fmt.Errorf("--source-connect-rate %v: want a number of handshakes per second, 0 for the default or -1 for no limit", f.sourceRate)
	}
	return nil
}

// checkRate refuses a rate flag that is not positive, 0 (the default) or
// -1 (no limit).
func checkRate(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 && v != -1 {
		return fmt.Errorf("%s %v: want a number per second, 0 for the default or -1 for no limit", name, v)
	}
	return nil
}

// apply sets in l the limits whose flag was given.
func (f *limitFlags) apply(l *gateway.Limits) {
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "max-connections":
			l.MaxConnections = f.maxConns
		case "source-connect-rate":
			l.SourceConnectRate = f.sourceRate
		case "max-source-connections":
			l.MaxSourceConnections = f.maxSourceConns
		case "http-read-timeout":
			l.HTTPReadTimeout = f.readTimeout
		case "http-write-timeout":
			l.HTTPWriteTimeout = f.writeTimeout
		case "http-idle-timeout":
			l.HTTPIdleTimeout = f.idleOut
		}
	})
}

// raiseFileLimit raises the soft descriptor limit to the hard one: the
// default maximum of connections derives from it.
func raiseFileLimit(log *slog.Logger) {
	n, err := httpserve.RaiseFileLimit()
	if err != nil {
		log.Warn("could not raise the open-file limit", "limit", n, "err", err)
		return
	}
	if n > 0 {
		log.Debug("open-file limit", "limit", n, "defaultMaxConnections", httpserve.DefaultMaxConnections())
	}
}
