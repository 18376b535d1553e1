package cli

import (
	"io"
	"strings"
	"testing"
	"time"

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
