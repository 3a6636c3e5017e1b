package checker

import (
	"slices"

	"github.com/actorcpg/actorcpg/api"
)

// resolve maps each member of the confchg content cid of group g to the
// stream of the process that is that member: the stream (of that nodeid
// and pid) that was a member after the same confchg or, failing that (after
// a merge each side sees its own NODEUP confchg), after a confchg with the
// same member list. -1: no such stream (not recorded); -2: several
// incarnations qualify, so which one is meant is unknown.
func (c *checker) resolve(g, cid int32) []int32 {
	k := [2]int32{g, cid}
	if r, ok := c.resolved[k]; ok {
		return r
	}
	ct := c.h.contents[cid]
	idx := make(map[uint64]int, len(ct.members))
	for i, m := range ct.members {
		idx[addrOf(m)] = i
	}
	r := make([]int32, len(ct.members))
	for i := range r {
		r[i] = -1
	}
	pick := func(streams []int32, only []bool) {
		for _, si := range streams {
			i, ok := idx[addrOf(c.streams[si].self)]
			if !ok || only != nil && !only[i] {
				continue
			}
			switch r[i] {
			case -1:
				r[i] = si
			case si, -2:
			default:
				r[i] = -2
			}
		}
	}
	pick(c.views[k], nil)
	if slices.Contains(r, -1) {
		only := make([]bool, len(r))
		for i := range r {
			only[i] = r[i] == -1
		}
		pick(c.listViews[[2]int32{g, ct.membersID}], only)
	}
	c.resolved[k] = r
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

// stayers returns, for confchg ci of s, which of its members stay members
// (in s's view) to the end of that membership of s: to its last confchg,
// or to its own LEAVE confchg.
func (c *checker) stayers(s *stream, ci int) []bool {
	if s.stay == nil {
		s.stay = make([][]bool, len(s.ccs))
	}
	if s.stay[ci] != nil {
		return s.stay[ci]
	}
	// end is the last confchg of that membership: the first one after ci
	// that the process is not a member after (its own LEAVE), or the
	// stream's last.
	end := ci
	for end+1 < len(s.ccs) && s.ccs[end].member {
		end++
	}
	var after map[uint64]bool // who stays from confchg j+1 on
	var leftAfter []Member    // the left list of confchg j+1
	for j := end; j >= ci; j-- {
		ct := c.h.contents[s.ccs[j].content]
		removed := make(map[uint64]bool, len(leftAfter))
		for _, m := range leftAfter {
			removed[addrOf(m)] = true
		}
		now := make([]bool, len(ct.members))
		cur := make(map[uint64]bool, len(ct.members))
		for i, m := range ct.members {
			a := addrOf(m)
			if j == end || after[a] && !removed[a] {
				now[i] = true
				cur[a] = true
			}
		}
		s.stay[j] = now
		after, leftAfter = cur, ct.left
	}
	return s.stay[ci]
}

// checkLiveness checks property 6: every message sent ok by a process that
// was not killed is delivered to itself and to every process that stayed a
// member with it, in the sender's view, from that delivery to the end.
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
			cid := s.ccs[ci].content
			stay := c.stayers(s, ci)
			res := c.resolve(s.group, cid)
			c.markDeliverers(m)
			for i, r := range res {
				if !stay[i] {
					continue
				}
				if r < 0 || r == s.idx {
					continue
				}
				rs := c.streams[r]
				if h.procs[rs.proc].killed || !rs.member || c.mark[r] == m+1 {
					continue
				}
				if c.sawRemoved(rs, s, m, ci) {
					continue // its view of the sender ended first
				}
				c.add(PropLiveness, s.group, rs.proc, "never delivered %s, sent ok by %s while both stayed in the group to the end", c.msgName(m), h.procs[s.proc].proc)
			}
		})
	}
	for pi, p := range h.procs {
		if p.killed {
			continue
		}
		for _, m := range p.sent {
			if !self[m] {
				c.add(PropLiveness, h.msgs[m].group, int32(pi), "sent %s ok but never delivered it to itself", c.msgName(m))
			}
		}
	}
}

// sawRemoved reports whether receiver stream rs was not in the sender's
// view any more when sender stream s delivered its message m (after its
// confchg ci), as Extended Virtual Synchrony allows: after the last point
// the two shared in the sender's membership, rs saw the sender removed by
// a failure (NODEDOWN or PROCDOWN of the sender, or NODEDOWN of a process
// of its node), or they share no point (rs never installed a view of the
// sender's membership: its node was cut off, or missed the install of the
// view, before the sender's JOIN).
//
// The last shared point is the last message that s delivered before m in
// that membership and rs delivered too, or the last confchg of that
// membership up to ci that rs has (the same one, told apart from a
// recurring one by the ring, or, for a merge's NODEUP confchg, which each
// side sees with its own joined list, its NODEUP confchg with the same
// member list in the same view change). If that confchg ended rs's
// membership (rs left), rs's later membership shared nothing with the
// sender's up to m.
func (c *checker) sawRemoved(rs, s *stream, m int32, ci int) bool {
	a := addrOf(s.self)
	removedAfter := func(pos int32, from int) bool {
		for _, cc := range rs.ccs[from:] {
			if cc.pos <= pos {
				continue
			}
			for _, l := range c.h.contents[cc.content].left {
				if addrOf(l) == a && l.Reason != api.ReasonLeave || l.Node == s.self.Node && l.Reason == api.ReasonNodeDown {
					return true
				}
			}
		}
		return false
	}
	start := ci // the sender's JOIN confchg of this membership
	for start > 0 && s.ccs[start-1].member {
		start--
	}
	if p := c.lastShared(rs, s, m, int(s.ccs[start].pos)); p >= 0 && removedAfter(p, 0) {
		return true
	}
	for k := ci; k >= start; k-- {
		cid := s.ccs[k].content
		j := -1
		for i, cc := range rs.ccs {
			if cc.sameInstance(s.ccs[k]) {
				j = i
			}
		}
		if j < 0 && hasReason(c.h.contents[cid].joined, api.ReasonNodeUp) {
			want := c.h.contents[cid].members
			for i, cc := range rs.ccs {
				ct := c.h.contents[cc.content]
				if hasReason(ct.joined, api.ReasonNodeUp) && slices.Equal(ct.members, want) && cc.sameView(s.ccs[k]) {
					j = i
				}
			}
		}
		if j >= 0 {
			// The last shared point ended rs's membership (it left): its
			// later membership, which the sender learned of by NODEUP,
			// shares no confchg with the sender's up to the message.
			return !rs.ccs[j].member || removedAfter(-1, j+1)
		}
	}
	return true
}

// lastShared returns the index in rs.dels of the last message that s
// delivered before m, from index lo of s.dels on, and rs delivered too;
// -1 if there is none.
func (c *checker) lastShared(rs, s *stream, m int32, lo int) int32 {
	if rs.posOf == nil {
		rs.posOf = make(map[int32]int32, len(rs.dels))
		for i, d := range rs.dels {
			rs.posOf[d] = int32(i)
		}
	}
	jm := slices.Index(s.dels, m)
	for x := jm - 1; x >= lo; x-- {
		if p, ok := rs.posOf[s.dels[x]]; ok {
			return p
		}
	}
	return -1
}

func hasReason(ms []Member, r api.Reason) bool {
	for _, m := range ms {
		if m.Reason == r {
			return true
		}
	}
	return false
}

// checkNoLoss checks property 7: every member of the view in which a
// message was delivered (at its sender, or else at its first receiver)
// delivers it, unless killed; a message sent ok by a process that was not
// killed is delivered to someone.
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
			res := c.resolve(s.group, s.ccs[ci].content)
			c.markDeliverers(m)
			for _, r := range res {
				if r < 0 || r == s.idx {
					continue
				}
				rs := c.streams[r]
				if h.procs[rs.proc].killed || c.mark[r] == m+1 {
					continue
				}
				c.add(PropNoLoss, s.group, rs.proc, "never delivered %s, which %s delivered while both were members", c.msgName(m), h.procs[s.proc].proc)
			}
		})
	}
	for m, mi := range h.msgs {
		if mi.sentOK && ref[m] < 0 && !h.procs[mi.origin].killed {
			c.add(PropNoLoss, mi.group, mi.origin, "sent %s ok but nobody delivered it", c.msgName(int32(m)))
		}
	}
}

// checkGhosts checks property 8 (rule 28): the last member list of every
// live member contains no process that was killed or left, and all live
// members of a group end with the same list.
func (c *checker) checkGhosts() {
	h := c.h
	live := func(s *stream) bool { return !h.procs[s.proc].killed && s.member && len(s.ccs) > 0 }
	byGroup := map[int32][]*stream{}
	for _, s := range c.streams {
		if live(s) {
			byGroup[s.group] = append(byGroup[s.group], s)
		}
	}
	groups := make([]int32, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
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
			res := c.resolve(g, final(s))
			for i, m := range ct.members {
				r := res[i]
				if r >= 0 {
					rs := c.streams[r]
					switch {
					case h.procs[rs.proc].killed:
						c.add(PropGhost, g, s.proc, "%s is still a member at the end, but it was killed", h.procs[rs.proc].proc)
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
