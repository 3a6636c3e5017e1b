package replica

import (
	"reflect"
	"testing"
)

// TestMessagesRoundTrip: every kind decodes to what was encoded, and a
// truncated or foreign message is an error, never a panic.
func TestMessagesRoundTrip(t *testing.T) {
	msgs := []encodable{
		&msgOp{Inc: 7, Seq: 9, Op: Op{Kind: Put, Key: "k", Value: "v"}},
		&msgOp{Inc: 1, Seq: 2, Op: Op{Kind: Read, Key: "k"}},
		&msgAck{Term: 3, Index: 300},
		&msgInfo{Tag: 1 << 60, Initialized: true, Term: 2, Index: 5, Promised: 4, Lineage: []Pos{{1, 9}, {2, 0}}},
		&msgFormed{Tag: 42, Term: 5},
		&msgStart{Term: 5, ID: 2, Ring: Ring{Node: 3, Seq: 77}, Receivers: []Member{{3, 101}}, Synced: []Member{{1, 100}, {2, 100}}},
		&msgChunk{Term: 5, ID: 2, Part: 1, Last: true, Entries: []Entry{{"a", "1"}, {"b", ""}}, Cut: 12, Count: 2, Hash: []byte{1, 2}, Lineage: []Pos{{4, 4}}},
	}
	for _, m := range msgs {
		b := m.encode()
		got, err := decode(b)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Fatalf("%T: got %+v, want %+v", m, got, m)
		}
		for n := 0; n < len(b); n++ {
			if _, err := decode(b[:n]); err == nil && n < 2 {
				t.Fatalf("%T cut at %d decoded", m, n)
			}
		}
	}
	if _, err := decode([]byte("hello")); err == nil {
		t.Fatal("a foreign message decoded")
	}
}

// normalize makes empty slices nil so that DeepEqual compares content.
func normalize(m any) any {
	switch m := m.(type) {
	case *msgChunk:
		c := *m
		if len(c.Entries) == 0 {
			c.Entries = nil
		}
		return &c
	}
	return m
}
