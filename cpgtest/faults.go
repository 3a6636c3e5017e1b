package cpgtest

import (
	"fmt"
	"slices"
	"time"

	"github.com/actorcpg/actorcpg/actors"
)

// Partition splits the network into sides: every direction between two
// sides is cut (what is sent on it is lost), every link within a side
// works. Nodes that no side names (those that are down included) form
// one more side together, so Partition([]uint32{1}) isolates node 1; a
// node may be on one side only. A partition replaces the one before. It
// returns once each side's running nodes have installed a view of
// exactly themselves.
func (c *Cluster) Partition(sides ...[]uint32) {
	c.t.Helper()
	what := fmt.Sprintf("Partition%v", sides)
	all, err := completeSides(c.ids, sides)
	if err != nil {
		c.t.Fatalf("cpgtest: %s: %v", what, err)
	}
	side := map[uint32]int{}
	for i, s := range all {
		for _, id := range s {
			side[id] = i
		}
	}
	c.mu.Lock()
	c.links.side = side
	c.applyLinks()
	c.mu.Unlock()
	c.waitExpected(what)
}

// Heal ends the partition and every dropped or delayed direction, and
// returns once every running node has installed one view of all the
// running nodes.
func (c *Cluster) Heal() {
	c.t.Helper()
	c.mu.Lock()
	c.links.side = nil
	clear(c.links.drops)
	for k := range c.links.delays {
		c.net.Delay(k[0], k[1], 0)
	}
	clear(c.links.delays)
	c.applyLinks()
	c.mu.Unlock()
	c.waitExpected("Heal()")
}

// Kill crashes node id: its links are cut at once (the others hear
// nothing more from it, as after a power cut), then it stops; its
// probes end killed. It returns once the running nodes have installed
// their views without it.
func (c *Cluster) Kill(id uint32) {
	c.t.Helper()
	n := c.Node(id)
	c.mu.Lock()
	c.links.down[id] = true
	c.applyLinks()
	delete(c.nodes, id)
	probes := slices.Clone(c.probes)
	c.mu.Unlock()
	for _, p := range probes {
		if p.node == n {
			p.killed()
		}
	}
	n.Stop()
	c.waitExpected(fmt.Sprintf("Kill(%d)", id))
}

// Restart starts node id again after Kill: a fresh node with the same id
// and state directory, so its ring seq is above every one it used
// before. Its links are as the faults left them (its side of the
// partition, if any). It returns the node once the running nodes have
// installed their views with it.
func (c *Cluster) Restart(id uint32) *actors.Node {
	c.t.Helper()
	c.mu.Lock()
	_, up := c.nodes[id]
	known := slices.Contains(c.ids, id)
	c.mu.Unlock()
	if !known || up {
		c.t.Fatalf("cpgtest: Restart(%d): the node is not down (ids %v, running %v)", id, c.ids, c.Running())
	}
	n := c.start(id)
	c.mu.Lock()
	delete(c.links.down, id)
	c.applyLinks()
	c.mu.Unlock()
	c.waitExpected(fmt.Sprintf("Restart(%d)", id))
	return n
}

// DropLink loses everything node from sends to node to while on (one
// direction; a partition cuts both). It returns at once: what the
// protocol makes of a link lost one way is for the test to observe.
// Heal ends it too.
func (c *Cluster) DropLink(from, to uint32, on bool) {
	c.t.Helper()
	c.checkPair("DropLink", from, to)
	c.mu.Lock()
	if on {
		c.links.drops[[2]uint32{from, to}] = true
	} else {
		delete(c.links.drops, [2]uint32{from, to})
	}
	c.applyLinks()
	c.mu.Unlock()
}

// DelayLink delays everything node from sends to node to by d, in order
// (0 ends the delay). It returns at once; Heal ends it too.
func (c *Cluster) DelayLink(from, to uint32, d time.Duration) {
	c.t.Helper()
	c.checkPair("DelayLink", from, to)
	c.mu.Lock()
	if d > 0 {
		c.links.delays[[2]uint32{from, to}] = d
	} else {
		delete(c.links.delays, [2]uint32{from, to})
	}
	c.net.Delay(from, to, d)
	c.mu.Unlock()
}

func (c *Cluster) checkPair(what string, from, to uint32) {
	c.t.Helper()
	if !slices.Contains(c.ids, from) || !slices.Contains(c.ids, to) || from == to {
		c.t.Fatalf("cpgtest: %s(%d, %d): need two different nodes of %v", what, from, to, c.ids)
	}
}
