// Package sequencer holds a group's sequencer as a deterministic state
// machine: it gives every submitted event of the group (join, leave,
// message) the next number of the group's agreed order, and emits the
// ordered events in batches for every node's group replica.
//
// A Sequencer has no goroutines, clocks or randomness: Submit in, Ready out,
// Advance to acknowledge, like etcd-io/raft's RawNode.
package sequencer

import "github.com/actorcpg/actorcpg/api/wire"

// Sequencer orders the events of one group. Not safe for concurrent use:
// one actor owns it.
type Sequencer struct {
	// next is the sequence number the next event gets.
	next uint64
	// seen is the highest msgid ordered per origin node, so that an event
	// submitted twice (a re-send) is ordered once.
	seen  map[uint32]uint64
	ready Ready
}

// Ready is the sequencer's output since the last Advance.
type Ready struct {
	// Ordered are newly sequenced events, in sequence order, for every
	// replica of the group. They must be sent in this order.
	Ordered []*wire.GroupEvent
}

// New returns a sequencer whose first event gets sequence number 1.
func New() *Sequencer {
	return &Sequencer{next: 1, seen: make(map[uint32]uint64)}
}

// Submit orders events submitted by one node's replica, keeping their
// order. An event whose msgid its origin node already had ordered is a
// duplicate and is dropped.
func (s *Sequencer) Submit(events []*wire.GroupEvent) {
	for _, ev := range events {
		if ev.Msgid != 0 {
			if ev.Msgid <= s.seen[ev.Nodeid] {
				continue
			}
			s.seen[ev.Nodeid] = ev.Msgid
		}
		ev.Seq = s.next
		s.next++
		s.ready.Ordered = append(s.ready.Ordered, ev)
	}
}

// NextSeq returns the number the next ordered event will get.
func (s *Sequencer) NextSeq() uint64 { return s.next }

// HasReady reports whether there is output to carry out.
func (s *Sequencer) HasReady() bool { return len(s.ready.Ordered) > 0 }

// Ready returns the pending output.
func (s *Sequencer) Ready() Ready { return s.ready }

// Advance clears the output returned by Ready.
func (s *Sequencer) Advance() { s.ready = Ready{} }
