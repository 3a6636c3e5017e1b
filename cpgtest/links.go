package cpgtest

import (
	"fmt"
	"slices"
	"time"
)

// linkState is what the faults made of the network: the partition, the
// dropped and delayed directions, the nodes that are down. The network's
// cuts are derived from it (applyLinks).
type linkState struct {
	side   map[uint32]int // each node's side of the partition; nil: none
	drops  map[[2]uint32]bool
	delays map[[2]uint32]time.Duration
	down   map[uint32]bool    // killed, not restarted
	cut    map[[2]uint32]bool // the directions cut on the network now
}

// completeSides checks a partition's sides against the cluster's ids
// (each node on one side at most) and returns them with one more side of
// the nodes they do not name, if any: Partition([]uint32{1}) isolates
// node 1 from the rest.
func completeSides(ids []uint32, sides [][]uint32) ([][]uint32, error) {
	seen := map[uint32]bool{}
	out := make([][]uint32, 0, len(sides)+1)
	for _, sd := range sides {
		if len(sd) == 0 {
			return nil, fmt.Errorf("an empty side")
		}
		for _, id := range sd {
			if !slices.Contains(ids, id) {
				return nil, fmt.Errorf("node %d is not in the cluster (ids %v)", id, ids)
			}
			if seen[id] {
				return nil, fmt.Errorf("node %d is on two sides", id)
			}
			seen[id] = true
		}
		out = append(out, slices.Clone(sd))
	}
	var rest []uint32
	for _, id := range ids {
		if !seen[id] {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 {
		out = append(out, rest)
	}
	return out, nil
}

func newLinkState() linkState {
	return linkState{drops: map[[2]uint32]bool{}, delays: map[[2]uint32]time.Duration{},
		down: map[uint32]bool{}, cut: map[[2]uint32]bool{}}
}

// cutOff reports whether the direction a->b must be cut: a and b on
// different sides, the direction dropped, or either end down.
func (l *linkState) cutOff(a, b uint32) bool {
	if l.side != nil && l.side[a] != l.side[b] {
		return true
	}
	return l.drops[[2]uint32{a, b}] || l.down[a] || l.down[b]
}

// applyLinks makes the network's cuts what the link state says: new cuts
// first, then the cuts that ended. c.mu is held.
func (c *Cluster) applyLinks() {
	want := map[[2]uint32]bool{}
	for _, a := range c.ids {
		for _, b := range c.ids {
			if a != b && c.links.cutOff(a, b) {
				want[[2]uint32{a, b}] = true
			}
		}
	}
	for k := range want {
		if !c.links.cut[k] {
			c.net.Cut(k[0], k[1])
		}
	}
	for k := range c.links.cut {
		if !want[k] {
			c.net.Uncut(k[0], k[1])
		}
	}
	c.links.cut = want
}

// expectedViews returns the views the running nodes must install now:
// the running nodes of each side of the partition, or all of them when
// there is none. Dropped and delayed directions are not taken into
// account: with a direction dropped, the views are the protocol's choice.
func (c *Cluster) expectedViews() [][]uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	bySide := map[int][]uint32{}
	var sides []int
	for _, id := range c.ids {
		if _, ok := c.nodes[id]; !ok {
			continue
		}
		s := 0
		if c.links.side != nil {
			s = c.links.side[id]
		}
		if _, ok := bySide[s]; !ok {
			sides = append(sides, s)
		}
		bySide[s] = append(bySide[s], id)
	}
	slices.Sort(sides)
	var out [][]uint32
	for _, s := range sides {
		out = append(out, bySide[s])
	}
	return out
}
