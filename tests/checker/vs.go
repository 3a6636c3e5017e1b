package checker

import (
	"fmt"
	"math"
	"slices"
)

// seg is the messages a stream delivered between its confchg from and the
// next one (or the end): dels[lo:hi].
type seg struct {
	s      *stream
	lo, hi int32
	from   int
}

// checkVS checks virtual synchrony: the processes that deliver the same
// two consecutive confchg instances (see number) deliver the same set of
// messages between them, empty sets included. In a quiet run, the
// processes whose last confchg is the same instance, and that stayed alive
// and members to the end, deliver the same set after it. And always, what
// a process delivered after its last confchg (it may have ended there,
// killed or finalized, or the run ended while it lagged) is what another
// process with that confchg delivered first after it: a prefix, as a set,
// of a longer segment from the same confchg, when there is one.
func (c *checker) checkVS() {
	segs := map[[2]int32][]seg{}
	var keys [][2]int32
	var tails []seg
	addSeg := func(k [2]int32, sg seg) {
		if _, ok := segs[k]; !ok {
			keys = append(keys, k)
		}
		segs[k] = append(segs[k], sg)
	}
	for _, s := range c.streams {
		for i := 0; i+1 < len(s.ccs); i++ {
			if s.ccs[i].member {
				addSeg([2]int32{s.ccs[i].inst, s.ccs[i+1].inst}, seg{s: s, lo: s.ccs[i].pos, hi: s.ccs[i+1].pos, from: i})
			}
		}
		if n := len(s.ccs); n > 0 && s.member {
			tail := seg{s: s, lo: s.ccs[n-1].pos, hi: int32(len(s.dels)), from: n - 1}
			tails = append(tails, tail)
			if c.opts.Quiet && !c.ended(s) {
				addSeg([2]int32{s.ccs[n-1].inst, math.MinInt32}, tail)
			}
		}
	}
	nm := len(c.h.msgs)
	v := &vsState{cnt: make([]int32, nm), cntStamp: make([]int32, nm), mark: make([]int32, nm)}
	for _, k := range keys {
		if ss := segs[k]; len(ss) > 1 {
			c.compareSegs(ss, v)
		}
	}
	byFirst := map[int32][]seg{}
	for _, k := range keys {
		byFirst[k[0]] = append(byFirst[k[0]], segs[k]...)
	}
	for _, t := range tails {
		c.checkPrefix(t, byFirst[t.s.ccs[t.from].inst], v)
	}
}

// checkPrefix checks that tail (the messages a stream delivered after its
// last confchg) holds the same set as the first messages of one of the
// longer segments in refs (from the same confchg instance), if any.
func (c *checker) checkPrefix(tail seg, refs []seg, v *vsState) {
	n := tail.hi - tail.lo
	var longer []seg
	for _, r := range refs {
		if r.s != tail.s && r.hi-r.lo > n {
			longer = append(longer, r)
		}
	}
	if n == 0 || len(longer) == 0 {
		return
	}
	for _, r := range longer {
		v.stamp++
		for _, m := range r.s.dels[r.lo : r.lo+n] {
			v.mark[m] = v.stamp
		}
		if !slices.ContainsFunc(tail.s.dels[tail.lo:tail.hi], func(m int32) bool { return v.mark[m] != v.stamp }) {
			return
		}
	}
	r := longer[0]
	var first int32 = -1
	for _, m := range r.s.dels[r.lo : r.lo+n] {
		if !slices.Contains(tail.s.dels[tail.lo:tail.hi], m) {
			first = m
			break
		}
	}
	c.add(PropVirtualSynchrony, tail.s.group, tail.s.proc, "the %d messages it delivered after its last confchg %s are not the first %d that %s delivered after it (e.g. it lacks %s)",
		n, c.ccString(tail.s.ccs[tail.from].content), n, c.h.procs[r.s.proc].proc, c.msgName(first))
}

// ended reports whether the process of s ended before the run did (its
// node crashed, or it was finalized).
func (c *checker) ended(s *stream) bool {
	p := c.h.procs[s.proc]
	return p.killed || p.finalized
}

type vsState struct {
	cnt, cntStamp []int32
	mark          []int32
	stamp         int32
	u             []int32
}

// compareSegs checks that the segments (the same pair of confchgs at
// several processes) hold the same set of messages.
func (c *checker) compareSegs(ss []seg, v *vsState) {
	v.stamp++
	cs := v.stamp
	u := v.u[:0]
	for _, sg := range ss {
		for _, m := range sg.s.dels[sg.lo:sg.hi] {
			if v.cntStamp[m] != cs {
				v.cntStamp[m] = cs
				v.cnt[m] = 0
				u = append(u, m)
			}
			v.cnt[m]++
		}
	}
	v.u = u
	full := true
	for _, m := range u {
		if int(v.cnt[m]) != len(ss) {
			full = false
			break
		}
	}
	if full {
		return
	}
	for _, sg := range ss {
		if int(sg.hi-sg.lo) == len(u) {
			continue
		}
		v.stamp++
		ms := v.stamp
		for _, m := range sg.s.dels[sg.lo:sg.hi] {
			v.mark[m] = ms
		}
		missing, first := 0, int32(-1)
		for _, m := range u {
			if v.mark[m] != ms {
				missing++
				if first < 0 {
					first = m
				}
			}
		}
		if !c.keep(PropVirtualSynchrony) {
			continue
		}
		var by Proc
		for _, o := range ss {
			if slices.Contains(o.s.dels[o.lo:o.hi], first) {
				by = c.h.procs[o.s.proc].proc
				break
			}
		}
		ccs := sg.s.ccs
		between := "after the same last confchg " + c.ccString(ccs[sg.from].content)
		if sg.from+1 < len(ccs) {
			between = "between the same two confchgs " + c.ccString(ccs[sg.from].content) + " and " + c.ccString(ccs[sg.from+1].content)
		}
		c.addKept(PropVirtualSynchrony, sg.s.group, sg.s.proc, fmt.Sprintf(
			"lacks %d of the %d messages that %d processes delivered %s (e.g. %s, delivered by %s)",
			missing, len(u), len(ss), between, c.msgName(first), by))
	}
}
