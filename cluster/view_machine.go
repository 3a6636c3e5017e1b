package cluster

import (
	"bytes"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// ViewMachine is one node's view protocol, a pure state machine (see the
// package doc): heartbeats, failure detection, propose, accept, reject,
// state and install. It knows the node's groups only by name, and talks
// to their machines only through messages (ViewReady.ToGroups in,
// ViewInput back). Not safe for concurrent use.
type ViewMachine struct {
	cfg Config
	now time.Duration

	// The installed view.
	ring    ringID
	members []uint32

	// maxSeq is the highest ring seq this node has used or accepted
	// (persisted); seenSeq the highest it has heard of.
	maxSeq  uint64
	seenSeq uint64
	// promised is the seq of the last proposal accepted: older ones are
	// refused.
	promised uint64

	// syncing: a proposal was accepted and its install is awaited. The
	// node takes nothing more from its old view meanwhile.
	syncing         bool
	accepted        ringID
	acceptedMembers []uint32
	acceptedAt      time.Duration

	heard  map[uint32]time.Duration
	hbSeq  uint64               // this node's last heartbeat
	peerHB map[uint32][2]uint64 // the newest (incarnation, seq) heard per peer
	// What each peer is known to be in: its installed ring and the
	// proposal it accepted and has not installed (none: not syncing), as
	// far as peerStep, the newest step of it known, goes (see learnPeer).
	peerRing      map[uint32]ringID
	peerAccepted  map[uint32]ringID
	peerStep      map[uint32]viewStep
	lastHeartbeat time.Duration
	changeSince   time.Duration // when a view change became needed; -1: none
	coord         *attempt
	installedAt   time.Duration

	// groups are the node's groups (GroupOpened, the installs), each
	// frozen and installed at a view change.
	groups map[string]struct{}
	// freezing collects the groups' states for an accepted proposal;
	// installing counts their answers to an install.
	freezing   *freezing
	installing *installing

	ready ViewReady
}

// attempt is a view change this node coordinates.
type attempt struct {
	ring    ringID
	members []uint32
	states  map[uint32]*wire.ViewState
	started time.Duration
}

// freezing is the collection of the groups' states for the proposal of
// ring by coord.
type freezing struct {
	ring   ringID
	coord  uint32
	want   int
	states []*wire.GroupState
}

// installing counts the groups' answers to the install of ring.
type installing struct {
	ring       ringID
	want, done int
}

// NewViewMachine returns the view machine of node cfg.NodeID, alone in
// its first view. cfg is as New takes it, with defaults applied.
func NewViewMachine(cfg Config) *ViewMachine {
	return &ViewMachine{
		cfg:          cfg,
		ring:         ringID{cfg.NodeID, cfg.RingSeq},
		members:      []uint32{cfg.NodeID},
		maxSeq:       cfg.RingSeq,
		seenSeq:      cfg.RingSeq,
		promised:     cfg.RingSeq,
		heard:        make(map[uint32]time.Duration),
		peerHB:       make(map[uint32][2]uint64),
		peerRing:     make(map[uint32]ringID),
		peerAccepted: make(map[uint32]ringID),
		peerStep:     make(map[uint32]viewStep),
		changeSince:  -1,
		groups:       make(map[string]struct{}),
	}
}

// Ring returns the installed view's ring id.
func (v *ViewMachine) Ring() ringID { return v.ring }

// Members returns the installed view's node ids, ascending. The caller
// must not change them.
func (v *ViewMachine) Members() []uint32 { return v.members }

// Syncing reports whether a view change is in progress.
func (v *ViewMachine) Syncing() bool { return v.syncing }

// Accepted returns the ring of the proposal accepted and not installed
// (valid while Syncing).
func (v *ViewMachine) Accepted() ringID { return v.accepted }

// Step takes a message from node from (a node of the node list): any
// message proves its sender alive, and view messages drive the view
// protocol. Other messages it only notes.
//
// Any message proves its sender alive, even when a flood delays its
// heartbeats behind data on the link, or its first heartbeat comes after
// its proposal (links reorder): a node that took a proposal counts its
// coordinator reachable, and does not propose a view without it.
func (v *ViewMachine) Step(from uint32, m proto.Message) {
	v.heard[from] = v.now
	switch m := m.(type) {
	case *wire.PeerHeartbeat:
		v.onHeartbeat(from, m)
	case *wire.ViewPropose:
		v.onPropose(from, m)
	case *wire.ViewReject:
		v.onReject(from, m)
	case *wire.ViewState:
		v.onState(from, m)
	case *wire.ViewInstall:
		v.onInstall(from, m)
	}
}

// StepLocal takes a message from the node's own side: a group machine's
// answer, or the news of a new group.
func (v *ViewMachine) StepLocal(m ViewInput) {
	switch m := m.(type) {
	case Frozen:
		v.onFrozen(m)
	case Installed:
		v.onInstalled(m)
	case GroupOpened:
		v.groups[string(m.Group)] = struct{}{}

	}
}

// Tick tells the machine the time: it sends heartbeats, detects failures
// and drives view changes.
func (v *ViewMachine) Tick(now time.Duration) {
	v.now = now
	if now-v.lastHeartbeat >= v.cfg.Heartbeat {
		v.sendHeartbeats()
	}
	v.checkView()
}

// HasReady reports whether Ready has anything to carry out.
func (v *ViewMachine) HasReady() bool {
	r := &v.ready
	return r.PersistSeq != 0 || len(r.Messages) > 0 || len(r.ToGroups) > 0 || r.Totem != nil || r.SyncChanged
}

// Ready returns the pending output. Call Advance once it is carried out.
func (v *ViewMachine) Ready() ViewReady { return v.ready }

// Advance clears the output returned by Ready.
func (v *ViewMachine) Advance() { v.ready = ViewReady{} }

func (v *ViewMachine) send(to uint32, m proto.Message) {
	v.ready.Messages = append(v.ready.Messages, Outbound{To: to, Msg: m})
}

func (v *ViewMachine) setMaxSeq(seq uint64) {
	if seq > v.maxSeq {
		v.maxSeq = seq
		v.ready.PersistSeq = seq
	}
	v.seenSeq = max(v.seenSeq, seq)
}

func (v *ViewMachine) isNode(id uint32) bool {
	_, ok := slices.BinarySearch(v.cfg.Nodes, id)
	return ok && id != v.cfg.NodeID
}

// sortedGroups returns the node's group names in name order, so that the
// output never depends on map order.
func (v *ViewMachine) sortedGroups() []string {
	out := make([]string, 0, len(v.groups))
	for k := range v.groups {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int { return api.CompareNames([]byte(a), []byte(b)) })
	return out
}

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

func (v *ViewMachine) sendHeartbeats() {
	v.lastHeartbeat = v.now
	if len(v.cfg.Nodes) == 1 {
		return
	}
	v.hbSeq++
	hb := &wire.PeerHeartbeat{From: v.cfg.NodeID, Ring: v.ring.api(), Members: v.members, MaxSeq: max(v.maxSeq, v.seenSeq),
		Incarnation: v.cfg.Incarnation, Seq: v.hbSeq}
	if v.syncing {
		hb.Accepted = v.accepted.api()
	}
	for _, n := range v.cfg.Nodes {
		if n != v.cfg.NodeID {
			v.send(n, hb)
		}
	}
}

func (v *ViewMachine) onHeartbeat(from uint32, m *wire.PeerHeartbeat) {
	if m.From != from || m.Ring == nil {
		return
	}
	v.seenSeq = max(v.seenSeq, m.MaxSeq, m.Ring.Seq)
	if last := v.peerHB[from]; m.Incarnation < last[0] || m.Incarnation == last[0] && m.Seq <= last[1] {
		return // an older heartbeat, late: its view is out of date
	}
	v.heard[from] = v.now
	if m.Incarnation > v.peerHB[from][0] {
		delete(v.peerStep, from) // a new run of the node
	}
	v.peerHB[from] = [2]uint64{m.Incarnation, m.Seq}
	// A heartbeat may be older than a view message of its sender that
	// arrived before it: then learnPeer keeps what that one said.
	v.learnPeer(from, ringOf(m.Ring), ringOf(m.Accepted))
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
func (v *ViewMachine) learnPeer(n uint32, ring, accepted ringID) {
	st := viewStep{ring.seq, true}
	if accepted != (ringID{}) {
		st = viewStep{accepted.seq, false}
	}
	if st.before(v.peerStep[n]) {
		return
	}
	v.peerStep[n] = st
	if ring != (ringID{}) {
		v.peerRing[n] = ring
	}
	if accepted != (ringID{}) {
		v.peerAccepted[n] = accepted
	} else {
		delete(v.peerAccepted, n)
	}
}

// reachable returns this node and the nodes heard from within Token,
// ascending.
func (v *ViewMachine) reachable() []uint32 {
	out := make([]uint32, 0, len(v.cfg.Nodes))
	for _, n := range v.cfg.Nodes {
		if n == v.cfg.NodeID {
			out = append(out, n)
			continue
		}
		if t, ok := v.heard[n]; ok && v.now-t < v.cfg.Token {
			out = append(out, n)
		}
	}
	return out
}

// changeNeeded reports whether the view must change for reachable nodes r.
func (v *ViewMachine) changeNeeded(r []uint32) bool {
	if v.syncing || !slices.Equal(r, v.members) {
		return true
	}
	for _, n := range r {
		if n == v.cfg.NodeID {
			continue
		}
		if acc, ok := v.peerAccepted[n]; ok && acc != v.ring && v.peerRing[n] == v.ring {
			// It froze this view for an attempt that never reached this
			// node: the attempt failed, or its coordinator lost sight of
			// this node. Only a new view frees it.
			return true
		}
		if v.peerRing[n] == v.ring {
			continue
		}
		// A node that accepted this view but has not installed it yet is
		// fine for a while; one that never got the install is not.
		if v.peerAccepted[n] != v.ring || v.now-v.installedAt >= v.cfg.Consensus {
			return true
		}
	}
	return false
}

func (v *ViewMachine) checkView() {
	if len(v.cfg.Nodes) == 1 {
		return
	}
	r := v.reachable()
	if c := v.coord; c != nil {
		lost := false
		for _, m := range c.members {
			if !slices.Contains(r, m) {
				lost = true
			}
		}
		if !lost && v.now-c.started < v.cfg.Consensus {
			return
		}
		v.coord = nil
	}
	if v.syncing && v.now-v.acceptedAt < v.cfg.Consensus && slices.Equal(r, v.acceptedMembers) {
		return // waiting for the install
	}
	if !v.changeNeeded(r) {
		v.changeSince = -1
		return
	}
	if v.changeSince < 0 {
		v.changeSince = v.now
	}
	if v.now-v.changeSince < v.cfg.Join || r[0] != v.cfg.NodeID {
		return
	}
	v.propose(r)
}

// propose starts a view change that this node coordinates.
func (v *ViewMachine) propose(members []uint32) {
	seq := max(v.maxSeq, v.seenSeq, v.promised) + 1
	v.setMaxSeq(seq)
	ring := ringID{v.cfg.NodeID, seq}
	v.coord = &attempt{ring: ring, members: members, states: make(map[uint32]*wire.ViewState), started: v.now}
	p := &wire.ViewPropose{From: v.cfg.NodeID, Ring: ring.api(), Members: members}
	for _, m := range members {
		if m != v.cfg.NodeID {
			v.send(m, p)
		}
	}
	v.accept(v.cfg.NodeID, p)
}

func (v *ViewMachine) onPropose(from uint32, m *wire.ViewPropose) {
	if m.From != from || m.Ring == nil || m.Ring.Nodeid != from {
		return
	}
	v.learnPeer(from, ringID{}, ringOf(m.Ring)) // the coordinator accepted it
	v.accept(from, m)
}

// accept takes a proposal: the node freezes its old view and answers with
// its state. A proposal at or below one accepted before is refused.
func (v *ViewMachine) accept(from uint32, m *wire.ViewPropose) {
	ring := ringOf(m.Ring)
	members := slices.Clone(m.Members)
	slices.Sort(members)
	members = slices.Compact(members)
	if !slices.Contains(members, v.cfg.NodeID) || !slices.Contains(members, from) {
		return
	}
	for _, n := range members {
		if n != v.cfg.NodeID && !v.isNode(n) {
			return
		}
	}
	v.seenSeq = max(v.seenSeq, ring.seq)
	again := v.syncing && ring == v.accepted
	if !again && ring.seq <= v.promised {
		if from != v.cfg.NodeID {
			v.send(from, &wire.ViewReject{From: v.cfg.NodeID, Ring: m.Ring, MaxSeq: max(v.maxSeq, v.seenSeq, v.promised)})
		}
		return
	}
	if v.coord != nil && v.coord.ring != ring {
		v.coord = nil // a newer attempt by another node wins
	}
	if !v.syncing {
		v.syncing = true
		v.ready.SyncChanged = true
	}
	v.accepted, v.acceptedMembers, v.acceptedAt = ring, members, v.now
	v.promised = ring.seq
	v.setMaxSeq(ring.seq)
	v.freeze(from, ring)
}

func (v *ViewMachine) onReject(from uint32, m *wire.ViewReject) {
	if m.From != from || v.coord == nil || ringOf(m.Ring) != v.coord.ring {
		return
	}
	v.seenSeq = max(v.seenSeq, m.MaxSeq)
	v.coord = nil // the next tick proposes again above MaxSeq
}

// freeze asks every group of the node for its state in the old view
// (Freeze); with all the answers (onFrozen), the node's state goes to the
// coordinator from. A group answers at once if it is frozen already.
func (v *ViewMachine) freeze(from uint32, ring ringID) {
	v.freezing = &freezing{ring: ring, coord: from, want: len(v.groups)}
	for _, k := range v.sortedGroups() {
		v.ready.ToGroups = append(v.ready.ToGroups, ToGroup{Group: []byte(k), Msg: Freeze{Ring: ring}})
	}
	if len(v.groups) == 0 {
		v.frozen()
	}
}

func (v *ViewMachine) onFrozen(m Frozen) {
	f := v.freezing
	if f == nil || m.Ring != f.ring || m.State == nil {
		return
	}
	// A group answers every Freeze. When the proposal came twice (a
	// duplicate), the second freeze may start before the first's answers
	// are in (an asynchronous caller): a group's second answer replaces
	// its first, it does not count for another group's.
	if i := slices.IndexFunc(f.states, func(s *wire.GroupState) bool { return bytes.Equal(s.Group, m.State.Group) }); i >= 0 {
		f.states[i] = m.State
		return
	}
	f.states = append(f.states, m.State)
	if len(f.states) == f.want {
		v.frozen()
	}
}

// frozen sends this node's state in the old view, every group's in it.
func (v *ViewMachine) frozen() {
	f := v.freezing
	v.freezing = nil
	st := &wire.ViewState{From: v.cfg.NodeID, Ring: f.ring.api(), OldRing: v.ring.api(), OldMembers: v.members, MaxSeq: v.maxSeq}
	slices.SortFunc(f.states, func(a, b *wire.GroupState) int { return api.CompareNames(a.Group, b.Group) })
	st.Groups = f.states
	if f.coord == v.cfg.NodeID {
		v.onState(f.coord, st)
		return
	}
	v.send(f.coord, st)
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

func (v *ViewMachine) onState(from uint32, m *wire.ViewState) {
	if m.From != from || m.Ring == nil || m.OldRing == nil {
		return
	}
	v.learnPeer(from, ringOf(m.OldRing), ringOf(m.Ring)) // it accepted m.Ring
	c := v.coord
	if c == nil || ringOf(m.Ring) != c.ring || !slices.Contains(c.members, from) {
		return
	}
	c.states[from] = m
	if len(c.states) < len(c.members) {
		return
	}
	in := v.installFor(c)
	for _, n := range c.members {
		if n != v.cfg.NodeID {
			v.send(n, in)
		}
	}
	v.coord = nil
	v.install(v.cfg.NodeID, in)
}

// installFor computes the install of attempt c from every member's state.
func (v *ViewMachine) installFor(c *attempt) *wire.ViewInstall {
	in := &wire.ViewInstall{From: v.cfg.NodeID, Ring: c.ring.api(), Members: c.members}
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
				if slices.Contains(nodes, a.Nodeid) || v.cfg.Bug == BugGhost {
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

func (v *ViewMachine) onInstall(from uint32, m *wire.ViewInstall) {
	if m.From != from || m.Ring == nil || m.Ring.Nodeid != from {
		return
	}
	v.learnPeer(from, ringOf(m.Ring), ringID{}) // the coordinator installed it
	v.install(from, m)
}

// install ends the view change: each group delivers this node's cohort
// cut, changes its member list and starts the new view (Install); with
// every group's answer (onInstalled), the totem confchg of the new view.
func (v *ViewMachine) install(from uint32, m *wire.ViewInstall) {
	ring := ringOf(m.Ring)
	if !v.syncing || ring != v.accepted {
		return
	}
	members := slices.Clone(m.Members)
	slices.Sort(members)
	members = slices.Compact(members)
	if !slices.Contains(members, v.cfg.NodeID) {
		return
	}
	// This node's cohort and its cut.
	mine := []uint32{v.cfg.NodeID}
	cuts := make(map[string]*wire.GroupCut)
	for _, cc := range m.Cohorts {
		if cc == nil || ringOf(cc.OldRing) != v.ring || !slices.Contains(cc.Nodes, v.cfg.NodeID) {
			continue
		}
		mine = cc.Nodes
		if v.cfg.Bug == BugSkipFlush {
			break
		}
		for _, gc := range cc.Groups {
			if gc == nil || api.CheckName(gc.Group) != nil {
				continue
			}
			cuts[string(gc.Group)] = gc
			v.groups[string(gc.Group)] = struct{}{}
		}
		break
	}
	// The new member lists.
	lists := make(map[string][]*api.Address, len(m.Groups))
	for _, gm := range m.Groups {
		if gm != nil && api.CheckName(gm.Group) == nil {
			lists[string(gm.Group)] = cleanAddrs(gm.Members)
			v.groups[string(gm.Group)] = struct{}{}
		}
	}
	old := v.members
	v.ring, v.members = ring, members
	v.syncing = false
	v.ready.SyncChanged = true
	v.changeSince = -1
	v.coord = nil
	v.freezing = nil
	v.installedAt = v.now
	v.installing = &installing{ring: ring, want: len(v.groups)}
	for _, k := range v.sortedGroups() {
		v.ready.ToGroups = append(v.ready.ToGroups, ToGroup{Group: []byte(k), Msg: Install{
			Ring: ring, Members: slices.Clone(members), OldMembers: slices.Clone(old), Cohort: slices.Clone(mine),
			Cut: cuts[k], List: lists[k], Now: v.now,
		}})
	}
	if len(v.groups) == 0 {
		v.installed()
	}
}

func (v *ViewMachine) onInstalled(m Installed) {
	in := v.installing
	if in == nil || m.Ring != in.ring {
		return
	}
	if m.Idle {
		delete(v.groups, string(m.Group))
	}
	in.done++
	if in.done == in.want {
		v.installed()
	}
}

// installed starts the new view: its totem confchg, a heartbeat.
func (v *ViewMachine) installed() {
	v.installing = nil
	v.ready.Totem = &api.TotemConfchg{RingId: v.ring.api(), Members: slices.Clone(v.members)}
	v.sendHeartbeats()
}
