package sim

import (
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// safeOracle checks from outside the engines what CPG_TYPE_SAFE means in
// actorcpg: a SAFE message delivered in a ring (not in a view change's
// flush, where the survivors of a cut deliver what they alone hold, as in
// Totem's transitional configuration) is held by every node of that ring
// at that moment: each has received the Ordered frame with its seq, or
// sent it as the group's sequencer. Delivery records alone cannot tell an
// early SAFE delivery from a correct one; the simulator sees every frame.
// Large messages (ordered in parts) are not judged.
type safeOracle struct {
	holds map[safeHold]bool
	seqOf map[safeMsg]uint64
}

type ringKey struct {
	node uint32
	seq  uint64
}

type safeHold struct {
	node  uint32
	group string
	ring  ringKey
	seq   uint64
}

type safeMsg struct {
	group string
	ring  ringKey
	from  checker.Proc
	seq   uint64
}

func ringOf(r *api.RingId) ringKey { return ringKey{node: r.GetNodeid(), seq: r.GetSeq()} }

// ordered records that node holds the events of an Ordered frame it
// received or sent.
func (o *safeOracle) ordered(node uint32, m *wire.Ordered) {
	if o.holds == nil {
		o.holds = map[safeHold]bool{}
		o.seqOf = map[safeMsg]uint64{}
	}
	r, g := ringOf(m.Ring), string(m.Group)
	for _, ev := range m.Events {
		if ev.Kind != wire.Kind_KIND_MCAST {
			continue
		}
		o.holds[safeHold{node: node, group: g, ring: r, seq: ev.Seq}] = true
		if ev.Guarantee != uint32(api.TypeSafe) || ev.Part || ev.Elided {
			continue
		}
		if from, seq, err := checker.DecodeMsg(ev.Data); err == nil {
			o.seqOf[safeMsg{group: g, ring: r, from: from, seq: seq}] = ev.Seq
		}
	}
}

// delivered checks the SAFE messages among events that node n delivered
// in its current ring.
func (w *World) safeDelivered(n *node, evs []*api.Event) {
	r := ringOf(n.view.RingId)
	for _, ev := range evs {
		d := ev.Deliver
		if d == nil {
			continue
		}
		from, seq, err := checker.DecodeMsg(d.Data)
		if err != nil {
			continue
		}
		g := string(d.Group)
		s, ok := w.safe.seqOf[safeMsg{group: g, ring: r, from: from, seq: seq}]
		if !ok {
			continue
		}
		for _, m := range n.view.Members {
			if !w.safe.holds[safeHold{node: m, group: g, ring: r, seq: s}] {
				w.problem("SAFE %s:%d delivered at node %d in ring %d.%d before node %d held it (seq %d)",
					from, seq, n.id, r.node, r.seq, m, s)
				break
			}
		}
	}
}
