package cluster

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// Config configures an Engine.
type Config struct {
	// NodeID is this node.
	NodeID uint32
	// Nodes is the node list, this node included. Messages from other
	// nodes are ignored.
	Nodes []uint32
	// RingSeq is the ring seq of the node's first (singleton) view, above
	// every seq the node used before; the caller has persisted it.
	RingSeq uint64
	// Incarnation tells this run of the node from earlier ones: it must
	// grow across restarts. It is stamped on every event the node submits.
	Incarnation uint64

	// Token: a node not heard from this long is out of the view.
	Token time.Duration
	// Heartbeat: how often the node tells the others it is alive.
	Heartbeat time.Duration
	// Join: how long a needed view change must persist before the
	// coordinator proposes it.
	Join time.Duration
	// Consensus bounds a view-change attempt.
	Consensus time.Duration
	// Retransmit: a gap or an unordered submission older than this is
	// asked for or sent again.
	Retransmit time.Duration

	// Fragment is the largest message sent as one event; larger ones go
	// in parts (Corosync's max atomic message size).
	Fragment int
	// FrameBytes bounds the payload of one Submit or Ordered message.
	FrameBytes int
	// Window bounds the bytes of a group's ordered events that this node
	// holds and some node of the view may not (above the stable point):
	// above it the group's local handles are flow-controlled (multicasts
	// get CodeTryAgain) until the backlog falls to half. It keeps every
	// node within reach of the fastest sender, and memory bounded.
	// Default 8 MiB.
	Window int
	// Handoff: when one other node alone has submitted a group's events
	// for this long, the group's sequencer hands the group over to that
	// node, within the view, so that a lone sender's messages are ordered
	// where they are sent (one network hop less per message, and a
	// round trip less before the sender's own delivery). Default
	// DefaultHandoff; negative: never.
	Handoff time.Duration

	// Bug injects a known protocol bug, so that tests can show that the
	// simulator and the property checker catch it. Never set it otherwise.
	Bug Bug
}

// Bug names a protocol bug that Config.Bug injects.
type Bug int

const (
	// NoBug is the correct protocol.
	NoBug Bug = iota
	// BugSkipFlush installs a new view without delivering the old view's
	// cut: survivors no longer deliver the same messages before a view
	// change (virtual synchrony breaks).
	BugSkipFlush
	// BugNoDedup delivers an event again: at a view change, the flush
	// does not skip what the node delivered already, and an event re-sent
	// in a later view is not recognized (integrity breaks).
	BugNoDedup
	// BugNoOriginHeld delivers another node's event without waiting until
	// its origin holds it: a message delivered on one side of a split may
	// be sent again and ordered elsewhere on the other (agreed order
	// breaks).
	BugNoOriginHeld
	// BugGhost takes every old view's member list whole at a view change,
	// not only the processes of its own nodes: the processes of a node
	// that left the view (crashed, cut off) stay members for good (ghost).
	BugGhost
	// BugSafeEarly delivers a SAFE message as if AGREED, without waiting
	// until every node of the view holds it: a node cut off right after
	// may be the only one that ever delivers it (SAFE breaks).
	BugSafeEarly
)

// DefaultWindow is Config.Window's default.
const DefaultWindow = 8 << 20

// DefaultHandoff is Config.Handoff's default.
const DefaultHandoff = 50 * time.Millisecond

// Outbound is a message for another node.
type Outbound struct {
	To  uint32
	Msg proto.Message
}

// FlowChange says a local handle's group became flow-controlled or not.
type FlowChange struct {
	Handle  groups.HandleID
	Enabled bool
}

// Ready is the engine's output since the last Advance. The caller carries
// it out in field order.
type Ready struct {
	// PersistSeq, when not 0, is a new highest ring seq: persist it
	// before sending Messages.
	PersistSeq uint64
	// Messages are for other nodes, in order per destination.
	Messages []Outbound
	// Deliveries are events for local handles, in order.
	Deliveries []*groups.Delivery
	// Left names local handles whose membership ended.
	Left []groups.Left
	// Rejected counts refused multicasts per handle.
	Rejected []groups.Rejected
	// Flow lists flow-control changes per local handle.
	Flow []FlowChange
	// Interrupted names local handles whose large message a view change
	// cut: no member delivers it.
	Interrupted []groups.HandleID
	// Totem is a new view: send it to every local handle after
	// Deliveries[:TotemAt] (the old view's cut and the view change's group
	// confchgs) and before Deliveries[TotemAt:] (events of the new view
	// that the same step delivered), so that every member of a ring gets
	// the ring's totem confchg at the same place (CPG-SPEC 4.4, rule 26).
	Totem *api.TotemConfchg
	// TotemAt is the place of Totem among Deliveries (see InOrder).
	TotemAt int
	// SyncChanged says Syncing() changed.
	SyncChanged bool
}

// dropFlow removes handle h's flow changes from the Ready: h left its
// group after them, in a later step of the same Ready, and Left is carried
// out before Flow; the group's flow control is no longer h's.
func (r *Ready) dropFlow(h groups.HandleID) {
	r.Flow = slices.DeleteFunc(r.Flow, func(f FlowChange) bool { return f.Handle == h })
}

// InOrder hands out a Ready's deliveries and its totem confchg in the one
// order every member must see them: deliver for each of Deliveries, with
// flush true for those a view change delivers before its totem confchg
// (the old view's cut and the view change's group confchgs), and totem,
// if there is one, at its place among them.
func (r *Ready) InOrder(deliver func(d *groups.Delivery, flush bool), totem func(t *api.TotemConfchg)) {
	at := len(r.Deliveries)
	if r.Totem != nil {
		at = min(r.TotemAt, at)
	}
	for i, d := range r.Deliveries {
		if i == at {
			totem(r.Totem)
		}
		deliver(d, i < at && r.Totem != nil)
	}
	if r.Totem != nil && at == len(r.Deliveries) {
		totem(r.Totem)
	}
}

type ringID struct {
	node uint32
	seq  uint64
}

func ringOf(r *api.RingId) ringID {
	if r == nil {
		return ringID{}
	}
	return ringID{r.Nodeid, r.Seq}
}

func (r ringID) api() *api.RingId { return &api.RingId{Nodeid: r.node, Seq: r.seq} }

// Engine is one node's protocol state: a Host (the ViewMachine and the
// node-level duties) and a GroupMachine per group, composed (see the
// package doc). It routes local requests to the handle's group, and the
// machines' messages to each other: New's engine through a FIFO queue it
// drains within each call, in a fixed order; NewAsync's through a mailbox
// per machine that its caller runs (RunLocal). It gathers their output in
// one Ready. Not safe for concurrent use.
type Engine struct {
	cfg Config
	h   *Host

	groups  map[string]*slot
	handles map[groups.HandleID]*slot
	flushes []*slot // groups with something for Flush
	// queue holds the machines' messages to each other, in order.
	queue []local

	// async: the machines' messages wait in their mailboxes until the
	// caller runs them (NewAsync, engine_async.go).
	async bool
	// node is the mailbox of the node's side (the host: the node actor
	// of the shell); boxes every machine's mailbox by id; lastBox the
	// last id given.
	node    *mailbox
	boxes   map[Mailbox]*mailbox
	lastBox Mailbox
	// woken are the mailboxes with messages that the caller has not been
	// told of yet (Wakeups).
	woken []Mailbox
	// syncing is Syncing() as last reported (Ready.SyncChanged).
	syncing bool
}

// slot is the engine's place for one group machine and, when this node
// orders the group, its sequencer machine.
type slot struct {
	key       string
	gm        *GroupMachine
	sm        *SequencerMachine
	queued    bool // in Engine.flushes for gm
	seqQueued bool // in Engine.flushes for sm

	// With NewAsync, what the shell's group actor keeps beside its
	// machine: its mailbox; held between Freeze and resume (no tick, no
	// flush); a flush wanted while held, or in the mailbox; and the
	// node's messages sent to it and taken by it (reaping). And what its
	// sequencer actor keeps: its mailbox (nil: none runs), whether a
	// flush is in it, and the count of sequencer machines started (the
	// group takes the output of the last one only).
	box         *mailbox
	held        bool
	wantFlush   bool
	flushing    bool
	sent, got   uint64
	seqBox      *mailbox
	seqFlushing bool
	seqGen      uint64
}

// local is a message between the node's machines: for the view machine
// (toView), for a group's machine (toGroup) or for its sequencer machine
// (toSeq). NewAsync's engine has more kinds (op), and more destinations
// (see mailbox).
type local struct {
	group   string
	toGroup GroupInput
	toView  ViewInput
	toSeq   SeqInput

	op localOp
	// now is a tick's time; acks a group's acknowledgements for the
	// host; got, with a group's answer (toView) or its drained news, its
	// count of the node's messages taken when it answered; drained that
	// news; gen, with a sequencer machine's message for its group, the
	// machine's number (slot.seqGen).
	now     time.Duration
	acks    []*wire.GroupAck
	got     uint64
	drained *Drained
	gen     uint64
	// fromNode: sent by the node's side (routes, the view machine's
	// messages, joins), counted for reaping (slot.sent).
	fromNode bool
	// box, with a group's drained news, is the mailbox of the machine
	// that sent it: a later machine of the same group is not dropped on
	// an earlier one's news.
	box Mailbox
}

// New returns the engine of node cfg.NodeID, alone in its first view.
func New(cfg Config) *Engine {
	h := NewHost(cfg)
	return &Engine{
		cfg:     h.cfg,
		h:       h,
		groups:  make(map[string]*slot),
		handles: make(map[groups.HandleID]*slot),
	}
}

// NodeID returns the engine's node.
func (e *Engine) NodeID() uint32 { return e.cfg.NodeID }

// Ring returns the installed view's ring id.
func (e *Engine) Ring() *api.RingId { return e.h.Ring() }

// Members returns the installed view's node ids, ascending.
func (e *Engine) Members() []uint32 { return e.h.Members() }

// Syncing reports whether a view change is in progress on this node:
// joins and leaves get CodeTryAgain and multicasts wait for the new view.
func (e *Engine) Syncing() bool { return e.h.Syncing() }

// GroupMembers returns a group's member list (sorted by nodeid, pid), or
// nil for a group with none.
func (e *Engine) GroupMembers(name []byte) []*api.Address {
	if s, ok := e.groups[string(name)]; ok {
		return s.gm.Members()
	}
	return nil
}

// GroupNames returns the names of the groups with members, in
// api.CompareNames order.
func (e *Engine) GroupNames() [][]byte {
	var out [][]byte
	for _, s := range e.groups {
		if len(s.gm.Members()) > 0 {
			out = append(out, s.gm.Name())
		}
	}
	slices.SortFunc(out, api.CompareNames)
	return out
}

// Owner returns the node that sequences the group in the installed view,
// as far as this node knows: where a view starts it (see owner), or the
// node a handoff moved it to since.
func (e *Engine) Owner(name []byte) uint32 {
	if s, ok := e.groups[string(name)]; ok {
		return s.gm.Owner()
	}
	return owner(name, e.h.vm.Members())
}

// owner places a group's sequencer at the start of a view by rendezvous
// hashing of the group name over the view's nodes: the same answer on
// every node of the view, and different groups spread over different
// nodes. Within the view, a handoff may move it (Config.Handoff).
func owner(name []byte, members []uint32) uint32 {
	var best uint32
	var bestScore uint64
	for _, m := range members {
		h := fnv.New64a()
		h.Write(name)
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], m)
		h.Write(b[:])
		s := mix(h.Sum64())
		if best == 0 || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

// mix is splitmix64's finalizer: it spreads FNV's output over all bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// HasReady reports whether Ready has anything to carry out.
func (e *Engine) HasReady() bool { return e.h.ready.has() }

// Ready returns the pending output. Call Advance once it is carried out.
func (e *Engine) Ready() Ready { return e.h.ready }

// Advance clears the output returned by Ready.
func (e *Engine) Advance() { e.h.Advance() }

// NeedsFlush reports whether Flush has something to send (never with
// NewAsync: each group flushes through its own mailbox).
func (e *Engine) NeedsFlush() bool { return len(e.flushes) > 0 && !e.h.vm.Syncing() }

// group returns the slot of the group named name, starting its machine
// (and telling the host) if there is none.
func (e *Engine) group(name []byte) *slot {
	if s, ok := e.groups[string(name)]; ok {
		return s
	}
	s := &slot{key: string(name)}
	s.gm = NewGroupMachine(e.h.Open(name))
	e.groups[s.key] = s
	if e.async {
		s.box = e.newBox(func(m local) { e.runGroup(s, m) })
		// Started during a view change (by its Install): it waits for
		// the totem confchg like the others.
		s.held = e.h.Syncing()
	}
	return s
}

// stepGroup steps a group machine and takes its output.
func (e *Engine) stepGroup(s *slot, m GroupInput) api.Code {
	code := s.gm.Step(m)
	e.take(s)
	return code
}

// stepRoutes steps the group machines with the host's routes, in order.
func (e *Engine) stepRoutes(routes []GroupRoute) {
	for _, r := range routes {
		if r.IfOpen {
			if s, ok := e.groups[string(r.Group)]; ok {
				e.stepGroup(s, r.Msg)
			}
			continue
		}
		e.stepGroup(e.group(r.Group), r.Msg)
	}
}

// take moves a group machine's output into the engine's Ready, its acks
// to the host's next SendAcks, its answers to the view machine into the
// queue.
func (e *Engine) take(s *slot) {
	gm := s.gm
	if !gm.HasReady() {
		return
	}
	rd := gm.Ready()
	r := &e.h.ready
	r.Messages = append(r.Messages, rd.Messages...)
	e.h.AddAcks(rd.Acks)
	r.Deliveries = append(r.Deliveries, rd.Deliveries...)
	for _, l := range rd.Left {
		delete(e.handles, l.Handle)
		r.dropFlow(l.Handle)
	}
	r.Left = append(r.Left, rd.Left...)
	r.Rejected = append(r.Rejected, rd.Rejected...)
	r.Flow = append(r.Flow, rd.Flow...)
	r.Interrupted = append(r.Interrupted, rd.Interrupted...)
	for _, m := range rd.ToSeq {
		e.queue = append(e.queue, local{group: s.key, toSeq: m})
	}
	for _, m := range rd.ToView {
		if in, ok := m.(Installed); ok && in.Idle && e.groups[s.key] == s {
			e.h.Close(gm.Name(), in.LastMsgID)
			delete(e.groups, s.key)
		}
		e.queue = append(e.queue, local{toView: m})
	}
	if rd.Flush && !s.queued {
		s.queued = true
		e.flushes = append(e.flushes, s)
	}
	if rd.Drained != nil && e.groups[s.key] == s && e.h.Drop(*rd.Drained) {
		delete(e.groups, s.key)
	}
	gm.Advance()
}

// stepSeq carries out a group machine's message for its sequencer
// machine: start or stop it, or step it and take its output.
func (e *Engine) stepSeq(s *slot, m SeqInput) {
	switch m := m.(type) {
	case SeqStart:
		s.sm = NewSequencerMachine(m.Config)
	case SeqStop:
		s.sm = nil
	default:
		if s.sm == nil {
			return
		}
		s.sm.Step(m)
	}
	e.takeSeq(s)
}

// takeSeq moves a sequencer machine's output into the engine's Ready and
// its messages for the group machine into the queue.
func (e *Engine) takeSeq(s *slot) {
	sm := s.sm
	if sm == nil || !sm.HasReady() {
		return
	}
	rd := sm.Ready()
	e.h.ready.Messages = append(e.h.ready.Messages, rd.Messages...)
	for _, m := range rd.ToGroup {
		e.queue = append(e.queue, local{group: s.key, toGroup: m})
	}
	if rd.Flush && !s.seqQueued {
		s.seqQueued = true
		e.flushes = append(e.flushes, s)
	}
	sm.Advance()
}

// takeView moves the view machine's output into the Ready, its messages
// for the groups into the queue.
func (e *Engine) takeView() {
	for _, m := range e.h.TakeView(len(e.h.ready.Deliveries)) {
		e.queue = append(e.queue, local{group: string(m.Group), toGroup: m.Msg})
	}
}

// pump carries the machines' messages to each other until none is left,
// first in, first out; then, after an install, the messages of the new
// view that came before it.
func (e *Engine) pump() {
	for {
		e.takeView()
		if len(e.queue) == 0 {
			break
		}
		m := e.queue[0]
		e.queue[0] = local{}
		e.queue = e.queue[1:]
		switch {
		case m.toView != nil:
			e.h.StepLocal(m.toView)
		case m.toSeq != nil:
			if s, ok := e.groups[m.group]; ok {
				e.stepSeq(s, m.toSeq)
			}
		default:
			e.stepGroup(e.group([]byte(m.group)), m.toGroup)
		}
	}
	e.queue = nil
	e.stepRoutes(e.h.Replay())
}

// Join asks to add local handle h (with pid) to group name; see
// groups.Group.Join. During a view change it gives CodeTryAgain.
func (e *Engine) Join(name []byte, h groups.HandleID, pid uint32) api.Code {
	if err := api.CheckName(name); err != nil {
		return api.CodeOf(err)
	}
	if e.h.Syncing() {
		return api.CodeTryAgain
	}
	if _, ok := e.handles[h]; ok {
		return api.CodeExist
	}
	s := e.group(name)
	if e.async {
		return e.joinAsync(s, h, pid)
	}
	code := e.stepGroup(s, JoinReq{Handle: h, Pid: pid})
	if code == api.CodeOK {
		e.handles[h] = s
	}
	return code
}

// Leave asks to remove local handle h from its group with reason (LEAVE,
// or PROCDOWN for an eviction). CodeNotExist if it is in none. During a
// view change the leave waits and is sent in the new view.
func (e *Engine) Leave(h groups.HandleID, reason api.Reason) api.Code {
	s, ok := e.handles[h]
	if !ok {
		return api.CodeNotExist
	}
	if e.async {
		return e.askAsync(s, LeaveReq{Handle: h, Reason: reason})
	}
	return e.stepGroup(s, LeaveReq{Handle: h, Reason: reason})
}

// Gone says local handle h was finalized or its client died: the others
// see it leave (PROCDOWN) unless its leave is in flight. Accepted during a
// view change too (the leave is sent in the new view).
func (e *Engine) Gone(h groups.HandleID) {
	s, ok := e.handles[h]
	if !ok {
		return
	}
	delete(e.handles, h)
	if e.async {
		e.post(s, local{toGroup: GoneReq{Handle: h}})
		return
	}
	e.stepGroup(s, GoneReq{Handle: h})
}

// Mcast submits local handle h's messages to its group. A handle in no
// group has them refused (Ready.Rejected). During a view change they wait
// and are sent in the new view.
func (e *Engine) Mcast(h groups.HandleID, msgs []*api.McastRequest) {
	s, ok := e.handles[h]
	if !ok {
		var n uint64
		for _, r := range msgs {
			n += uint64(len(r.Data))
		}
		e.h.ready.Rejected = append(e.h.ready.Rejected, groups.Rejected{Handle: h, Count: uint32(len(msgs)), Bytes: n})
		return
	}
	if e.async {
		e.post(s, local{toGroup: McastReq{Handle: h, Msgs: msgs}})
		return
	}
	e.stepGroup(s, McastReq{Handle: h, Msgs: msgs})
}

// Congestion records whether local handle h's receive queue is above its
// high-water mark (its group becomes flow-controlled).
func (e *Engine) Congestion(h groups.HandleID, congested bool) {
	s, ok := e.handles[h]
	if !ok {
		return
	}
	if e.async {
		e.post(s, local{toGroup: CongestionReq{Handle: h, Congested: congested}})
		return
	}
	e.stepGroup(s, CongestionReq{Handle: h, Congested: congested})
	e.h.SendAcks()
}

// Step takes a message from node from. Messages from nodes outside the
// node list, of the wrong type, or malformed are dropped.
func (e *Engine) Step(from uint32, m proto.Message) {
	if !e.h.vm.isNode(from) {
		return
	}
	if e.async {
		e.stepPeerAsync(from, m)
		e.carryAsync()
		return
	}
	e.stepRoutes(e.h.Step(from, m))
	e.pump()
	e.h.SendAcks()
}

// Tick tells the engine the time (any monotonic clock; only differences
// matter): it sends heartbeats, detects failures, drives view changes,
// acknowledges, and asks for or re-sends what went missing.
func (e *Engine) Tick(now time.Duration) {
	if e.async {
		e.tickAsync(now)
		return
	}
	e.h.Tick(now)
	e.pump()
	for _, s := range e.sortedGroups() {
		s.gm.Tick(now)
		e.take(s)
		if s.sm != nil {
			s.sm.Tick(now)
			e.takeSeq(s)
		}
	}
	e.h.SendAcks()
	e.pump()
}

// Flush sends what the inputs since the last Flush produced: each group's
// new submissions to its sequencer, and each sequencer's newly ordered
// events (with its stable point) to every node of the view. A sequencer
// on this node takes the submissions directly, and this node's replica
// takes the ordered events directly. With NewAsync it does nothing: each
// group flushes through its own mailbox, as a group actor does.
func (e *Engine) Flush() {
	if e.async || e.h.vm.Syncing() || e.h.ready.Totem != nil {
		return // the new view's traffic waits until its totem confchg is out
	}
	// A group may be queued again while flushing (its own sequencer
	// delivers to it); loop until quiet.
	for len(e.flushes) > 0 {
		list := e.flushes
		e.flushes = nil
		for _, s := range list {
			if e.groups[s.key] != s {
				continue
			}
			if s.queued {
				s.queued = false
				e.stepGroup(s, FlushReq{})
				e.pump()
			}
			if s.seqQueued {
				s.seqQueued = false
				if s.sm != nil {
					s.sm.Step(SeqFlush{})
					e.takeSeq(s)
					e.pump()
				}
			}
		}
	}
	e.h.SendAcks()
}

// sortedGroups returns the groups in name order, so that the engine's
// output never depends on map order.
func (e *Engine) sortedGroups() []*slot {
	out := make([]*slot, 0, len(e.groups))
	for _, s := range e.groups {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *slot) int { return api.CompareNames(a.gm.name, b.gm.name) })
	return out
}
