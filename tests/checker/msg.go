package checker

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// HeaderSize is the size of the header EncodeMsg writes; shorter messages
// are not possible.
const HeaderSize = 36

// msgMagic starts every test message ("ACPG" little-endian).
const msgMagic = 0x47504341

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The errors of DecodeMsg.
var (
	ErrShort  = errors.New("checker: message shorter than its header")
	ErrMagic  = errors.New("checker: message has no test header")
	ErrLength = errors.New("checker: message length differs from its header")
	ErrCRC    = errors.New("checker: message CRC32C mismatch")
)

// EncodeMsg builds the test message seq of process from, size bytes long
// (at least HeaderSize). Layout, little-endian: magic "ACPG" (4), from.Node
// (4), from.Pid (4), length (4), from.Inc (8), seq (8), CRC32C (4), then
// filler bytes derived from (from, seq). The CRC32C (Castagnoli) covers the
// whole message with the CRC field taken as zero.
func EncodeMsg(from Proc, seq uint64, size int) []byte {
	if size < HeaderSize {
		size = HeaderSize
	}
	b := newMsg(from, seq, size)
	x := uint64(from.Node)<<32 ^ uint64(from.Pid) ^ from.Inc*0x9e3779b97f4a7c15 ^ seq*0xbf58476d1ce4e5b9
	fill := b[HeaderSize:]
	for len(fill) >= 8 {
		binary.LittleEndian.PutUint64(fill, splitmix(&x))
		fill = fill[8:]
	}
	if len(fill) > 0 {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], splitmix(&x))
		copy(fill, tail[:])
	}
	binary.LittleEndian.PutUint32(b[32:], msgCRC(b))
	return b
}

// newMsg returns a size-byte message with its header written but for the
// CRC (size is at least HeaderSize).
func newMsg(from Proc, seq uint64, size int) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[0:], msgMagic)
	binary.LittleEndian.PutUint32(b[4:], from.Node)
	binary.LittleEndian.PutUint32(b[8:], from.Pid)
	binary.LittleEndian.PutUint32(b[12:], uint32(size))
	binary.LittleEndian.PutUint64(b[16:], from.Inc)
	binary.LittleEndian.PutUint64(b[24:], seq)
	return b
}

// EncodeMsgPayload builds the test message seq of process from that
// carries payload after the header, in place of EncodeMsg's filler (a
// test kit's messages carry the test's own bytes). DecodeMsg reads and
// verifies it like any other; the payload is b[HeaderSize:].
func EncodeMsgPayload(from Proc, seq uint64, payload []byte) []byte {
	b := newMsg(from, seq, HeaderSize+len(payload))
	copy(b[HeaderSize:], payload)
	binary.LittleEndian.PutUint32(b[32:], msgCRC(b))
	return b
}

// DecodeMsg reads the header of a message built by EncodeMsg and verifies
// its length and CRC. from and seq are returned whenever the header could
// be read (also with ErrLength and ErrCRC, so that a damaged message can
// still be named); with ErrShort and ErrMagic they are zero.
func DecodeMsg(b []byte) (from Proc, seq uint64, err error) {
	if len(b) < HeaderSize {
		return Proc{}, 0, ErrShort
	}
	if binary.LittleEndian.Uint32(b[0:]) != msgMagic {
		return Proc{}, 0, ErrMagic
	}
	from = Proc{Node: binary.LittleEndian.Uint32(b[4:]), Pid: binary.LittleEndian.Uint32(b[8:]),
		Inc: binary.LittleEndian.Uint64(b[16:])}
	seq = binary.LittleEndian.Uint64(b[24:])
	if int(binary.LittleEndian.Uint32(b[12:])) != len(b) {
		return from, seq, ErrLength
	}
	if binary.LittleEndian.Uint32(b[32:]) != msgCRC(b) {
		return from, seq, ErrCRC
	}
	return from, seq, nil
}

func msgCRC(b []byte) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, b[:32])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, b[HeaderSize:])
}

func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
