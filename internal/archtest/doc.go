// Package archtest holds the tests that keep the module's layering: the
// gateway product never imports the chat application, the Go SDK imports no
// server package, the chat wire protocol depends on the standard library
// alone, and docs/architecture.md's package table names every package.
package archtest
