package sequencer_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/sequencer"
)

// ev is a submitted message of node with msgid (0: no id).
func ev(node uint32, msgid uint64, data string) *wire.GroupEvent {
	return &wire.GroupEvent{Kind: wire.Kind_KIND_MCAST, Nodeid: node, Pid: 7, Msgid: msgid, Data: []byte(data)}
}

// take carries out the sequencer's Ready and describes it as "seq:data".
func take(t *testing.T, s *sequencer.Sequencer) []string {
	t.Helper()
	if !s.HasReady() {
		return nil
	}
	var out []string
	for _, e := range s.Ready().Ordered {
		out = append(out, fmt.Sprintf("%d:%s", e.Seq, e.Data))
	}
	s.Advance()
	if s.HasReady() {
		t.Fatalf("HasReady after Advance")
	}
	return out
}

func want(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("ordered %q, want %q", got, want)
	}
}

// The agreed order numbers events 1, 2, 3, ... in the order they are
// submitted, across submitters, and keeps each submission's own order.
func TestSequencerNumbersEventsInSubmissionOrder(t *testing.T) {
	s := sequencer.New()
	if s.HasReady() {
		t.Fatalf("new sequencer has output")
	}
	if got := s.NextSeq(); got != 1 {
		t.Errorf("NextSeq() of a new sequencer = %d, want 1", got)
	}
	s.Submit([]*wire.GroupEvent{ev(1, 1, "a"), ev(1, 2, "b")})
	s.Submit([]*wire.GroupEvent{ev(2, 1, "c")})
	want(t, take(t, s), "1:a", "2:b", "3:c")

	s.Submit([]*wire.GroupEvent{ev(2, 2, "d"), ev(1, 3, "e")})
	want(t, take(t, s), "4:d", "5:e")
	if got := s.NextSeq(); got != 6 {
		t.Errorf("NextSeq() = %d, want 6", got)
	}
	want(t, take(t, s))
}

// A re-sent event (same origin node and msgid, e.g. after a view change)
// is ordered once; the same msgid from another node is another event.
func TestSequencerDropsDuplicateMsgidPerOriginNode(t *testing.T) {
	s := sequencer.New()
	s.Submit([]*wire.GroupEvent{ev(1, 1, "a"), ev(1, 2, "b"), ev(1, 3, "c")})
	want(t, take(t, s), "1:a", "2:b", "3:c")

	// A re-send overlapping what was ordered keeps only the new events.
	s.Submit([]*wire.GroupEvent{ev(1, 2, "b"), ev(1, 3, "c"), ev(1, 4, "d")})
	s.Submit([]*wire.GroupEvent{ev(1, 4, "d")})
	// Node 2 numbers its own events: msgid 1 of node 2 is new.
	s.Submit([]*wire.GroupEvent{ev(2, 1, "x")})
	want(t, take(t, s), "4:d", "5:x")

	// A duplicate inside one submission is dropped too.
	s.Submit([]*wire.GroupEvent{ev(3, 1, "p"), ev(3, 1, "p")})
	want(t, take(t, s), "6:p")
	if got := s.NextSeq(); got != 7 {
		t.Errorf("NextSeq() = %d, want 7: dropped duplicates must not use numbers", got)
	}
}

// An event without a msgid cannot be recognised as a re-send, so it is
// always ordered.
func TestSequencerOrdersEventsWithoutMsgid(t *testing.T) {
	s := sequencer.New()
	s.Submit([]*wire.GroupEvent{ev(1, 0, "a"), ev(1, 0, "a")})
	want(t, take(t, s), "1:a", "2:a")
}

// Output accumulates until Advance, in order, with no gaps.
func TestSequencerReadyAccumulatesUntilAdvance(t *testing.T) {
	s := sequencer.New()
	for i := 1; i <= 1000; i++ {
		s.Submit([]*wire.GroupEvent{ev(uint32(1+i%3), uint64(i), "m")})
	}
	ordered := s.Ready().Ordered
	if len(ordered) != 1000 {
		t.Fatalf("Ready has %d events, want 1000", len(ordered))
	}
	for i, e := range ordered {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
	}
	s.Advance()
	if s.HasReady() || len(s.Ready().Ordered) != 0 {
		t.Errorf("output left after Advance")
	}
}
