package sim

import (
	"bytes"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// packet is a message on the simulated wire: marshalled at send, so that
// every receiver gets its own copy, as over gRPC.
type packet struct {
	from, to uint32
	toGen    int // the destination's generation when sent
	typ      protoreflect.MessageType
	data     []byte
	desc     string        // for the trace
	hb       bool          // a heartbeat
	orig     proto.Message // with Options.CheckSent: the engine's value
}

// packetCache marshals a message once for all its destinations: the
// engine sends one value to several nodes.
type packetCache struct {
	msg  proto.Message
	data []byte
	desc string
}

// isData reports whether m is a data message (loss and duplication hit
// these unless the run has the All feature).
func isData(m proto.Message) bool {
	switch m.(type) {
	case *wire.Submit, *wire.Ordered, *wire.Ack, *wire.Nack:
		return true
	}
	return false
}

func hasNonHeartbeat(msgs []cluster.Outbound) bool {
	for _, o := range msgs {
		if _, ok := o.Msg.(*wire.PeerHeartbeat); !ok {
			return true
		}
	}
	return false
}

// sendAll puts node n's outbound messages on the wire: each may be lost,
// duplicated and delayed; a cut link drops it.
func (w *World) sendAll(n *node, msgs []cluster.Outbound) {
	for _, o := range msgs {
		if ord, ok := o.Msg.(*wire.Ordered); ok {
			w.safe.ordered(n.id, ord)
		}
		_, hb := o.Msg.(*wire.PeerHeartbeat)
		if !hb {
			w.lastData = w.now
			w.lastDataMsg, w.lastDataFrom, w.lastDataTo = o.Msg, n.id, o.To
		}
		to := w.node(o.To)
		c := &w.pkt
		if c.msg != o.Msg {
			b, err := proto.Marshal(o.Msg)
			if err != nil {
				w.problem("n%d: marshal %T: %v", n.id, o.Msg, err)
				continue
			}
			c.msg, c.data, c.desc = o.Msg, b, ""
			if w.opt.Trace != nil {
				c.desc = describeMsg(o.Msg)
			}
			if w.opt.CheckSent && w.opt.KeepSent {
				w.sent = append(w.sent, sentMsg{from: n.id, msg: o.Msg, data: b})
			}
		}
		p := &packet{from: n.id, to: o.To, toGen: to.gen, typ: o.Msg.ProtoReflect().Type(), data: c.data, desc: c.desc, hb: hb}
		if w.opt.CheckSent {
			p.orig = o.Msg
		}
		if w.cut[p.from][p.to] {
			w.traceNet(p, "cut")
			continue
		}
		copies := 1
		if w.active {
			loss, dup := 0.0, 0.0
			if w.p.Features&Loss != 0 && isData(o.Msg) {
				loss = w.p.LossData
			}
			if w.p.Features&Dup != 0 && isData(o.Msg) {
				dup = w.p.DupData
			}
			if w.p.Features&All != 0 {
				loss = max(loss, w.p.LossAll)
				dup = max(dup, w.p.DupAll)
			}
			if loss > 0 && w.netRand.Float64() < loss {
				w.traceNet(p, "LOST")
				continue
			}
			if dup > 0 && w.netRand.Float64() < dup {
				copies = 2
			}
		}
		for i := range copies {
			at := w.now + w.delay()
			if w.p.Features&Reorder == 0 {
				at = max(at, w.lastAt[p.from][p.to])
				w.lastAt[p.from][p.to] = at
			}
			if i > 0 {
				w.traceNet(p, "DUPLICATED")
			}
			w.at(at, func() { w.arrive(p) })
		}
	}
}

// delay draws a message's latency: mostly short, exponential around the
// run's mean, now and then (Spikes) a long one.
func (w *World) delay() time.Duration {
	r := w.netRand
	if w.active && w.p.Features&Spikes != 0 && r.Float64() < w.p.SpikeProb {
		return time.Duration(20+r.Intn(70)) * time.Millisecond
	}
	d := 20*time.Microsecond + time.Duration(r.ExpFloat64()*float64(w.p.DelayMean))
	return min(d, 15*time.Millisecond)
}

func (w *World) traceNet(p *packet, what string) {
	if w.opt.Trace != nil && (!p.hb || w.opt.TraceAll) {
		w.tracef("n%d -> n%d %s %s", p.from, p.to, what, p.desc)
	}
}

// arrive hands a packet to its destination, unless the destination
// restarted since it was sent or the link is now cut; a stalled node
// queues it.
func (w *World) arrive(p *packet) {
	if w.opt.CheckSent && isData(p.orig) {
		w.unchanged(sentMsg{from: p.from, msg: p.orig, data: p.data}, "before it arrived")
	}
	n := w.node(p.to)
	switch {
	case !n.up || n.gen != p.toGen:
		w.traceNet(p, "dropped (destination restarted or down)")
		return
	case w.cut[p.from][p.to]:
		w.traceNet(p, "cut in flight")
		return
	case n.stalled():
		n.inbox = append(n.inbox, p)
		return
	}
	w.step(n, p)
}

// step feeds a packet to node n's engine.
func (w *World) step(n *node, p *packet) {
	m := p.typ.New().Interface()
	if err := proto.Unmarshal(p.data, m); err != nil {
		w.problem("n%d: unmarshal %T: %v", n.id, m, err)
		return
	}
	if w.opt.Trace != nil && (!p.hb || w.opt.TraceAll) {
		w.tracef("n%d <- n%d %s", p.to, p.from, p.desc)
	}
	if o, ok := m.(*wire.Ordered); ok {
		w.safe.ordered(p.to, o)
	}
	if o, ok := m.(*wire.Ordered); ok && !o.Retransmit {
		for _, ev := range o.Events {
			if ev.Kind == wire.Kind_KIND_HANDOFF && ev.GetHandoff().GetTo() == p.to {
				w.handoffs++
			}
		}
	}
	n.eng.Step(p.from, m)
	w.carryOut(n, "step")
}

// sentMsg is a message as it was when the engine handed it out.
type sentMsg struct {
	from uint32
	msg  proto.Message
	data []byte
}

// checkSent reports the first message (of every one the engines handed
// out, with Options.KeepSent) that changed since.
func (w *World) checkSent() {
	for _, s := range w.sent {
		if !w.unchanged(s, "since") {
			return
		}
	}
}

// unchanged reports whether a message is as it was when the engine handed
// it out, and records a problem if not. The actor shell sends to a remote
// node through protoactor, which serializes later, in another goroutine:
// a message the engine changes afterwards is a data race and may go out
// changed.
func (w *World) unchanged(s sentMsg, when string) bool {
	b, err := proto.Marshal(s.msg)
	if err == nil && bytes.Equal(b, s.data) {
		return true
	}
	was := s.msg.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(s.data, was); err != nil {
		return true
	}
	w.problem("aliasing: a message of node %d changed %s after the engine handed it out: was %s, now %s",
		s.from, when, describeMsg(was), describeMsg(s.msg))
	return false
}
