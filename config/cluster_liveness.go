package config

import (
	"time"

	"github.com/switchboard-ws/switchboard/cluster"
)

// liveness reads the dead-node detection's settings into cfg; bad records
// an error naming the field. cluster.Config.Validate checks how they
// relate (deadAfter at least twice beatInterval).
func (c *Cluster) liveness(cfg *cluster.Config, bad func(field, format string, args ...any)) {
	for _, f := range []struct {
		name, value string
		to          *time.Duration
	}{
		{"beatInterval", c.BeatInterval, &cfg.BeatInterval},
		{"deadAfter", c.DeadAfter, &cfg.DeadAfter},
		{"routePingInterval", c.RoutePingInterval, &cfg.RoutePingInterval},
	} {
		if f.value == "" {
			continue
		}
		d, err := time.ParseDuration(f.value)
		if err != nil || d <= 0 {
			bad(f.name, "a positive duration such as 5s (got %q)", f.value)
			continue
		}
		*f.to = d
	}
}
