package baseline

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"sync"
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

// handshake is the scratch of one opening handshake, pooled: a server
// that accepts thousands of connections at once makes no garbage per
// handshake (the baseline's memory per idle connection is a reference).
type handshake struct {
	br   *bufio.Reader
	key  [24]byte // Sec-WebSocket-Key, base64 of 16 bytes
	resp []byte
}

var handshakes = sync.Pool{New: func() any {
	return &handshake{br: bufio.NewReaderSize(nil, handshakeBufferSize), resp: make([]byte, 0, 160)}
}}

// websocketGUID is RFC 6455's, appended to the key for the accept key.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var (
	errBadHandshake = errors.New("baseline: not a WebSocket upgrade request")
	errHeaderTooBig = errors.New("baseline: handshake request too large")
)

var badRequest = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

// upgrade reads the handshake request from nc and answers it. It returns
// the bytes the client sent after its request (nil almost always: clients
// wait for the 101 before sending frames).
func upgrade(nc net.Conn) (early []byte, err error) {
	hs := handshakes.Get().(*handshake)
	hs.br.Reset(nc)
	defer func() {
		hs.br.Reset(nil)
		handshakes.Put(hs)
	}()
	if err := hs.readRequest(); err != nil {
		if errors.Is(err, errBadHandshake) || errors.Is(err, errHeaderTooBig) {
			nc.Write(badRequest)
		}
		return nil, err
	}
	if n := hs.br.Buffered(); n > 0 {
		early = make([]byte, n)
		io.ReadFull(hs.br, early)
	}
	var in [len(hs.key) + len(websocketGUID)]byte
	copy(in[:], hs.key[:])
	copy(in[len(hs.key):], websocketGUID)
	sum := sha1.Sum(in[:])
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], sum[:])
	resp := append(hs.resp[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, accept[:]...)
	resp = append(resp, "\r\n\r\n"...)
	hs.resp = resp
	_, err = nc.Write(resp)
	return early, err
}

// readRequest reads a request line and headers into hs.key, and checks
// that they make a valid upgrade request.
func (hs *handshake) readRequest() error {
	total := 0
	line, err := readLine(hs.br, &total)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("GET ")) || !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return errBadHandshake
	}
	var upgradeOK, versionOK, keyOK bool
	for {
		line, err := readLine(hs.br, &total)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return errBadHandshake
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgradeOK = bytes.EqualFold(value, []byte("websocket"))
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Version")):
			versionOK = string(value) == "13"
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Key")):
			// The base64 of 16 bytes: 24 characters, the last two "=".
			var raw [18]byte
			keyOK = len(value) == len(hs.key)
			if keyOK {
				n, err := base64.StdEncoding.Decode(raw[:], value)
				keyOK = err == nil && n == 16
				copy(hs.key[:], value)
			}
		}
	}
	if !upgradeOK || !versionOK || !keyOK {
		return errBadHandshake
	}
	return nil
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
