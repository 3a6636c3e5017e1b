//go:build !race

package multinode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/actorcpg/actorcpg/tests/checker"
)

// A test message is the property checker's (checker.EncodeMsg): a 36-byte
// header (magic "ACPG", the sender's nodeid, pid and incarnation, the
// total length, the per-sender sequence number, a CRC32C of the whole
// message), then a body of pseudo-random bytes derived from the header, so
// that large messages cost no memory to remember. The receivers record
// every delivery for the checker (tests/checker) as well as checking it
// themselves.
const msgHeader = checker.HeaderSize

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// msgID names one message: its sender and its sequence number.
type msgID struct {
	Nodeid, Pid uint32
	Seq         uint64
}

func (m msgID) String() string { return fmt.Sprintf("%d/%d#%d", m.Nodeid, m.Pid, m.Seq) }

// encodeMsg builds message seq of process from, size bytes long (at least
// msgHeader).
func encodeMsg(from checker.Proc, seq uint64, size int) []byte {
	return checker.EncodeMsg(from, seq, size)
}

var errNotOurs = errors.New("not a test message")

// decodeMsg checks a received message (magic, length, CRC32C) and returns
// its id.
func decodeMsg(b []byte) (msgID, error) {
	from, seq, err := checker.DecodeMsg(b)
	id := msgID{from.Node, from.Pid, seq}
	switch {
	case errors.Is(err, checker.ErrShort), errors.Is(err, checker.ErrMagic):
		return msgID{}, fmt.Errorf("%w (%d bytes): %v", errNotOurs, len(b), err)
	case err != nil:
		return id, fmt.Errorf("message %v (%d bytes): %w", id, len(b), err)
	}
	return id, nil
}

// peekSeq returns the sequence number in a message's header without
// checking the message (the checksum takes milliseconds on large ones).
func peekSeq(b []byte) uint64 {
	if len(b) < msgHeader {
		return 0
	}
	return binary.LittleEndian.Uint64(b[24:])
}

func TestMessageCodec(t *testing.T) {
	for _, size := range []int{0, msgHeader, 37, 1000, 1 << 20} {
		p := checker.Proc{Node: 3, Pid: 4194305, Inc: 9}
		seq := uint64(size) + 7
		id := msgID{p.Node, p.Pid, seq}
		b := encodeMsg(p, seq, size)
		got, err := decodeMsg(b)
		if err != nil || got != id || peekSeq(b) != seq {
			t.Fatalf("size %d: decode = %v, %v (peek %d); want %v", size, got, err, peekSeq(b), id)
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
