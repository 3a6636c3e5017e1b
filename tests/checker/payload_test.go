package checker

import (
	"bytes"
	"errors"
	"testing"
)

// A message built by EncodeMsgPayload decodes like any test message and
// carries its payload after the header; a changed payload byte fails the
// CRC.
func TestEncodeMsgPayloadDecodes(t *testing.T) {
	from := Proc{Node: 2, Pid: 7, Inc: 3}
	for _, payload := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0xab}, 1000)} {
		b := EncodeMsgPayload(from, 42, payload)
		got, seq, err := DecodeMsg(b)
		if err != nil || got != from || seq != 42 {
			t.Fatalf("DecodeMsg = %v, %d, %v; want %v, 42, nil", got, seq, err, from)
		}
		if !bytes.Equal(b[HeaderSize:], payload) {
			t.Fatalf("payload %q, want %q", b[HeaderSize:], payload)
		}
		if len(payload) > 0 {
			b[len(b)-1] ^= 1
			if _, _, err := DecodeMsg(b); !errors.Is(err, ErrCRC) {
				t.Fatalf("a changed payload byte: DecodeMsg error %v, want ErrCRC", err)
			}
		}
	}
}
