package cluster

import (
	"slices"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/sequencer"
)

// maxEarly bounds the events a replica keeps ahead of a gap; beyond it
// they are dropped and asked for again once the gap is filled.
const maxEarly = 1 << 16

// eventID identifies an event across views: its origin's incarnation and
// the origin's counter.
type eventID struct {
	inc   uint64
	msgid uint64
}

func (a eventID) after(b eventID) bool {
	return a.inc > b.inc || (a.inc == b.inc && a.msgid > b.msgid)
}

// group is this node's state of one group: the replica (groups.Group)
// with its log in the current view, what this node submitted and has not
// yet seen ordered, and the sequencer when this node orders the group.
type group struct {
	key  string
	name []byte
	g    *groups.Group

	// The log of the current view. held are the events base+1 ..
	// base+len(held), received contiguously; early those beyond a gap.
	base  uint64
	held  []*wire.GroupEvent
	early map[uint64]*wire.GroupEvent
	// next is the next seq to deliver; stable the highest seq every node
	// of the view holds; high the highest seq known to exist.
	next    uint64
	stable  uint64
	high    uint64
	acked   uint64
	lastAck time.Duration
	// ackNow: the log grew by an event that another node waits for this
	// node's ack of (its own, whose origin-held delivery elsewhere needs
	// it, or a SAFE one); other growth is acknowledged at the next tick
	// or once the backlog is a quarter of the window.
	ackNow bool
	// conts is the highest contiguous seq each other node of the view
	// has acknowledged. Another node's event is delivered only once its
	// origin holds every event up to it, as Totem's originator always
	// holds its own messages: then the origin's side of any later split
	// delivers it in the same place, and never sends it again.
	conts map[uint32]uint64
	// remoteCong: nodes whose members of the group are congested, with
	// the time each said so last. It is a lease: a congested node says it
	// again every Retransmit, and a node silent for three of them counts
	// as no longer congested (its all-clear may have been lost).
	remoteCong map[uint32]time.Duration
	sentCong   bool
	gapSince   time.Duration // -1: no gap
	// heldBytes is the size of held (eventBytes each); backlog says the
	// group is flow-controlled for it (Config.Window).
	heldBytes int
	backlog   bool

	// last is the id of the last event delivered per origin node, so that
	// an event re-sent in a later view is delivered once.
	last map[uint32]eventID

	// pending are this node's events not yet seen ordered, in msgid
	// order; the first sent of them went to the sequencer in this view.
	pending      []*wire.GroupEvent
	sent         int
	restart      bool
	lastSend     time.Duration
	lastProgress time.Duration

	// owner is the node that sequences the group: owner() at the start
	// of the view, then where each handoff in the log moves it.
	owner uint32
	// sole is the only node whose events this node's sequencer ordered
	// since soleSince, soleEvents of them (see Config.Handoff).
	sole       uint32
	soleSince  time.Duration
	soleEvents int

	// seq is the group's sequencer when this node is its owner in the
	// view; seqOut its ordered events not yet sent.
	seq         *sequencer.Sequencer
	seqOut      []*wire.GroupEvent
	seqStable   bool
	lastSeqBeat time.Duration
	queued      bool // in Engine.flushes
	dirty       bool // in Engine.dirty
}

func (gr *group) contiguous() uint64 { return gr.base + uint64(len(gr.held)) }

// resetLog starts the group's log of a new view.
func (gr *group) resetLog(now time.Duration) {
	clear(gr.held)
	gr.held, gr.base, gr.heldBytes = nil, 0, 0
	clear(gr.early)
	gr.next, gr.stable, gr.high, gr.acked = 1, 0, 0, 0
	clear(gr.conts)
	clear(gr.remoteCong)
	gr.g.SetRemoteCongestion(false)
	gr.gapSince = -1
	gr.seq, gr.seqOut, gr.seqStable = nil, nil, false
	gr.sole, gr.soleSince, gr.soleEvents = 0, now, 0
	gr.sent, gr.restart = 0, true
	gr.lastProgress, gr.lastSend = now, now
	gr.g.ResetSeq(1)
}

// group returns the group named name, creating it.
func (e *Engine) group(name []byte) *group {
	if gr, ok := e.groups[string(name)]; ok {
		return gr
	}
	gr := &group{
		key:      string(name),
		name:     slices.Clone(name),
		early:    make(map[uint64]*wire.GroupEvent),
		last:     make(map[uint32]eventID),
		conts:    make(map[uint32]uint64),
		next:     1,
		gapSince: -1,
		restart:  true,
	}
	gr.owner = owner(gr.name, e.members)
	gr.g = groups.New(gr.name, e.cfg.NodeID)
	gr.g.SetIncarnation(e.cfg.Incarnation)
	gr.g.SetLastMsgID(e.msgIDs[gr.key])
	gr.g.SetFragment(e.cfg.Fragment)
	gr.lastProgress = e.now
	e.groups[gr.key] = gr
	return gr
}

func (e *Engine) touch(gr *group) {
	if !gr.dirty {
		gr.dirty = true
		e.dirty = append(e.dirty, gr)
	}
}

func (e *Engine) queueFlush(gr *group) {
	if !gr.queued {
		gr.queued = true
		e.flushes = append(e.flushes, gr)
	}
}

// collect moves the output of every touched replica into the engine's
// Ready.
func (e *Engine) collect() {
	for _, gr := range e.dirty {
		gr.dirty = false
		if !gr.g.HasReady() {
			continue
		}
		rd := gr.g.Ready()
		if len(rd.Submit) > 0 {
			gr.pending = append(gr.pending, rd.Submit...)
			e.queueFlush(gr)
		}
		e.ready.Deliveries = append(e.ready.Deliveries, rd.Deliveries...)
		for _, l := range rd.Left {
			delete(e.handles, l.Handle)
		}
		e.ready.Left = append(e.ready.Left, rd.Left...)
		e.ready.Rejected = append(e.ready.Rejected, rd.Rejected...)
		if rd.FlowChanged {
			on := gr.g.FlowControlled()
			for _, h := range gr.g.Handles() {
				e.ready.Flow = append(e.ready.Flow, FlowChange{Handle: h, Enabled: on})
			}
		}
		gr.g.Advance()
	}
	e.dirty = e.dirty[:0]
}

// Flush sends what the inputs since the last Flush produced: each group's
// new submissions to its sequencer, and each sequencer's newly ordered
// events (with its stable point) to every node of the view. A sequencer
// on this node takes the submissions directly, and this node's replica
// takes the ordered events directly.
func (e *Engine) Flush() {
	if e.syncing || e.ready.Totem != nil {
		return // the new view's traffic waits until its totem confchg is out
	}
	// A group may be queued again while flushing (its own sequencer
	// delivers to it); loop until quiet.
	acks := make(map[uint32][]*wire.GroupAck)
	for len(e.flushes) > 0 {
		list := e.flushes
		e.flushes = nil
		for _, gr := range list {
			gr.queued = false
			e.flushSubmits(gr)
			e.flushOrdered(gr)
			if gr.contiguous() > gr.acked && (gr.ackNow || gr.heldBytes > e.cfg.Window/4) {
				e.ack(gr, acks)
			}
		}
		e.collect()
	}
	e.sendAcks(acks)
}

func (e *Engine) flushSubmits(gr *group) {
	if gr.sent >= len(gr.pending) {
		return
	}
	evs := gr.pending[gr.sent:]
	restart := gr.restart
	if restart {
		evs = gr.pending
	}
	gr.sent = len(gr.pending)
	gr.restart = false
	gr.lastSend = e.now
	own := gr.owner
	if own == e.cfg.NodeID {
		if gr.seq == nil {
			gr.seq = sequencer.New(e.members)
		}
		// The sequencer numbers what it orders; keep our pending copies
		// unnumbered, they may be sent again in another view.
		cp := make([]*wire.GroupEvent, len(evs))
		for i, ev := range evs {
			cp[i] = cloneEvent(ev)
		}
		e.sequence(gr, e.cfg.NodeID, restart, cp)
		return
	}
	for len(evs) > 0 {
		n := frameCount(evs, e.cfg.FrameBytes)
		// A copy: pending changes once the events come back ordered, and
		// the message may still be on its way out (the actor shell
		// serializes it later).
		e.send(own, &wire.Submit{Group: gr.name, Events: slices.Clone(evs[:n]), From: e.cfg.NodeID, Ring: e.ring.api(), Restart: restart})
		evs, restart = evs[n:], false
	}
}

// frameCount returns how many of evs go in one message of at most limit
// payload bytes (always at least one).
func frameCount(evs []*wire.GroupEvent, limit int) int {
	size := 0
	for i, ev := range evs {
		size += len(ev.Data) + 48
		if i > 0 && size > limit {
			return i
		}
	}
	return len(evs)
}

func cloneEvent(ev *wire.GroupEvent) *wire.GroupEvent {
	return &wire.GroupEvent{
		Seq: ev.Seq, Kind: ev.Kind, Nodeid: ev.Nodeid, Pid: ev.Pid, Reason: ev.Reason,
		Guarantee: ev.Guarantee, Data: ev.Data, Msgid: ev.Msgid, More: ev.More, Part: ev.Part, Inc: ev.Inc,
		Handoff: ev.Handoff, Elided: ev.Elided,
	}
}

// sequence feeds a submission to this node's sequencer of the group, and
// hands the group over to the submitting node if it has been the only one
// for Config.Handoff (never in the middle of a large message).
func (e *Engine) sequence(gr *group, from uint32, restart bool, evs []*wire.GroupEvent) {
	before := gr.seq.NextSeq()
	gr.seq.Submit(from, restart, evs)
	if n := gr.seq.NextSeq() - before; n > 0 {
		if from != gr.sole {
			gr.sole, gr.soleSince, gr.soleEvents = from, e.now, 0
		}
		gr.soleEvents += int(n)
		last := gr.seq.Ready().Ordered
		if e.cfg.Handoff > 0 && from != e.cfg.NodeID && e.now-gr.soleSince >= e.cfg.Handoff &&
			gr.soleEvents >= handoffEvents && len(last) > 0 && !last[len(last)-1].More {
			gr.seq.HandOff(e.cfg.NodeID, from)
		}
	}
	e.takeSequencer(gr)
}

// handoffEvents is how many events in a row from one other node, at
// least, move a group's sequencer there (with Config.Handoff): a node
// that sends now and then after a quiet spell does not move it.
const handoffEvents = 16

// handedOff applies a handoff that is now in this node's log in order:
// the group's sequencer is the handoff's target from the next seq on.
// This node's unordered submissions go there, from the first.
func (e *Engine) handedOff(gr *group, ev *wire.GroupEvent) {
	to := ev.GetHandoff().GetTo()
	if !slices.Contains(e.members, to) || ev.Nodeid != gr.owner {
		return // malformed, or not from the sequencer of the log so far
	}
	gr.owner = to
	gr.sole, gr.soleSince, gr.soleEvents = 0, e.now, 0
	if to == e.cfg.NodeID {
		acks := make(map[uint32]uint64, len(e.members))
		for _, m := range e.members {
			acks[m] = gr.conts[m]
		}
		acks[e.cfg.NodeID] = gr.contiguous()
		gr.seq = sequencer.Resume(e.members, ev, acks)
		// Announce where the stable point is (the old sequencer may
		// not have announced the last of it).
		gr.seqStable = true
		e.queueFlush(gr)
	} else {
		gr.seq = nil
	}
	if len(gr.pending) > 0 {
		gr.sent, gr.restart = 0, true
		e.queueFlush(gr)
	}
}

func (e *Engine) takeSequencer(gr *group) {
	if !gr.seq.HasReady() {
		return
	}
	rd := gr.seq.Ready()
	gr.seqOut = append(gr.seqOut, rd.Ordered...)
	gr.seqStable = gr.seqStable || rd.StableChanged
	gr.seq.Advance()
	e.queueFlush(gr)
}

func (e *Engine) flushOrdered(gr *group) {
	if gr.seq == nil || (len(gr.seqOut) == 0 && !gr.seqStable) {
		return
	}
	out := gr.seqOut
	gr.seqOut, gr.seqStable = nil, false
	stable, high := gr.seq.Stable(), gr.seq.High()
	gr.lastSeqBeat = e.now
	evs := out
	for {
		n := 0
		if len(evs) > 0 {
			n = frameCount(evs, e.cfg.FrameBytes)
		}
		m := &wire.Ordered{Group: gr.name, Events: evs[:n:n], Ring: e.ring.api(), Stable: stable, High: high, From: e.cfg.NodeID}
		for _, to := range e.members {
			if to == e.cfg.NodeID {
				continue
			}
			if el := elideFor(to, m); el != nil {
				e.send(to, el) // the origin has its own payloads
			} else {
				e.send(to, m)
			}
		}
		evs = evs[n:]
		if len(evs) == 0 {
			break
		}
	}
	e.receive(gr, out, stable, high)
}

// elideFor returns m for node to with the payloads of to's own events
// left out (to holds them: they wait in its pending list), or nil if m
// has none of its events.
func elideFor(to uint32, m *wire.Ordered) *wire.Ordered {
	var out []*wire.GroupEvent
	for i, ev := range m.Events {
		if ev.Nodeid != to || len(ev.Data) == 0 {
			continue
		}
		if out == nil {
			out = slices.Clone(m.Events)
		}
		el := cloneEvent(ev)
		el.Data, el.Elided = nil, true
		out[i] = el
	}
	if out == nil {
		return nil
	}
	return &wire.Ordered{Group: m.Group, Events: out, Ring: m.Ring, Stable: m.Stable, High: m.High, From: m.From}
}

// restore puts back the payload of this node's own event that the
// sequencer left out (elided), from the pending copy of it, searching
// pending from index *from on (a frame's events of one origin come in id
// order, and so does pending: the search resumes where the last one
// ended). false if there is no copy: the event is then asked for again,
// whole.
func (e *Engine) restore(gr *group, ev *wire.GroupEvent, from *int) (*wire.GroupEvent, bool) {
	if ev.Nodeid != e.cfg.NodeID {
		return nil, false
	}
	id := eventID{ev.Inc, ev.Msgid}
	for i := *from; i < len(gr.pending); i++ {
		p := gr.pending[i]
		pid := eventID{p.Inc, p.Msgid}
		if pid == id {
			*from = i + 1
			whole := cloneEvent(ev)
			whole.Data, whole.Elided = p.Data, false
			return whole, true
		}
		if pid.after(id) {
			break // pending is in id order
		}
	}
	return nil, false
}

// receive adds ordered events of the current view to the group's log and
// delivers what is in order.
func (e *Engine) receive(gr *group, evs []*wire.GroupEvent, stable, high uint64) {
	pendingAt := 0 // where restore's search resumes
	for _, ev := range evs {
		if ev == nil || ev.Seq == 0 {
			continue
		}
		cont := gr.contiguous()
		if ev.Seq <= cont {
			continue
		}
		if ev.Elided {
			whole, ok := e.restore(gr, ev, &pendingAt)
			if !ok {
				gr.high = max(gr.high, ev.Seq) // a gap: asked for again
				continue
			}
			ev = whole
		}
		switch {
		case ev.Seq == cont+1:
			e.hold(gr, ev)
			for {
				nx, ok := gr.early[gr.contiguous()+1]
				if !ok {
					break
				}
				delete(gr.early, nx.Seq)
				e.hold(gr, nx)
			}
		default:
			if len(gr.early) < maxEarly {
				gr.early[ev.Seq] = ev
			}
		}
		gr.high = max(gr.high, ev.Seq)
	}
	gr.high = max(gr.high, high)
	gr.stable = max(gr.stable, min(stable, gr.high))
	if gr.contiguous() > gr.acked && (gr.ackNow || gr.heldBytes > e.cfg.Window/4) {
		e.queueFlush(gr) // Flush tells the others what this node holds
	}
	if gr.contiguous() < gr.high {
		if gr.gapSince < 0 {
			gr.gapSince = e.now
		}
	} else {
		gr.gapSince = -1
	}
	e.deliver(gr, false)
}

// hold appends the next event to the group's log.
func (e *Engine) hold(gr *group, ev *wire.GroupEvent) {
	gr.held = append(gr.held, ev)
	gr.heldBytes += eventBytes(ev)
	if ev.Nodeid == e.cfg.NodeID || ev.Guarantee == uint32(api.TypeSafe) {
		gr.ackNow = true
	}
	if ev.Kind == wire.Kind_KIND_HANDOFF {
		e.handedOff(gr, ev)
	}
}

// deliver applies the group's log in order up to what it holds contiguously.
// A SAFE message waits until it is stable (held by every node of the
// view), and everything after it waits with it; flush delivers anyway.
func (e *Engine) deliver(gr *group, flush bool) {
	for gr.next <= gr.contiguous() {
		ev := gr.held[gr.next-gr.base-1]
		if !flush && ev.Nodeid != e.cfg.NodeID && max(gr.conts[ev.Nodeid], gr.stable) < ev.Seq && e.cfg.Bug != BugNoOriginHeld {
			break // its origin does not hold it yet (as far as this node knows)
		}
		if !flush && ev.Guarantee == uint32(api.TypeSafe) && ev.Seq > gr.stable && e.cfg.Bug != BugSafeEarly {
			break
		}
		gr.next++
		e.apply(gr, ev)
	}
	// Drop what every node holds and this node has delivered.
	if drop := min(gr.stable, gr.next-1); drop > gr.base {
		k := drop - gr.base
		for _, ev := range gr.held[:k] {
			gr.heldBytes -= eventBytes(ev)
		}
		clear(gr.held[:k])
		gr.held = gr.held[k:]
		gr.base = drop
		if len(gr.held) == 0 {
			gr.held = nil
		}
	}
	e.checkBacklog(gr)
}

// eventBytes is what an event counts for toward Config.Window.
func eventBytes(ev *wire.GroupEvent) int { return len(ev.Data) + 64 }

// checkBacklog flow-controls the group's local handles while the group's
// held backlog is above the window, until it is down to half.
func (e *Engine) checkBacklog(gr *group) {
	on := gr.heldBytes > e.cfg.Window || (gr.backlog && gr.heldBytes > e.cfg.Window/2)
	if on != gr.backlog {
		gr.backlog = on
		gr.g.SetBacklog(on)
		e.touch(gr)
	}
}

// apply delivers one event in agreed order, once per event id.
func (e *Engine) apply(gr *group, ev *wire.GroupEvent) {
	if ev.Kind == wire.Kind_KIND_HANDOFF {
		return // the engine's own: no member sees it
	}
	if ev.Msgid != 0 {
		id := eventID{ev.Inc, ev.Msgid}
		if l, ok := gr.last[ev.Nodeid]; ok && !id.after(l) && e.cfg.Bug != BugNoDedup {
			return // delivered before: a copy re-sent after a view change
		}
		gr.last[ev.Nodeid] = id
		if ev.Nodeid == e.cfg.NodeID {
			e.ordered(gr, id)
		}
	}
	gr.g.Deliver(ev)
	e.touch(gr)
}

// ordered drops this node's pending events up to id: they are ordered.
func (e *Engine) ordered(gr *group, id eventID) {
	n := 0
	for n < len(gr.pending) && !(eventID{gr.pending[n].Inc, gr.pending[n].Msgid}).after(id) {
		n++
	}
	if n == 0 {
		return
	}
	clear(gr.pending[:n])
	gr.pending = gr.pending[n:]
	gr.sent = max(0, gr.sent-n)
	if len(gr.pending) == 0 {
		gr.pending = nil
	}
	gr.lastProgress = e.now
}

func (e *Engine) onSubmit(from uint32, m *wire.Submit) {
	if e.keepForInstall(from, m.Ring, m) {
		return
	}
	if e.syncing || ringOf(m.Ring) != e.ring || m.From != from || api.CheckName(m.Group) != nil {
		return
	}
	for _, ev := range m.Events {
		if ev != nil && !validSubmitted(ev) {
			return
		}
	}
	gr := e.group(m.Group)
	if gr.owner != e.cfg.NodeID {
		// The sender has not seen a handoff (its frame may be lost):
		// tell it how far the log goes, so that it asks for the rest.
		if gr.high > 0 {
			e.send(from, &wire.Ordered{Group: gr.name, Ring: e.ring.api(), Stable: gr.stable, High: gr.high, From: e.cfg.NodeID})
		}
		return
	}
	if gr.seq == nil {
		gr.seq = sequencer.New(e.members)
	}
	e.sequence(gr, from, m.Restart, m.Events)
}

func (e *Engine) onOrdered(from uint32, m *wire.Ordered) {
	if e.keepForInstall(from, m.Ring, m) {
		return
	}
	if e.syncing || ringOf(m.Ring) != e.ring || m.From != from || api.CheckName(m.Group) != nil {
		return
	}
	// Any node of the view: each seq is given by one sequencer only (the
	// view's first, then each handoff's target from the seq after it),
	// and any replica may send again what it holds (onNack).
	if !slices.Contains(e.members, from) {
		return
	}
	for _, ev := range m.Events {
		if ev != nil && !validOrdered(ev, e.members) {
			return // malformed: none of the frame is taken
		}
	}
	gr := e.group(m.Group)
	e.receive(gr, m.Events, m.Stable, m.High)
}

// validOrdered: ev could have been ordered in a view of members: a kind
// the protocol has, from a node of the view. An event from no member
// would wait forever for its origin to hold it (deliver), and the real
// event of its seq would be taken for a copy: a peer's bug must not
// stall the group.
func validOrdered(ev *wire.GroupEvent, members []uint32) bool {
	switch ev.Kind {
	case wire.Kind_KIND_JOIN, wire.Kind_KIND_LEAVE, wire.Kind_KIND_MCAST:
	case wire.Kind_KIND_HANDOFF:
		if ev.Handoff == nil {
			return false
		}
	default:
		return false
	}
	return slices.Contains(members, ev.Nodeid)
}

// validSubmitted: ev is what a node submits for ordering: a join, leave
// or multicast (a handoff is the sequencer's own).
func validSubmitted(ev *wire.GroupEvent) bool {
	switch ev.Kind {
	case wire.Kind_KIND_JOIN, wire.Kind_KIND_LEAVE, wire.Kind_KIND_MCAST:
		return true
	}
	return false
}

func (e *Engine) onAck(from uint32, m *wire.Ack) {
	if e.keepForInstall(from, m.Ring, m) {
		return
	}
	if e.syncing || ringOf(m.Ring) != e.ring || m.From != from {
		return
	}
	for _, a := range m.Groups {
		if a == nil || api.CheckName(a.Group) != nil {
			continue
		}
		gr := e.group(a.Group)
		if _, was := gr.remoteCong[from]; a.Congested || was {
			if gr.remoteCong == nil {
				gr.remoteCong = make(map[uint32]time.Duration)
			}
			if a.Congested {
				gr.remoteCong[from] = e.now
			} else {
				delete(gr.remoteCong, from)
			}
			if on := len(gr.remoteCong) > 0; on != was {
				gr.g.SetRemoteCongestion(on)
				e.touch(gr)
			}
		}
		repeat := a.Seq <= gr.conts[from]
		if !repeat {
			gr.conts[from] = a.Seq
			e.deliver(gr, false)
		}
		if gr.seq != nil {
			gr.seq.Ack(from, a.Seq)
			e.takeSequencer(gr)
			if repeat && gr.seq.Stable() > 0 {
				// A node acknowledges again only while it sees the stable
				// point lag: the announcement may have been lost.
				e.send(from, &wire.Ordered{Group: gr.name, Ring: e.ring.api(), Stable: gr.seq.Stable(), High: gr.seq.High(), From: e.cfg.NodeID})
			}
		}
	}
}

// onNack sends a node again the events it misses, from this node's
// replica. A node asks the sequencer of its log so far, which holds every
// event above the stable point up to where it handed the group over.
func (e *Engine) onNack(from uint32, m *wire.Nack) {
	if e.keepForInstall(from, m.Ring, m) {
		return
	}
	if e.syncing || ringOf(m.Ring) != e.ring || m.From != from {
		return
	}
	gr, ok := e.groups[string(m.Group)]
	if !ok || m.Seq == 0 || m.SeqTo < m.Seq {
		return
	}
	lo := max(m.Seq, gr.base+1)
	hi := min(m.SeqTo, gr.contiguous())
	if lo > hi {
		return
	}
	evs := gr.held[lo-gr.base-1 : hi-gr.base]
	for len(evs) > 0 {
		n := frameCount(evs, e.cfg.FrameBytes)
		// A copy: held is cleared as it becomes stable.
		e.send(from, &wire.Ordered{Group: gr.name, Events: slices.Clone(evs[:n]), Ring: e.ring.api(),
			Stable: gr.stable, High: gr.high, From: e.cfg.NodeID, Retransmit: true})
		evs = evs[n:]
	}
}

// tickGroups acknowledges what this node holds, asks for what it misses,
// re-sends submissions that were not ordered, and lets each sequencer of
// this node repeat its stable point and highest seq while some node lags.
func (e *Engine) tickGroups() {
	acks := make(map[uint32][]*wire.GroupAck)
	for _, gr := range e.sortedGroups() {
		own := gr.owner
		// An ack is sent when the node holds more, and again while the
		// stable point lags behind it (an ack may be lost).
		if cont := gr.contiguous(); cont > gr.acked || (gr.stable < cont && e.now-gr.lastAck >= e.cfg.Retransmit) {
			e.ack(gr, acks)
		}
		if gr.gapSince >= 0 && e.now-gr.gapSince >= e.cfg.Retransmit && own != e.cfg.NodeID {
			to := gr.high
			for s := range gr.early {
				if s-1 < to {
					to = s - 1
				}
			}
			e.send(own, &wire.Nack{From: e.cfg.NodeID, Ring: e.ring.api(), Group: gr.name, Seq: gr.contiguous() + 1, SeqTo: to})
			gr.gapSince = e.now
		}
		if len(gr.pending) > 0 && gr.sent > 0 && e.now-gr.lastProgress >= e.cfg.Retransmit && e.now-gr.lastSend >= e.cfg.Retransmit {
			gr.sent, gr.restart = 0, true
			e.queueFlush(gr)
		}
		if gr.sentCong && e.now-gr.lastAck >= e.cfg.Retransmit {
			e.ack(gr, acks) // renew the congestion lease
		}
		if len(gr.remoteCong) > 0 {
			for n, at := range gr.remoteCong {
				if e.now-at > 3*e.cfg.Retransmit {
					delete(gr.remoteCong, n)
				}
			}
			if len(gr.remoteCong) == 0 {
				gr.g.SetRemoteCongestion(false)
				e.touch(gr)
			}
		}
		if gr.seq != nil && gr.seq.High() > gr.seq.Stable() && e.now-gr.lastSeqBeat >= e.cfg.Retransmit/2 {
			gr.seqStable = true
			e.queueFlush(gr)
		}
	}
	e.sendAcks(acks)
}

// ack tells every node of the view (the group's sequencer, for the stable
// point, and every replica, for origin-held delivery) what this node holds
// of the group; acks collects the messages by destination.
func (e *Engine) ack(gr *group, acks map[uint32][]*wire.GroupAck) {
	cont := gr.contiguous()
	gr.acked, gr.lastAck, gr.ackNow = cont, e.now, false
	if gr.seq != nil {
		gr.seq.Ack(e.cfg.NodeID, cont)
		e.takeSequencer(gr)
	}
	gr.sentCong = gr.g.LocalCongested()
	a := &wire.GroupAck{Group: gr.name, Seq: cont, Congested: gr.sentCong}
	for _, to := range e.members {
		if to != e.cfg.NodeID {
			acks[to] = append(acks[to], a)
		}
	}
}

func (e *Engine) sendAcks(acks map[uint32][]*wire.GroupAck) {
	for _, to := range e.members {
		if list := acks[to]; len(list) > 0 {
			e.send(to, &wire.Ack{From: e.cfg.NodeID, Ring: e.ring.api(), Groups: list})
		}
	}
}

// sortedGroups returns the groups in name order, so that the engine's
// output never depends on map order.
func (e *Engine) sortedGroups() []*group {
	out := make([]*group, 0, len(e.groups))
	for _, gr := range e.groups {
		out = append(out, gr)
	}
	slices.SortFunc(out, func(a, b *group) int { return api.CompareNames(a.name, b.name) })
	return out
}
