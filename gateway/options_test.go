package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
	"github.com/switchboard-ws/switchboard/internal/testutil"
)

func TestNewValidatesLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		limits gateway.Limits
		field  string // "" means valid
	}{
		{"defaults", gateway.Limits{}, ""},
		{"send queue too small for the largest message", gateway.Limits{SendQueueBytes: 64 << 10}, "SendQueueBytes"},
		{"send queue just large enough", gateway.Limits{MaxMessageBytes: 1000, SendQueueBytes: 1016}, ""},
		{"send queue one byte short", gateway.Limits{MaxMessageBytes: 1000, SendQueueBytes: 1015}, "SendQueueBytes"},
		{"large messages raise the default send queue", gateway.Limits{MaxMessageBytes: 4 << 20}, ""},
		{"negative inbound queue bytes", gateway.Limits{InboundQueueBytes: -1}, "InboundQueueBytes"},
		{"integration timeout under 1ms", gateway.Limits{IntegrationTimeout: time.Microsecond}, "IntegrationTimeout"},
		{"integration timeout of 1ms", gateway.Limits{IntegrationTimeout: time.Millisecond}, ""},
		{"integration timeout beyond AWS's 29s", gateway.Limits{IntegrationTimeout: 10 * time.Minute}, ""},
		{"negative integration timeout", gateway.Limits{IntegrationTimeout: -time.Second}, "IntegrationTimeout"},
	} {
		srv, err := gateway.New(gateway.Options{Stage: "dev", Limits: tc.limits, Logger: testutil.DiscardLogger()})
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), "Options.Limits."+tc.field)):
			t.Errorf("%s: error %v, want one naming Options.Limits.%s", tc.name, err, tc.field)
		}
		if srv != nil {
			srv.Shutdown(t.Context())
		}
	}
}
