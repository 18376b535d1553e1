package cli

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/chat"
	"github.com/switchboard-ws/switchboard/gateway"
)

// The limit flags override what the config file set, and only when given.
func TestLimitFlags(t *testing.T) {
	fs := newFlagSet("x", io.Discard)
	f := addLimitFlags(fs)
	if err := parseFlags(fs, []string{"--max-connections", "50", "--http-idle-timeout", "5s", "--source-connect-rate", "-1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	l := gateway.Limits{MaxConnections: 7, MaxSourceConnections: 9, HTTPReadTimeout: time.Second}
	f.apply(&l)
	want := gateway.Limits{MaxConnections: 50, MaxSourceConnections: 9, HTTPReadTimeout: time.Second, HTTPIdleTimeout: 5 * time.Second, SourceConnectRate: -1}
	if l != want {
		t.Fatalf("limits %+v, want %+v", l, want)
	}
	for _, args := range [][]string{{"--max-connections", "-2"}, {"--max-source-connections", "-9"}, {"--source-connect-rate", "NaN"}} {
		fs := newFlagSet("x", io.Discard)
		f := addLimitFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		if err := f.check(); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: error %v, want one naming %s", args, err, args[0])
		}
	}
}

// dev's chat limit flags reach chat.Config: the rates off together, the
// quotas as given (0 keeps the chat's default, -1 none); nonsense is
// refused naming the flag.
func TestChatLimitFlags(t *testing.T) {
	fs := newFlagSet("dev", io.Discard)
	f := addChatLimitFlags(fs)
	if err := parseFlags(fs, []string{"--no-rate-limits", "--max-user-connections", "5", "--max-rooms-per-connection", "-1", "--announce-max-members", "12", "--presence-max-connections", "-1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	c := f.apply(chat.Config{FanoutThreshold: 7})
	if c.ActionRate != -1 || c.TenantBytesRate != -1 || c.RoomCreateRate != -1 || c.MaxConnectionsPerUser != 5 || c.MaxRoomsPerConnection != -1 || c.AnnounceMaxMembers != 12 || c.PresenceMaxConnections != -1 || c.FanoutThreshold != 7 {
		t.Fatalf("config %+v", c)
	}
	fs = newFlagSet("dev", io.Discard)
	f = addChatLimitFlags(fs)
	if err := parseFlags(fs, nil); err != nil {
		t.Fatal(err)
	}
	if c := f.apply(chat.Config{}); c.ActionRate != 0 || c.MaxConnectionsPerUser != 0 || c.MaxRoomsPerConnection != 0 || c.AnnounceMaxMembers != 0 || c.PresenceMaxConnections != 0 {
		t.Fatalf("no flags: %+v, want the chat's defaults (zero values)", c)
	}
	for _, args := range [][]string{{"--max-user-connections", "-2"}, {"--max-rooms-per-connection", "-5"}, {"--announce-max-members", "-3"}, {"--presence-max-connections", "-2"}} {
		fs := newFlagSet("dev", io.Discard)
		f := addChatLimitFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		if err := f.check(); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: error %v, want one naming %s", args, err, args[0])
		}
	}
}
