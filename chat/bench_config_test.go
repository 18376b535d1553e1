package chat_test

import (
	"log/slog"

	"github.com/switchboard-ws/switchboard/chat"
)

// unlimitedConfig is a Config without the per-user connection limit (the
// benchmarks give one user 10,000 connections), logging nothing.
func unlimitedConfig() chat.Config {
	return chat.Config{MaxConnectionsPerUser: -1, Logger: slog.New(slog.DiscardHandler)}
}
