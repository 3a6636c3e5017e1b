package checker

import (
	"cmp"
	"maps"
	"slices"

	"github.com/actorcpg/actorcpg/api"
)

// resolve maps each member of confchg ci of stream s to the stream of the
// process that is that member: the stream (of that nodeid and pid) that
// delivered the same confchg instance and was a member after it or,
// failing that, when the confchg is a merge's NODEUP confchg (each side
// sees its own), the stream that delivered a NODEUP confchg with the same
// member list in the same view change. -1: no such stream (not recorded,
// or it never delivered that view: not judged); -2: several incarnations
// qualify, so which one is meant is unknown.
func (c *checker) resolve(s *stream, ci int) []int32 {
	cc := s.ccs[ci]
	if r, ok := c.resolved[cc.inst]; ok {
		return r
	}
	ct := c.h.contents[cc.content]
	idx := make(map[uint64]int, len(ct.members))
	for i, m := range ct.members {
		idx[addrOf(m)] = i
	}
	r := make([]int32, len(ct.members))
	for i := range r {
		r[i] = -1
	}
	pick := func(si int32, only bool) {
		i, ok := idx[addrOf(c.streams[si].self)]
		if !ok || only && r[i] >= 0 {
			return
		}
		switch r[i] {
		case -1:
			r[i] = si
		case si, -2:
		default:
			r[i] = -2
		}
	}
	for _, si := range c.instViews[cc.inst] {
		pick(si, false)
	}
	if slices.Contains(r, -1) && hasReason(ct.joined, api.ReasonNodeUp) {
		for _, o := range c.listViews[[2]int32{s.group, ct.membersID}] {
			oc := c.streams[o[0]].ccs[o[1]]
			if hasReason(c.h.contents[oc.content].joined, api.ReasonNodeUp) && oc.sameView(cc) {
				pick(o[0], true)
			}
		}
	}
	c.resolved[cc.inst] = r
	return r
}

// buildDeliverers fills the message -> delivering streams index.
func (c *checker) buildDeliverers() {
	if c.delivOff != nil {
		return
	}
	nm := len(c.h.msgs)
	off := make([]int32, nm+1)
	for _, s := range c.streams {
		for _, m := range s.dels {
			off[m+1]++
		}
	}
	for i := 1; i <= nm; i++ {
		off[i] += off[i-1]
	}
	d := make([]int32, off[nm])
	fill := slices.Clone(off[:nm])
	for _, s := range c.streams {
		for _, m := range s.dels {
			d[fill[m]] = s.idx
			fill[m]++
		}
	}
	c.deliv, c.delivOff = d, off
	c.mark = make([]int32, len(c.streams))
}

// markDeliverers marks the streams that delivered m: c.mark[s] == m+1.
func (c *checker) markDeliverers(m int32) {
	for _, s := range c.deliv[c.delivOff[m]:c.delivOff[m+1]] {
		c.mark[s] = m + 1
	}
}

// eachMissing calls fn for every member of the view of s's confchg ci,
// other than s, that did not deliver m and did not end early (killed or
// finalized): the candidates for a loss of m.
func (c *checker) eachMissing(s *stream, ci int, m int32, fn func(rs *stream)) {
	res := c.resolve(s, ci)
	c.markDeliverers(m)
	for _, r := range res {
		if r < 0 || r == s.idx {
			continue
		}
		if rs := c.streams[r]; !c.ended(rs) && c.mark[r] != m+1 {
			fn(rs)
		}
	}
}

// walk calls fn for each message a stream delivered, with the index of the
// confchg it was delivered after (-1: before any).
func walk(s *stream, fn func(m int32, ci int)) {
	ci := -1
	for j, m := range s.dels {
		for ci+1 < len(s.ccs) && int(s.ccs[ci+1].pos) <= j {
			ci++
		}
		fn(m, ci)
	}
}

// checkLiveness checks property 6: a message that a process (not killed)
// sent ok is delivered to itself, unless it was finalized first; and a
// message that a process (not killed) delivered as its own is delivered to
// every member of the view it delivered it in, up to that member's own
// end (Extended Virtual Synchrony): unless the member ended early (killed
// or finalized), or it was cut apart from the sender's node before the
// message (sawCut). A member that the sender saw leave or go down later
// is judged like any other: up to the point of its removal it is owed
// what was ordered before.
func (c *checker) checkLiveness() {
	h := c.h
	c.buildDeliverers()
	self := make([]bool, len(h.msgs))
	for _, s := range c.streams {
		if h.procs[s.proc].killed || len(h.procs[s.proc].sent) == 0 {
			continue
		}
		walk(s, func(m int32, ci int) {
			mi := h.msgs[m]
			if mi.origin != s.proc || !mi.sentOK {
				return
			}
			self[m] = true
			if ci < 0 || !s.ccs[ci].member {
				return
			}
			c.eachMissing(s, ci, m, func(rs *stream) {
				if !c.sawCut(rs, s, m, ci) {
					c.add(PropLiveness, s.group, rs.proc, "never delivered %s, which %s delivered while %s was a member of its view, and no view change cut the two apart first",
						c.msgName(m), h.procs[s.proc].proc, h.procs[rs.proc].proc)
				}
			})
		})
	}
	for pi, p := range h.procs {
		if p.killed || p.finalized {
			continue
		}
		for _, m := range p.sent {
			if !self[m] {
				c.add(PropLiveness, h.msgs[m].group, int32(pi), "sent %s ok but never delivered it to itself", c.msgName(m))
			}
		}
	}
}

// sawCut reports whether receiver stream rs was cut apart from sender
// stream s before s's message m (delivered after s's confchg ci), so that
// Extended Virtual Synchrony lets rs miss it: after the last point the two
// shared in s's membership up to m (lastShared), the first view change
// that rs went through separated it from s's node (cutAfter), or took rs to
// a ring that s's process never installed. The
// exception is bounded to that one view change: a later removal excuses
// nothing, and the gap check makes sure rs delivered no later message of
// s in the same view. With no shared point at all, rs never installed a
// view of s's membership before m (its node was cut off, or missed the
// install, before s's JOIN): EVS owes it nothing of that membership. Nor
// is it owed anything of a ring it never installed (a view may list a
// node that fails before installing it: CPG-SPEC 4.4, EVS; its members
// see it go at the next view change).
func (c *checker) sawCut(rs, s *stream, m int32, ci int) bool {
	// s delivered m in ring R (its last totem confchg before m): if rs's
	// process never installed R, R listed it but it failed (was cut off)
	// before installing, as EVS allows; it delivers nothing of R, and its
	// next view change shows the others gone.
	if c.neverInstalled(rs, s, m) {
		return true
	}
	p, ok := c.lastShared(rs, s, m, ci)
	if !ok {
		return true
	}
	cut, at := c.cutAfter(rs, p, s.self.Node)
	if !cut {
		// The ring rs went to next listed s's node, but s's process never
		// installed it (a lost Install): they were apart in it.
		rt := c.tots[rs.proc]
		ti := sortSearchT(rt, p+1)
		if ti == len(rt) || len(c.tots[s.proc]) == 0 {
			return false
		}
		if _, found := c.ringAt(s.proc, c.h.totems[rt[ti].id].ring); found {
			return false
		}
		at = rt[ti].t
	}
	// A later message of the same membership of s that rs delivered
	// before that view change: m is a hole, not cut off.
	jm := slices.Index(s.dels, m)
	end := int32(len(s.dels))
	for k := ci + 1; k < len(s.ccs); k++ {
		if !s.ccs[k].member {
			end = s.ccs[k].pos
			break
		}
	}
	for _, x := range s.dels[jm+1 : end] {
		if h := c.h.msgs[x]; h.origin != s.proc {
			continue
		}
		if i, found := rs.posOf[x]; found && rs.delT[i] < at {
			return false
		}
	}
	return true
}

// lastShared returns the index among rs's process's events of the last
// point rs shared with s in s's membership up to s's message m: a message
// s delivered before m, a confchg instance of that membership (a merge's
// NODEUP confchg, which each side sees with its own joined list, matches
// one with the same member list in the same view change), or a totem
// confchg of a ring s was in from its JOIN to m. ok is false if there is
// none.
func (c *checker) lastShared(rs, s *stream, m int32, ci int) (p int32, ok bool) {
	h := c.h
	p = -1
	start := ci // the sender's JOIN confchg of this membership
	for start > 0 && s.ccs[start-1].member {
		start--
	}
	if rs.posOf == nil {
		rs.posOf = make(map[int32]int32, len(rs.dels))
		for i, d := range rs.dels {
			rs.posOf[d] = int32(i)
		}
	}
	jm := slices.Index(s.dels, m)
	for x := jm - 1; x >= int(s.ccs[start].pos); x-- {
		if i, found := rs.posOf[s.dels[x]]; found {
			p = rs.delT[i]
			break
		}
	}
	for k := ci; k >= start; k-- {
		sc := s.ccs[k]
		j := -1
		for i, cc := range rs.ccs {
			if cc.inst == sc.inst {
				j = i
			}
		}
		if j < 0 && hasReason(h.contents[sc.content].joined, api.ReasonNodeUp) {
			want := h.contents[sc.content].members
			for i, cc := range rs.ccs {
				ct := h.contents[cc.content]
				if hasReason(ct.joined, api.ReasonNodeUp) && slices.Equal(ct.members, want) && cc.sameView(sc) {
					j = i
				}
			}
		}
		if j >= 0 {
			p = max(p, rs.ccs[j].t)
			break
		}
	}
	// The totem confchgs s delivered from the last one before its JOIN
	// confchg up to m.
	st := c.tots[s.proc]
	tm := s.delT[jm]
	hi := sortSearchT(st, tm) - 1
	lo := max(sortSearchT(st, s.ccs[start].t)-1, 0)
	for x := hi; x >= lo; x-- {
		if t, found := c.ringAt(rs.proc, h.totems[st[x].id].ring); found {
			p = max(p, t)
			break
		}
	}
	return p, p >= 0
}

// sortSearchT returns the index of the first totem in ts at or after t.
func sortSearchT(ts []totPos, t int32) int {
	i, _ := slices.BinarySearchFunc(ts, t, func(x totPos, t int32) int { return cmp.Compare(x.t, t) })
	return i
}

// ringAt returns the index among process pi's events of its totem confchg
// of ring r.
func (c *checker) ringAt(pi int32, r RingID) (int32, bool) {
	for _, tp := range c.tots[pi] {
		if c.h.totems[tp.id].ring == r {
			return tp.t, true
		}
	}
	return 0, false
}

// cutAfter reports whether the first view change that rs's process went
// through after its event p separated it from node n. With a totem
// confchg after p, that view change is the group confchgs of the ring p is
// in, up to the first totem confchg after p, and that totem confchg: it
// separated the two if
// a confchg removed a process of n with NODEDOWN or brought one back with
// NODEUP (from another old view), or if the new ring lacks n. Without one
// (the history has no totem confchgs from there on), it is the first
// confchg with a NODEDOWN or NODEUP entry and those delivered right after
// it, with no message in between. at is the index of the event that shows
// the separation.
func (c *checker) cutAfter(rs *stream, p int32, n uint32) (cut bool, at int32) {
	tots := c.tots[rs.proc]
	if ti := sortSearchT(tots, p+1); ti < len(tots) {
		tt := tots[ti].t
		// From the ring's start: a view change that skipped a hole
		// removes the other nodes' processes first (the transitional
		// confchg) and then delivers the rest of its own nodes' events,
		// which may be the last shared point.
		from := int32(-1)
		if ti > 0 {
			from = tots[ti-1].t
		}
		for _, cc := range rs.ccs {
			if cc.t > from && cc.t < tt && c.separates(cc.content, n) {
				return true, cc.t
			}
		}
		return !slices.Contains(c.h.totems[tots[ti].id].nodeList, n), tt
	}
	pos := int32(-1)
	for _, cc := range rs.ccs {
		switch {
		case cc.t <= p:
			continue
		case pos < 0 && !c.viewChange(cc.content):
			continue
		case pos >= 0 && cc.pos != pos:
			return false, 0
		}
		pos = cc.pos
		if c.separates(cc.content, n) {
			return true, cc.t
		}
	}
	return false, 0
}

// separates reports whether confchg content cid removes a process of node n
// with NODEDOWN or brings one with NODEUP: either way, at the view change
// it belongs to, n was not in the receiver's old view.
func (c *checker) separates(cid int32, n uint32) bool {
	ct := c.h.contents[cid]
	return slices.ContainsFunc(ct.left, func(l Member) bool { return l.Node == n && l.Reason == api.ReasonNodeDown }) ||
		slices.ContainsFunc(ct.joined, func(j Member) bool { return j.Node == n && j.Reason == api.ReasonNodeUp })
}

// cutBetween reports whether, between its events t1 and t2, rs's process
// left the group (its own LEAVE: a new membership followed), saw the sender
// from leave (its membership ended: what it sent in a later membership
// whose JOIN rs missed is not a hole; this also leaves a hole in a later
// membership that rs did see begin to virtual synchrony and liveness), or
// went through a view change that separated it from the sender's node
// (separates), or a totem confchg without that node.
func (c *checker) cutBetween(rs *stream, t1, t2 int32, from Member) bool {
	n := from.Node
	for _, cc := range rs.ccs {
		if cc.t > t1 && cc.t < t2 && (!cc.member || c.separates(cc.content, n) || hasMember(c.h.contents[cc.content].left, from)) {
			return true
		}
	}
	tots := c.tots[rs.proc]
	for i := sortSearchT(tots, t1+1); i < len(tots) && tots[i].t < t2; i++ {
		if !slices.Contains(c.h.totems[tots[i].id].nodeList, n) {
			return true
		}
	}
	return false
}

// checkGaps checks that a receiver's deliveries from one sender within one
// view leave no hole: when it delivered two messages of one sender one
// after the other, it delivered every message of that sender in between
// (by the sender's seqs) that anyone delivered, unless it left the group or
// was cut apart from the sender's node between the two (cutBetween). Extended Virtual
// Synchrony excuses the messages after a cut, never a hole before a
// message the receiver did get.
func (c *checker) checkGaps() {
	h := c.h
	seqs := make([][]uint64, len(h.ogIdx))
	for _, s := range c.streams {
		for _, m := range s.dels {
			og := h.msgs[m].og
			seqs[og] = append(seqs[og], h.msgs[m].seq)
		}
	}
	for i := range seqs {
		slices.Sort(seqs[i])
		seqs[i] = slices.Compact(seqs[i])
	}
	last := map[int32]int{} // (group, origin) -> index in dels of its highest seq so far
	for _, rs := range c.streams {
		clear(last)
		for j, m := range rs.dels {
			mi := h.msgs[m]
			i, ok := last[mi.og]
			if !ok {
				last[mi.og] = j
				continue
			}
			a := h.msgs[rs.dels[i]].seq
			if mi.seq <= a {
				continue // out of FIFO order: reported as fifo
			}
			last[mi.og] = j
			if mi.seq == a+1 {
				continue
			}
			lo, _ := slices.BinarySearch(seqs[mi.og], a+1)
			hi, _ := slices.BinarySearch(seqs[mi.og], mi.seq)
			if lo >= hi || c.cutBetween(rs, rs.delT[i], rs.delT[j], Member{Node: h.procs[mi.origin].proc.Node, Pid: h.procs[mi.origin].proc.Pid}) {
				continue
			}
			origin := h.procs[mi.origin].proc
			c.add(PropGap, rs.group, rs.proc, "delivered %s:%d and then %s, but not the %d messages of that sender in between that others delivered (e.g. %s:%d), with no view change that separated it from node %d in between",
				origin, a, c.msgName(m), hi-lo, origin, seqs[mi.og][lo], origin.Node)
		}
	}
}

// checkNoLoss checks property 7: every member of the view in which a
// message was delivered (at its sender, or else at its first receiver)
// delivers it, unless it ended early (killed, or finalized); a message
// sent ok by a process that was not killed is delivered to someone (a
// finalized sender's messages were handed to its node before its
// PROCDOWN, which is ordered after them).
func (c *checker) checkNoLoss() {
	h := c.h
	c.buildDeliverers()
	ref := make([]int32, len(h.msgs))
	for i := range ref {
		ref[i] = -1
	}
	for _, s := range c.streams {
		for _, m := range s.dels {
			if ref[m] < 0 || c.streams[ref[m]].proc != h.msgs[m].origin && s.proc == h.msgs[m].origin {
				ref[m] = s.idx
			}
		}
	}
	for _, s := range c.streams {
		walk(s, func(m int32, ci int) {
			if ref[m] != s.idx || ci < 0 || !s.ccs[ci].member {
				return
			}
			c.eachMissing(s, ci, m, func(rs *stream) {
				c.add(PropNoLoss, s.group, rs.proc, "never delivered %s, which %s delivered while both were members", c.msgName(m), h.procs[s.proc].proc)
			})
		})
	}
	for m, mi := range h.msgs {
		if mi.sentOK && ref[m] < 0 && !h.procs[mi.origin].killed && !c.finalizedAlone(mi.origin, mi.group) {
			c.add(PropNoLoss, mi.group, mi.origin, "sent %s ok but nobody delivered it", c.msgName(int32(m)))
		}
	}
}

// neverInstalled reports whether rs's process never installed the ring in
// which s delivered m (it has totem confchgs, none of that ring).
func (c *checker) neverInstalled(rs, s *stream, m int32) bool {
	st := c.tots[s.proc]
	if len(st) == 0 || len(c.tots[rs.proc]) == 0 {
		return false
	}
	x := sortSearchT(st, s.delT[slices.Index(s.dels, m)]) - 1
	if x < 0 {
		return false
	}
	_, found := c.ringAt(rs.proc, c.h.totems[st[x].id].ring)
	return !found
}

// finalizedAlone reports whether process pi, finalized, may have had
// nobody left in group g to reach with what it sent and did not deliver
// itself before its Finalize: every other member of its last confchg
// ended early or left the group at some point after that confchg (CPG
// does not promise sending-view delivery: the message may be ordered after
// their LEAVE, CPG-SPEC 4.5). When it never delivered its own JOIN
// confchg, the processes that saw it join must all have gone since.
func (c *checker) finalizedAlone(pi, g int32) bool {
	if !c.h.procs[pi].finalized {
		return false
	}
	for _, s := range c.streams {
		if s.proc != pi || s.group != g || len(s.ccs) == 0 {
			continue
		}
		last := len(s.ccs) - 1
		inst := s.ccs[last].inst
		members := c.h.contents[s.ccs[last].content].members
		for i, r := range c.resolve(s, last) {
			switch {
			case r == s.idx || r == -2:
				continue
			case r == -1:
				// It never delivered that confchg: gone before it, if
				// every process of that address ended or left.
				m := members[i]
				for _, o := range c.addrStreams[addrKey{group: g, node: m.Node, pid: m.Pid}] {
					if os := c.streams[o]; !c.ended(os) && os.member {
						return false
					}
				}
				continue
			}
			rs := c.streams[r]
			if c.ended(rs) {
				continue
			}
			j := slices.IndexFunc(rs.ccs, func(cc ccPos) bool { return cc.inst == inst })
			if j < 0 || !slices.ContainsFunc(rs.ccs[j+1:], func(cc ccPos) bool { return !cc.member }) {
				return false
			}
		}
		return true
	}
	// It never delivered its own JOIN: the processes that saw it join
	// must have gone since.
	self := Member{Node: c.h.procs[pi].proc.Node, Pid: c.h.procs[pi].proc.Pid}
	for _, rs := range c.streams {
		if rs.group != g || rs.proc == pi || c.ended(rs) {
			continue
		}
		for j, cc := range rs.ccs {
			if cc.member && hasMember(c.h.contents[cc.content].joined, self) &&
				!slices.ContainsFunc(rs.ccs[j+1:], func(cc ccPos) bool { return !cc.member }) {
				return false
			}
		}
	}
	return true
}

// checkGhosts checks property 8 (rule 28): the last member list of every
// live member contains no process that was killed, finalized or left, and
// all live members of a group end with the same list.
func (c *checker) checkGhosts() {
	h := c.h
	live := func(s *stream) bool { return !c.ended(s) && s.member && len(s.ccs) > 0 }
	byGroup := map[int32][]*stream{}
	for _, s := range c.streams {
		if live(s) {
			byGroup[s.group] = append(byGroup[s.group], s)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		ss := byGroup[g]
		final := func(s *stream) int32 { return s.ccs[len(s.ccs)-1].content }
		votes := map[int32]int{}
		var major int32 = -1
		for _, s := range ss {
			id := h.contents[final(s)].membersID
			votes[id]++
			if major < 0 || votes[id] > votes[major] || votes[id] == votes[major] && id < major {
				major = id
			}
		}
		var majorList []Member
		for _, s := range ss {
			if h.contents[final(s)].membersID == major {
				majorList = h.contents[final(s)].members
				break
			}
		}
		for _, s := range ss {
			ct := h.contents[final(s)]
			if ct.membersID != major {
				c.add(PropGhost, g, s.proc, "final member list %s differs from %s, the final list of %d live members",
					listString(ct.members), listString(majorList), votes[major])
			}
			res := c.resolve(s, len(s.ccs)-1)
			for i, m := range ct.members {
				r := res[i]
				if r >= 0 {
					rs := c.streams[r]
					switch {
					case h.procs[rs.proc].killed:
						c.add(PropGhost, g, s.proc, "%s is still a member at the end, but it was killed", h.procs[rs.proc].proc)
					case h.procs[rs.proc].finalized:
						c.add(PropGhost, g, s.proc, "%s is still a member at the end, but it was finalized", h.procs[rs.proc].proc)
					case !rs.member:
						c.add(PropGhost, g, s.proc, "%s is still a member at the end, but it left", h.procs[rs.proc].proc)
					}
					continue
				}
				cands := c.addrStreams[addrKey{group: g, node: m.Node, pid: m.Pid}]
				if len(cands) == 0 || slices.ContainsFunc(cands, func(r int32) bool { return live(c.streams[r]) }) {
					continue
				}
				c.add(PropGhost, g, s.proc, "%s is still a member at the end, but every process with that address was killed or left", m)
			}
		}
	}
}

// cutFromOrigin reports whether, after the last point rs shared with s
// (which delivered m, sent by another process), rs's first view change
// separated it from m's origin node: a view change that skipped a hole
// removes the other nodes' processes first (the transitional confchg),
// and a message of theirs is then not delivered, even if s, on the other
// side, delivered it.
func (c *checker) cutFromOrigin(rs, s *stream, m int32, ci int) bool {
	origin := c.h.procs[c.h.msgs[m].origin].proc
	if origin.Node == s.self.Node {
		return false
	}
	p, ok := c.lastShared(rs, s, m, ci)
	if !ok {
		return true
	}
	cut, _ := c.cutAfter(rs, p, origin.Node)
	return cut
}

// checkSafe checks SAFE delivery: a message sent with CPG_TYPE_SAFE that any
// process delivered in a view is delivered by every member of that view,
// unless that member ended early (killed or finalized) or was cut apart
// from the deliverer or from the sender first (sawCut, cutFromOrigin),
// even when the sender crashed (which
// liveness does not judge). actorcpg's SAFE promises that every node of
// the view held the message when one delivered it, not that the survivors
// of a later cut deliver it (their flush stops at the first event whose
// origin they cannot show holds it), and a view change's flush delivers a
// SAFE message to the survivors of a cut when only they hold it (Totem's
// transitional configuration): so a cut excuses it as for liveness. That
// every node held it is checked by the simulator, which sees every frame
// (tests/sim/safe.go).
func (c *checker) checkSafe() {
	h := c.h
	c.buildDeliverers()
	done := map[[2]int32]bool{}
	for _, s := range c.streams {
		walk(s, func(m int32, ci int) {
			if !h.msgs[m].safe || ci < 0 || !s.ccs[ci].member {
				return
			}
			k := [2]int32{m, s.ccs[ci].inst}
			if done[k] {
				return
			}
			done[k] = true
			c.eachMissing(s, ci, m, func(rs *stream) {
				if !c.sawCut(rs, s, m, ci) && !c.cutFromOrigin(rs, s, m, ci) {
					c.add(PropSafe, s.group, rs.proc, "never delivered the SAFE message %s, which %s delivered while both were members of its view",
						c.msgName(m), h.procs[s.proc].proc)
				}
			})
		})
	}
}

func hasReason(ms []Member, r api.Reason) bool {
	for _, m := range ms {
		if m.Reason == r {
			return true
		}
	}
	return false
}
