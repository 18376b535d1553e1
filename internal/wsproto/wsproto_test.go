package wsproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestAcceptKeyRFCExample(t *testing.T) {
	t.Parallel()
	// RFC 6455 section 1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("got %q", got)
	}
	if !ValidKey("dGhlIHNhbXBsZSBub25jZQ==") || ValidKey("short") || ValidKey("dGhlIHNhbXBsZSBub25jZQ") {
		t.Fatal("ValidKey")
	}
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 200000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		for _, masked := range []bool{false, true} {
			var f []byte
			mask := [4]byte{9, 8, 7, 6}
			if masked {
				f = AppendMaskedFrame(nil, OpText, payload, mask)
			} else {
				f = TextFrame(payload)
			}
			var h Header
			r := bytes.NewReader(f)
			if err := ReadHeader(r, make([]byte, MaxHeaderSize), &h); err != nil {
				t.Fatalf("n=%d masked=%v: %v", n, masked, err)
			}
			if !h.Fin || h.Op != OpText || h.Masked != masked || h.Length != int64(n) {
				t.Fatalf("n=%d: header %+v", n, h)
			}
			rest, _ := io.ReadAll(r)
			if masked {
				Unmask(rest, h.Mask, 0)
			}
			if !bytes.Equal(rest, payload) {
				t.Fatalf("n=%d masked=%v: payload differs", n, masked)
			}
		}
	}
}

func TestReadHeaderRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"reserved bits", []byte{0x80 | 0x40 | 0x1, 0}, ErrReservedBits},
		{"reserved opcode", []byte{0x80 | 0x3, 0}, ErrReservedOpcode},
		{"long control", []byte{0x80 | 0x9, 126, 0, 200}, ErrControlTooLong},
		{"fragmented control", []byte{0x9, 0}, ErrControlFragment},
		{"16-bit length under 126", []byte{0x81, 126, 0, 5}, ErrLengthEncoding},
		{"64-bit length under 65536", []byte{0x81, 127, 0, 0, 0, 0, 0, 0, 1, 0}, ErrLengthEncoding},
		{"64-bit length top bit", []byte{0x81, 127, 0x80, 0, 0, 0, 0, 1, 0, 0}, ErrLengthEncoding},
		{"truncated", []byte{0x81, 126, 1}, io.ErrUnexpectedEOF},
		{"empty", nil, io.EOF},
	} {
		var h Header
		if err := ReadHeader(bytes.NewReader(tc.in), make([]byte, MaxHeaderSize), &h); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestClosePayload(t *testing.T) {
	t.Parallel()
	code, reason, ok := ParseClosePayload(ClosePayload(4001, "bye"))
	if !ok || code != 4001 || reason != "bye" {
		t.Fatalf("%d %q %v", code, reason, ok)
	}
	if code, _, ok := ParseClosePayload(nil); !ok || code != CloseNoStatus {
		t.Fatalf("empty: %d %v", code, ok)
	}
	for _, bad := range [][]byte{{3}, {0x03, 0xed}, {0x03, 0xee}, {0x03, 0xe8, 0xff}, {0, 0}} {
		if _, _, ok := ParseClosePayload(bad); ok {
			t.Fatalf("%v accepted", bad)
		}
	}
	long := ClosePayload(1000, strings.Repeat("é", 100))
	if len(long) > 125 {
		t.Fatalf("close payload of %d bytes", len(long))
	}
	if _, reason, ok := ParseClosePayload(long); !ok || !strings.HasPrefix(strings.Repeat("é", 100), reason) {
		t.Fatalf("truncated reason is not valid UTF-8 prefix: %q", reason)
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Header
		if err := ReadHeader(bytes.NewReader(in), make([]byte, MaxHeaderSize), &h); err == nil {
			if h.Length < 0 || (h.Op.IsControl() && h.Length > 125) {
				t.Fatalf("accepted header %+v", h)
			}
		}
	})
}
