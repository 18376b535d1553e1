package devstack

import (
	"context"
	"strings"

	"github.com/switchboard-ws/switchboard/chat/store"
	"github.com/switchboard-ws/switchboard/gateway"
)

// roomsOf tells the inspector the rooms a connection is in
// (gateway.Options.Annotate): {"rooms": "general, random"}.
func roomsOf(st store.Store) gateway.Annotator {
	return func(ctx context.Context, connectionID string) map[string]string {
		ms, err := st.ConnectionRooms(ctx, connectionID)
		if err != nil {
			return map[string]string{"rooms": "unknown: " + err.Error()}
		}
		rooms := make([]string, len(ms))
		for i, m := range ms {
			rooms[i] = m.RoomID
		}
		return map[string]string{"rooms": strings.Join(rooms, ", ")}
	}
}
