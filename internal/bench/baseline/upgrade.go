package baseline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/switchboard-ws/switchboard/internal/wsproto"
)

// The opening handshake, server side, as little of it as RFC 6455 section
// 4.2 asks: a GET with Upgrade: websocket, Sec-WebSocket-Version: 13 and a
// valid Sec-WebSocket-Key gets 101 with the accept key; anything else gets
// 400 and is closed. No subprotocols, no extensions, no origin check.

const (
	// handshakeBufferSize is the read buffer of a handshake; handshake
	// readers are pooled, so an idle connection does not keep one.
	handshakeBufferSize = 1024
	// maxHandshakeBytes bounds a request's line and headers together.
	maxHandshakeBytes = 16 << 10
)

var handshakeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, handshakeBufferSize) }}

var (
	errBadHandshake = errors.New("baseline: not a WebSocket upgrade request")
	errHeaderTooBig = errors.New("baseline: handshake request too large")
)

var badRequest = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

// upgrade reads the handshake request from nc and answers it. It returns
// the bytes the client sent after its request (nil almost always: clients
// wait for the 101 before sending frames).
func upgrade(nc net.Conn) (early []byte, err error) {
	br := handshakeReaders.Get().(*bufio.Reader)
	br.Reset(nc)
	defer func() {
		br.Reset(nil)
		handshakeReaders.Put(br)
	}()
	key, err := readUpgradeRequest(br)
	if err != nil {
		if errors.Is(err, errBadHandshake) || errors.Is(err, errHeaderTooBig) {
			nc.Write(badRequest)
		}
		return nil, err
	}
	if n := br.Buffered(); n > 0 {
		early = make([]byte, n)
		io.ReadFull(br, early)
	}
	resp := make([]byte, 0, 160)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, wsproto.AcceptKey(key)...)
	resp = append(resp, "\r\n\r\n"...)
	_, err = nc.Write(resp)
	return early, err
}

// readUpgradeRequest reads a request line and headers and returns the
// Sec-WebSocket-Key of a valid upgrade request.
func readUpgradeRequest(br *bufio.Reader) (key string, err error) {
	total := 0
	line, err := readLine(br, &total)
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(line, []byte("GET ")) || !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return "", errBadHandshake
	}
	var upgradeOK, versionOK bool
	for {
		line, err := readLine(br, &total)
		if err != nil {
			return "", err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return "", errBadHandshake
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgradeOK = bytes.EqualFold(value, []byte("websocket"))
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Version")):
			versionOK = string(value) == "13"
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Key")):
			key = string(value)
		}
	}
	if !upgradeOK || !versionOK || !wsproto.ValidKey(key) {
		return "", errBadHandshake
	}
	return key, nil
}

// readLine returns one CRLF- (or LF-) terminated line without its end,
// counting its length into *total against maxHandshakeBytes. The line is
// valid until the next read.
func readLine(br *bufio.Reader, total *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Longer than the buffer (a long token in the query, say): gather it.
		long := bytes.Clone(line)
		for errors.Is(err, bufio.ErrBufferFull) && *total+len(long) <= maxHandshakeBytes {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	*total += len(line)
	if *total > maxHandshakeBytes {
		return nil, errHeaderTooBig
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}
