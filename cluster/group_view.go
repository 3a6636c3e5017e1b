package cluster

import (
	"slices"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// The group's side of a view change: Freeze, then Install.

// freeze stops the group's view and answers with its state.
func (g *GroupMachine) freeze(m Freeze) {
	g.frozen = true
	g.stopSeq() // the view's order ends here; a new view starts a new one
	g.ready.ToView = append(g.ready.ToView, Frozen{Ring: m.Ring, State: g.state()})
}

// state describes the group in the old view for a view change.
func (g *GroupMachine) state() *wire.GroupState {
	// A group goes in even when empty: a node that does not report a
	// group is taken to have seen none of it in this view.
	gs := &wire.GroupState{Group: g.name, Delivered: g.next - 1, Members: g.rep.Members()}
	// What each node is known to hold: the node itself for sure, the
	// others as far as they acknowledged or the stable point says.
	gs.OriginHeld = append(gs.OriginHeld, &wire.NodeSeq{Node: g.cfg.NodeID, Seq: g.contiguous()})
	for _, n := range g.members {
		if c := max(g.conts[n], g.stable); c > 0 && n != g.cfg.NodeID {
			gs.OriginHeld = append(gs.OriginHeld, &wire.NodeSeq{Node: n, Seq: c})
		}
	}
	gs.Held = append(gs.Held, g.held...)
	if len(g.early) > 0 {
		early := make([]*wire.GroupEvent, 0, len(g.early))
		for _, ev := range g.early {
			early = append(early, ev)
		}
		slices.SortFunc(early, func(a, b *wire.GroupEvent) int { return cmpU64(a.Seq, b.Seq) })
		gs.Held = append(gs.Held, early...)
	}
	return gs
}

// install ends the view change for the group: deliver this node's cohort
// cut, change the member list, start the new view.
func (g *GroupMachine) install(m Install) {
	g.now = m.Now
	mine := m.Cohort
	// 1. The flush: deliver this node's cohort cut.
	if gc := m.Cut; gc != nil {
		evs := make([]*wire.GroupEvent, 0, len(gc.Events))
		for _, ev := range gc.Events {
			if ev != nil && ev.Seq > 0 && ev.Seq <= gc.Upto {
				evs = append(evs, ev)
			}
		}
		slices.SortFunc(evs, func(a, b *wire.GroupEvent) int { return cmpU64(a.Seq, b.Seq) })
		transitional := false
		for _, ev := range evs {
			if ev.Seq < g.next && g.cfg.Bug != BugNoDedup {
				continue // delivered already
			}
			if gc.Hole != 0 && ev.Seq > gc.Hole && !transitional {
				transitional = true
				g.leaveOthers(mine, m.Members, m.OldMembers)
			}
			if gc.Hole != 0 && ev.Seq > gc.Hole && !slices.Contains(mine, ev.Nodeid) {
				continue // malformed: only the cohort's events come after the hole
			}
			g.next = ev.Seq + 1 // a cut may skip events (see flushCut)
			g.apply(ev)
		}
	}
	// 2. Large messages cut in the middle: nobody delivers them; their
	// senders here get INTERRUPT and do not send the rest.
	g.interrupt()
	g.rep.DropPartials()
	// 3. The new member list. The processes of nodes that come from
	// another old view left this node's view (NODEDOWN), even if they are
	// back in the new one (NODEUP): in between, they delivered messages
	// this node did not. Only this node's cohort goes on unchanged.
	want := m.List
	cur := g.rep.Members()
	var left, joined []*api.Address
	for _, a := range cur {
		ours := slices.Contains(mine, a.Nodeid)
		if _, found := slices.BinarySearchFunc(want, a, api.CompareAddresses); found && ours {
			continue
		}
		left = append(left, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: uint32(leftReason(a.Nodeid, mine, m.Members, m.OldMembers))})
	}
	for _, a := range want {
		if a == nil {
			continue
		}
		_, found := slices.BinarySearchFunc(cur, a, api.CompareAddresses)
		if !found || !slices.Contains(mine, a.Nodeid) {
			joined = append(joined, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: uint32(api.ReasonNodeUp)})
		}
	}
	if len(left) > 0 || len(joined) > 0 {
		g.rep.ChangeMembers(left, joined)
		g.touch()
	}
	// 4. The new view.
	g.ring, g.members = m.Ring, slices.Clone(m.Members)
	g.frozen = false
	g.resetLog(g.now)
	g.owner = owner(g.name, g.members)
	g.touch() // the reset may lift flow control (remote congestion)
	g.checkBacklog()
	idle := g.rep.Idle() && len(g.pending) == 0
	if len(g.pending) > 0 {
		g.queueFlush()
	}
	// The group's event ids go on where they stopped if it is used
	// again: the others remember the last one delivered.
	g.ready.ToView = append(g.ready.ToView, Installed{Group: g.name, Ring: m.Ring, Idle: idle, LastMsgID: g.rep.LastMsgID()})
}

// leaveOthers removes from the group, in one confchg, the processes of
// the nodes outside this node's cohort (mine): the transitional confchg
// of a cut with a hole (see flushCut). members is the new view, old the
// old one.
func (g *GroupMachine) leaveOthers(mine, members, old []uint32) {
	var left []*api.Address
	for _, a := range g.rep.Members() {
		if !slices.Contains(mine, a.Nodeid) {
			left = append(left, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: uint32(leftReason(a.Nodeid, mine, members, old))})
		}
	}
	if len(left) > 0 {
		g.rep.ChangeMembers(left, nil)
		g.touch()
	}
}

// leftReason is the reason of a process of node n leaving at a view change
// from old to members, seen from cohort mine: NODEDOWN for a node that
// went, or that comes from another old view (it is back in the same
// confchg sequence as NODEUP), PROCDOWN for a stale entry of a node that
// stays.
func leftReason(n uint32, mine, members, old []uint32) api.Reason {
	if !slices.Contains(mine, n) && (!slices.Contains(members, n) || slices.Contains(old, n)) {
		return api.ReasonNodeDown
	}
	return api.ReasonProcDown
}

// interrupt drops the unsent rest of every local large message that the
// view change cut, and names its handle in GroupReady.Interrupted.
func (g *GroupMachine) interrupt() {
	if len(g.pending) == 0 {
		return
	}
	keep := g.pending[:0]
	// Per sender: 1 while dropping the rest of its cut message, 2 after.
	state := make(map[uint32]int8)
	for _, ev := range g.pending {
		st := state[ev.Pid]
		if st == 0 {
			st = 2
			if ev.Part && g.rep.Reassembling(g.cfg.NodeID, ev.Pid) {
				st = 1
			}
		}
		if st == 1 {
			if !ev.More {
				st = 2
				if h, ok := g.rep.HandleOf(ev.Pid); ok {
					g.ready.Interrupted = append(g.ready.Interrupted, h)
				}
			}
			state[ev.Pid] = st
			continue
		}
		state[ev.Pid] = st
		keep = append(keep, ev)
	}
	clear(g.pending[len(keep):])
	g.pending = keep
}
