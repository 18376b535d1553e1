package cli

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/switchboard-ws/switchboard/gateway"
)

// DefaultAccessLog is --access-log's default for dev and serve: every
// connect, routed message and disconnect at info (docs/logging.md).
const DefaultAccessLog = "all"

// addAccessLogFlag adds --access-log.
func addAccessLogFlag(fs *flag.FlagSet) *string {
	return fs.String("access-log", DefaultAccessLog, "the gateway's per-connection and per-message log lines: all (connect, message and disconnect at info), connections (message lines at debug), or off (failures are still logged)")
}

// accessLog turns --access-log's value into the gateway's option.
func accessLog(v string) (gateway.AccessLog, error) {
	switch v {
	case "all":
		return gateway.AccessLog{}, nil
	case "connections":
		return gateway.AccessLog{MessageLevel: slog.LevelDebug}, nil
	case "off":
		return gateway.AccessLog{Off: true}, nil
	}
	return gateway.AccessLog{}, fmt.Errorf("--access-log %q: want all, connections or off", v)
}
