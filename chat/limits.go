package chat

import (
	"time"

	"github.com/switchboard-ws/switchboard/chat/protocol"
)

// limits are the rate limits a Service enforces in memory (Config's
// ActionRate, TenantBytesRate and RoomCreateRate); a nil limiter is off.
type limits struct {
	actions     *keyedLimiter // per connection: action frames
	tenantBytes *keyedLimiter // per tenant: bytes of action frames
	roomCreates *keyedLimiter // per tenant and user: rooms created
}

func (c *Config) limitDefaults() {
	if c.ActionRate == 0 {
		c.ActionRate = DefaultActionRate
	}
	if c.ActionBurst <= 0 {
		c.ActionBurst = DefaultActionBurst
	}
	if c.TenantBytesRate == 0 {
		c.TenantBytesRate = DefaultTenantBytesRate
	}
	if c.TenantBytesBurst <= 0 {
		c.TenantBytesBurst = DefaultTenantBytesBurst
	}
	if c.RoomCreateRate == 0 {
		c.RoomCreateRate = DefaultRoomCreateRate
	}
	if c.RoomCreateBurst <= 0 {
		c.RoomCreateBurst = DefaultRoomCreateBurst
	}
	if c.MaxRoomsPerConnection == 0 {
		c.MaxRoomsPerConnection = DefaultMaxRoomsPerConnection
	}
	if c.LimiterKeys <= 0 {
		c.LimiterKeys = DefaultLimiterKeys
	}
	if c.LimitClock == nil {
		c.LimitClock = time.Now
	}
}

func newLimits(c Config) limits {
	perMinute := c.RoomCreateRate
	if perMinute > 0 {
		perMinute /= 60
	}
	return limits{
		actions:     newKeyedLimiter(c.ActionRate, c.ActionBurst, c.LimiterKeys, c.LimitClock),
		tenantBytes: newKeyedLimiter(c.TenantBytesRate, c.TenantBytesBurst, c.LimiterKeys, c.LimitClock),
		roomCreates: newKeyedLimiter(perMinute, c.RoomCreateBurst, c.LimiterKeys, c.LimitClock),
	}
}

// admit counts one action frame of size bytes against its connection's
// and its tenant's budgets; RATE_LIMITED, with when to retry, when either
// is spent. A frame the connection's budget refuses takes nothing from
// the tenant's.
func (s *Service) admit(id identity, size int) *apiError {
	if ok, wait := s.limits.actions.allow(id.ConnectionID, 1); !ok {
		return rateLimited(wait, "too many requests on this connection (at most %g per second)", s.cfg.ActionRate)
	}
	if ok, wait := s.limits.tenantBytes.allow(id.TenantID, size); !ok {
		return rateLimited(wait, "your organisation's connections are sending too much (at most %d bytes per second together)", int64(s.cfg.TenantBytesRate))
	}
	return nil
}

// admitRoomCreation counts one room created by the user.
func (s *Service) admitRoomCreation(id identity) *apiError {
	if ok, wait := s.limits.roomCreates.allow(id.TenantID+"\x00"+id.UserID, 1); !ok {
		return rateLimited(wait, "too many rooms created (at most %g per minute)", s.cfg.RoomCreateRate)
	}
	return nil
}

// rateLimited is a RATE_LIMITED error reply with its retry hint.
func rateLimited(wait time.Duration, format string, args ...any) *apiError {
	e := errorf(protocol.CodeRateLimited, format, args...)
	e.RetryAfter = max(wait, time.Millisecond)
	return e
}
