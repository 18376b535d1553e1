//go:build !unix

package gateway

import (
	"errors"
	"net"
)

// directWrites: PostFrame gives every connection a writer goroutine here.
const directWrites = false

var errWouldBlock = errors.New("write would block")

func tryWrite(nc net.Conn, b []byte) (int, error) { return 0, errWouldBlock }
