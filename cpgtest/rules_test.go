package cpgtest_test

// The project's own multi-node conformance tests that moved here from
// tests/multinode (real loopback ports, not under -race) onto the kit
// (an in-memory network, under -race): rules 16, 17 and 29 of CPG-SPEC
// section 14 and a restarted node's rejoin.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cpgtest"
)

// twoGroups is the fixture of rules 16 and 17: on every node, two
// processes in group A and one in group B.
type twoGroups struct {
	byGroup map[string]map[uint32][]*cpgtest.Probe // group -> node -> probes
}

func newTwoGroups(t *testing.T, c *cpgtest.Cluster) *twoGroups {
	t.Helper()
	f := &twoGroups{byGroup: map[string]map[uint32][]*cpgtest.Probe{"A": {}, "B": {}}}
	var inA, inB []*cpgtest.Probe
	for _, id := range c.IDs() {
		for i := 1; i <= 2; i++ {
			p := c.NewProbe(t, id, cpgtest.ProbeOptions{Name: fmt.Sprintf("A%d.%d", id, i)})
			f.byGroup["A"][id] = append(f.byGroup["A"][id], p)
			inA = append(inA, p)
		}
		p := c.NewProbe(t, id, cpgtest.ProbeOptions{Name: fmt.Sprintf("B%d", id)})
		f.byGroup["B"][id] = append(f.byGroup["B"][id], p)
		inB = append(inB, p)
	}
	joinAll(t, "A", c.IDs(), inA...)
	joinAll(t, "B", c.IDs(), inB...)
	return f
}

// in returns the probes of group g on the given nodes.
func (f *twoGroups) in(g string, nodes ...uint32) []cpgtest.Process {
	var out []cpgtest.Process
	for _, id := range nodes {
		for _, p := range f.byGroup[g][id] {
			out = append(out, p)
		}
	}
	return out
}

// expectViewChange expects at every probe of the nodes mine exactly one
// confchg of its group, whose left (NODEDOWN) or joined (NODEUP) list is
// the group's processes on the nodes other, then one totem confchg of
// view, then nothing. It returns the rings of those totem confchgs.
func (f *twoGroups) expectViewChange(t *testing.T, reason api.Reason, mine, other, view []uint32) []*api.RingId {
	t.Helper()
	var rings []*api.RingId
	for _, g := range []string{"A", "B"} {
		changed := f.in(g, other...)
		members, match := f.in(g, mine...), cpgtest.Left(reason, changed...)
		none := cpgtest.Joined(api.ReasonNodeUp) // no one joined
		if reason == api.ReasonNodeUp {
			members, match = f.in(g, view...), cpgtest.Joined(reason, changed...)
			none = cpgtest.Left(api.ReasonNodeDown) // no one left
		}
		for _, p := range f.in(g, mine...) {
			p := p.(*cpgtest.Probe)
			p.ExpectConfchg(t, g, cpgtest.Members(members...), match, none)
			rings = append(rings, p.ExpectTotem(t, view...).RingId)
		}
	}
	for _, g := range []string{"A", "B"} {
		for _, p := range f.in(g, mine...) {
			p.(*cpgtest.Probe).ExpectNoMessage(t, 10*time.Millisecond)
		}
	}
	return rings
}

// expectMembership checks MembershipGet of each group at its probes on
// the nodes: the group's probes on those nodes.
func (f *twoGroups) expectMembership(t *testing.T, nodes ...uint32) {
	t.Helper()
	for _, g := range []string{"A", "B"} {
		want := cpgtest.Members(f.in(g, nodes...)...)
		for _, p := range f.in(g, nodes...) {
			got, err := p.(*cpgtest.Probe).Handle().MembershipGet([]byte(g))
			if err != nil {
				t.Fatalf("%s: MembershipGet(%q): %v", p, g, err)
			}
			if d := want(&api.Confchg{Members: got}); d != "" {
				t.Errorf("%s: MembershipGet(%q): %s", p, g, d)
			}
		}
	}
}

// sameRings fails t unless the rings are one.
func sameRings(t *testing.T, what string, rings []*api.RingId) {
	t.Helper()
	for _, r := range rings {
		if r.Nodeid != rings[0].Nodeid || r.Seq != rings[0].Seq {
			t.Errorf("%s installed different rings: %s and %s", what, cpgtest.RingString(rings[0]), cpgtest.RingString(r))
			return
		}
	}
}

// Rule 16: a node crash -> the survivors see one confchg per group with
// left = all processes of the lost node, reason NODEDOWN, followed by a
// totem confchg with the new ring. (Kill cuts the node's links before it
// stops: a plain shutdown could still get its processes' PROCDOWNs out.)
func TestRule16_NodeCrashGivesOneNodeDownConfchgPerGroup(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	f := newTwoGroups(t, c)
	before := c.Node(1).Ring()

	c.Kill(3)
	rings := f.expectViewChange(t, api.ReasonNodeDown, []uint32{1, 2}, []uint32{3}, []uint32{1, 2})
	sameRings(t, "the survivors", rings)
	if rings[0].Seq <= before.Seq {
		t.Errorf("new ring %s is not above the old ring %s", cpgtest.RingString(rings[0]), cpgtest.RingString(before))
	}
	f.expectMembership(t, 1, 2)
	c.Check(t)
}

// Rule 16, the other side: a node cut off from the others sees them leave
// with reason NODEDOWN, and its ring's representative is itself; the
// others see it leave the same way.
func TestRule16_IsolatedNodeSeesTheSymmetricView(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	f := newTwoGroups(t, c)

	c.Partition([]uint32{1, 2}, []uint32{3})
	sameRings(t, "nodes 1 and 2", f.expectViewChange(t, api.ReasonNodeDown, []uint32{1, 2}, []uint32{3}, []uint32{1, 2}))
	for _, r := range f.expectViewChange(t, api.ReasonNodeDown, []uint32{3}, []uint32{1, 2}, []uint32{3}) {
		if r.Nodeid != 3 {
			t.Errorf("isolated node 3's ring %s: the representative is not itself", cpgtest.RingString(r))
		}
	}
	f.expectMembership(t, 3)
	f.expectMembership(t, 1, 2)
	c.Check(t)
}

// Rule 17: heal -> each side sees one confchg per group with joined = the
// other side's processes, reason NODEUP; the member lists are the same on
// all nodes afterwards; then a totem confchg with the same ring id on all
// nodes.
func TestRule17_HealGivesOneNodeUpConfchgPerGroup(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	f := newTwoGroups(t, c)
	c.Partition([]uint32{1, 2}, []uint32{3})
	f.expectViewChange(t, api.ReasonNodeDown, []uint32{1, 2}, []uint32{3}, []uint32{1, 2})
	f.expectViewChange(t, api.ReasonNodeDown, []uint32{3}, []uint32{1, 2}, []uint32{3})

	c.Heal()
	rings := f.expectViewChange(t, api.ReasonNodeUp, []uint32{1, 2}, []uint32{3}, []uint32{1, 2, 3})
	rings = append(rings, f.expectViewChange(t, api.ReasonNodeUp, []uint32{3}, []uint32{1, 2}, []uint32{1, 2, 3})...)
	sameRings(t, "the healed nodes", rings)
	f.expectMembership(t, 1, 2, 3)
	c.Check(t)
}

// Rule 29: a ring id is (representative, seq): the representative is the
// lowest node id of the view, and seq grows at every view change on each
// node. Both sides of a partition may share a seq. A restarted node
// starts above every seq it used before (its state directory).
func TestRule29_RingIdIsRepresentativeAndMonotonicSeq(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	// One probe per node, in no group: it receives every totem confchg.
	watch := map[uint32]*cpgtest.Probe{}
	for _, id := range c.IDs() {
		watch[id] = c.NewProbe(t, id, cpgtest.ProbeOptions{Name: fmt.Sprintf("T%d", id)})
	}

	c.Partition([]uint32{1, 2}, []uint32{3})
	big, lone := c.Node(1).Ring(), c.Node(3).Ring()
	if big.Nodeid != 1 || lone.Nodeid != 3 {
		t.Errorf("partition rings %s and %s: representatives are not 1 and 3", cpgtest.RingString(big), cpgtest.RingString(lone))
	}
	t.Logf("partition: rings %s and %s (same seq: %v)", cpgtest.RingString(big), cpgtest.RingString(lone), big.Seq == lone.Seq)
	c.Heal()
	healed := c.Node(1).Ring()
	if healed.Seq <= max(big.Seq, lone.Seq) {
		t.Errorf("healed ring %s is not above %s and %s", cpgtest.RingString(healed), cpgtest.RingString(big), cpgtest.RingString(lone))
	}
	untilRing(t, watch[3], healed)
	before := watch[3].Events()

	// Node 3 restarts alone (its side of a partition), so that its first
	// ring, from its state directory, is its view.
	c.Kill(3)
	c.Partition([]uint32{1, 2}, []uint32{3})
	if r := c.Restart(3).Ring(); r.Nodeid != 3 || r.Seq <= healed.Seq {
		t.Errorf("restarted node 3 starts at ring %s, not above its earlier %s", cpgtest.RingString(r), cpgtest.RingString(healed))
	}
	c.Heal()
	w3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{Name: "T3'"})
	c.Partition([]uint32{1}, []uint32{2, 3})
	c.Heal()
	last := c.Node(1).Ring()
	for _, w := range []*cpgtest.Probe{watch[1], watch[2], w3} {
		untilRing(t, w, last)
	}

	for _, evs := range [][]cpgtest.Event{watch[1].Events(), watch[2].Events(), before, w3.Events()} {
		var prev *api.RingId
		for _, e := range evs {
			if e.Totem == nil {
				continue
			}
			if len(e.Totem.Members) == 0 || e.Totem.RingId.Nodeid != slices.Min(e.Totem.Members) {
				t.Errorf("ring %s of view %v: the representative is not the lowest node id", cpgtest.RingString(e.Totem.RingId), e.Totem.Members)
			}
			if prev != nil && e.Totem.RingId.Seq <= prev.Seq {
				t.Errorf("ring seq went from %s to %s", cpgtest.RingString(prev), cpgtest.RingString(e.Totem.RingId))
			}
			prev = e.Totem.RingId
		}
	}
	c.Check(t)
}

// untilRing takes p's totem confchgs up to the one of ring.
func untilRing(t *testing.T, p *cpgtest.Probe, ring *api.RingId) {
	t.Helper()
	for {
		if r := p.ExpectTotem(t).RingId; r.Nodeid == ring.Nodeid && r.Seq == ring.Seq {
			return
		}
	}
}

// A node that crashed restarts with the same configuration: the
// survivors see its old process leave (NODEDOWN), then its new process
// come in (NODEUP), and the new process sees them come in; everyone
// delivers everyone's messages.
func TestRestartedNodeRejoins(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	const group = "restart"
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{})
	p3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{})
	joinAll(t, group, []uint32{1, 2, 3}, p1, p2, p3)

	c.Kill(3)
	for _, p := range []*cpgtest.Probe{p1, p2} {
		p.ExpectConfchg(t, group, cpgtest.Members(p1, p2), cpgtest.Left(api.ReasonNodeDown, p3))
		p.ExpectTotem(t, 1, 2)
		p.ExpectNoMessage(t, 10*time.Millisecond)
	}
	c.Partition([]uint32{1, 2}, []uint32{3}) // its new process joins before the merge
	c.Restart(3)
	p3b := c.NewProbe(t, 3, cpgtest.ProbeOptions{Name: "p3'"})
	joinAll(t, group, []uint32{3}, p3b)

	c.Heal()
	var rings []*api.RingId
	for _, p := range []*cpgtest.Probe{p1, p2} {
		p.ExpectConfchg(t, group, cpgtest.Members(p1, p2, p3b), cpgtest.Joined(api.ReasonNodeUp, p3b))
		rings = append(rings, p.ExpectTotem(t, 1, 2, 3).RingId)
	}
	p3b.ExpectConfchg(t, group, cpgtest.Members(p1, p2, p3b), cpgtest.Joined(api.ReasonNodeUp, p1, p2))
	rings = append(rings, p3b.ExpectTotem(t, 1, 2, 3).RingId)
	sameRings(t, "the merged nodes", rings)

	all := []*cpgtest.Probe{p1, p2, p3b}
	for _, from := range all {
		from.Mcast([]byte("from " + from.String()))
		for _, p := range all {
			p.ExpectDeliver(t, from, []byte("from "+from.String()))
		}
	}
	c.Check(t)
}
