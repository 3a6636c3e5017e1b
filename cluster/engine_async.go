package cluster

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
)

// The asynchronous engine (NewAsync): the composition of the actor shell
// (package actors), driven by its caller one message at a time.
//
// Every machine of the node has a mailbox, first in, first out, as an
// actor has: the node's side (the Host, which the shell's node actor
// hosts) and each group's machine (a group actor). A call (Step, Tick,
// Join, ...) is the node actor taking one message: it runs the host, and
// what the host sends the groups (routes, Freeze, Install, ticks, resume)
// waits in their mailboxes; the local handles' multicasts, congestion and
// finalization wait in their group's mailbox too. What the groups send
// the node's side (Frozen, Installed, their acks) waits in its mailbox.
// The caller learns which mailboxes got messages (Wakeups) and runs each,
// one message at a time, when it likes (RunLocal): in between, peers'
// messages, ticks and client calls come in, as they do in the shell.
//
// It does what the shell does while a message is on its way: a group is
// held from its Freeze until the node resumes it after the totem confchg
// (no tick, no flush: a wanted flush waits); the host holds other nodes'
// messages while its groups install a view, and gives them, and the
// messages of the new view that came before its install (Replay), right
// after the totem confchg; a group flushes by a message to itself; a
// group whose Installed says idle is dropped only if nothing the node
// sent it since is on its way (else it is opened again); a join waits
// while the host syncs; Ready.SyncChanged is the host's Syncing changing.

// Mailbox names the mailbox of one of an asynchronous engine's machines
// (see NewAsync): the node's side, or one group machine. A machine started
// again gets a new one; the names of dropped machines are not reused.
type Mailbox uint64

// mailbox is a machine's queue of local messages; run delivers one to
// its machine (the host's side, a group's machine: a new kind of machine
// brings its own).
type mailbox struct {
	id    Mailbox
	msgs  []local
	woken bool // in Engine.woken, or its caller was told and has not run it
	run   func(local)
}

// localOp is the kind of a local message of the asynchronous engine.
type localOp uint8

const (
	opInput   localOp = iota // toGroup for a group, toView for the host, toSeq for a sequencer
	opTick                   // a group's or a sequencer's tick
	opResume                 // a group's resume: the totem confchg is out
	opFlush                  // a group's or a sequencer's flush (sent to itself)
	opAcks                   // a group's acks for the host
	opDrained                // a group's drained news for the host
	opSeqOut                 // a sequencer machine's message for its group (toGroup)
)

// NewAsync returns the engine of node cfg.NodeID, alone in its first view,
// whose machines' messages to each other wait in mailboxes until the
// caller runs them (Wakeups, RunLocal), as the actor shell's do: see the
// package doc. Its calls are those of New's engine, but for Flush and
// NeedsFlush (each group flushes itself through its mailbox); Join and
// Leave run the group's mailbox before they answer.
func NewAsync(cfg Config) *Engine {
	e := New(cfg)
	e.async = true
	e.boxes = make(map[Mailbox]*mailbox)
	e.node = e.newBox(e.runNode)
	return e
}

// newBox returns a new mailbox whose messages run takes.
func (e *Engine) newBox(run func(local)) *mailbox {
	e.lastBox++
	mb := &mailbox{id: e.lastBox, run: run}
	e.boxes[mb.id] = mb
	return mb
}

// Wakeups returns the mailboxes that got messages to run since the last
// call, each once, in the order they did; nil for New's engine. Run each
// with RunLocal: as a dispatcher does for an actor whose mailbox got a
// message. A mailbox that still has messages after RunLocal is in the next
// Wakeups again.
func (e *Engine) Wakeups() []Mailbox {
	w := e.woken
	e.woken = nil
	return w
}

// Pending returns how many local messages wait in the mailboxes.
func (e *Engine) Pending() int {
	if !e.async {
		return 0
	}
	n := len(e.node.msgs)
	for _, s := range e.groups {
		n += len(s.box.msgs)
		if s.seqBox != nil {
			n += len(s.seqBox.msgs)
		}
	}
	return n
}

// Installing reports whether the node installed a view and waits for its
// groups' Installed (only an asynchronous engine is seen so between
// calls): deliveries meanwhile are the view change's (the old view's cut
// and the groups' confchgs), its totem confchg comes after them.
func (e *Engine) Installing() bool { return e.h.installing() }

// RunLocal delivers the first message of mailbox mb to its machine and
// takes its output, and reports whether there was one (false: the mailbox
// is empty, or its machine was dropped).
func (e *Engine) RunLocal(mb Mailbox) bool {
	box, ok := e.boxes[mb]
	if !ok {
		return false
	}
	box.woken = false
	m, ok := box.pop()
	if !ok {
		return false
	}
	e.wake(box)
	box.run(m)
	return true
}

// pop takes the first message of mb.
func (mb *mailbox) pop() (local, bool) {
	if len(mb.msgs) == 0 {
		return local{}, false
	}
	m := mb.msgs[0]
	mb.msgs[0] = local{}
	mb.msgs = mb.msgs[1:]
	if len(mb.msgs) == 0 {
		mb.msgs = nil
	}
	return m, true
}

// wake tells the caller (Wakeups) that mb has messages, unless it knows.
func (e *Engine) wake(mb *mailbox) {
	if !mb.woken && len(mb.msgs) > 0 {
		mb.woken = true
		e.woken = append(e.woken, mb.id)
	}
}

// post puts m in group s's mailbox.
func (e *Engine) post(s *slot, m local) {
	if m.fromNode {
		s.sent++
	}
	s.box.msgs = append(s.box.msgs, m)
	e.wake(s.box)
}

// postNode puts m in the node's side's mailbox.
func (e *Engine) postNode(m local) {
	e.node.msgs = append(e.node.msgs, m)
	e.wake(e.node)
}

// runNode is the node's side taking a group's message (the node actor's
// groupAnswer, groupDrained and groupAcks).
func (e *Engine) runNode(m local) {
	switch m.op {
	case opAcks:
		e.h.AddAcks(m.acks)
		e.h.SendAcks()
	case opDrained:
		// A drained group is dropped if the host agrees and nothing the
		// node sent it since is on its way (the node actor's drained).
		// The news must be the current machine's: a machine reports
		// drained at every tick while it is, and a later machine of the
		// group (started by a join or a peer's message after the drop) may
		// have taken as many of the node's messages as the dropped one had.
		if s, ok := e.groups[m.group]; ok && s.box.id == m.box && s.sent == m.got && e.h.Drop(*m.drained) {
			e.dropGroup(s)
		}
	case opInput:
		e.h.StepLocal(m.toView)
		if in, ok := m.toView.(Installed); ok && in.Idle {
			// An idle group is dropped, unless the node sent it
			// something since it answered: then its machine, which took
			// it, goes on as the group's.
			if s, ok := e.groups[m.group]; ok {
				if s.sent == m.got {
					e.h.Close(s.gm.Name(), in.LastMsgID)
					e.dropGroup(s)
				} else {
					e.h.Open(s.gm.Name())
				}
			}
		}
		e.pumpAsync()
	}
	e.carryAsync()
}

// dropGroup forgets group s's machine and its mailboxes (the node actor
// stops the group actor, and with it its sequencer actor).
func (e *Engine) dropGroup(s *slot) {
	delete(e.groups, s.key)
	delete(e.boxes, s.box.id)
	if s.seqBox != nil {
		delete(e.boxes, s.seqBox.id)
	}
}

// runGroup is group s's machine taking a message (the group actor).
func (e *Engine) runGroup(s *slot, m local) {
	switch m.op {
	case opSeqOut:
		if s.sm == nil || m.gen != s.seqGen {
			return // a stopped sequencer actor's, still on its way
		}
		s.gm.Step(m.toGroup)
	case opInput:
		if m.fromNode {
			s.got++
		}
		if _, ok := m.toGroup.(Freeze); ok {
			s.held = true
		}
		s.gm.Step(m.toGroup)
	case opTick:
		if !s.held {
			s.gm.Tick(m.now)
			if s.seqBox != nil {
				e.postSeq(s, local{op: opTick, now: m.now})
			}
		}
	case opResume:
		s.held = false
		if s.wantFlush {
			s.wantFlush = false
			e.flushSelf(s)
		}
	case opFlush:
		s.flushing = false
		if s.held {
			s.wantFlush = true
			return
		}
		s.gm.Step(FlushReq{})
	}
	e.takeAsync(s)
}

// flushSelf puts a flush in group s's mailbox, unless one is there.
func (e *Engine) flushSelf(s *slot) {
	if !s.flushing {
		s.flushing = true
		e.post(s, local{op: opFlush})
	}
}

// takeAsync carries out group s's output as its group actor does: to
// other nodes and local handles (the Ready), its acks and answers to the
// node's side (its mailbox), a flush to itself.
func (e *Engine) takeAsync(s *slot) {
	gm := s.gm
	if !gm.HasReady() {
		return
	}
	rd := gm.Ready()
	r := &e.h.ready
	r.Messages = append(r.Messages, rd.Messages...)
	if len(rd.Acks) > 0 {
		e.postNode(local{op: opAcks, acks: slices.Clone(rd.Acks)})
	}
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
		e.toSeqAsync(s, m)
	}
	for _, m := range rd.ToView {
		e.postNode(local{group: s.key, toView: m, got: s.got})
	}
	if rd.Drained != nil {
		d := *rd.Drained
		e.postNode(local{op: opDrained, group: s.key, drained: &d, got: s.got, box: s.box.id})
	}
	if rd.Flush {
		if s.held {
			s.wantFlush = true
		} else {
			e.flushSelf(s)
		}
	}
	gm.Advance()
}

// toSeqAsync carries out a group machine's message for its sequencer, as
// the group actor does: start a sequencer machine with a mailbox of its
// own (SeqStart), drop it and its mailbox (SeqStop), or post the message.
func (e *Engine) toSeqAsync(s *slot, m SeqInput) {
	switch m := m.(type) {
	case SeqStart:
		if s.seqBox != nil {
			delete(e.boxes, s.seqBox.id)
		}
		s.seqGen++
		s.sm = NewSequencerMachine(m.Config)
		s.seqFlushing = false
		gen := s.seqGen
		s.seqBox = e.newBox(func(m local) { e.runSeq(s, gen, m) })
	case SeqStop:
		if s.seqBox != nil {
			delete(e.boxes, s.seqBox.id)
		}
		s.sm, s.seqBox = nil, nil
	default:
		if s.seqBox != nil {
			e.postSeq(s, local{toSeq: m})
		}
	}
}

// postSeq puts m in group s's sequencer's mailbox.
func (e *Engine) postSeq(s *slot, m local) {
	s.seqBox.msgs = append(s.seqBox.msgs, m)
	e.wake(s.seqBox)
}

// runSeq is group s's sequencer machine number gen taking a message (the
// sequencer actor): its messages for other nodes go out (the Ready), those
// for its group to the group's mailbox, a flush to itself.
func (e *Engine) runSeq(s *slot, gen uint64, m local) {
	if gen != s.seqGen || s.sm == nil {
		return // stopped: its mailbox is gone
	}
	sm := s.sm
	switch m.op {
	case opInput:
		sm.Step(m.toSeq)
	case opTick:
		sm.Tick(m.now)
	case opFlush:
		s.seqFlushing = false
		sm.Step(SeqFlush{})
	}
	if !sm.HasReady() {
		return
	}
	rd := sm.Ready()
	e.h.ready.Messages = append(e.h.ready.Messages, rd.Messages...)
	for _, out := range rd.ToGroup {
		e.post(s, local{op: opSeqOut, toGroup: out, gen: gen})
	}
	if rd.Flush && !s.seqFlushing {
		s.seqFlushing = true
		e.postSeq(s, local{op: opFlush})
	}
	sm.Advance()
}

// routeAsync sends the host's routes to their groups' mailboxes, in
// order, starting the machines they need.
func (e *Engine) routeAsync(routes []GroupRoute) {
	for _, r := range routes {
		var s *slot
		if r.IfOpen {
			s = e.groups[string(r.Group)]
		} else {
			s = e.group(r.Group)
		}
		if s != nil {
			e.post(s, local{toGroup: r.Msg, fromNode: true})
		}
	}
}

// pumpAsync sends the view machine's messages to the groups' mailboxes
// and takes its output (the node actor's pump).
func (e *Engine) pumpAsync() {
	// Ready.SyncChanged is the host's Syncing changing (carryAsync), not
	// the view machine's: its install leaves the host syncing until the
	// groups answer.
	sc := e.h.ready.SyncChanged
	for _, m := range e.h.TakeView(len(e.h.ready.Deliveries)) {
		e.post(e.group(m.Group), local{toGroup: m.Msg, fromNode: true})
	}
	e.h.ready.SyncChanged = sc
	e.carryAsync()
}

// carryAsync notes a change of Syncing (the node actor's carryOut). Once
// a view change is over (its totem confchg is out), the groups resume,
// and the messages of the view that came before its install reach them,
// then those that came while the groups installed it.
func (e *Engine) carryAsync() {
	syncing := e.h.Syncing()
	if syncing == e.syncing {
		return
	}
	e.syncing = syncing
	e.h.ready.SyncChanged = true
	if syncing {
		return
	}
	for _, s := range e.sortedGroups() {
		e.post(s, local{op: opResume})
	}
	e.routeAsync(e.h.Replay())
	for _, pm := range e.h.TakeHeld() {
		e.stepPeerAsync(pm.From, pm.Msg)
	}
}

// stepPeerAsync takes a message of node from (the node actor's stepPeer).
func (e *Engine) stepPeerAsync(from uint32, m proto.Message) {
	e.routeAsync(e.h.Step(from, m))
	e.pumpAsync()
	e.h.SendAcks()
}

// tickAsync gives the host the time, and every group a tick in its
// mailbox.
func (e *Engine) tickAsync(now time.Duration) {
	e.h.Tick(now)
	e.pumpAsync()
	for _, s := range e.sortedGroups() {
		e.post(s, local{op: opTick, now: now})
	}
	e.h.SendAcks()
	e.carryAsync()
}

// drain runs group s's mailbox until it is empty (only the node's side
// drops a group machine, so s stays): a request that the caller waits for
// an answer to goes in behind its messages.
func (e *Engine) drain(s *slot) {
	for {
		m, ok := s.box.pop()
		if !ok {
			return
		}
		e.runGroup(s, m)
	}
}

// joinAsync asks group s to add local handle h: the node sends the join,
// the group takes it after what is in its mailbox and answers.
func (e *Engine) joinAsync(s *slot, h groups.HandleID, pid uint32) api.Code {
	e.drain(s)
	s.sent++
	s.got++
	code := s.gm.Step(JoinReq{Handle: h, Pid: pid})
	e.takeAsync(s)
	if code == api.CodeOK {
		e.handles[h] = s
	}
	return code
}

// askAsync gives group s a local handle's request after what is in its
// mailbox, and returns the answer.
func (e *Engine) askAsync(s *slot, m GroupInput) api.Code {
	e.drain(s)
	code := s.gm.Step(m)
	e.takeAsync(s)
	return code
}
