// Package sequencer holds a group's sequencer as a deterministic state
// machine: in one view, it gives every submitted event of the group (join,
// leave, message) the next number of the group's agreed order, and tracks
// which numbers every node of the view holds (the stable point).
//
// A Sequencer has no goroutines, clocks or randomness: Submit and Ack in,
// Ready out, Advance to acknowledge, like etcd-io/raft's RawNode. A new
// view starts a new Sequencer (sequence numbers restart at 1).
package sequencer

import "github.com/actorcpg/actorcpg/api/wire"

// origin is what the sequencer knows of one submitting node: the id of
// the next event it must order from it.
type origin struct {
	inc   uint64
	msgid uint64
}

// Sequencer orders the events of one group in one view. Not safe for
// concurrent use: one actor owns it.
type Sequencer struct {
	next    uint64
	origins map[uint32]*origin
	// acks is the highest contiguous seq each node of the view holds.
	acks   map[uint32]uint64
	stable uint64
	ready  Ready
}

// Ready is the sequencer's output since the last Advance.
type Ready struct {
	// Ordered are newly sequenced events, in sequence order, for every
	// replica of the group. They must be sent in this order.
	Ordered []*wire.GroupEvent
	// StableChanged says Stable() moved: tell every replica.
	StableChanged bool
}

// New returns the sequencer of a view whose nodes are members; the first
// event gets sequence number 1.
func New(members []uint32) *Sequencer {
	s := &Sequencer{next: 1, origins: make(map[uint32]*origin), acks: make(map[uint32]uint64, len(members))}
	for _, m := range members {
		s.acks[m] = 0
	}
	return s
}

// Submit orders events that node from submitted, keeping their order.
// A node's events carry consecutive msgids and are ordered exactly once
// each, in msgid order: a re-sent event already ordered is skipped, and
// events after a missing one are dropped (the node sends them again).
// restart says events[0] is the oldest event the node has not seen
// ordered, so the sequencer may take it as the next one even if it does
// not know the node yet (or skip ids the node dropped). Events of a node outside the view, or claiming
// another origin, are dropped.
func (s *Sequencer) Submit(from uint32, restart bool, events []*wire.GroupEvent) {
	if _, ok := s.acks[from]; !ok {
		return
	}
	o := s.origins[from]
	for i, ev := range events {
		if ev == nil || ev.Nodeid != from {
			return
		}
		first := restart && i == 0
		if o == nil || o.inc != ev.Inc || (first && ev.Msgid > o.msgid) {
			if !first {
				return
			}
			o = &origin{inc: ev.Inc, msgid: ev.Msgid}
			s.origins[from] = o
		}
		switch {
		case ev.Msgid < o.msgid:
			continue // ordered before: a re-sent copy
		case ev.Msgid > o.msgid:
			return
		}
		o.msgid++
		ev.Seq = s.next
		s.next++
		s.ready.Ordered = append(s.ready.Ordered, ev)
	}
}

// Ack records that node from holds every event up to seq. The stable
// point is the lowest of all nodes' acks.
func (s *Sequencer) Ack(from uint32, seq uint64) {
	cur, ok := s.acks[from]
	seq = min(seq, s.next-1)
	if !ok || seq <= cur {
		return
	}
	s.acks[from] = seq
	low := seq
	for _, a := range s.acks {
		low = min(low, a)
	}
	if low > s.stable {
		s.stable = low
		s.ready.StableChanged = true
	}
}

// Stable returns the highest seq every node of the view holds.
func (s *Sequencer) Stable() uint64 { return s.stable }

// High returns the highest seq assigned so far (0: none).
func (s *Sequencer) High() uint64 { return s.next - 1 }

// NextSeq returns the number the next ordered event will get.
func (s *Sequencer) NextSeq() uint64 { return s.next }

// HasReady reports whether there is output to carry out.
func (s *Sequencer) HasReady() bool { return len(s.ready.Ordered) > 0 || s.ready.StableChanged }

// Ready returns the pending output.
func (s *Sequencer) Ready() Ready { return s.ready }

// Advance clears the output returned by Ready.
func (s *Sequencer) Advance() { s.ready = Ready{} }
