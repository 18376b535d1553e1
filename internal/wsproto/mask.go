package wsproto

import (
	"encoding/binary"
	"math/bits"
)

// Unmask applies (or removes: XOR is its own inverse) mask to payload in
// place; offset is the position of payload[0] in the frame's payload, so a
// payload read in pieces can be unmasked piece by piece.
//
// It is on the gateway's inbound path for every client frame, so it works
// on 64-bit words: the mask is rotated to offset and repeated into a 64-bit
// key once, then the payload is XORed 32 bytes per iteration, then 8, then
// byte by byte. Byte k of every word meets key byte k whatever the machine's
// byte order, because loads and stores use the same (little-endian) order.
func Unmask(payload []byte, mask [4]byte, offset int) {
	w := bits.RotateLeft32(binary.LittleEndian.Uint32(mask[:]), -8*(offset&3))
	key := uint64(w)<<32 | uint64(w)
	b := payload
	for len(b) >= 32 {
		_ = b[31]
		binary.LittleEndian.PutUint64(b[0:8], binary.LittleEndian.Uint64(b[0:8])^key)
		binary.LittleEndian.PutUint64(b[8:16], binary.LittleEndian.Uint64(b[8:16])^key)
		binary.LittleEndian.PutUint64(b[16:24], binary.LittleEndian.Uint64(b[16:24])^key)
		binary.LittleEndian.PutUint64(b[24:32], binary.LittleEndian.Uint64(b[24:32])^key)
		b = b[32:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b[:8], binary.LittleEndian.Uint64(b[:8])^key)
		b = b[8:]
	}
	// Whole words keep the mask's phase, so the tail starts at key's byte 0.
	for i := range b {
		b[i] ^= byte(key >> (8 * i))
	}
}
