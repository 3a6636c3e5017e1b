// Package sequencer holds a group's sequencer as a deterministic state
// machine: in one view, it gives every submitted event of the group (join,
// leave, message) the next number of the group's agreed order, and tracks
// which numbers every node of the view holds (the stable point).
//
// A Sequencer has no goroutines, clocks or randomness: Submit and Ack in,
// Ready out, Advance to acknowledge, like etcd-io/raft's RawNode. A new
// view starts a new Sequencer (sequence numbers restart at 1).
package sequencer

import (
	"cmp"
	"slices"

	"github.com/actorcpg/actorcpg/internal/wire"
)

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
	// closed: the sequencer handed the group over (HandOff) and orders
	// nothing more.
	closed bool
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
	if _, ok := s.acks[from]; !ok || s.closed {
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

// HandOff orders, as the group's next event, the handover of the
// sequencer to node to (KIND_HANDOFF from node self, carrying what the
// sequencer knows of each origin), and closes this sequencer: it orders
// nothing more. It returns false, and does nothing, if the sequencer is
// closed already or to is not a node of the view.
func (s *Sequencer) HandOff(self, to uint32) bool {
	if _, ok := s.acks[to]; !ok || s.closed || to == self {
		return false
	}
	h := &wire.Handoff{To: to}
	for node, o := range s.origins {
		h.Origins = append(h.Origins, &wire.SeqOrigin{Node: node, Inc: o.inc, Msgid: o.msgid})
	}
	slices.SortFunc(h.Origins, func(a, b *wire.SeqOrigin) int { return cmp.Compare(a.Node, b.Node) })
	s.ready.Ordered = append(s.ready.Ordered, &wire.GroupEvent{Seq: s.next, Kind: wire.Kind_KIND_HANDOFF, Nodeid: self, Handoff: h})
	s.next++
	s.closed = true
	return true
}

// Close closes the sequencer without a handoff (it orders nothing more)
// and returns what it knows of each origin, by node, for the sequencer
// that takes the group over in the same view (Resume, with a handoff
// event of seq High carrying them).
func (s *Sequencer) Close() []*wire.SeqOrigin {
	s.closed = true
	out := make([]*wire.SeqOrigin, 0, len(s.origins))
	for node, o := range s.origins {
		out = append(out, &wire.SeqOrigin{Node: node, Inc: o.inc, Msgid: o.msgid})
	}
	slices.SortFunc(out, func(a, b *wire.SeqOrigin) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// Closed reports whether the sequencer handed the group over or was
// closed.
func (s *Sequencer) Closed() bool { return s.closed }

// Resume returns the sequencer that takes a group over from the handoff
// event ev (ordered at ev.Seq) in a view whose nodes are members: the
// next event gets ev.Seq+1, each origin goes on where ev says, and acks
// are what each node is known to hold (missing nodes hold nothing yet).
func Resume(members []uint32, ev *wire.GroupEvent, acks map[uint32]uint64) *Sequencer {
	s := New(members)
	s.next = ev.GetSeq() + 1
	for _, o := range ev.GetHandoff().GetOrigins() {
		if _, ok := s.acks[o.GetNode()]; ok && o != nil {
			s.origins[o.Node] = &origin{inc: o.Inc, msgid: o.Msgid}
		}
	}
	s.stable = s.next - 1
	for m := range s.acks {
		s.acks[m] = min(acks[m], s.next-1)
		s.stable = min(s.stable, s.acks[m])
	}
	return s
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
