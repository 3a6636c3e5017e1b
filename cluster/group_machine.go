package cluster

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
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

// GroupMachine is one node's state of one group, a pure state machine
// (see the package doc): the replica (groups.Group) with its log in the
// current view, what this node submitted and has not yet seen ordered, and
// the sequencer (SequencerMachine) when this node orders the group. It
// knows the view only from the Install messages the view machine sends
// it, and the time only from Tick and the view messages. When this node
// orders the group, the group's SequencerMachine does (GroupReady.ToSeq).
// Not safe for concurrent use.
type GroupMachine struct {
	cfg  Config
	now  time.Duration
	key  string
	name []byte
	rep  *groups.Group

	// The installed view, as the last Install told it; frozen between a
	// Freeze and the next Install: the group takes nothing from its
	// view's peers, does not tick and does not flush.
	ring    ringID
	members []uint32
	frozen  bool

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
	// seqOn: the group's SequencerMachine runs on this node (SeqStart
	// sent, no SeqStop since). draining: SeqDrain sent, its answer not
	// yet taken. seqResume: where the next sequencer on this node resumes
	// in this view (a drained one stopped there).
	seqOn     bool
	draining  bool
	seqResume *wire.GroupEvent
	// wantFlush: Flush has something to send (GroupReady.Flush).
	wantFlush bool
	dirty     bool // the replica may have output

	ready GroupReady
}

func (g *GroupMachine) contiguous() uint64 { return g.base + uint64(len(g.held)) }

// resetLog starts the group's log of a new view.
func (g *GroupMachine) resetLog(now time.Duration) {
	clear(g.held)
	g.held, g.base, g.heldBytes = nil, 0, 0
	clear(g.early)
	g.next, g.stable, g.high, g.acked = 1, 0, 0, 0
	clear(g.conts)
	clear(g.remoteCong)
	g.rep.SetRemoteCongestion(false)
	g.gapSince = -1
	g.stopSeq()
	g.seqResume = nil
	g.sent, g.restart = 0, true
	g.lastProgress, g.lastSend = now, now
	g.rep.ResetSeq(1)
}

// GroupConfig starts a GroupMachine.
type GroupConfig struct {
	// Config is the node's; a group machine uses NodeID, Incarnation,
	// Retransmit, Fragment, FrameBytes, Window, Handoff and Bug.
	Config Config
	// Name is the group's.
	Name []byte
	// Ring and Members are the view installed when the machine starts;
	// Now the time then.
	Ring    ringID
	Members []uint32
	Now     time.Duration
	// LastMsgID is the id of the last event this node's earlier machine of
	// the group sent (0: none), so that ids go on where they stopped.
	LastMsgID uint64
	// Resume, when not nil, is where the node's earlier machine of the
	// group, dropped drained in the view Ring, ended: the log goes on
	// after its Seq, with the sequencer on its Owner.
	Resume *Drained
}

// NewGroupMachine returns the machine of group cfg.Name, with no members.
func NewGroupMachine(cfg GroupConfig) *GroupMachine {
	g := &GroupMachine{
		cfg:      cfg.Config,
		now:      cfg.Now,
		key:      string(cfg.Name),
		name:     slices.Clone(cfg.Name),
		ring:     cfg.Ring,
		members:  slices.Clone(cfg.Members),
		early:    make(map[uint64]*wire.GroupEvent),
		last:     make(map[uint32]eventID),
		conts:    make(map[uint32]uint64),
		next:     1,
		gapSince: -1,
		restart:  true,
	}
	g.owner = owner(g.name, g.members)
	g.rep = groups.New(g.name, g.cfg.NodeID)
	g.rep.SetIncarnation(g.cfg.Incarnation)
	g.rep.SetLastMsgID(cfg.LastMsgID)
	g.rep.SetFragment(g.cfg.Fragment)
	g.lastProgress = g.now
	if r := cfg.Resume; r != nil && r.Ring == g.ring {
		// Every node held everything up to Seq, and this node delivered
		// it: nothing below it will come again in this view.
		g.base, g.next, g.stable, g.high, g.acked = r.Seq, r.Seq+1, r.Seq, r.Seq, r.Seq
		g.owner = r.Owner
		g.seqResume = r.SeqResume
		g.rep.ResetSeq(r.Seq + 1)
	}
	return g
}

// Name returns the group's name.
func (g *GroupMachine) Name() []byte { return g.name }

// Members returns the group's member list (sorted by nodeid, pid), or nil.
func (g *GroupMachine) Members() []*api.Address { return g.rep.Members() }

// Owner returns the node that sequences the group in the installed view,
// as far as this node knows.
func (g *GroupMachine) Owner() uint32 { return g.owner }

// Step takes one input (see GroupInput). For a local request it returns
// the answer to give the handle (JoinReq, LeaveReq); CodeOK otherwise.
func (g *GroupMachine) Step(m GroupInput) api.Code {
	code := api.CodeOK
	switch m := m.(type) {
	case PeerMsg:
		g.stepPeer(m)
	case AckPart:
		g.onAck(m.From, m.Ack)
	case JoinReq:
		if g.frozen {
			code = api.CodeTryAgain
			break
		}
		code = g.rep.Join(m.Handle, m.Pid)
		g.touch()
	case LeaveReq:
		code = g.rep.Leave(m.Handle, m.Reason)
		g.touch()
	case GoneReq:
		g.rep.Gone(m.Handle)
		g.touch()
	case McastReq:
		g.rep.Mcast(m.Handle, m.Msgs)
		g.touch()
	case CongestionReq:
		g.rep.Congestion(m.Handle, m.Congested)
		g.touch()
		g.collect()
		if g.rep.LocalCongested() != g.sentCong && !g.frozen {
			g.ack()
		}
	case FlushReq:
		g.flush()
	case SeqOrdered:
		g.onOrdered(m)
	case SeqDrained:
		g.onDrained(m)
	case Freeze:
		g.freeze(m)
	case Install:
		g.install(m)
	}
	g.collect()
	return code
}

func (g *GroupMachine) stepPeer(p PeerMsg) {
	if g.frozen {
		return
	}
	switch m := p.Msg.(type) {
	case *wire.Submit:
		if ringOf(m.Ring) == g.ring {
			g.onSubmit(p.From, m)
		}
	case *wire.Ordered:
		if ringOf(m.Ring) == g.ring {
			g.receive(m.Events, m.Stable, m.High)
		}
	case *wire.Nack:
		if ringOf(m.Ring) == g.ring {
			g.onNack(p.From, m)
		}
	}
}

// HasReady reports whether Ready has anything to carry out.
func (g *GroupMachine) HasReady() bool {
	r := &g.ready
	return len(r.Messages) > 0 || len(r.Acks) > 0 || len(r.Deliveries) > 0 || len(r.Left) > 0 ||
		len(r.Rejected) > 0 || len(r.Flow) > 0 || len(r.Interrupted) > 0 || len(r.ToView) > 0 || len(r.ToSeq) > 0 || r.Drained != nil || g.wantFlush ||
		r.MembersChanged
}

// Ready returns the pending output. Call Advance once it is carried out.
func (g *GroupMachine) Ready() GroupReady {
	r := g.ready
	r.Flush = g.wantFlush
	return r
}

// Advance clears the output returned by Ready. The slices Ready returned
// are reused: the caller must have copied what it keeps of them.
func (g *GroupMachine) Advance() {
	r := &g.ready
	clear(r.Messages)
	clear(r.Acks)
	clear(r.Deliveries)
	clear(r.ToView)
	clear(r.ToSeq)
	*r = GroupReady{Messages: r.Messages[:0], Acks: r.Acks[:0], Deliveries: r.Deliveries[:0], ToView: r.ToView[:0], ToSeq: r.ToSeq[:0]}
	g.wantFlush = false
}

func (g *GroupMachine) send(to uint32, m proto.Message) {
	g.ready.Messages = append(g.ready.Messages, Outbound{To: to, Msg: m})
}

func (g *GroupMachine) touch() { g.dirty = true }

func (g *GroupMachine) queueFlush() { g.wantFlush = true }

// collect moves the replica's output into the machine's Ready.
func (g *GroupMachine) collect() {
	if !g.dirty {
		return
	}
	g.dirty = false
	if !g.rep.HasReady() {
		return
	}
	rd := g.rep.Ready()
	if len(rd.Submit) > 0 {
		g.pending = append(g.pending, rd.Submit...)
		g.queueFlush()
	}
	g.ready.Deliveries = append(g.ready.Deliveries, rd.Deliveries...)
	g.ready.Left = append(g.ready.Left, rd.Left...)
	g.ready.Rejected = append(g.ready.Rejected, rd.Rejected...)
	g.ready.MembersChanged = g.ready.MembersChanged || rd.MembersChanged
	if rd.FlowChanged {
		on := g.rep.FlowControlled()
		hs := g.rep.Handles()
		slices.Sort(hs) // a fixed order, not the replica's map order
		for _, h := range hs {
			g.ready.Flow = append(g.ready.Flow, FlowChange{Handle: h, Enabled: on})
		}
	}
	g.rep.Advance()
}

// flush sends what the inputs since the last flush produced: the group's
// new submissions to its sequencer, and its sequencer's newly ordered
// events (with its stable point) to every node of the view. A sequencer
// on this node takes the submissions directly, and the replica takes the
// ordered events directly.
func (g *GroupMachine) flush() {
	if g.frozen {
		return
	}
	g.wantFlush = false
	g.flushSubmits()
	if g.contiguous() > g.acked && (g.ackNow || g.heldBytes > g.cfg.Window/4) {
		g.ack()
	}
}

func (g *GroupMachine) flushSubmits() {
	if g.sent >= len(g.pending) {
		return
	}
	evs := g.pending[g.sent:]
	restart := g.restart
	if restart {
		evs = g.pending
	}
	g.sent = len(g.pending)
	g.restart = false
	g.lastSend = g.now
	own := g.owner
	if own == g.cfg.NodeID {
		g.startSeq(nil)
		// The sequencer numbers what it orders; keep our pending copies
		// unnumbered, they may be sent again in another view.
		cp := make([]*wire.GroupEvent, len(evs))
		for i, ev := range evs {
			cp[i] = cloneEvent(ev)
		}
		g.toSeq(SeqSubmit{From: g.cfg.NodeID, Restart: restart, Events: cp})
		return
	}
	for len(evs) > 0 {
		n := frameCount(evs, g.cfg.FrameBytes)
		// A copy: pending changes once the events come back ordered, and
		// the message may still be on its way out (the actor shell
		// serializes it later).
		g.send(own, &wire.Submit{Group: g.name, Events: slices.Clone(evs[:n]), From: g.cfg.NodeID, Ring: g.ring.api(), Restart: restart})
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

// handedOff applies a handoff that is now in this node's log in order:
// the group's sequencer is the handoff's target from the next seq on.
// This node's unordered submissions go there, from the first.
func (g *GroupMachine) handedOff(ev *wire.GroupEvent) {
	to := ev.GetHandoff().GetTo()
	if !slices.Contains(g.members, to) || ev.Nodeid != g.owner {
		return // malformed, or not from the sequencer of the log so far
	}
	g.owner = to
	g.seqResume = nil
	if to == g.cfg.NodeID {
		g.startSeq(ev)
	} else {
		g.stopSeq()
	}
	if len(g.pending) > 0 {
		g.sent, g.restart = 0, true
		g.queueFlush()
	}
}

// startSeq starts the group's sequencer machine on this node, if it is
// not running: from the handoff event resume (this node's log so far
// holds it), or (nil) as the view's first.
func (g *GroupMachine) startSeq(resume *wire.GroupEvent) {
	if g.seqOn && resume == nil {
		return
	}
	if resume == nil {
		resume, g.seqResume = g.seqResume, nil // after a drained one
	}
	cfg := SeqConfig{Config: g.cfg, Name: g.name, Ring: g.ring, Members: g.members, Now: g.now, Resume: resume}
	if resume != nil {
		// What each node is known to hold: as far as it acknowledged,
		// or the stable point says (a machine resumed after a drain knows
		// only the latter).
		cfg.Acks = make(map[uint32]uint64, len(g.members))
		for _, m := range g.members {
			cfg.Acks[m] = max(g.conts[m], g.stable)
		}
		cfg.Acks[g.cfg.NodeID] = g.contiguous()
	}
	g.seqOn = true
	g.toSeq(SeqStart{Config: cfg})
}

// stopSeq stops the group's sequencer machine on this node, if it runs.
func (g *GroupMachine) stopSeq() {
	g.draining = false
	if g.seqOn {
		g.seqOn = false
		g.toSeq(SeqStop{})
	}
}

// onDrained takes the sequencer machine's answer to SeqDrain: it is closed,
// having ordered up to m.High; the next one on this node resumes there.
// This node's submissions it did not take go again, to the next one.
func (g *GroupMachine) onDrained(m SeqDrained) {
	if m.Ring != g.ring || !g.seqOn || !g.draining {
		return
	}
	if m.Refused {
		g.draining = false // it had more: ask again when quiet
		return
	}
	g.stopSeq()
	g.seqResume = &wire.GroupEvent{Seq: m.High, Kind: wire.Kind_KIND_HANDOFF, Nodeid: g.cfg.NodeID,
		Handoff: &wire.Handoff{To: g.cfg.NodeID, Origins: m.Origins}}
	if len(g.pending) > 0 {
		g.sent, g.restart = 0, true
		g.queueFlush()
	}
}

func (g *GroupMachine) toSeq(m SeqInput) { g.ready.ToSeq = append(g.ready.ToSeq, m) }

// onOrdered takes what this node's sequencer machine ordered (SeqOrdered)
// into the group's log: the machine's own copy of what it sent the view.
func (g *GroupMachine) onOrdered(m SeqOrdered) {
	if g.frozen || m.Ring != g.ring || !g.seqOn {
		return // a machine this group stopped: a view or handoff ago
	}
	g.receive(m.Events, m.Stable, m.High)
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
func (g *GroupMachine) restore(ev *wire.GroupEvent, from *int) (*wire.GroupEvent, bool) {
	if ev.Nodeid != g.cfg.NodeID {
		return nil, false
	}
	id := eventID{ev.Inc, ev.Msgid}
	for i := *from; i < len(g.pending); i++ {
		p := g.pending[i]
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
func (g *GroupMachine) receive(evs []*wire.GroupEvent, stable, high uint64) {
	pendingAt := 0 // where restore's search resumes
	for _, ev := range evs {
		if ev == nil || ev.Seq == 0 {
			continue
		}
		cont := g.contiguous()
		if ev.Seq <= cont {
			continue
		}
		if ev.Elided {
			whole, ok := g.restore(ev, &pendingAt)
			if !ok {
				g.high = max(g.high, ev.Seq) // a gap: asked for again
				continue
			}
			ev = whole
		}
		switch {
		case ev.Seq == cont+1:
			g.hold(ev)
			for {
				nx, ok := g.early[g.contiguous()+1]
				if !ok {
					break
				}
				delete(g.early, nx.Seq)
				g.hold(nx)
			}
		default:
			if len(g.early) < maxEarly {
				g.early[ev.Seq] = ev
			}
		}
		g.high = max(g.high, ev.Seq)
	}
	g.high = max(g.high, high)
	g.stable = max(g.stable, min(stable, g.high))
	if g.contiguous() > g.acked && (g.ackNow || g.heldBytes > g.cfg.Window/4) {
		g.queueFlush() // Flush tells the others what this node holds
	}
	if g.contiguous() < g.high {
		if g.gapSince < 0 {
			g.gapSince = g.now
		}
	} else {
		g.gapSince = -1
	}
	g.deliver(false)
}

// hold appends the next event to the group's log.
func (g *GroupMachine) hold(ev *wire.GroupEvent) {
	g.held = append(g.held, ev)
	g.heldBytes += eventBytes(ev)
	if ev.Nodeid == g.cfg.NodeID || ev.Guarantee == uint32(api.TypeSafe) {
		g.ackNow = true
	}
	if ev.Kind == wire.Kind_KIND_HANDOFF {
		g.handedOff(ev)
	}
}

// deliver applies the group's log in order up to what it holds contiguously.
// A SAFE message waits until it is stable (held by every node of the
// view), and everything after it waits with it; flush delivers anyway.
func (g *GroupMachine) deliver(flush bool) {
	for g.next <= g.contiguous() {
		ev := g.held[g.next-g.base-1]
		if !flush && ev.Nodeid != g.cfg.NodeID && max(g.conts[ev.Nodeid], g.stable) < ev.Seq && g.cfg.Bug != BugNoOriginHeld {
			break // its origin does not hold it yet (as far as this node knows)
		}
		if !flush && ev.Guarantee == uint32(api.TypeSafe) && ev.Seq > g.stable && g.cfg.Bug != BugSafeEarly {
			break
		}
		g.next++
		g.apply(ev)
	}
	// Drop what every node holds and this node has delivered.
	if drop := min(g.stable, g.next-1); drop > g.base {
		k := drop - g.base
		for _, ev := range g.held[:k] {
			g.heldBytes -= eventBytes(ev)
		}
		clear(g.held[:k])
		g.held = g.held[k:]
		g.base = drop
		if len(g.held) == 0 {
			g.held = nil
		}
	}
	g.checkBacklog()
}

// eventBytes is what an event counts for toward Config.Window.
func eventBytes(ev *wire.GroupEvent) int { return len(ev.Data) + 64 }

// checkBacklog flow-controls the group's local handles while the group's
// held backlog is above the window, until it is down to half.
func (g *GroupMachine) checkBacklog() {
	on := g.heldBytes > g.cfg.Window || (g.backlog && g.heldBytes > g.cfg.Window/2)
	if on != g.backlog {
		g.backlog = on
		g.rep.SetBacklog(on)
		g.touch()
	}
}

// apply delivers one event in agreed order, once per event id.
func (g *GroupMachine) apply(ev *wire.GroupEvent) {
	if ev.Kind == wire.Kind_KIND_HANDOFF {
		return // the engine's own: no member sees it
	}
	if ev.Msgid != 0 {
		id := eventID{ev.Inc, ev.Msgid}
		if l, ok := g.last[ev.Nodeid]; ok && !id.after(l) && g.cfg.Bug != BugNoDedup {
			return // delivered before: a copy re-sent after a view change
		}
		g.last[ev.Nodeid] = id
		if ev.Nodeid == g.cfg.NodeID {
			g.ordered(id)
		}
	}
	g.rep.Deliver(ev)
	g.touch()
}

// ordered drops this node's pending events up to id: they are ordered.
func (g *GroupMachine) ordered(id eventID) {
	n := 0
	for n < len(g.pending) && !(eventID{g.pending[n].Inc, g.pending[n].Msgid}).after(id) {
		n++
	}
	if n == 0 {
		return
	}
	clear(g.pending[:n])
	g.pending = g.pending[n:]
	g.sent = max(0, g.sent-n)
	if len(g.pending) == 0 {
		g.pending = nil
	}
	g.lastProgress = g.now
}

// onSubmit orders another node's submission when this node is the
// group's sequencer. The host checked the frame (validSubmitted).
func (g *GroupMachine) onSubmit(from uint32, m *wire.Submit) {
	if g.owner != g.cfg.NodeID {
		// The sender has not seen a handoff (its frame may be lost):
		// tell it how far the log goes, so that it asks for the rest.
		if g.high > 0 {
			g.send(from, &wire.Ordered{Group: g.name, Ring: g.ring.api(), Stable: g.stable, High: g.high, From: g.cfg.NodeID})
		}
		return
	}
	g.startSeq(nil)
	g.toSeq(SeqSubmit{From: from, Restart: m.Restart, Events: m.Events})
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

// onAck takes node from's acknowledgement of the group (its part of a
// wire.Ack).
func (g *GroupMachine) onAck(from uint32, a *wire.GroupAck) {
	if g.frozen || a == nil {
		return
	}
	if _, was := g.remoteCong[from]; a.Congested || was {
		if g.remoteCong == nil {
			g.remoteCong = make(map[uint32]time.Duration)
		}
		if a.Congested {
			g.remoteCong[from] = g.now
		} else {
			delete(g.remoteCong, from)
		}
		if on := len(g.remoteCong) > 0; on != was {
			g.rep.SetRemoteCongestion(on)
			g.touch()
		}
	}
	repeat := a.Seq <= g.conts[from]
	if !repeat {
		g.conts[from] = a.Seq
		g.deliver(false)
	}
	switch {
	case g.seqOn:
		g.toSeq(SeqAck{From: from, Seq: a.Seq})
	case g.seqResume != nil && g.owner == g.cfg.NodeID && a.Seq <= g.stable && g.stable >= g.seqResume.Seq:
		// This node's sequencer stopped drained, every node holding all
		// it ordered; a node that still acknowledges missed the last
		// announcement of the stable point: repeat it, as the sequencer
		// would.
		g.send(from, &wire.Ordered{Group: g.name, Ring: g.ring.api(), Stable: g.stable, High: g.high, From: g.cfg.NodeID})
	}
}

// onNack sends a node again the events it misses, from this node's
// replica. A node asks the sequencer of its log so far, which holds every
// event above the stable point up to where it handed the group over.
func (g *GroupMachine) onNack(from uint32, m *wire.Nack) {
	if m.Seq == 0 || m.SeqTo < m.Seq {
		return
	}
	lo := max(m.Seq, g.base+1)
	hi := min(m.SeqTo, g.contiguous())
	if lo > hi {
		return
	}
	evs := g.held[lo-g.base-1 : hi-g.base]
	for len(evs) > 0 {
		n := frameCount(evs, g.cfg.FrameBytes)
		// A copy: held is cleared as it becomes stable.
		g.send(from, &wire.Ordered{Group: g.name, Events: slices.Clone(evs[:n]), Ring: g.ring.api(),
			Stable: g.stable, High: g.high, From: g.cfg.NodeID, Retransmit: true})
		evs = evs[n:]
	}
}

// Tick tells the machine the time. Unless frozen, it acknowledges what
// this node holds, asks for what it misses, re-sends submissions that
// were not ordered, and says when it is drained (Drained). (The group's
// sequencer machine, if this node runs it, has a Tick of its own.)
func (g *GroupMachine) Tick(now time.Duration) {
	g.now = now
	if g.frozen {
		return
	}
	own := g.owner
	// An ack is sent when the node holds more, and again while the
	// stable point lags behind it (an ack may be lost).
	if cont := g.contiguous(); cont > g.acked || (g.stable < cont && g.now-g.lastAck >= g.cfg.Retransmit) {
		g.ack()
	}
	if g.gapSince >= 0 && g.now-g.gapSince >= g.cfg.Retransmit && own != g.cfg.NodeID {
		to := g.high
		for s := range g.early {
			if s-1 < to {
				to = s - 1
			}
		}
		g.send(own, &wire.Nack{From: g.cfg.NodeID, Ring: g.ring.api(), Group: g.name, Seq: g.contiguous() + 1, SeqTo: to})
		g.gapSince = g.now
	}
	if len(g.pending) > 0 && g.sent > 0 && g.now-g.lastProgress >= g.cfg.Retransmit && g.now-g.lastSend >= g.cfg.Retransmit {
		g.sent, g.restart = 0, true
		g.queueFlush()
	}
	if g.sentCong && g.now-g.lastAck >= g.cfg.Retransmit {
		g.ack() // renew the congestion lease
	}
	if len(g.remoteCong) > 0 {
		for n, at := range g.remoteCong {
			if g.now-at > 3*g.cfg.Retransmit {
				delete(g.remoteCong, n)
			}
		}
		if len(g.remoteCong) == 0 {
			g.rep.SetRemoteCongestion(false)
			g.touch()
		}
	}
	g.collect()
	if g.quiet() {
		switch {
		case g.seqOn:
			// This node orders the group: its sequencer stops first,
			// and says where the next one resumes.
			if !g.draining {
				g.draining = true
				g.toSeq(SeqDrain{High: g.high})
			}
		case g.owner != g.cfg.NodeID || g.seqResume != nil || g.high == 0:
			g.ready.Drained = &Drained{Group: g.name, Ring: g.ring, Seq: g.next - 1, Owner: g.owner,
				LastMsgID: g.rep.LastMsgID(), SeqResume: g.seqResume}
		}
	}
}

// quiet: the group needs no machine on this node until something new
// comes (see Drained), once its sequencer here, if any, has stopped.
func (g *GroupMachine) quiet() bool {
	return !g.frozen && g.rep.Idle() && len(g.pending) == 0 && len(g.held) == 0 && len(g.early) == 0 &&
		g.next-1 == g.high && g.stable >= g.high && !g.wantFlush && len(g.ready.Messages) == 0
}

// ack tells every node of the view (the group's sequencer, for the stable
// point, and every replica, for origin-held delivery) what this node holds
// of the group: GroupReady.Acks, which the host sends to every other node
// of the view in one wire.Ack with the other groups' acks.
// (A group flushed twice in one step may ack twice: both go.)
func (g *GroupMachine) ack() {
	cont := g.contiguous()
	g.acked, g.lastAck, g.ackNow = cont, g.now, false
	if g.seqOn {
		g.toSeq(SeqAck{From: g.cfg.NodeID, Seq: cont})
	}
	g.sentCong = g.rep.LocalCongested()
	a := &wire.GroupAck{Group: g.name, Seq: cont, Congested: g.sentCong}
	g.ready.Acks = append(g.ready.Acks, a)
}
