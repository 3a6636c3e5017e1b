//go:build !race

package multinode

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
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
