package cpgtest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
)

// viewPoll is how often a wait for views looks at the nodes' views (a
// node publishes its view; it sends no notice of a change).
const viewPoll = 2 * time.Millisecond

// WaitView waits until every running node of members has installed the
// same view whose members are exactly members, and returns its ring id.
// It fails the test after the cluster's timeout, listing every node's
// view.
func (c *Cluster) WaitView(members ...uint32) *api.RingId {
	c.t.Helper()
	rings := c.waitViews(fmt.Sprintf("WaitView(%v)", members), [][]uint32{members})
	return rings[0]
}

// waitViews waits until each view of views is installed on its running
// nodes (the same ring on all of them), and returns the rings, one per
// view (nil for a view with no running node). what names the caller in
// the failure.
func (c *Cluster) waitViews(what string, views [][]uint32) []*api.RingId {
	c.t.Helper()
	for i, v := range views {
		views[i] = slices.Sorted(slices.Values(v))
	}
	rings := make([]*api.RingId, len(views))
	installed := func() bool {
		for i, v := range views {
			if rings[i] = c.viewRing(v); rings[i] == nil && c.anyRunning(v) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(c.set.timeout)
	tick := time.NewTicker(viewPoll)
	defer tick.Stop()
	for !installed() {
		if time.Now().After(deadline) {
			c.t.Fatalf("cpgtest: %s: timed out after %v waiting for the views %v; the nodes' views now:%s",
				what, c.set.timeout, views, c.describeViews())
		}
		<-tick.C
	}
	return rings
}

// viewRing returns the ring of view v if every running node of v has
// installed it (one ring, exactly v's members), else nil.
func (c *Cluster) viewRing(v []uint32) *api.RingId {
	var ring *api.RingId
	for _, id := range v {
		n := c.running(id)
		if n == nil {
			continue
		}
		cur := n.View()
		if !slices.Equal(cur.GetMembers(), v) {
			return nil
		}
		if ring == nil {
			ring = cur.GetRingId()
		} else if !sameRing(ring, cur.GetRingId()) {
			return nil
		}
	}
	return ring
}

// running returns running node id, or nil.
func (c *Cluster) running(id uint32) *actors.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *Cluster) anyRunning(ids []uint32) bool {
	return slices.ContainsFunc(ids, func(id uint32) bool { return c.running(id) != nil })
}

// waitExpected waits until the running nodes have installed the views
// the faults call for (expectedViews).
func (c *Cluster) waitExpected(what string) {
	c.t.Helper()
	c.waitViews(what, c.expectedViews())
}

// describeViews lists every node's view, for a failure.
func (c *Cluster) describeViews() string {
	var b strings.Builder
	for _, id := range c.ids {
		n := c.running(id)
		if n == nil {
			fmt.Fprintf(&b, "\n  node %d: down", id)
			continue
		}
		v := n.View()
		fmt.Fprintf(&b, "\n  node %d: ring %s members %v", id, RingString(v.GetRingId()), v.GetMembers())
	}
	return b.String()
}

func sameRing(a, b *api.RingId) bool {
	return a.GetNodeid() == b.GetNodeid() && a.GetSeq() == b.GetSeq()
}

// RingString returns a ring id as "nodeid.seq".
func RingString(r *api.RingId) string { return fmt.Sprintf("%d.%d", r.GetNodeid(), r.GetSeq()) }
