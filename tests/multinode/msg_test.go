//go:build !race

package multinode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
)

// A test message: a header, then a body of pseudo-random bytes derived
// from the header, so that large messages cost no memory to remember.
//
//	0  magic "MNT1"
//	4  nodeid of the sender
//	8  pid of the sender
//	12 per-sender sequence number (uint64)
//	20 total length of the message
//	24 CRC32C of bytes 0..24 and of the body
//	28 body
const (
	msgMagic  = 0x3154_4e4d // "MNT1" little-endian
	msgHeader = 28
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// msgID names one message: its sender and its sequence number.
type msgID struct {
	Nodeid, Pid uint32
	Seq         uint64
}

func (m msgID) String() string { return fmt.Sprintf("%d/%d#%d", m.Nodeid, m.Pid, m.Seq) }

// encodeMsg builds a message of size bytes (at least msgHeader).
func encodeMsg(id msgID, size int) []byte {
	size = max(size, msgHeader)
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[0:], msgMagic)
	binary.LittleEndian.PutUint32(b[4:], id.Nodeid)
	binary.LittleEndian.PutUint32(b[8:], id.Pid)
	binary.LittleEndian.PutUint64(b[12:], id.Seq)
	binary.LittleEndian.PutUint32(b[20:], uint32(size))
	fill(b[msgHeader:], id)
	crc := crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, b[msgHeader:])
	binary.LittleEndian.PutUint32(b[24:], crc)
	return b
}

// fill writes xorshift64* bytes seeded by id.
func fill(b []byte, id msgID) {
	x := id.Seq*0x9e3779b97f4a7c15 ^ uint64(id.Nodeid)<<32 ^ uint64(id.Pid) | 1
	var w [8]byte
	for len(b) > 0 {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		binary.LittleEndian.PutUint64(w[:], x*0x2545f4914f6cdd1d)
		b = b[copy(b, w[:]):]
	}
}

var errNotOurs = errors.New("not a test message")

// decodeMsg checks a received message (magic, length, CRC32C) and returns
// its id.
func decodeMsg(b []byte) (msgID, error) {
	if len(b) < msgHeader || binary.LittleEndian.Uint32(b[0:]) != msgMagic {
		return msgID{}, fmt.Errorf("%w (%d bytes)", errNotOurs, len(b))
	}
	id := msgID{
		Nodeid: binary.LittleEndian.Uint32(b[4:]),
		Pid:    binary.LittleEndian.Uint32(b[8:]),
		Seq:    binary.LittleEndian.Uint64(b[12:]),
	}
	if n := binary.LittleEndian.Uint32(b[20:]); int(n) != len(b) {
		return id, fmt.Errorf("message %v: length %d, header says %d", id, len(b), n)
	}
	want := binary.LittleEndian.Uint32(b[24:])
	if got := crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, b[msgHeader:]); got != want {
		return id, fmt.Errorf("message %v (%d bytes): crc32c %#x, header says %#x", id, len(b), got, want)
	}
	return id, nil
}

func TestMessageCodec(t *testing.T) {
	for _, size := range []int{0, msgHeader, 29, 1000, 1 << 20} {
		id := msgID{3, 4194305, uint64(size) + 7}
		b := encodeMsg(id, size)
		got, err := decodeMsg(b)
		if err != nil || got != id {
			t.Fatalf("size %d: decode = %v, %v; want %v", size, got, err, id)
		}
		if len(b) > msgHeader {
			b[len(b)-1] ^= 1
			if _, err := decodeMsg(b); err == nil {
				t.Fatalf("size %d: a flipped bit was not detected", size)
			}
			b[len(b)-1] ^= 1
		}
		if _, err := decodeMsg(b[:len(b)-1]); err == nil {
			t.Fatalf("size %d: a truncated message was not detected", size)
		}
	}
}
