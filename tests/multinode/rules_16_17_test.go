//go:build !race

package multinode

import (
	"fmt"
	"slices"
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// twoGroups is the fixture of rules 16 and 17: on every node, two
// processes in group A and one in group B.
type twoGroups struct {
	a, b   string
	inA    map[uint32][]*member // by node
	inB    map[uint32][]*member
	byNode map[uint32][]*member
}

func newTwoGroups(t *testing.T, c *testCluster, prefix string) *twoGroups {
	t.Helper()
	f := &twoGroups{a: prefix + "-A", b: prefix + "-B",
		inA: map[uint32][]*member{}, inB: map[uint32][]*member{}, byNode: map[uint32][]*member{}}
	for _, id := range c.running() {
		for i := 1; i <= 2; i++ {
			m := newMember(t, c, id, fmt.Sprintf("A%d.%d", id, i))
			m.join(t, f.a)
			f.inA[id] = append(f.inA[id], m)
		}
		m := newMember(t, c, id, fmt.Sprintf("B%d", id))
		m.join(t, f.b)
		f.inB[id] = append(f.inB[id], m)
		f.byNode[id] = append(f.byNode[id], f.inA[id]...)
		f.byNode[id] = append(f.byNode[id], m)
	}
	return f
}

// members returns the members of group g on the given nodes.
func (f *twoGroups) members(g string, nodes ...uint32) []*member {
	src := f.inA
	if g == f.b {
		src = f.inB
	}
	var out []*member
	for _, id := range nodes {
		out = append(out, src[id]...)
	}
	return out
}

func (f *twoGroups) all(nodes ...uint32) []*member {
	var out []*member
	for _, id := range nodes {
		out = append(out, f.byNode[id]...)
	}
	return out
}

func (f *twoGroups) groupOf(m *member) string {
	for _, ms := range f.inA {
		if slices.Contains(ms, m) {
			return f.a
		}
	}
	return f.b
}

// settle waits until every member of the given nodes has a last confchg
// whose member list is its group's expected list and a last totem
// confchg for those nodes, then returns each member's event count: the
// mark after which a test looks.
func (f *twoGroups) settle(t *testing.T, nodes ...uint32) map[*member]int {
	t.Helper()
	view := slices.Sorted(slices.Values(nodes))
	marks := make(map[*member]int)
	for _, g := range []string{f.a, f.b} {
		want := addrsOf(0, f.members(g, nodes...)...)
		ms := f.members(g, nodes...)
		waitMembers(t, g, want, ms...)
		waitFor(t, fmt.Sprintf("every member of %q saw members %v and view %v", g, want, view), func() bool {
			for _, m := range ms {
				evs := m.snapshot()
				i := lastIndex(evs, func(e event) bool { return e.Kind == kConfchg })
				j := lastIndex(evs, isTotem)
				if i < 0 || j < 0 || !slices.Equal(evs[i].Members, want) || !slices.Equal(evs[j].TotemMemb, view) {
					return false
				}
			}
			return true
		}, func() string { return dumpEvents(ms...) })
	}
	for _, m := range f.all(nodes...) {
		marks[m] = m.count()
	}
	return marks
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

// checkViewChange checks that each member's events after its mark are
// exactly one confchg of its group with the given reason for the
// processes of the other nodes (left for NODEDOWN, joined for NODEUP),
// and then one totem confchg for view members. It returns the rings of
// those totem confchgs.
func (f *twoGroups) checkViewChange(t *testing.T, marks map[*member]int, reason api.Reason, mine, other, view []uint32) []*api.RingId {
	t.Helper()
	var rings []*api.RingId
	for _, m := range f.all(mine...) {
		g := f.groupOf(m)
		evs := eventsAfter(m, marks[m])
		changed := withReason(addrsOf(0, f.members(g, other...)...), reason)
		var wantMembers []addr
		if reason == api.ReasonNodeDown {
			wantMembers = addrsOf(0, f.members(g, mine...)...)
		} else {
			wantMembers = addrsOf(0, f.members(g, append(slices.Clone(mine), other...)...)...)
		}
		if len(evs) != 2 || evs[0].Kind != kConfchg || evs[1].Kind != kTotem {
			t.Errorf("%s: after the view change got %d events, want one confchg then one totem confchg:%s", m.name, len(evs), dumpEvents(m))
			continue
		}
		cc, tc := evs[0], evs[1]
		var gotChanged, gotOther []addr
		if reason == api.ReasonNodeDown {
			gotChanged, gotOther = cc.Left, cc.Joined
		} else {
			gotChanged, gotOther = cc.Joined, cc.Left
		}
		// Corosync does not sort joined lists (CPG-SPEC 4.3): compare sets.
		if cc.Group != g || !slices.Equal(sortedAddrs(gotChanged), changed) || len(gotOther) != 0 || !slices.Equal(cc.Members, wantMembers) {
			t.Errorf("%s: confchg %v; want group %q, %s %v, members %v", m.name, cc, g, reason, changed, wantMembers)
		}
		if !slices.Equal(tc.TotemMemb, view) || tc.Ring.GetNodeid() != view[0] {
			t.Errorf("%s: totem confchg %v; want members %v, ring of node %d", m.name, tc, view, view[0])
		}
		rings = append(rings, tc.Ring)
	}
	return rings
}

func allSame(rings []*api.RingId) bool {
	for _, r := range rings {
		if !sameRing(r, rings[0]) {
			return false
		}
	}
	return true
}

// Rule 16: a node crash -> the survivors see one confchg per group with
// left = all processes of the lost node, reason NODEDOWN, followed by a
// totem confchg with the new ring. The crash cuts node 3's links, then
// stops it: a plain Node.Stop is a shutdown, during which the node may
// still get its handles' PROCDOWNs out, one confchg per process.
func TestRule16_NodeCrashGivesOneNodeDownConfchgPerGroup(t *testing.T) {
	attempts(t, testNodeCrash)
}

func testNodeCrash(t *testing.T) (void string) {
	c := startCluster(t, 3, nil)
	f := newTwoGroups(t, c, "rule16")
	marks := f.settle(t, 1, 2, 3)
	before := c.node(1).Ring()

	c.crash(3)
	survivors := f.all(1, 2)
	waitTotem(t, marks, []uint32{1, 2}, survivors...)
	if v := unplannedViews(marks, [][]uint32{{1, 2}}, survivors...); v != "" {
		return v
	}
	rings := f.checkViewChange(t, marks, api.ReasonNodeDown, []uint32{1, 2}, []uint32{3}, []uint32{1, 2})
	if len(rings) > 0 {
		if !allSame(rings) {
			t.Errorf("survivors installed different rings: %v", rings)
		}
		if rings[0].GetSeq() <= before.GetSeq() {
			t.Errorf("new ring %s is not above the old ring %s", ringString(rings[0]), ringString(before))
		}
	}
	for _, g := range []string{f.a, f.b} {
		want := addrsOf(0, f.members(g, 1, 2)...)
		for _, m := range survivors {
			if got := membership(t, m, g); !slices.Equal(got, want) {
				t.Errorf("%s: MembershipGet(%q) = %v, want %v", m.name, g, got, want)
			}
		}
	}
	return ""
}

// Rule 16, the other side: a node cut off from the others sees them leave
// with reason NODEDOWN, and its ring's representative is itself; the
// others see it leave the same way.
func TestRule16_IsolatedNodeSeesTheSymmetricView(t *testing.T) {
	attempts(t, testIsolatedNode)
}

func testIsolatedNode(t *testing.T) (void string) {
	c := startCluster(t, 3, nil)
	f := newTwoGroups(t, c, "rule16i")
	marks := f.settle(t, 1, 2, 3)

	c.isolate(3)
	waitTotem(t, marks, []uint32{1, 2}, f.all(1, 2)...)
	waitTotem(t, marks, []uint32{3}, f.all(3)...)
	if v := unplannedViews(marks, [][]uint32{{1, 2}, {3}}, f.all(1, 2, 3)...); v != "" {
		return v
	}
	big := f.checkViewChange(t, marks, api.ReasonNodeDown, []uint32{1, 2}, []uint32{3}, []uint32{1, 2})
	lone := f.checkViewChange(t, marks, api.ReasonNodeDown, []uint32{3}, []uint32{1, 2}, []uint32{3})
	if len(big) > 0 && !allSame(big) {
		t.Errorf("nodes 1 and 2 installed different rings: %v", big)
	}
	for _, r := range lone {
		if r.GetNodeid() != 3 {
			t.Errorf("isolated node 3's ring %s: representative is not itself", ringString(r))
		}
	}
	for _, g := range []string{f.a, f.b} {
		for _, m := range f.members(g, 3) {
			if got, want := membership(t, m, g), addrsOf(0, f.members(g, 3)...); !slices.Equal(got, want) {
				t.Errorf("%s: MembershipGet(%q) on the isolated node = %v, want %v", m.name, g, got, want)
			}
		}
	}
	return ""
}

// Rule 17: heal -> each side sees one confchg per group with joined = the
// other side's processes, reason NODEUP; the member lists are the same on
// all nodes afterwards; then a totem confchg with the same ring id on all
// nodes.
func TestRule17_HealGivesOneNodeUpConfchgPerGroup(t *testing.T) {
	attempts(t, testHeal)
}

func testHeal(t *testing.T) (void string) {
	c := startCluster(t, 3, nil)
	f := newTwoGroups(t, c, "rule17")
	f.settle(t, 1, 2, 3)

	c.isolate(3)
	c.waitView(1, 2)
	c.waitView(3)
	marks := f.settle(t, 1, 2)
	for m, n := range f.settle(t, 3) {
		marks[m] = n
	}

	c.heal()
	everyone := f.all(1, 2, 3)
	waitTotem(t, marks, []uint32{1, 2, 3}, everyone...)
	if v := unplannedViews(marks, [][]uint32{{1, 2, 3}}, everyone...); v != "" {
		return v
	}
	rings := f.checkViewChange(t, marks, api.ReasonNodeUp, []uint32{1, 2}, []uint32{3}, []uint32{1, 2, 3})
	rings = append(rings, f.checkViewChange(t, marks, api.ReasonNodeUp, []uint32{3}, []uint32{1, 2}, []uint32{1, 2, 3})...)
	if len(rings) > 0 && !allSame(rings) {
		t.Errorf("the healed nodes installed different rings: %v", rings)
	}
	for _, g := range []string{f.a, f.b} {
		want := addrsOf(0, f.members(g, 1, 2, 3)...)
		for _, m := range everyone {
			if got := membership(t, m, g); !slices.Equal(got, want) {
				t.Errorf("%s: MembershipGet(%q) = %v, want %v", m.name, g, got, want)
			}
		}
	}
	return ""
}
