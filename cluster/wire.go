package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

// The cluster messages, version 1. Every message begins with the version
// byte; a node refuses a message of a version it does not know, or one
// whose length does not match its shape.
//
//	request  post:   v id[16] data...
//	request  get:    v id[16]
//	request  delete: v id[16]
//	request  batch:  v n[2] id[16]×n data...     (n ≥ 1)
//	reply:           v status[1] body...
//	reply body of get (ok):   connectedAt[8] (unix ms) lastActiveAt[8] (unix ns) ipLen[1] ip uaLen[2] ua
//	reply body of batch (ok): n[2] id[16]×n (the ids that are gone)
//	reply body of an error:   the message, UTF-8
//
// The operation is the last token of the subject (ops below), not a byte of
// the message: a subscriber of one operation sees only its messages.
const wireVersion = 1

const idLen = 16

// The operations: the last token of a node's subjects.
const (
	opPost   = "post"
	opGet    = "get"
	opDelete = "delete"
	opBatch  = "batch"
	opPing   = "ping"
)

// Reply statuses.
const (
	statusOK byte = iota
	statusGone
	statusTooLarge
	statusBadRequest
	statusError
)

var errMalformed = errors.New("malformed cluster message")

func appendIDRequest(dst []byte, id string, data []byte) []byte {
	dst = append(dst, wireVersion)
	dst = append(dst, id...)
	return append(dst, data...)
}

// parseIDRequest reads a post, get or delete request.
func parseIDRequest(msg []byte, withData bool) (id string, data []byte, err error) {
	if len(msg) < 1+idLen || (!withData && len(msg) != 1+idLen) {
		return "", nil, fmt.Errorf("%w: %d bytes", errMalformed, len(msg))
	}
	if msg[0] != wireVersion {
		return "", nil, fmt.Errorf("%w: version %d", errMalformed, msg[0])
	}
	id = string(msg[1 : 1+idLen])
	if !gateway.ValidConnectionID(id) {
		return "", nil, fmt.Errorf("%w: invalid connection id", errMalformed)
	}
	return id, msg[1+idLen:], nil
}

func appendBatchRequest(dst []byte, ids []string, data []byte) []byte {
	dst = append(dst, wireVersion)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ids)))
	for _, id := range ids {
		dst = append(dst, id...)
	}
	return append(dst, data...)
}

func batchRequestLen(n, data int) int { return 3 + n*idLen + data }

func parseBatchRequest(msg []byte) (ids []string, data []byte, err error) {
	if len(msg) < 3 || msg[0] != wireVersion {
		return nil, nil, fmt.Errorf("%w: batch header", errMalformed)
	}
	n := int(binary.BigEndian.Uint16(msg[1:3]))
	if n == 0 || len(msg) < 3+n*idLen {
		return nil, nil, fmt.Errorf("%w: batch of %d ids in %d bytes", errMalformed, n, len(msg))
	}
	ids = make([]string, n)
	p := msg[3:]
	for i := range ids {
		ids[i] = string(p[:idLen])
		if !gateway.ValidConnectionID(ids[i]) {
			return nil, nil, fmt.Errorf("%w: invalid connection id", errMalformed)
		}
		p = p[idLen:]
	}
	return ids, p, nil
}

func reply(status byte, body []byte) []byte {
	out := make([]byte, 0, 2+len(body))
	return append(append(out, wireVersion, status), body...)
}

// parseReply returns a reply's status and body.
func parseReply(msg []byte) (byte, []byte, error) {
	if len(msg) < 2 || msg[0] != wireVersion || msg[1] > statusError {
		return 0, nil, fmt.Errorf("%w: reply of %d bytes", errMalformed, len(msg))
	}
	return msg[1], msg[2:], nil
}

func appendInfo(dst []byte, info gateway.ConnectionInfo) []byte {
	ip, ua := info.SourceIP, info.UserAgent
	if len(ip) > 255 {
		ip = ip[:255]
	}
	if len(ua) > 0xffff {
		ua = ua[:0xffff]
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(info.ConnectedAt.UnixMilli()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(info.LastActiveAt.UnixNano()))
	dst = append(dst, byte(len(ip)))
	dst = append(dst, ip...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ua)))
	return append(dst, ua...)
}

func parseInfo(b []byte) (gateway.ConnectionInfo, error) {
	var info gateway.ConnectionInfo
	if len(b) < 17 {
		return info, fmt.Errorf("%w: connection info", errMalformed)
	}
	info.ConnectedAt = time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
	info.LastActiveAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[8:])))
	n := int(b[16])
	b = b[17:]
	if len(b) < n+2 {
		return info, fmt.Errorf("%w: connection info", errMalformed)
	}
	info.SourceIP = string(b[:n])
	b = b[n:]
	m := int(binary.BigEndian.Uint16(b))
	if len(b) != 2+m {
		return info, fmt.Errorf("%w: connection info", errMalformed)
	}
	info.UserAgent = string(b[2:])
	return info, nil
}

func appendIDs(dst []byte, ids []string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ids)))
	for _, id := range ids {
		dst = append(dst, id...)
	}
	return dst
}

func parseIDs(b []byte) ([]string, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: id list", errMalformed)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) != 2+n*idLen {
		return nil, fmt.Errorf("%w: id list of %d in %d bytes", errMalformed, n, len(b))
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = string(b[2+i*idLen : 2+(i+1)*idLen])
	}
	return ids, nil
}
