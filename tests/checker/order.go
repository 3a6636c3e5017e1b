package checker

import "slices"

// checkOrder checks agreed order. Every stream adds an edge from each
// message to the next one it delivered; the streams agree on one order if
// and only if this graph has no cycle (a cycle without two streams in
// direct conflict still means no single agreed order exists). Kahn's
// algorithm finds the messages on or after a cycle; only those are
// compared pairwise to name the processes in conflict.
func (c *checker) checkOrder() {
	nm := len(c.h.msgs)
	off := make([]int32, nm+1)
	for _, s := range c.streams {
		for i := 1; i < len(s.dels); i++ {
			off[s.dels[i-1]+1]++
		}
	}
	for i := 1; i <= nm; i++ {
		off[i] += off[i-1]
	}
	adj := make([]int32, off[nm])
	fill := slices.Clone(off[:nm])
	indeg := make([]int32, nm)
	for _, s := range c.streams {
		for i := 1; i < len(s.dels); i++ {
			a, b := s.dels[i-1], s.dels[i]
			adj[fill[a]] = b
			fill[a]++
			indeg[b]++
		}
	}
	queue := make([]int32, 0, nm)
	for m := range indeg {
		if indeg[m] == 0 {
			queue = append(queue, int32(m))
		}
	}
	for i := 0; i < len(queue); i++ {
		a := queue[i]
		for _, b := range adj[off[a]:off[a+1]] {
			indeg[b]--
			if indeg[b] == 0 {
				queue = append(queue, b)
			}
		}
	}
	if len(queue) == nm {
		return
	}
	c.orderConflicts(indeg)
}

// orderConflicts compares, pairwise, the streams restricted to the messages
// Kahn's algorithm could not order (indeg > 0).
func (c *checker) orderConflicts(indeg []int32) {
	byGroup := map[int32][]*stream{}
	rseq := map[int32][]int32{}
	cyclic := map[int32]int{}
	for _, s := range c.streams {
		var r []int32
		for _, m := range s.dels {
			if indeg[m] > 0 {
				r = append(r, m)
			}
		}
		if len(r) > 0 {
			rseq[s.idx] = r
			byGroup[s.group] = append(byGroup[s.group], s)
		}
	}
	for m, d := range indeg {
		if d > 0 {
			cyclic[c.h.msgs[m].group]++
		}
	}
	groups := make([]int32, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	budget := 50_000_000
	for _, g := range groups {
		ss := byGroup[g]
		pos := make([]map[int32]int32, len(ss))
		found := false
		for j := 1; j < len(ss) && budget > 0; j++ {
			if pos[j] == nil {
				pos[j] = make(map[int32]int32, len(rseq[ss[j].idx]))
				for p, m := range rseq[ss[j].idx] {
					pos[j][m] = int32(p)
				}
			}
			for i := 0; i < j && budget > 0; i++ {
				ri := rseq[ss[i].idx]
				budget -= len(ri)
				maxPos, maxMsg := int32(-1), int32(-1)
				for _, m := range ri {
					p, ok := pos[j][m]
					if !ok {
						continue
					}
					if p < maxPos {
						found = true
						c.add(PropOrder, g, ss[j].proc, "delivered %s before %s, but %s delivered them the other way round",
							c.msgName(m), c.msgName(maxMsg), c.h.procs[ss[i].proc].proc)
						break
					}
					maxPos, maxMsg = p, m
				}
			}
		}
		if budget <= 0 {
			c.add(PropOrder, g, -1, "delivery orders of %d messages form cycles; the pairwise search for conflicts stopped early", cyclic[g])
		} else if !found {
			c.add(PropOrder, g, -1, "no single agreed order exists: the delivery orders of %d messages form a cycle across processes (e.g. %s)",
				cyclic[g], c.msgName(rseq[ss[0].idx][0]))
		}
	}
}
