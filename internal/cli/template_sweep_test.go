package cli

import (
	"strings"
	"testing"
	"time"
)

// The TTL sweep interval from the environment: unset is the default, a
// bad value is an error naming the variable.
func TestTTLSweepIntervalFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		err   bool
	}{
		{"", 0, false},
		{"1s", time.Second, false},
		{"250ms", 250 * time.Millisecond, false},
		{"10", 0, true},
		{"-1s", 0, true},
		{"0s", 0, true},
		{"soon", 0, true},
	} {
		t.Setenv(EnvTTLSweepInterval, tc.value)
		got, err := ttlSweepInterval()
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), EnvTTLSweepInterval) {
				t.Errorf("%q: error %v, want one naming %s", tc.value, err, EnvTTLSweepInterval)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.value, got, err, tc.want)
		}
	}
}
