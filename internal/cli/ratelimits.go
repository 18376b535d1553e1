package cli

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/switchboard-ws/switchboard/chat"
)

// chatLimitFlags are dev's flags of the chat's limits and quotas
// (docs/limits.md): the rate limits as a whole, the two quotas an
// operator is most likely to change, the largest room told of joins and
// leaves, and the largest tenant told of presence.
type chatLimitFlags struct {
	noRateLimits          bool
	maxUserConnections    int
	maxRoomsPerConnection int
	announceMaxMembers    int
	presenceMaxConns      int
}

func addChatLimitFlags(fs *flag.FlagSet) *chatLimitFlags {
	f := &chatLimitFlags{}
	fs.BoolVar(&f.noRateLimits, "no-rate-limits", false, "turn off the chat's rate limits (requests per connection, bytes per tenant, rooms created per user; docs/protocol.md), for load tests such as `switchboard bench`")
	fs.IntVar(&f.maxUserConnections, "max-user-connections", 0, "live connections one user may have (beyond: the handshake gets 429); 0: "+strconv.Itoa(chat.DefaultMaxConnectionsPerUser)+"; -1: none")
	fs.IntVar(&f.maxRoomsPerConnection, "max-rooms-per-connection", 0, "rooms one connection may be in (beyond: TOO_MANY_ROOMS); 0: "+strconv.Itoa(chat.DefaultMaxRoomsPerConnection)+"; -1: none")
	fs.IntVar(&f.announceMaxMembers, "announce-max-members", 0, "user_joined and user_left are broadcast in rooms of at most this many connections (larger rooms are not told; getOnlineUsers still lists everyone); 0: "+strconv.Itoa(chat.DefaultAnnounceMaxMembers)+"; -1: every room")
	fs.IntVar(&f.presenceMaxConns, "presence-max-connections", 0, "presence (online, offline) is broadcast in tenants of at most this many connections (larger tenants are not told; getOnlineUsers still lists everyone); 0: "+strconv.Itoa(chat.DefaultPresenceMaxConnections)+"; -1: every tenant")
	return f
}

// check refuses values that mean nothing, naming the flag.
func (f *chatLimitFlags) check() error {
	for name, v := range map[string]int{"--max-user-connections": f.maxUserConnections, "--max-rooms-per-connection": f.maxRoomsPerConnection,
		"--announce-max-members": f.announceMaxMembers, "--presence-max-connections": f.presenceMaxConns} {
		if v < -1 {
			return fmt.Errorf("%s %d: want a number of at least 1, 0 for the default or -1 for none", name, v)
		}
	}
	return nil
}

// apply returns c with the flags' limits: the rate limits left at their
// defaults or turned off (--no-rate-limits; the quotas stay), and the
// quotas given.
func (f *chatLimitFlags) apply(c chat.Config) chat.Config {
	if f.noRateLimits {
		c.ActionRate, c.TenantBytesRate, c.RoomCreateRate = -1, -1, -1
	}
	c.MaxConnectionsPerUser = f.maxUserConnections
	c.MaxRoomsPerConnection = f.maxRoomsPerConnection
	c.AnnounceMaxMembers = f.announceMaxMembers
	c.PresenceMaxConnections = f.presenceMaxConns
	return c
}
