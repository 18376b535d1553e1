//go:build !linux

package gateway

import "syscall"

// poller is Linux only (park_linux.go): elsewhere readers never park.
type poller struct{}

func (p *poller) arm(c *conn, rc syscall.RawConn) bool { return false }

func (s *Server) readPoller() *poller { return nil }

func (s *Server) stopPoller() {}

func (c *conn) unpoll() {}

func waitReadable(rc syscall.RawConn) error { return nil }
