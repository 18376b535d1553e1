package testutil

import "log/slog"

// DiscardLogger returns a logger that drops every record.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
