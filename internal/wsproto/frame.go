// Package wsproto is the WebSocket wire protocol (RFC 6455) as Switchboard
// uses it: frame headers, prepared frames, close payloads and the opening
// handshake's accept key. It holds no connection state and does no I/O of
// its own beyond reading one frame header, so both the gateway (server side)
// and Switchboard's clients build on it without importing each other.
package wsproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Opcode is a frame's opcode.
type Opcode byte

// Opcodes defined by RFC 6455.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode(%#x)", byte(op))
}

// MaxHeaderSize is the largest possible frame header: 2 bytes, 8 bytes of
// extended length and a 4-byte mask.
const MaxHeaderSize = 14

// Header is a decoded frame header.
type Header struct {
	Fin    bool
	Rsv    byte // the three reserved bits, as bits 0x4, 0x2, 0x1
	Op     Opcode
	Masked bool
	Mask   [4]byte
	Length int64
}

// Protocol errors returned by ReadHeader. A server answers them with close
// code 1002 (protocol error).
var (
	ErrReservedBits    = errors.New("wsproto: reserved bits set without a negotiated extension")
	ErrReservedOpcode  = errors.New("wsproto: reserved opcode")
	ErrControlTooLong  = errors.New("wsproto: control frame payload over 125 bytes")
	ErrControlFragment = errors.New("wsproto: fragmented control frame")
	ErrLengthEncoding  = errors.New("wsproto: payload length not minimally encoded or over 2^63")
)

// ReadHeader reads one frame header from r into h, using buf (at least
// MaxHeaderSize bytes) as scratch so that reading allocates nothing.
func ReadHeader(r io.Reader, buf []byte, h *Header) error {
	b := buf[:2]
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] >> 4) & 0x7
	h.Op = Opcode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	length := int64(b[1] & 0x7f)

	extra := 0
	switch length {
	case 126:
		extra = 2
	case 127:
		extra = 8
	}
	if h.Masked {
		extra += 4
	}
	if extra > 0 {
		b = buf[2 : 2+extra]
		if _, err := io.ReadFull(r, b); err != nil {
			return unexpected(err)
		}
		switch length {
		case 126:
			length = int64(binary.BigEndian.Uint16(b))
			if length < 126 {
				return ErrLengthEncoding
			}
			b = b[2:]
		case 127:
			u := binary.BigEndian.Uint64(b)
			if u>>63 != 0 || u <= 0xffff {
				return ErrLengthEncoding
			}
			length = int64(u)
			b = b[8:]
		}
		if h.Masked {
			copy(h.Mask[:], b)
		}
	}
	h.Length = length

	if h.Rsv != 0 {
		return ErrReservedBits
	}
	switch h.Op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return ErrReservedOpcode
	}
	if h.Op.IsControl() {
		if !h.Fin {
			return ErrControlFragment
		}
		if h.Length > 125 {
			return ErrControlTooLong
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// HeaderLen is the length of an unmasked header for a payload of n bytes.
func HeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendHeader appends the header of a final, unmasked frame (as a server
// sends) carrying n payload bytes.
func AppendHeader(dst []byte, op Opcode, n int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// AppendFrame appends a complete final, unmasked frame.
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	dst = AppendHeader(dst, op, len(payload))
	return append(dst, payload...)
}

// Frame returns a complete final, unmasked frame in one allocation. The
// result is immutable by convention, so one frame can be queued to any
// number of connections.
func Frame(op Opcode, payload []byte) []byte {
	return AppendFrame(make([]byte, 0, HeaderLen(len(payload))+len(payload)), op, payload)
}

// TextFrame is Frame(OpText, payload).
func TextFrame(payload []byte) []byte { return Frame(OpText, payload) }

// AppendMaskedFrame appends a final frame masked with mask, as a client
// sends. payload is not modified.
func AppendMaskedFrame(dst []byte, op Opcode, payload []byte, mask [4]byte) []byte {
	n := len(payload)
	start := len(dst)
	dst = AppendHeader(dst, op, n)
	dst[start+1] |= 0x80
	dst = append(dst, mask[:]...)
	p := len(dst)
	dst = append(dst, payload...)
	Unmask(dst[p:], mask, 0)
	return dst
}
