package checker

import (
	"cmp"
	"slices"

	"github.com/actorcpg/actorcpg/api"
)

// A confchg instance is one confchg of a group as every process that saw
// it saw it. Two processes' confchgs are the same instance when they have
// the same content, were delivered in the same ring, and are the same
// occurrence of that content in that ring: (group, ring, content, k).
//
// Counting k at each process is exact because of what a process sees: a
// confchg content either lists the process as a member or is its own
// LEAVE, so every occurrence of a content in a ring happens while that
// address is a member (or leaving), and the process delivers it, except
// the occurrences after it was cut off at the end of the ring, which come
// after all those it did deliver. Two incarnations of one nodeid/pid are
// never members at once, so their counts run on, in incarnation order;
// but one that ended early (killed, finalized) missed the confchgs between
// its end and its PROCDOWN or NODEDOWN, so the confchgs of a later
// incarnation in the rings it had been in are instances of their own,
// matched with no other.
// A history without totem confchgs is taken as one ring: there, a
// membership that recurs after a partition can be numbered differently at
// processes that were cut off, so record totem confchgs. In a history with
// totem confchgs, a confchg that a process delivered before its first one
// is an instance of its own, matched with no other (record each handle's
// initial totem confchg, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF).
type instKey struct {
	group   int32
	ring    RingID
	hasRing bool
	content int32
	k       int32
}

type countKey struct {
	group     int32
	node, pid uint32
	ring      RingID
	hasRing   bool
	content   int32
}

// number gives every confchg of every stream its instance id (ccPos.inst).
func (c *checker) number() {
	order := make([]*stream, len(c.streams))
	copy(order, c.streams)
	procs := c.h.procs
	slices.SortStableFunc(order, func(a, b *stream) int {
		pa, pb := procs[a.proc].proc, procs[b.proc].proc
		return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(pa.Node, pb.Node),
			cmp.Compare(pa.Pid, pb.Pid), cmp.Compare(pa.Inc, pb.Inc))
	})
	counts := map[countKey]int32{}
	ids := map[instKey]int32{}
	unique := int32(0)
	// An incarnation that ended early (killed or finalized) stops seeing
	// confchgs before its address leaves the member lists: a later
	// incarnation of that address cannot count on from it in that ring.
	type ringKey struct {
		group     int32
		node, pid uint32
		ring      RingID
		hasRing   bool
	}
	tainted := map[ringKey]bool{}
	for _, s := range order {
		var rings []ringKey
		for i := range s.ccs {
			cc := &s.ccs[i]
			rk := ringKey{group: s.group, node: s.self.Node, pid: s.self.Pid, ring: cc.ring, hasRing: cc.hasRing}
			rings = append(rings, rk)
			if !cc.hasRing && len(c.h.totems) > 0 || tainted[rk] {
				unique++
				cc.inst = -unique
				continue
			}
			ck := countKey{group: s.group, node: s.self.Node, pid: s.self.Pid, ring: cc.ring, hasRing: cc.hasRing, content: cc.content}
			counts[ck]++
			ik := instKey{group: s.group, ring: cc.ring, hasRing: cc.hasRing, content: cc.content, k: counts[ck]}
			id, ok := ids[ik]
			if !ok {
				id = int32(len(ids))
				ids[ik] = id
			}
			cc.inst = id
		}
		if c.ended(s) {
			for _, rk := range rings {
				tainted[rk] = true
			}
		}
	}
	for _, s := range c.streams {
		for _, cc := range s.ccs {
			if cc.member {
				c.instViews[cc.inst] = append(c.instViews[cc.inst], s.idx)
			}
		}
	}
	c.insts = int32(len(ids))
}

// viewChange reports whether a confchg content is one of a view change
// (it has NODEDOWN or NODEUP entries) rather than one ordered in a ring.
func (c *checker) viewChange(cid int32) bool {
	ct := c.h.contents[cid]
	return hasReason(ct.left, api.ReasonNodeDown) || hasReason(ct.joined, api.ReasonNodeUp)
}

// checkConfchgSequences checks that the members of one ring see the same
// sequence of confchgs (rule 11; CPG-SPEC 4.5: "within one membership
// (ring), all members of a group see the same sequence of confchgs and
// messages"). For two processes that deliver the same confchg instance Y
// and stay members after it, the next confchg each delivers must be the
// same instance, when both delivered that next confchg in the same ring
// and then went on to the same ring (or to none): the processes of one
// old view that install the same new view deliver the same cut. Where
// they went on to different rings (two sides of a partition), each side
// may end the old ring with its own tail and its own view-change confchg.
// Without ring records, only confchgs ordered in a ring (no NODEDOWN or
// NODEUP entry) are compared.
func (c *checker) checkConfchgSequences() {
	type nextKey struct {
		inst             int32
		ring, next       RingID
		hasRing, hasNext bool
	}
	type seen struct {
		next int32 // instance of the next confchg
		s    *stream
		i    int
	}
	first := map[nextKey]seen{}
	for _, s := range c.streams {
		for i := 0; i+1 < len(s.ccs); i++ {
			y, n := s.ccs[i], s.ccs[i+1]
			if !y.member {
				continue
			}
			if !n.hasNext && c.viewChange(n.content) {
				continue
			}
			k := nextKey{inst: y.inst, ring: n.ring, hasRing: n.hasRing, next: n.next, hasNext: n.hasNext}
			f, ok := first[k]
			if !ok {
				first[k] = seen{next: n.inst, s: s, i: i}
				continue
			}
			if f.next == n.inst {
				continue
			}
			if !n.hasNext && c.viewChange(f.s.ccs[f.i+1].content) {
				continue
			}
			c.add(PropConfchg, s.group, s.proc, "after the confchg %s, in the same ring, delivered %s next, but %s delivered %s next (the members of one ring see one sequence of confchgs)",
				c.ccString(y.content), c.ccString(n.content), c.h.procs[f.s.proc].proc, c.ccString(f.s.ccs[f.i+1].content))
		}
	}
}
