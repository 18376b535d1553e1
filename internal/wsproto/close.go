package wsproto

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"unicode/utf8"
)

// Close codes used by Switchboard (RFC 6455 section 7.4.1).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005 // never sent: no code was in the close frame
	CloseAbnormal        = 1006 // never sent: the TCP connection ended without a close frame
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
	CloseTryAgainLater   = 1013
)

// ClosePayload builds a close frame's payload; reasons longer than the 123
// bytes a control frame leaves are cut at a rune boundary.
func ClosePayload(code int, reason string) []byte {
	for len(reason) > 123 {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	p := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	copy(p[2:], reason)
	return p
}

// ParseClosePayload decodes a received close payload. An empty payload gives
// CloseNoStatus. ok is false for a payload the RFC forbids (one byte, a code
// that may not be sent, invalid UTF-8 in the reason).
func ParseClosePayload(p []byte) (code int, reason string, ok bool) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", true
	case len(p) == 1:
		return 0, "", false
	}
	code = int(binary.BigEndian.Uint16(p))
	reason = string(p[2:])
	return code, reason, validSentCode(code) && utf8.ValidString(reason)
}

func validSentCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// AcceptKey computes Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ValidKey reports whether a Sec-WebSocket-Key is the base64 of 16 bytes.
func ValidKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}
