package config

import (
	"maps"
	"sync"
)

// environ holds the variables of Runtime.SetEnviron;
// lambda.Options.Environ reads them at each instance start.
type environ struct {
	mu  sync.Mutex
	env map[string]string
}

func (e *environ) set(env map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.env = maps.Clone(env)
}

func (e *environ) get() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.env)
}
