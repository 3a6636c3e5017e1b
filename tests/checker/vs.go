package checker

import (
	"fmt"
	"slices"
)

type seg struct {
	s      *stream
	lo, hi int32
}

// checkVS checks virtual synchrony; see the package doc for what "the same
// two consecutive confchgs" means.
func (c *checker) checkVS() {
	segs := map[[3]int32][]seg{}
	var keys [][3]int32
	for _, s := range c.streams {
		for i := 0; i+1 < len(s.ccs); i++ {
			if !s.ccs[i].member {
				continue
			}
			k := [3]int32{s.group, s.ccs[i].content, s.ccs[i+1].content}
			if _, ok := segs[k]; !ok {
				keys = append(keys, k)
			}
			segs[k] = append(segs[k], seg{s: s, lo: s.ccs[i].pos, hi: s.ccs[i+1].pos})
		}
	}
	nm := len(c.h.msgs)
	v := &vsState{cnt: make([]int32, nm), cntStamp: make([]int32, nm), mark: make([]int32, nm),
		owner: make([]int32, nm), ownerStamp: make([]int32, nm)}
	for ki, k := range keys {
		ss := segs[k]
		if len(ss) < 2 {
			continue
		}
		// Two segments of one address (one process twice, or two
		// incarnations) cannot be of one view: the pair occurs more than
		// once.
		repeated := false
		addrs := make(map[uint64]bool, len(ss))
		for _, sg := range ss {
			a := addrOf(sg.s.self)
			if addrs[a] {
				repeated = true
				break
			}
			addrs[a] = true
		}
		if !repeated {
			c.compareSegs(k, ss, v)
			continue
		}
		// The same pair of confchgs occurs more than once: segments are the
		// same occurrence when they share a message.
		parent := make([]int, len(ss))
		for i := range parent {
			parent[i] = i
		}
		var find func(int) int
		find = func(i int) int {
			for parent[i] != i {
				parent[i] = parent[parent[i]]
				i = parent[i]
			}
			return i
		}
		stamp := int32(ki + 1)
		for i, sg := range ss {
			for _, m := range sg.s.dels[sg.lo:sg.hi] {
				if v.ownerStamp[m] == stamp {
					a, b := find(i), find(int(v.owner[m]))
					parent[a] = b
				} else {
					v.ownerStamp[m] = stamp
					v.owner[m] = int32(i)
				}
			}
		}
		classes := map[int][]seg{}
		var roots []int
		for i, sg := range ss {
			r := find(i)
			if _, ok := classes[r]; !ok {
				roots = append(roots, r)
			}
			classes[r] = append(classes[r], sg)
		}
		for _, r := range roots {
			if len(classes[r]) > 1 {
				c.compareSegs(k, classes[r], v)
			}
		}
	}
}

type vsState struct {
	cnt, cntStamp     []int32
	mark              []int32
	owner, ownerStamp []int32
	stamp             int32
	u                 []int32
}

// compareSegs checks that the segments (the same pair of confchgs at
// several processes) hold the same set of messages.
func (c *checker) compareSegs(k [3]int32, ss []seg, v *vsState) {
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
		c.addKept(PropVirtualSynchrony, k[0], sg.s.proc, fmt.Sprintf(
			"lacks %d of the %d messages that %d processes delivered between the same two confchgs %s and %s (e.g. %s, delivered by %s)",
			missing, len(u), len(ss), c.ccString(k[1]), c.ccString(k[2]), c.msgName(first), by))
	}
}
