//go:build !race

package multinode

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// syncing reports whether m's node is in a view change: McastJoined
// would return TRY_AGAIN (the handle's flow control is on while its node
// syncs; nothing else turns it on in these tests).
func syncing(m *member) bool {
	st, err := m.h.FlowControlStateGet()
	return err == nil && st == api.FlowControlEnabled
}

// Rule 28: no ghost members. Node 3 is cut off and, as soon as the view
// change that follows has started, node 2 dies: the survivor's view
// change loses a member midway. Afterwards each live node lists only live
// processes, and still does once the partition heals. Then a process
// joins on a node that dies right after: it never stays as a ghost.
func TestRule28_NoGhostAfterNodeDiesDuringViewChange(t *testing.T) {
	c := startCluster(t, 3, nil)
	const group = "rule28"
	byNode := map[uint32][]*member{}
	var all []*member
	for _, id := range []uint32{1, 2, 3} {
		for i := 1; i <= 2; i++ {
			m := newMember(t, c, id, fmt.Sprintf("M%d.%d", id, i))
			m.join(t, group)
			byNode[id] = append(byNode[id], m)
			all = append(all, m)
		}
	}
	waitMembers(t, group, addrsOf(0, all...), all...)

	// Node 1 coordinates: it accepts its own proposal first, and the
	// answer of node 2 is a loopback round trip away. Spin on node 1's
	// flow control to kill node 2 within that round trip.
	c.isolate(3)
	deadline := time.Now().Add(2 * token)
	caught := false
	for !caught && time.Now().Before(deadline) {
		caught = syncing(byNode[1][0])
		runtime.Gosched() // a spin, not a sleep: the window is about a millisecond
	}
	c.crash(2)
	t.Logf("node 2 died during the view change: %v (else right after it)", caught)
	c.waitView(1)
	c.waitView(3)
	waitMembers(t, group, addrsOf(0, byNode[1]...), byNode[1]...)
	waitMembers(t, group, addrsOf(0, byNode[3]...), byNode[3]...)
	for _, m := range byNode[1] {
		// Every process of nodes 2 and 3 left with NODEDOWN, none came
		// back. The node's member list (waitMembers) changes before the
		// member's dispatch has run the confchgs: wait for those.
		gone := func() []addr {
			var gone []addr
			for _, e := range m.snapshot() {
				if e.Kind == kConfchg {
					gone = append(gone, e.Left...)
					if len(e.Joined) > 0 && e.Joined[0].Reason != uint32(api.ReasonJoin) {
						t.Errorf("%s: unexpected confchg %v", m.name, e)
					}
				}
			}
			return sortedAddrs(gone)
		}
		want := withReason(addrsOf(0, append(slices.Clone(byNode[2]), byNode[3]...)...), api.ReasonNodeDown)
		waitFor(t, m.name+": the processes of nodes 2 and 3 seen leaving with NODEDOWN",
			func() bool { return slices.Equal(gone(), want) },
			func() string { return fmt.Sprintf("seen leaving %v, want %v", gone(), want) })
	}

	c.heal()
	c.waitView(1, 3)
	live := append(slices.Clone(byNode[1]), byNode[3]...)
	waitMembers(t, group, addrsOf(0, live...), live...)

	// A process joins on node 2, restarted, and node 2 dies at once.
	c.start(2)
	c.waitView(1, 2, 3)
	groups := []string{"ghost-a", "ghost-b", "ghost-c", "ghost-d", "ghost-e", "ghost-f"}
	watchers := map[string][]*member{}
	for _, g := range groups {
		for _, id := range []uint32{1, 3} {
			w := newMember(t, c, id, fmt.Sprintf("W%d-%s", id, g))
			w.join(t, g)
			watchers[g] = append(watchers[g], w)
		}
	}
	var doomed []*member
	for _, g := range groups {
		m := newMember(t, c, 2, "D-"+g)
		if err := retry(nil, func() error { return m.joinGroup(g) }); err != nil {
			t.Fatalf("%s: Join: %v", m.name, err)
		}
		doomed = append(doomed, m)
	}
	c.crash(2)
	c.waitView(1, 3)
	for _, g := range groups {
		waitMembers(t, g, addrsOf(0, watchers[g]...), watchers[g]...)
	}
	waitMembers(t, group, addrsOf(0, live...), live...)
	// What the watchers saw of the doomed processes: a join is followed
	// by a NODEDOWN.
	for _, g := range groups {
		for _, w := range watchers[g] {
			in := map[addr]bool{}
			for _, e := range w.snapshot() {
				if e.Kind != kConfchg {
					continue
				}
				for _, a := range e.Joined {
					in[addr{a.Nodeid, a.Pid, 0}] = true
				}
				for _, a := range e.Left {
					delete(in, addr{a.Nodeid, a.Pid, 0})
				}
			}
			for a := range in {
				if a.Nodeid == 2 {
					t.Errorf("%s: process %v of the dead node never left", w.name, a)
				}
			}
		}
	}
}

// Rule 29: a ring id is (representative, seq): the representative is the
// lowest node id of the view, and seq grows at every view change on each
// node. Both sides of a partition may share a seq. With StateDir, a
// restarted node starts above every seq it used before.
func TestRule29_RingIdIsRepresentativeAndMonotonicSeq(t *testing.T) {
	dirs := map[uint32]string{}
	c := newCluster(t, 3, func(cfg *remote.Config) {
		if dirs[cfg.NodeID] == "" {
			dirs[cfg.NodeID] = t.TempDir()
		}
		cfg.StateDir = dirs[cfg.NodeID]
	})
	for _, id := range c.ids {
		c.start(id)
	}
	c.waitView(1, 2, 3)
	// One handle per node, in no group: it receives every totem confchg.
	watch := map[uint32]*member{}
	for _, id := range c.ids {
		watch[id] = newMember(t, c, id, fmt.Sprintf("T%d", id))
	}

	c.isolate(3)
	big := c.waitView(1, 2)
	lone := c.waitView(3)
	if big.GetNodeid() != 1 || lone.GetNodeid() != 3 {
		t.Errorf("partition rings %s and %s: representatives are not 1 and 3", ringString(big), ringString(lone))
	}
	t.Logf("partition: rings %s and %s (same seq: %v)", ringString(big), ringString(lone), big.GetSeq() == lone.GetSeq())
	c.heal()
	healed := c.waitView(1, 2, 3)
	if healed.GetSeq() <= max(big.GetSeq(), lone.GetSeq()) {
		t.Errorf("healed ring %s is not above %s and %s", ringString(healed), ringString(big), ringString(lone))
	}
	waitFor(t, "node 3's watcher saw the healed ring", func() bool {
		return slices.ContainsFunc(watch[3].snapshot(), func(e event) bool { return e.Kind == kTotem && sameRing(e.Ring, healed) })
	}, func() string { return dumpEvents(watch[3]) })
	before := watch[3].snapshot()

	c.crash(3)
	c.waitView(1, 2)
	n3 := c.start(3)
	if r := n3.Ring(); r.GetNodeid() != 3 || r.GetSeq() <= healed.GetSeq() {
		t.Errorf("restarted node 3 starts at ring %s, not above its earlier %s", ringString(r), ringString(healed))
	}
	c.waitView(1, 2, 3)
	w3 := newMember(t, c, 3, "T3'")
	c.isolate(1)
	c.waitView(2, 3)
	c.waitView(1)
	c.heal()
	last := c.waitView(1, 2, 3)
	for _, m := range []*member{watch[1], watch[2], w3} {
		waitFor(t, m.name+": the last ring", func() bool {
			return slices.ContainsFunc(m.snapshot(), func(e event) bool { return e.Kind == kTotem && sameRing(e.Ring, last) })
		}, func() string { return dumpEvents(m) })
	}

	for _, evs := range [][]event{watch[1].snapshot(), watch[2].snapshot(), before, w3.snapshot()} {
		var prev *api.RingId
		for _, e := range evs {
			if e.Kind != kTotem {
				continue
			}
			if len(e.TotemMemb) == 0 || e.Ring.GetNodeid() != slices.Min(e.TotemMemb) {
				t.Errorf("ring %s of view %v: the representative is not the lowest node id", ringString(e.Ring), e.TotemMemb)
			}
			if prev != nil && e.Ring.GetSeq() <= prev.GetSeq() {
				t.Errorf("ring seq went from %s to %s", ringString(prev), ringString(e.Ring))
			}
			prev = e.Ring
		}
	}
}
