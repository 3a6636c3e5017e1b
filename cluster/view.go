package cluster

import (
	"slices"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
)

// The view protocol.
//
// Every node sends a heartbeat to every node of the node list. A node is
// reachable while heard from within Token. A view change is needed when
// the reachable set differs from the view, or a reachable node of the view
// reports another ring (it restarted, or missed an install). The lowest
// reachable node coordinates: once the need has lasted Join, it proposes
// ring (itself, a seq above every seq it has seen) with the reachable
// nodes. Each member accepts a proposal above every one it accepted
// before, stops taking anything from its old view, and answers with its
// state: its old ring and, per group, what it delivered, its member list
// there, and the events it holds above the stable point. With every
// member's state, the coordinator computes for each old view (cohort) and
// group the cut: the events up to the first one no survivor holds. It
// sends the install: the cuts and the member lists of the new view (each
// cohort speaks for the processes of its own nodes). Each member delivers
// its cohort's cut, then one confchg per group for the processes that went
// (NODEDOWN, or PROCDOWN for a stale entry) and one for those that came
// (NODEUP), then the totem confchg, and sends again what it had submitted
// and not seen ordered. An attempt that does not finish within Consensus,
// or loses a member, starts again with a higher seq.

func (e *Engine) sendHeartbeats() {
	e.lastHeartbeat = e.now
	if len(e.cfg.Nodes) == 1 {
		return
	}
	e.hbSeq++
	hb := &wire.PeerHeartbeat{From: e.cfg.NodeID, Ring: e.ring.api(), Members: e.members, MaxSeq: max(e.maxSeq, e.seenSeq),
		Incarnation: e.cfg.Incarnation, Seq: e.hbSeq}
	if e.syncing {
		hb.Accepted = e.accepted.api()
	}
	for _, n := range e.cfg.Nodes {
		if n != e.cfg.NodeID {
			e.send(n, hb)
		}
	}
}

func (e *Engine) onHeartbeat(from uint32, m *wire.PeerHeartbeat) {
	if m.From != from || m.Ring == nil {
		return
	}
	e.seenSeq = max(e.seenSeq, m.MaxSeq, m.Ring.Seq)
	if last := e.peerHB[from]; m.Incarnation < last[0] || m.Incarnation == last[0] && m.Seq <= last[1] {
		return // an older heartbeat, late: its view is out of date
	}
	e.heard[from] = e.now
	if m.Incarnation > e.peerHB[from][0] {
		delete(e.peerStep, from) // a new run of the node
	}
	e.peerHB[from] = [2]uint64{m.Incarnation, m.Seq}
	// A heartbeat may be older than a view message of its sender that
	// arrived before it: then learnPeer keeps what that one said.
	e.learnPeer(from, ringOf(m.Ring), ringOf(m.Accepted))
}

// viewStep is a point in a node's view changes: it accepted the proposal
// of ring seq (installed false), or installed it. A node's steps only go
// forward: it accepts only above every seq it accepted before, installs
// only the ring it accepted, and restarts in a ring above every seq it
// used.
type viewStep struct {
	seq       uint64
	installed bool
}

func (a viewStep) before(b viewStep) bool {
	return a.seq < b.seq || a.seq == b.seq && !a.installed && b.installed
}

// learnPeer records that node n is in ring (zero: unknown, as before) and
// waits to install accepted (zero: none), unless a later step of n is
// known already. Heartbeats say it, and so do view messages (a proposal,
// a state, an install): links reorder, and a heartbeat that a member sent
// before it accepted a proposal may reach the coordinator after the
// member's state, even after the install; taken as news, it would make
// the coordinator think the member never got the install, and propose
// the same view again.
func (e *Engine) learnPeer(n uint32, ring, accepted ringID) {
	st := viewStep{ring.seq, true}
	if accepted != (ringID{}) {
		st = viewStep{accepted.seq, false}
	}
	if st.before(e.peerStep[n]) {
		return
	}
	e.peerStep[n] = st
	if ring != (ringID{}) {
		e.peerRing[n] = ring
	}
	if accepted != (ringID{}) {
		e.peerAccepted[n] = accepted
	} else {
		delete(e.peerAccepted, n)
	}
}

// reachable returns this node and the nodes heard from within Token,
// ascending.
func (e *Engine) reachable() []uint32 {
	out := make([]uint32, 0, len(e.cfg.Nodes))
	for _, n := range e.cfg.Nodes {
		if n == e.cfg.NodeID {
			out = append(out, n)
			continue
		}
		if t, ok := e.heard[n]; ok && e.now-t < e.cfg.Token {
			out = append(out, n)
		}
	}
	return out
}

// changeNeeded reports whether the view must change for reachable nodes r.
func (e *Engine) changeNeeded(r []uint32) bool {
	if e.syncing || !slices.Equal(r, e.members) {
		return true
	}
	for _, n := range r {
		if n == e.cfg.NodeID {
			continue
		}
		if acc, ok := e.peerAccepted[n]; ok && acc != e.ring && e.peerRing[n] == e.ring {
			// It froze this view for an attempt that never reached this
			// node: the attempt failed, or its coordinator lost sight of
			// this node. Only a new view frees it.
			return true
		}
		if e.peerRing[n] == e.ring {
			continue
		}
		// A node that accepted this view but has not installed it yet is
		// fine for a while; one that never got the install is not.
		if e.peerAccepted[n] != e.ring || e.now-e.installedAt >= e.cfg.Consensus {
			return true
		}
	}
	return false
}

func (e *Engine) checkView() {
	if len(e.cfg.Nodes) == 1 {
		return
	}
	r := e.reachable()
	if c := e.coord; c != nil {
		lost := false
		for _, m := range c.members {
			if !slices.Contains(r, m) {
				lost = true
			}
		}
		if !lost && e.now-c.started < e.cfg.Consensus {
			return
		}
		e.coord = nil
	}
	if e.syncing && e.now-e.acceptedAt < e.cfg.Consensus && slices.Equal(r, e.acceptedMembers) {
		return // waiting for the install
	}
	if !e.changeNeeded(r) {
		e.changeSince = -1
		return
	}
	if e.changeSince < 0 {
		e.changeSince = e.now
	}
	if e.now-e.changeSince < e.cfg.Join || r[0] != e.cfg.NodeID {
		return
	}
	e.propose(r)
}

// propose starts a view change that this node coordinates.
func (e *Engine) propose(members []uint32) {
	seq := max(e.maxSeq, e.seenSeq, e.promised) + 1
	e.setMaxSeq(seq)
	ring := ringID{e.cfg.NodeID, seq}
	e.coord = &attempt{ring: ring, members: members, states: make(map[uint32]*wire.ViewState), started: e.now}
	p := &wire.ViewPropose{From: e.cfg.NodeID, Ring: ring.api(), Members: members}
	for _, m := range members {
		if m != e.cfg.NodeID {
			e.send(m, p)
		}
	}
	e.accept(e.cfg.NodeID, p)
}

func (e *Engine) onPropose(from uint32, m *wire.ViewPropose) {
	if m.From != from || m.Ring == nil || m.Ring.Nodeid != from {
		return
	}
	e.learnPeer(from, ringID{}, ringOf(m.Ring)) // the coordinator accepted it
	e.accept(from, m)
}

// accept takes a proposal: the node freezes its old view and answers with
// its state. A proposal at or below one accepted before is refused.
func (e *Engine) accept(from uint32, m *wire.ViewPropose) {
	ring := ringOf(m.Ring)
	members := slices.Clone(m.Members)
	slices.Sort(members)
	members = slices.Compact(members)
	if !slices.Contains(members, e.cfg.NodeID) || !slices.Contains(members, from) {
		return
	}
	for _, n := range members {
		if n != e.cfg.NodeID && !e.isNode(n) {
			return
		}
	}
	e.seenSeq = max(e.seenSeq, ring.seq)
	again := e.syncing && ring == e.accepted
	if !again && ring.seq <= e.promised {
		if from != e.cfg.NodeID {
			e.send(from, &wire.ViewReject{From: e.cfg.NodeID, Ring: m.Ring, MaxSeq: max(e.maxSeq, e.seenSeq, e.promised)})
		}
		return
	}
	if e.coord != nil && e.coord.ring != ring {
		e.coord = nil // a newer attempt by another node wins
	}
	if !e.syncing {
		e.syncing = true
		e.ready.SyncChanged = true
	}
	if ring != e.accepted {
		e.early = nil
	}
	e.accepted, e.acceptedMembers, e.acceptedAt = ring, members, e.now
	e.promised = ring.seq
	e.setMaxSeq(ring.seq)
	st := e.state(ring)
	if from == e.cfg.NodeID {
		e.onState(from, st)
		return
	}
	e.send(from, st)
}

func (e *Engine) onReject(from uint32, m *wire.ViewReject) {
	if m.From != from || e.coord == nil || ringOf(m.Ring) != e.coord.ring {
		return
	}
	e.seenSeq = max(e.seenSeq, m.MaxSeq)
	e.coord = nil // the next tick proposes again above MaxSeq
}

// state describes this node's old view for a view change.
func (e *Engine) state(ring ringID) *wire.ViewState {
	st := &wire.ViewState{From: e.cfg.NodeID, Ring: ring.api(), OldRing: e.ring.api(), OldMembers: e.members, MaxSeq: e.maxSeq}
	for _, gr := range e.sortedGroups() {
		// Every group goes in, even an empty one: a node that does not
		// report a group is taken to have seen none of it in this view.
		members := gr.g.Members()
		gs := &wire.GroupState{Group: gr.name, Delivered: gr.next - 1, Members: members}
		// What each node is known to hold: the node itself for sure, the
		// others as far as they acknowledged or the stable point says.
		gs.OriginHeld = append(gs.OriginHeld, &wire.NodeSeq{Node: e.cfg.NodeID, Seq: gr.contiguous()})
		for _, n := range e.members {
			if c := max(gr.conts[n], gr.stable); c > 0 && n != e.cfg.NodeID {
				gs.OriginHeld = append(gs.OriginHeld, &wire.NodeSeq{Node: n, Seq: c})
			}
		}
		gs.Held = append(gs.Held, gr.held...)
		if len(gr.early) > 0 {
			early := make([]*wire.GroupEvent, 0, len(gr.early))
			for _, ev := range gr.early {
				early = append(early, ev)
			}
			slices.SortFunc(early, func(a, b *wire.GroupEvent) int { return cmpU64(a.Seq, b.Seq) })
			gs.Held = append(gs.Held, early...)
		}
		st.Groups = append(st.Groups, gs)
	}
	return st
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (e *Engine) onState(from uint32, m *wire.ViewState) {
	if m.From != from || m.Ring == nil || m.OldRing == nil {
		return
	}
	e.learnPeer(from, ringOf(m.OldRing), ringOf(m.Ring)) // it accepted m.Ring
	c := e.coord
	if c == nil || ringOf(m.Ring) != c.ring || !slices.Contains(c.members, from) {
		return
	}
	c.states[from] = m
	if len(c.states) < len(c.members) {
		return
	}
	in := e.installFor(c)
	for _, n := range c.members {
		if n != e.cfg.NodeID {
			e.send(n, in)
		}
	}
	e.coord = nil
	e.install(e.cfg.NodeID, in)
}

// installFor computes the install of attempt c from every member's state.
func (e *Engine) installFor(c *attempt) *wire.ViewInstall {
	in := &wire.ViewInstall{From: e.cfg.NodeID, Ring: c.ring.api(), Members: c.members}
	// Cohorts: the members that come from the same old view.
	var rings []ringID
	cohort := make(map[ringID][]uint32)
	for _, n := range c.members {
		r := ringOf(c.states[n].OldRing)
		if _, ok := cohort[r]; !ok {
			rings = append(rings, r)
		}
		cohort[r] = append(cohort[r], n)
	}
	newLists := make(map[string][]*api.Address)
	var names []string
	for _, r := range rings {
		nodes := cohort[r]
		cc := &wire.CohortCut{OldRing: r.api(), Nodes: nodes}
		type view struct {
			delivered uint64
			members   []*api.Address
		}
		byGroup := make(map[string][]view)
		union := make(map[string]map[uint64]*wire.GroupEvent)
		heldBy := make(map[string]map[uint32]uint64)
		var keys []string
		for _, n := range nodes {
			for _, gs := range c.states[n].Groups {
				if gs == nil || api.CheckName(gs.Group) != nil {
					continue
				}
				k := string(gs.Group)
				if _, ok := union[k]; !ok {
					union[k] = make(map[uint64]*wire.GroupEvent)
					heldBy[k] = make(map[uint32]uint64)
					keys = append(keys, k)
				}
				byGroup[k] = append(byGroup[k], view{gs.Delivered, cleanAddrs(gs.Members)})
				for _, ev := range gs.Held {
					if ev != nil && ev.Seq > 0 {
						union[k][ev.Seq] = ev
					}
				}
				for _, h := range gs.OriginHeld {
					// A member of the cohort speaks for itself only.
					if h != nil && (h.Node == n || !slices.Contains(nodes, h.Node)) {
						heldBy[k][h.Node] = max(heldBy[k][h.Node], h.Seq)
					}
				}
			}
		}
		slices.SortFunc(keys, func(a, b string) int { return api.CompareNames([]byte(a), []byte(b)) })
		for _, k := range keys {
			views := byGroup[k]
			// A node of the cohort without the group never saw an event
			// of it: it delivered nothing and knows no member.
			lo, base := views[0].delivered, views[0].members
			if len(views) < len(nodes) {
				lo, base = 0, nil
			}
			var done uint64 // delivered by some member of the cohort
			for _, v := range views {
				if v.delivered < lo {
					lo, base = v.delivered, v.members
				}
				done = max(done, v.delivered)
			}
			gc := &wire.GroupCut{Group: []byte(k)}
			list := slices.Clone(base)
			evs, hole := flushCut(union[k], heldBy[k], nodes, lo, done)
			gc.Hole = hole
			for _, ev := range evs {
				gc.Events = append(gc.Events, ev)
				gc.Upto = ev.Seq
				list = applyMembership(list, ev)
			}
			cc.Groups = append(cc.Groups, gc)
			for _, a := range list {
				if slices.Contains(nodes, a.Nodeid) || e.cfg.Bug == BugGhost {
					if _, ok := newLists[k]; !ok {
						names = append(names, k)
					}
					newLists[k] = append(newLists[k], &api.Address{Nodeid: a.Nodeid, Pid: a.Pid})
				}
			}
		}
		in.Cohorts = append(in.Cohorts, cc)
	}
	slices.SortFunc(names, func(a, b string) int { return api.CompareNames([]byte(a), []byte(b)) })
	for _, k := range names {
		list := newLists[k]
		slices.SortFunc(list, api.CompareAddresses)
		list = slices.CompactFunc(list, func(a, b *api.Address) bool { return api.CompareAddresses(a, b) == 0 })
		in.Groups = append(in.Groups, &wire.GroupMembers{Group: []byte(k), Members: list})
	}
	return in
}

// flushCut chooses the events that a cohort (the survivors of one old
// view, nodes) delivers of one group before the new view, in seq order:
// union is every event its members hold above lo (the least any of them
// delivered), heldBy the highest contiguous seq each node is known to hold
// (a member's own report, or an acknowledgement another member received),
// and done the most any member delivered. hole is the first seq skipped
// (0: none).
//
// Every side of a split makes this choice for itself, so it must never
// make two sides deliver the same two messages in different orders, and a
// message delivered here must never be sent again elsewhere. The old
// view's seq order is the one order every side follows. An event goes in
// only when its origin holds it (and so every event of that origin before
// it): then the origin's own cohort delivers it too, in the same place,
// and the origin never sends it again. An event its origin may not hold
// is left to the origin, which sends it again in its next view if it is
// still there, and so are that origin's later events (FIFO).
//
// Up to the first event skipped, the cut is what any node of the old view
// may have delivered. After it, as in Totem's transitional configuration,
// the cohort's members first see the processes of the other nodes leave
// (install), then the rest of the cut: only events of the cohort's own
// nodes, which hold their events contiguously. So a confchg delivered
// both here and elsewhere always has the same messages before it. Events
// any member delivered already go in whatever the rest says.
func flushCut(union map[uint64]*wire.GroupEvent, heldBy map[uint32]uint64, nodes []uint32, lo, done uint64) (out []*wire.GroupEvent, hole uint64) {
	var hi uint64
	for s := range union {
		hi = max(hi, s)
	}
	stopped := make(map[uint32]bool)
	for s := lo + 1; s <= hi; s++ {
		ev := union[s]
		if ev == nil {
			if s <= done {
				break // a member delivered it, so some member holds it: malformed states
			}
			if hole == 0 {
				hole = s
			}
			continue
		}
		o := ev.Nodeid
		if s > done {
			ours := slices.Contains(nodes, o)
			if stopped[o] || heldBy[o] < s || (hole != 0 && !ours) {
				stopped[o] = true
				if hole == 0 {
					hole = s
				}
				continue
			}
		}
		out = append(out, ev)
	}
	return out, hole
}

// cleanAddrs returns a member list from another node as a replica keeps
// one: no nil entries, no reasons, sorted by (nodeid, pid), no duplicates.
func cleanAddrs(in []*api.Address) []*api.Address {
	out := make([]*api.Address, 0, len(in))
	for _, a := range in {
		if a != nil {
			out = append(out, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid})
		}
	}
	slices.SortFunc(out, api.CompareAddresses)
	return slices.CompactFunc(out, func(a, b *api.Address) bool { return api.CompareAddresses(a, b) == 0 })
}

// applyMembership applies a JOIN or LEAVE to a sorted member list, as a
// replica does.
func applyMembership(list []*api.Address, ev *wire.GroupEvent) []*api.Address {
	addr := &api.Address{Nodeid: ev.Nodeid, Pid: ev.Pid}
	i, found := slices.BinarySearchFunc(list, addr, api.CompareAddresses)
	switch ev.Kind {
	case wire.Kind_KIND_JOIN:
		if !found {
			list = slices.Insert(list, i, addr)
		}
	case wire.Kind_KIND_LEAVE:
		if found {
			list = slices.Delete(list, i, i+1)
		}
	}
	return list
}

func (e *Engine) onInstall(from uint32, m *wire.ViewInstall) {
	if m.From != from || m.Ring == nil || m.Ring.Nodeid != from {
		return
	}
	e.learnPeer(from, ringOf(m.Ring), ringID{}) // the coordinator installed it
	e.install(from, m)
}

// install ends the view change: deliver this node's cohort cut, change
// the member lists, start the new view.
func (e *Engine) install(from uint32, m *wire.ViewInstall) {
	ring := ringOf(m.Ring)
	if !e.syncing || ring != e.accepted {
		return
	}
	members := slices.Clone(m.Members)
	slices.Sort(members)
	members = slices.Compact(members)
	if !slices.Contains(members, e.cfg.NodeID) {
		return
	}
	// 1. The flush: deliver this node's cohort cut.
	mine := []uint32{e.cfg.NodeID}
	for _, cc := range m.Cohorts {
		if cc == nil || ringOf(cc.OldRing) != e.ring || !slices.Contains(cc.Nodes, e.cfg.NodeID) {
			continue
		}
		mine = cc.Nodes
		if e.cfg.Bug == BugSkipFlush {
			break
		}
		for _, gc := range cc.Groups {
			if gc == nil || api.CheckName(gc.Group) != nil {
				continue
			}
			gr := e.group(gc.Group)
			evs := make([]*wire.GroupEvent, 0, len(gc.Events))
			for _, ev := range gc.Events {
				if ev != nil && ev.Seq > 0 && ev.Seq <= gc.Upto {
					evs = append(evs, ev)
				}
			}
			slices.SortFunc(evs, func(a, b *wire.GroupEvent) int { return cmpU64(a.Seq, b.Seq) })
			transitional := false
			for _, ev := range evs {
				if ev.Seq < gr.next && e.cfg.Bug != BugNoDedup {
					continue // delivered already
				}
				if gc.Hole != 0 && ev.Seq > gc.Hole && !transitional {
					transitional = true
					e.leaveOthers(gr, cc.Nodes, members)
				}
				if gc.Hole != 0 && ev.Seq > gc.Hole && !slices.Contains(cc.Nodes, ev.Nodeid) {
					continue // malformed: only the cohort's events come after the hole
				}
				gr.next = ev.Seq + 1 // a cut may skip events (see flushCut)
				e.apply(gr, ev)
			}
		}
		break
	}
	// 2. Large messages cut in the middle: nobody delivers them; their
	// senders here get INTERRUPT and do not send the rest.
	for _, gr := range e.sortedGroups() {
		e.interrupt(gr)
		gr.g.DropPartials()
	}
	// 3. The new member lists. The processes of nodes that come from
	// another old view left this node's view (NODEDOWN), even if they are
	// back in the new one (NODEUP): in between, they delivered messages
	// this node did not. Only this node's cohort goes on unchanged.
	lists := make(map[string][]*api.Address, len(m.Groups))
	for _, gm := range m.Groups {
		if gm != nil && api.CheckName(gm.Group) == nil {
			lists[string(gm.Group)] = cleanAddrs(gm.Members)
			e.group(gm.Group)
		}
	}
	for _, gr := range e.sortedGroups() {
		want := lists[gr.key]
		cur := gr.g.Members()
		var left, joined []*api.Address
		for _, a := range cur {
			ours := slices.Contains(mine, a.Nodeid)
			if _, found := slices.BinarySearchFunc(want, a, api.CompareAddresses); found && ours {
				continue
			}
			left = append(left, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: uint32(e.leftReason(a.Nodeid, mine, members))})
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
			gr.g.ChangeMembers(left, joined)
			e.touch(gr)
		}
	}
	// 4. The new view.
	e.ring, e.members = ring, members
	e.syncing = false
	e.ready.SyncChanged = true
	e.changeSince = -1
	e.coord = nil
	for _, gr := range e.sortedGroups() {
		k := gr.key
		gr.resetLog(e.now)
		gr.owner = owner(gr.name, members)
		e.touch(gr) // the reset may lift flow control (remote congestion)
		e.checkBacklog(gr)
		if gr.g.Idle() && len(gr.pending) == 0 {
			// The group's event ids go on where they stopped if it is
			// used again: the others remember the last one delivered.
			e.msgIDs[k] = gr.g.LastMsgID()
			delete(e.groups, k)
			continue
		}
		if len(gr.pending) > 0 {
			e.queueFlush(gr)
		}
	}
	e.collect()
	e.ready.Totem = &api.TotemConfchg{RingId: ring.api(), Members: slices.Clone(members)}
	e.ready.TotemAt = len(e.ready.Deliveries)
	e.installedAt = e.now
	e.sendHeartbeats()
	// What the others sent in this view before this node installed it.
	early := e.early
	e.early = nil
	for _, env := range early {
		e.step(env.from, env.msg)
	}
}

// leaveOthers removes from the group, in one confchg, the processes of
// the nodes outside this node's cohort (mine): the transitional confchg
// of a cut with a hole (see flushCut). members is the new view.
func (e *Engine) leaveOthers(gr *group, mine, members []uint32) {
	var left []*api.Address
	for _, a := range gr.g.Members() {
		if !slices.Contains(mine, a.Nodeid) {
			left = append(left, &api.Address{Nodeid: a.Nodeid, Pid: a.Pid, Reason: uint32(e.leftReason(a.Nodeid, mine, members))})
		}
	}
	if len(left) > 0 {
		gr.g.ChangeMembers(left, nil)
		e.touch(gr)
	}
}

// leftReason is the reason of a process of node n leaving at a view change
// to members, seen from cohort mine: NODEDOWN for a node that went, or
// that comes from another old view (it is back in the same confchg
// sequence as NODEUP), PROCDOWN for a stale entry of a node that stays.
func (e *Engine) leftReason(n uint32, mine, members []uint32) api.Reason {
	if !slices.Contains(mine, n) && (!slices.Contains(members, n) || slices.Contains(e.members, n)) {
		return api.ReasonNodeDown
	}
	return api.ReasonProcDown
}

// interrupt drops the unsent rest of every local large message that the
// view change cut, and names its handle in Ready.Interrupted.
func (e *Engine) interrupt(gr *group) {
	if len(gr.pending) == 0 {
		return
	}
	keep := gr.pending[:0]
	// Per sender: 1 while dropping the rest of its cut message, 2 after.
	state := make(map[uint32]int8)
	for _, ev := range gr.pending {
		st := state[ev.Pid]
		if st == 0 {
			st = 2
			if ev.Part && gr.g.Reassembling(e.cfg.NodeID, ev.Pid) {
				st = 1
			}
		}
		if st == 1 {
			if !ev.More {
				st = 2
				if h, ok := gr.g.HandleOf(ev.Pid); ok {
					e.ready.Interrupted = append(e.ready.Interrupted, h)
				}
			}
			state[ev.Pid] = st
			continue
		}
		state[ev.Pid] = st
		keep = append(keep, ev)
	}
	clear(gr.pending[len(keep):])
	gr.pending = keep
}
