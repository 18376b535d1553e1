package config

import (
	"maps"
	"sync"
)

// SetEnviron sets variables that every function of the file gets at its
// next instance start, after Lambda's own and before the integration's
// environment (which may override them): the local AWS endpoints, the CA
// bundle that makes the SDKs trust the gateway's certificate, credentials.
// They are known only once the gateway listens, after Parse, and before
// any invocation.
func (f *File) SetEnviron(env map[string]string) { f.environ.set(env) }

// environ holds the variables of SetEnviron; lambda.Options.Environ reads
// them at each instance start.
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
