package sequencer_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/actorcpg/actorcpg/internal/wire"
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
	s := sequencer.New([]uint32{1, 2})
	if s.HasReady() {
		t.Fatalf("new sequencer has output")
	}
	if got := s.NextSeq(); got != 1 {
		t.Errorf("NextSeq() of a new sequencer = %d, want 1", got)
	}
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 1, "a"), ev(1, 2, "b")})
	s.Submit(2, true, []*wire.GroupEvent{ev(2, 1, "c")})
	want(t, take(t, s), "1:a", "2:b", "3:c")

	s.Submit(2, false, []*wire.GroupEvent{ev(2, 2, "d")})
	s.Submit(1, false, []*wire.GroupEvent{ev(1, 3, "e")})
	want(t, take(t, s), "4:d", "5:e")
	if got := s.NextSeq(); got != 6 {
		t.Errorf("NextSeq() = %d, want 6", got)
	}
	want(t, take(t, s))
}

// A re-sent event (same origin and msgid) is ordered once; the same msgid
// from another node is another event.
func TestSequencerOrdersEachMsgidOncePerOrigin(t *testing.T) {
	s := sequencer.New([]uint32{1, 2, 3})
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 1, "a"), ev(1, 2, "b"), ev(1, 3, "c")})
	want(t, take(t, s), "1:a", "2:b", "3:c")

	// A re-send overlapping what was ordered keeps only the new events.
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 2, "b"), ev(1, 3, "c"), ev(1, 4, "d")})
	s.Submit(1, false, []*wire.GroupEvent{ev(1, 4, "d")})
	s.Submit(2, true, []*wire.GroupEvent{ev(2, 1, "x")})
	want(t, take(t, s), "4:d", "5:x")

	// A duplicate inside one submission is dropped too.
	s.Submit(3, true, []*wire.GroupEvent{ev(3, 1, "p"), ev(3, 1, "p")})
	want(t, take(t, s), "6:p")
	if got := s.NextSeq(); got != 7 {
		t.Errorf("NextSeq() = %d, want 7: dropped duplicates must not use numbers", got)
	}
}

// A node's events are ordered in msgid order with no hole: after a missing
// event the rest waits for the re-send, so per-sender FIFO survives loss.
func TestSequencerDropsEventsAfterAGap(t *testing.T) {
	s := sequencer.New([]uint32{1})
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 1, "a")})
	s.Submit(1, false, []*wire.GroupEvent{ev(1, 3, "c"), ev(1, 4, "d")}) // 2 was lost
	want(t, take(t, s), "1:a")
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 2, "b"), ev(1, 3, "c"), ev(1, 4, "d")})
	want(t, take(t, s), "2:b", "3:c", "4:d")
}

// A node the sequencer does not know yet is taken only from its oldest
// unordered event (restart); events of nodes outside the view, or that
// claim another origin, are dropped.
func TestSequencerNeedsARestartToLearnAnOrigin(t *testing.T) {
	s := sequencer.New([]uint32{1, 2})
	s.Submit(1, false, []*wire.GroupEvent{ev(1, 5, "late")})
	s.Submit(9, true, []*wire.GroupEvent{ev(9, 1, "stranger")})
	s.Submit(2, true, []*wire.GroupEvent{ev(1, 1, "forged")})
	want(t, take(t, s))
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 5, "e"), ev(1, 6, "f")})
	want(t, take(t, s), "1:e", "2:f")
}

// The stable point is the lowest ack of the view's nodes, never above what
// was ordered, and moves only forward.
func TestSequencerStablePointIsTheLowestAck(t *testing.T) {
	s := sequencer.New([]uint32{1, 2, 3})
	s.Submit(1, true, []*wire.GroupEvent{ev(1, 1, "a"), ev(1, 2, "b"), ev(1, 3, "c")})
	take(t, s)
	s.Ack(1, 3)
	s.Ack(2, 2)
	if s.Stable() != 0 || s.HasReady() {
		t.Fatalf("stable %d with node 3 silent, want 0", s.Stable())
	}
	s.Ack(3, 9) // more than was ordered: taken as 3
	if s.Stable() != 2 || !s.Ready().StableChanged {
		t.Fatalf("stable %d, want 2", s.Stable())
	}
	s.Advance()
	s.Ack(2, 1) // backwards: ignored
	s.Ack(7, 3) // not in the view: ignored
	if s.Stable() != 2 || s.HasReady() {
		t.Fatalf("stable %d after stale acks, want 2", s.Stable())
	}
	s.Ack(2, 3)
	if s.Stable() != 3 || s.High() != 3 {
		t.Fatalf("stable %d high %d, want 3 3", s.Stable(), s.High())
	}
}

// Output accumulates until Advance, in order, with no gaps.
func TestSequencerReadyAccumulatesUntilAdvance(t *testing.T) {
	s := sequencer.New([]uint32{1, 2, 3})
	for i := 1; i <= 1000; i++ {
		node := uint32(1 + i%3)
		s.Submit(node, true, []*wire.GroupEvent{ev(node, uint64(i), "m")})
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

// A handoff is ordered after what came before it; the closed sequencer
// orders nothing more, and the one resumed from the handoff goes on with
// the next seq and orders each origin's events exactly once.
func TestHandOffAndResume(t *testing.T) {
	s := sequencer.New([]uint32{1, 2, 3})
	s.Submit(2, true, []*wire.GroupEvent{ev(2, 1, "a"), ev(2, 2, "b")})
	if !s.HandOff(1, 2) {
		t.Fatal("HandOff(1, 2) refused")
	}
	out := s.Ready().Ordered
	want(t, take(t, s), "1:a", "2:b", "3:")
	h := out[2]
	if h.Kind != wire.Kind_KIND_HANDOFF || h.Nodeid != 1 || h.GetHandoff().GetTo() != 2 {
		t.Fatalf("handoff event %v", h)
	}
	if !s.Closed() || s.HandOff(1, 3) {
		t.Fatal("a closed sequencer handed off again")
	}
	s.Submit(2, false, []*wire.GroupEvent{ev(2, 3, "c")})
	want(t, take(t, s))

	r := sequencer.Resume([]uint32{1, 2, 3}, h, map[uint32]uint64{1: 3, 2: 3, 3: 1})
	if r.NextSeq() != 4 || r.Stable() != 1 {
		t.Fatalf("resumed at next %d, stable %d; want 4, 1", r.NextSeq(), r.Stable())
	}
	// Node 2 sends everything it has not seen delivered again: b was
	// ordered before the handoff, c was not.
	r.Submit(2, true, []*wire.GroupEvent{ev(2, 2, "b"), ev(2, 3, "c")})
	want(t, take(t, r), "4:c")
	// Node 3, unknown to the old sequencer, starts with a restart.
	r.Submit(3, false, []*wire.GroupEvent{ev(3, 5, "x")})
	want(t, take(t, r))
	r.Submit(3, true, []*wire.GroupEvent{ev(3, 5, "x")})
	want(t, take(t, r), "5:x")
	r.Ack(3, 5)
	if r.Stable() != 3 {
		t.Fatalf("stable %d after acks 3, 3, 5; want 3", r.Stable())
	}
}

// A handoff to a node outside the view, or to itself, is refused.
func TestHandOffOutsideTheView(t *testing.T) {
	s := sequencer.New([]uint32{1, 2})
	if s.HandOff(1, 3) || s.HandOff(1, 1) || s.Closed() {
		t.Fatal("handed off outside the view or to itself")
	}
}
