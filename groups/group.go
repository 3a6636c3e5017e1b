// Package groups holds one node's replica of a process group as a
// deterministic state machine: the replicated member list, the state of the
// node's own member handles, agreed-order delivery of sequenced events and
// confchg generation.
//
// A Group has no goroutines, clocks or randomness. Its inputs are method
// calls (a local handle joins, leaves or multicasts; the sequencer's ordered
// events arrive); its outputs collect in a Ready that the caller takes with
// Ready and acknowledges with Advance, like etcd-io/raft's RawNode.
package groups

import (
	"slices"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// HandleID names a handle on its node.
type HandleID uint64

// member is the state of one local handle in this group.
type member struct {
	id  HandleID
	pid uint32
	// applied: the handle's own JOIN has been applied; from then on it
	// receives the group's events.
	applied bool
	// leaving: a LEAVE for the handle has been submitted.
	leaving bool
	// gone: the handle was finalized; it receives nothing more and only
	// waits for its LEAVE to be applied.
	gone bool
	// out is the handle's entry in the current Ready, or nil.
	out *Delivery
}

// Group is one node's replica of one process group. Not safe for concurrent
// use: one actor owns it.
type Group struct {
	name   []byte
	nodeID uint32

	// members is the replicated member list, sorted by (nodeid, pid).
	members []*api.Address
	// locals are this node's handles that joined and have not yet left,
	// by pid and by handle id.
	locals   map[uint32]*member
	byHandle map[HandleID]*member
	// receivers are the local members that get the group's events (own
	// join applied, not finalized), sorted by pid: member-list order.
	receivers []*member

	// nextSeq is the sequence number of the next event to apply.
	nextSeq uint64
	// early holds events that arrived ahead of nextSeq.
	early map[uint64]*wire.GroupEvent
	// nextMsgID numbers the events this node submits; inc is the node's
	// incarnation, stamped on them too.
	nextMsgID uint64
	inc       uint64
	// fragment is the largest message submitted as one event; larger
	// ones go in parts of this size (0: never split).
	fragment int
	// partial holds the parts of large messages being reassembled, by
	// sender.
	partial map[procKey]*partialMsg

	congested  map[HandleID]bool
	backlog    bool
	remoteCong bool
	fcEnabled  bool

	ready Ready
}

// procKey names a process (nodeid, pid).
type procKey struct{ nodeid, pid uint32 }

// partialMsg is a large message whose parts are being reassembled.
type partialMsg struct {
	guarantee uint32
	parts     [][]byte
	size      int
}

// New returns the replica of group name on node nodeID, empty, expecting
// sequence number 1 next.
func New(name []byte, nodeID uint32) *Group {
	return &Group{
		name:      slices.Clone(name),
		nodeID:    nodeID,
		locals:    make(map[uint32]*member),
		byHandle:  make(map[HandleID]*member),
		nextSeq:   1,
		early:     make(map[uint64]*wire.GroupEvent),
		congested: make(map[HandleID]bool),
		partial:   make(map[procKey]*partialMsg),
	}
}

// SetIncarnation sets the incarnation stamped on the events this replica
// submits (the node's, so that event ids stay unique across restarts).
func (g *Group) SetIncarnation(inc uint64) { g.inc = inc }

// LastMsgID returns the id of the last event this replica submitted.
func (g *Group) LastMsgID() uint64 { return g.nextMsgID }

// SetLastMsgID makes the replica number its next event n+1: a group that
// is dropped while idle and used again goes on with its ids, because the
// other nodes deliver each (incarnation, id) once.
func (g *Group) SetLastMsgID(n uint64) { g.nextMsgID = n }

// SetFragment makes messages larger than n bytes travel as parts of n
// bytes, each sequenced as its own event and reassembled by every replica.
func (g *Group) SetFragment(n int) { g.fragment = n }

// HandleOf returns the local handle of pid while it is in the group.
func (g *Group) HandleOf(pid uint32) (HandleID, bool) {
	m, ok := g.locals[pid]
	if !ok {
		return 0, false
	}
	return m.id, true
}

// Reassembling reports whether a large message of (nodeid, pid) is half
// applied: some parts were delivered and the last was not.
func (g *Group) Reassembling(nodeid, pid uint32) bool {
	_, ok := g.partial[procKey{nodeid, pid}]
	return ok
}

// DropPartials forgets every half-applied large message; a view change
// calls it after the flush, so that receivers never see part of one.
func (g *Group) DropPartials() { clear(g.partial) }

// ResetSeq makes the replica expect seq next, forgetting events held
// ahead of a gap: a new view restarts the group's sequence numbers.
func (g *Group) ResetSeq(seq uint64) {
	g.nextSeq = seq
	clear(g.early)
}

// Deliver applies one event that the caller has already put in agreed
// order (its sequence number is not checked).
func (g *Group) Deliver(ev *wire.GroupEvent) { g.apply(ev) }

// ChangeMembers applies a view change to the member list: left (each
// with its reason, NODEDOWN or PROCDOWN) go, joined (reason NODEUP) come,
// in one confchg each for the departures and for the arrivals (CPG-SPEC
// 4.4). Entries already absent, or already present, are skipped.
func (g *Group) ChangeMembers(left, joined []*api.Address) {
	var gone []*api.Address
	for _, a := range left {
		i, found := slices.BinarySearchFunc(g.members, a, api.CompareAddresses)
		if !found {
			continue
		}
		g.members = slices.Delete(g.members, i, i+1)
		gone = append(gone, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: a.Reason})
		delete(g.partial, procKey{a.Nodeid, a.Pid})
	}
	if len(gone) > 0 {
		g.ready.MembersChanged = true
		g.deliverAll(&api.Event{Confchg: &api.Confchg{Group: g.name, Members: slices.Clone(g.members), Left: gone}})
	}
	var came []*api.Address
	for _, a := range joined {
		i, found := slices.BinarySearchFunc(g.members, a, api.CompareAddresses)
		if found {
			continue
		}
		g.members = slices.Insert(g.members, i, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid})
		came = append(came, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: a.Reason})
	}
	if len(came) > 0 {
		g.ready.MembersChanged = true
		g.deliverAll(&api.Event{Confchg: &api.Confchg{Group: g.name, Members: slices.Clone(g.members), Joined: came}})
	}
}

// Name returns the group's name. The caller must not change it.
func (g *Group) Name() []byte { return g.name }

// Members returns a copy of the member list, sorted by (nodeid, pid).
func (g *Group) Members() []*api.Address { return slices.Clone(g.members) }

// Idle reports whether the group has no members and no local handles.
func (g *Group) Idle() bool { return len(g.members) == 0 && len(g.byHandle) == 0 }

// FlowControlled reports whether some local member's queue is congested
// or the group's backlog is too long (SetBacklog).
func (g *Group) FlowControlled() bool { return g.fcEnabled }

// SetBacklog records whether the group's traffic not yet held by every
// node is above its bound: while it is, the group is flow-controlled, so
// that no node falls without limit behind a fast sender.
func (g *Group) SetBacklog(on bool) {
	g.backlog = on
	g.updateFlow()
}

// Join asks to add local handle h with pid to the group. On CodeOK the JOIN
// is submitted for sequencing; the handle becomes a member when it is
// applied. Checks follow Corosync's order (exec/cpg.c message_handler_req_lib_cpg_join):
//   - the same pid already has a live local handle in the group: CodeExist;
//   - the pid is still a member while its earlier incarnation's leave or
//     PROCDOWN is in flight: CodeTryAgain.
func (g *Group) Join(h HandleID, pid uint32) api.Code {
	if _, ok := g.byHandle[h]; ok {
		return api.CodeExist
	}
	if m, ok := g.locals[pid]; ok {
		if m.gone {
			return api.CodeTryAgain
		}
		return api.CodeExist
	}
	if g.isMember(g.nodeID, pid) {
		return api.CodeTryAgain
	}
	m := &member{id: h, pid: pid}
	g.locals[pid] = m
	g.byHandle[h] = m
	g.submit(&wire.GroupEvent{Kind: wire.Kind_KIND_JOIN, Nodeid: g.nodeID, Pid: pid, Reason: uint32(api.ReasonJoin)})
	return api.CodeOK
}

// Leave asks to remove local handle h with reason LEAVE (cpg_leave) or
// PROCDOWN (eviction). The handle keeps receiving the group's events up to
// and including the confchg that removes it; then Ready.Left names it.
// A handle that is not in the group, or already leaving, gets CodeNotExist.
func (g *Group) Leave(h HandleID, reason api.Reason) api.Code {
	m, ok := g.byHandle[h]
	if !ok || m.leaving || m.gone {
		return api.CodeNotExist
	}
	m.leaving = true
	g.submit(&wire.GroupEvent{Kind: wire.Kind_KIND_LEAVE, Nodeid: g.nodeID, Pid: m.pid, Reason: uint32(reason)})
	return api.CodeOK
}

// Gone tells the group that local handle h was finalized or its client
// died. The handle receives nothing more; unless its leave is already in
// flight, the other members see it leave with reason PROCDOWN.
func (g *Group) Gone(h HandleID) {
	m, ok := g.byHandle[h]
	if !ok || m.gone {
		return
	}
	m.gone = true
	g.removeReceiver(m)
	g.setCongested(h, false)
	if !m.leaving {
		m.leaving = true
		g.submit(&wire.GroupEvent{Kind: wire.Kind_KIND_LEAVE, Nodeid: g.nodeID, Pid: m.pid, Reason: uint32(api.ReasonProcDown)})
	}
}

// Mcast submits local handle h's messages for sequencing. A handle that is
// not a member (or is leaving) has them refused: Ready.Rejected counts them.
// A message that travelled in parts must be whole here.
func (g *Group) Mcast(h HandleID, msgs []*api.McastRequest) {
	m, ok := g.byHandle[h]
	if !ok || m.leaving || m.gone {
		var n uint64
		for _, r := range msgs {
			n += uint64(len(r.Data))
		}
		g.ready.Rejected = append(g.ready.Rejected, Rejected{Handle: h, Count: uint32(len(msgs)), Bytes: n})
		return
	}
	for _, r := range msgs {
		if g.fragment <= 0 || len(r.Data) <= g.fragment {
			g.submit(&wire.GroupEvent{Kind: wire.Kind_KIND_MCAST, Nodeid: g.nodeID, Pid: m.pid, Guarantee: r.Guarantee, Data: r.Data})
			continue
		}
		for off := 0; off < len(r.Data); off += g.fragment {
			end := min(off+g.fragment, len(r.Data))
			g.submit(&wire.GroupEvent{Kind: wire.Kind_KIND_MCAST, Nodeid: g.nodeID, Pid: m.pid, Guarantee: r.Guarantee,
				Data: r.Data[off:end:end], Part: true, More: end < len(r.Data)})
		}
	}
}

// Congestion records whether local handle h's receive queue is above its
// high-water mark. While any local member is congested the group is
// flow-controlled: Ready.FlowChanged reports each change.
func (g *Group) Congestion(h HandleID, congested bool) {
	if _, ok := g.byHandle[h]; !ok {
		congested = false
	}
	g.setCongested(h, congested)
}

func (g *Group) setCongested(h HandleID, on bool) {
	if on {
		g.congested[h] = true
	} else {
		delete(g.congested, h)
	}
	g.updateFlow()
}

// LocalCongested reports whether a local member's queue is congested.
func (g *Group) LocalCongested() bool { return len(g.congested) > 0 }

// SetRemoteCongestion records whether a member on another node is
// congested: the group's local senders are flow-controlled while it is.
func (g *Group) SetRemoteCongestion(on bool) {
	g.remoteCong = on
	g.updateFlow()
}

func (g *Group) updateFlow() {
	if fc := len(g.congested) > 0 || g.backlog || g.remoteCong; fc != g.fcEnabled {
		g.fcEnabled = fc
		g.ready.FlowChanged = true
	}
}

func (g *Group) submit(ev *wire.GroupEvent) {
	g.nextMsgID++
	ev.Msgid = g.nextMsgID
	ev.Inc = g.inc
	g.ready.Submit = append(g.ready.Submit, ev)
}

// Apply takes sequenced events from the sequencer. Events are applied
// strictly in sequence order; duplicates are ignored and events ahead of a
// gap wait until the gap is filled.
func (g *Group) Apply(events []*wire.GroupEvent) {
	for _, ev := range events {
		switch {
		case ev.Seq < g.nextSeq:
			continue
		case ev.Seq > g.nextSeq:
			g.early[ev.Seq] = ev
			continue
		}
		g.apply(ev)
		for {
			next, ok := g.early[g.nextSeq]
			if !ok {
				break
			}
			delete(g.early, g.nextSeq)
			g.apply(next)
		}
	}
}

// NextSeq returns the sequence number the group waits for.
func (g *Group) NextSeq() uint64 { return g.nextSeq }

func (g *Group) apply(ev *wire.GroupEvent) {
	g.nextSeq = ev.Seq + 1
	switch ev.Kind {
	case wire.Kind_KIND_JOIN:
		g.applyJoin(ev)
	case wire.Kind_KIND_LEAVE:
		g.applyLeave(ev)
	case wire.Kind_KIND_MCAST:
		g.applyMcast(ev)
	}
}

func (g *Group) applyJoin(ev *wire.GroupEvent) {
	addr := &api.Address{Nodeid: ev.Nodeid, Pid: ev.Pid}
	i, found := slices.BinarySearchFunc(g.members, addr, api.CompareAddresses)
	if found {
		return // a duplicate join changes nothing
	}
	g.members = slices.Insert(g.members, i, addr)
	g.ready.MembersChanged = true
	if ev.Nodeid == g.nodeID {
		if m, ok := g.locals[ev.Pid]; ok && !m.applied {
			m.applied = true
			if !m.gone {
				g.addReceiver(m)
			}
		}
	}
	cc := &api.Event{Confchg: &api.Confchg{
		Group:   g.name,
		Members: slices.Clone(g.members),
		Joined:  []*api.Address{{Nodeid: ev.Nodeid, Pid: ev.Pid, Reason: uint32(api.ReasonJoin)}},
	}}
	g.deliverAll(cc)
}

func (g *Group) applyLeave(ev *wire.GroupEvent) {
	addr := &api.Address{Nodeid: ev.Nodeid, Pid: ev.Pid}
	i, found := slices.BinarySearchFunc(g.members, addr, api.CompareAddresses)
	if !found {
		return
	}
	g.members = slices.Delete(g.members, i, i+1)
	g.ready.MembersChanged = true
	delete(g.partial, procKey{ev.Nodeid, ev.Pid})
	cc := &api.Event{Confchg: &api.Confchg{
		Group:   g.name,
		Members: slices.Clone(g.members),
		Left:    []*api.Address{{Nodeid: ev.Nodeid, Pid: ev.Pid, Reason: ev.Reason}},
	}}
	g.deliverAll(cc)
	if ev.Nodeid != g.nodeID {
		return
	}
	m, ok := g.locals[ev.Pid]
	if !ok {
		return
	}
	delete(g.locals, ev.Pid)
	delete(g.byHandle, m.id)
	g.removeReceiver(m)
	g.setCongested(m.id, false)
	if !m.gone {
		g.ready.Left = append(g.ready.Left, Left{Handle: m.id, Reason: api.Reason(ev.Reason)})
	}
}

func (g *Group) applyMcast(ev *wire.GroupEvent) {
	if !g.isMember(ev.Nodeid, ev.Pid) {
		return // a message from a non-member is never delivered
	}
	data := ev.Data
	if ev.Part {
		key := procKey{ev.Nodeid, ev.Pid}
		p := g.partial[key]
		if p == nil {
			p = &partialMsg{guarantee: ev.Guarantee}
			g.partial[key] = p
		}
		p.parts = append(p.parts, ev.Data)
		p.size += len(ev.Data)
		if ev.More {
			return
		}
		delete(g.partial, key)
		data = make([]byte, 0, p.size)
		for _, b := range p.parts {
			data = append(data, b...)
		}
	}
	g.deliverAll(&api.Event{Deliver: &api.Deliver{
		Group:     g.name,
		Nodeid:    ev.Nodeid,
		Pid:       ev.Pid,
		Data:      data,
		Guarantee: ev.Guarantee,
	}})
}

func (g *Group) isMember(nodeid, pid uint32) bool {
	_, found := slices.BinarySearchFunc(g.members, &api.Address{Nodeid: nodeid, Pid: pid}, api.CompareAddresses)
	return found
}

// deliverAll queues ev (shared, read-only) for every receiving local member.
func (g *Group) deliverAll(ev *api.Event) {
	for _, m := range g.receivers {
		if m.out == nil {
			m.out = &Delivery{Handle: m.id}
			g.ready.Deliveries = append(g.ready.Deliveries, m.out)
		}
		m.out.Events = append(m.out.Events, ev)
	}
}

func (g *Group) addReceiver(m *member) {
	i, _ := slices.BinarySearchFunc(g.receivers, m.pid, func(r *member, pid uint32) int {
		return cmpUint32(r.pid, pid)
	})
	g.receivers = slices.Insert(g.receivers, i, m)
}

func (g *Group) removeReceiver(m *member) {
	i, found := slices.BinarySearchFunc(g.receivers, m.pid, func(r *member, pid uint32) int {
		return cmpUint32(r.pid, pid)
	})
	if found && g.receivers[i] == m {
		g.receivers = slices.Delete(g.receivers, i, i+1)
	}
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Handles returns the local handles in the group (joining, joined or
// leaving), in no particular order.
func (g *Group) Handles() []HandleID {
	out := make([]HandleID, 0, len(g.byHandle))
	for h := range g.byHandle {
		out = append(out, h)
	}
	return out
}
