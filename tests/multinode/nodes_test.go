//go:build !race

package multinode

import (
	"fmt"
	"slices"
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// oneEach joins one member per given node to group and waits until every
// member's last confchg lists them all and its last totem confchg lists
// view.
func oneEach(t *testing.T, c *testCluster, group string, view []uint32, nodes ...uint32) []*member {
	t.Helper()
	var ms []*member
	for _, id := range nodes {
		m := newMember(t, c, id, fmt.Sprintf("M%d", id))
		m.join(t, group)
		ms = append(ms, m)
	}
	settled(t, group, view, ms...)
	return ms
}

// settled waits until every member's last confchg of group lists exactly
// ms and its last totem confchg lists view; it returns each member's
// event count.
func settled(t *testing.T, group string, view []uint32, ms ...*member) map[*member]int {
	t.Helper()
	want := addrsOf(0, ms...)
	marks := make(map[*member]int)
	waitFor(t, fmt.Sprintf("members %v and view %v at every member", want, view), func() bool {
		for _, m := range ms {
			evs := m.snapshot()
			i := lastIndex(evs, func(e event) bool { return e.Kind == kConfchg && e.Group == group })
			j := lastIndex(evs, isTotem)
			if i < 0 || j < 0 || !slices.Equal(evs[i].Members, want) || !slices.Equal(evs[j].TotemMemb, view) {
				return false
			}
			marks[m] = len(evs)
		}
		return true
	}, func() string { return dumpEvents(ms...) })
	return marks
}

// checkMerge checks that each member of mine saw, after its mark, one
// confchg of group with joined = others (reason NODEUP) and members =
// all, then one totem confchg for view, all with the same ring.
func checkMerge(t *testing.T, group string, marks map[*member]int, view []uint32, mine, others []*member) *api.RingId {
	t.Helper()
	all := append(slices.Clone(mine), others...)
	var ring *api.RingId
	for _, m := range mine {
		evs := eventsAfter(m, marks[m])
		if len(evs) < 2 || evs[0].Kind != kConfchg || evs[1].Kind != kTotem {
			t.Errorf("%s: after the merge got %v, want a NODEUP confchg then a totem confchg:%s", m.name, evs, dumpEvents(m))
			continue
		}
		cc, tc := evs[0], evs[1]
		want := withReason(addrsOf(0, others...), api.ReasonNodeUp)
		if cc.Group != group || !slices.Equal(sortedAddrs(cc.Joined), want) || len(cc.Left) != 0 || !slices.Equal(cc.Members, addrsOf(0, all...)) {
			t.Errorf("%s: confchg %v; want joined %v, members %v", m.name, cc, want, addrsOf(0, all...))
		}
		if !slices.Equal(tc.TotemMemb, view) {
			t.Errorf("%s: totem confchg %v, want members %v", m.name, tc, view)
		}
		if ring == nil {
			ring = tc.Ring
		} else if !sameRing(ring, tc.Ring) {
			t.Errorf("%s: ring %s, another member got %s", m.name, ringString(tc.Ring), ringString(ring))
		}
	}
	return ring
}

// everyoneDelivers sends one message from each member and waits until
// every member has all of them.
func everyoneDelivers(t *testing.T, group string, ms ...*member) {
	t.Helper()
	var ids []msgID
	for _, m := range ms {
		seq, err := m.sendRetry(100)
		if err != nil {
			t.Fatalf("%s: McastJoined: %v", m.name, err)
		}
		ids = append(ids, msgID{m.h.NodeID(), m.h.Pid(), seq})
	}
	waitFor(t, "every member's message at every member", func() bool {
		for _, m := range ms {
			for _, id := range ids {
				if !hasDelivered(m, id) {
					return false
				}
			}
		}
		return true
	}, func() string { return dumpEvents(ms...) })
	checkStreams(t, ms...)
}

// A fourth configured node starts late: its process, joined alone in its
// own view, and the three running nodes' processes see each other come in
// with reason NODEUP, then a totem confchg with the four nodes.
func TestNodeJoinsRunningCluster(t *testing.T) {
	attempts(t, testNodeJoins)
}

func testNodeJoins(t *testing.T) (void string) {
	c := newCluster(t, 4, nil)
	for _, id := range []uint32{1, 2, 3} {
		c.start(id)
	}
	c.waitView(1, 2, 3)
	const group = "late"
	old := oneEach(t, c, group, []uint32{1, 2, 3}, 1, 2, 3)
	marks := make(map[*member]int)
	for _, m := range old {
		marks[m] = m.count()
	}

	// Node 4 starts cut off, so that its process joins before the merge.
	n4 := c.start(4)
	c.isolate(4)
	if v := n4.View(); !slices.Equal(v.Members, []uint32{4}) || v.RingId.GetNodeid() != 4 {
		t.Fatalf("node 4's first view is %v, want itself alone", v)
	}
	m4 := newMember(t, c, 4, "M4")
	m4.join(t, group)
	marks[m4] = m4.count()
	c.heal()

	c.waitView(1, 2, 3, 4)
	all := append(slices.Clone(old), m4)
	waitTotem(t, marks, []uint32{1, 2, 3, 4}, all...)
	if v := unplannedViews(marks, [][]uint32{{1, 2, 3, 4}}, all...); v != "" {
		return v
	}
	r1 := checkMerge(t, group, marks, []uint32{1, 2, 3, 4}, old, []*member{m4})
	r2 := checkMerge(t, group, marks, []uint32{1, 2, 3, 4}, []*member{m4}, old)
	if r1 != nil && r2 != nil && !sameRing(r1, r2) {
		t.Errorf("node 4 installed ring %s, the others %s", ringString(r2), ringString(r1))
	}
	waitMembers(t, group, addrsOf(0, all...), all...)
	everyoneDelivers(t, group, all...)
	return ""
}

// A node that restarts faster than the token timeout: the survivors have
// not seen it go when its new incarnation comes back. Its old process is
// gone all the same: the survivors must see it leave (NODEDOWN), and the
// new process, whatever its pid, come in; a new process is never taken
// for the old one.
func TestRestartedNodeRejoinsBeforeItsFailureIsDetected(t *testing.T) {
	c := startCluster(t, 3, nil)
	const group = "fast-restart"
	ms := oneEach(t, c, group, []uint32{1, 2, 3}, 1, 2, 3)
	survivors := ms[:2]
	marks := settled(t, group, []uint32{1, 2, 3}, ms...)
	oldPid := ms[2].h.Pid()

	c.crash(3)
	n3 := c.start(3)
	m3 := newMember(t, c, 3, "M3'")
	if err := retry(nil, func() error { return m3.joinGroup(group) }); err != nil {
		t.Fatalf("M3': Join: %v", err)
	}
	t.Logf("node 3 restarted (ring %s); old process 3/%d, new 3/%d", ringString(n3.Ring()), oldPid, m3.h.Pid())
	c.waitView(1, 2, 3)
	all := []*member{ms[0], ms[1], m3}
	waitMembers(t, group, addrsOf(0, all...), all...)
	everyoneDelivers(t, group, all...)

	// Each survivor: the old process left with NODEDOWN before the new
	// one came in (NODEUP, or JOIN if it joined after the merge).
	for _, m := range survivors {
		evs := eventsAfter(m, marks[m])
		left := slices.IndexFunc(evs, func(e event) bool {
			return e.Kind == kConfchg && slices.Contains(e.Left, addr{3, oldPid, uint32(api.ReasonNodeDown)})
		})
		joined := slices.IndexFunc(evs, func(e event) bool {
			return e.Kind == kConfchg && slices.ContainsFunc(e.Joined, func(a addr) bool {
				return a.Nodeid == 3 && a.Pid == m3.h.Pid() && (a.Reason == uint32(api.ReasonNodeUp) || a.Reason == uint32(api.ReasonJoin))
			})
		})
		if left < 0 || joined < 0 || joined < left {
			t.Errorf("%s: want the old process 3/%d to leave (NODEDOWN), then the new 3/%d to come in; got%s",
				m.name, oldPid, m3.h.Pid(), dumpEvents(m))
		}
	}
}

// waitTotem waits until each member has, after its mark, a totem confchg
// with the given members.
func waitTotem(t *testing.T, marks map[*member]int, members []uint32, ms ...*member) {
	t.Helper()
	waitFor(t, fmt.Sprintf("totem confchg with members %v", members), func() bool {
		for _, m := range ms {
			if !slices.ContainsFunc(eventsAfter(m, marks[m]), func(e event) bool {
				return e.Kind == kTotem && slices.Equal(e.TotemMemb, members)
			}) {
				return false
			}
		}
		return true
	}, func() string { return dumpEvents(ms...) })
}
