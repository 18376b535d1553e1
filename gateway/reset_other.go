//go:build !unix

package gateway

import "net"

// setLingerZero makes Close reset a *net.TCPConn.
func setLingerZero(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}
