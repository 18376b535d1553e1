package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-ws/switchboard/gateway"
)

func TestWireRoundTrip(t *testing.T) {
	ids := []string{"AAAAAAAAAAAAAAA=", "abcd-_0123456789=", "zzzzzzzzzzzzzzz="}
	ids[1] = "abcd-_012345678="
	got, data, err := parseBatchRequest(appendBatchRequest(nil, ids, []byte("payload")))
	if err != nil || !slices.Equal(got, ids) || string(data) != "payload" {
		t.Fatalf("batch: %v %q %v", got, data, err)
	}
	id, data, err := parseIDRequest(appendIDRequest(nil, ids[1], []byte("x")), true)
	if err != nil || id != ids[1] || string(data) != "x" {
		t.Fatalf("post: %q %q %v", id, data, err)
	}
	info := gateway.ConnectionInfo{ConnectedAt: time.UnixMilli(1700000000123), LastActiveAt: time.Unix(0, 1700000000123456789), SourceIP: "10.0.0.1", UserAgent: "ua/1"}
	back, err := parseInfo(appendInfo(nil, info))
	if err != nil || !back.ConnectedAt.Equal(info.ConnectedAt) || !back.LastActiveAt.Equal(info.LastActiveAt) || back.SourceIP != info.SourceIP || back.UserAgent != info.UserAgent {
		t.Fatalf("info: %+v %v", back, err)
	}
	gone, err := parseIDs(appendIDs(nil, ids))
	if err != nil || !slices.Equal(gone, ids) {
		t.Fatalf("ids: %v %v", gone, err)
	}
}

// FuzzParse: no input makes a parser panic.
func FuzzParse(f *testing.F) {
	f.Add(appendBatchRequest(nil, []string{"AAAAAAAAAAAAAAA="}, []byte("x")))
	f.Add(appendIDRequest(nil, "AAAAAAAAAAAAAAA=", nil))
	f.Add(append([]byte{1, 0}, appendInfo(nil, gateway.ConnectionInfo{SourceIP: "1"})...))
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseBatchRequest(b)
		parseIDRequest(b, true)
		parseIDRequest(b, false)
		parseReply(b)
		parseInfo(b)
		parseIDs(b)
	})
}
