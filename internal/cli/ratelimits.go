package cli

import "github.com/switchboard-ws/switchboard/chat"

// chatRateLimits returns c with the chat's rate limits (requests per
// connection, bytes per tenant, rooms created per user) left at their
// defaults, or turned off when on is false (`switchboard dev
// --no-rate-limits`). The rooms-per-connection quota stays.
func chatRateLimits(c chat.Config, on bool) chat.Config {
	if !on {
		c.ActionRate, c.TenantBytesRate, c.RoomCreateRate = -1, -1, -1
	}
	return c
}
