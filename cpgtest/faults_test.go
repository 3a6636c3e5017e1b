package cpgtest_test

import (
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cpgtest"
)

// Kill takes a node's processes out with NODEDOWN at the survivors;
// Restart brings back a fresh node with the same id, whose new process
// joins like any other. The property checker finds nothing.
func TestKillAndRestart(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{})
	p3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{})
	joinAll(t, "g", []uint32{1, 2, 3}, p1, p2, p3)
	before := c.Node(1).Ring()

	c.Kill(3)
	for _, p := range []*cpgtest.Probe{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2), cpgtest.Left(api.ReasonNodeDown, p3))
		p.ExpectTotem(t, 1, 2)
	}
	c.Restart(3)
	for _, p := range []*cpgtest.Probe{p1, p2} {
		// Node 3 comes back with no process of g: no confchg, a new view.
		if r := p.ExpectTotem(t, 1, 2, 3).RingId; r.Seq <= before.Seq {
			t.Errorf("%s: the view after the restart has ring %s, not above %s", p, cpgtest.RingString(r), cpgtest.RingString(before))
		}
	}
	p3b := c.NewProbe(t, 3, cpgtest.ProbeOptions{Name: "p3 again"})
	p3b.Join("g")
	for _, p := range []*cpgtest.Probe{p1, p2, p3b} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3b), cpgtest.Joined(api.ReasonJoin, p3b))
	}
	p3b.ExpectTotem(t, 1, 2, 3)
	p3b.Mcast([]byte("back"))
	for _, p := range []*cpgtest.Probe{p1, p2, p3b} {
		p.ExpectDeliver(t, p3b, []byte("back"))
		p.ExpectNoMessage(t, 50*time.Millisecond)
	}
	c.Check(t)
}

// A restarted node starts its ring above every ring it had before: the
// ring seq persists in the node's state directory.
func TestRestartedNodeRingSeqGrows(t *testing.T) {
	c := cpgtest.NewCluster(t, 1)
	first := c.Node(1).Ring()
	c.Kill(1)
	if r := c.Restart(1).Ring(); r.Seq <= first.Seq {
		t.Fatalf("restarted node's ring %s is not above its first %s", cpgtest.RingString(r), cpgtest.RingString(first))
	}
}

// A node stalled for three tokens (a GC pause, SIGSTOP) leaves the view
// and comes back: the others see its process leave with NODEDOWN and
// come back with NODEUP, and so does it of theirs. Messages sent by the
// others meanwhile reach it only if the view it comes back to owes them
// (the checker judges that); nothing it saw breaks a property.
func TestStalledNodeLeavesAndComesBack(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{})
	p3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{})
	joinAll(t, "g", []uint32{1, 2, 3}, p1, p2, p3)

	c.Stall(3, 3*cpgtest.DefaultToken)
	for _, p := range []*cpgtest.Probe{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2), cpgtest.Left(api.ReasonNodeDown, p3))
		p.ExpectTotem(t, 1, 2)
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3), cpgtest.Joined(api.ReasonNodeUp, p3))
		p.ExpectTotem(t, 1, 2, 3)
	}
	p3.ExpectConfchg(t, "g", cpgtest.Members(p3), cpgtest.Left(api.ReasonNodeDown, p1, p2))
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3), cpgtest.Joined(api.ReasonNodeUp, p1, p2))
	for _, e := range p3.Events() {
		t.Logf("p3: %s", e)
	}
	c.Check(t)
}

// A delayed link delays without a view change; dropping every direction
// between node 3 and the others splits the view as a partition would
// (WaitView sees it), and Heal ends the drops and the delays.
func TestDropAndDelayLinks(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{})
	joinAll(t, "g", []uint32{1, 2, 3}, p1, p2)

	c.DelayLink(1, 2, 50*time.Millisecond)
	c.DelayLink(2, 1, 50*time.Millisecond)
	p1.Mcast([]byte("late"))
	p1.ExpectDeliver(t, p1, []byte("late"))
	p2.ExpectDeliver(t, p1, []byte("late"))
	p2.ExpectNoMessage(t, 2*cpgtest.DefaultToken) // no view change

	for _, other := range []uint32{1, 2} {
		c.DropLink(3, other, true)
		c.DropLink(other, 3, true)
	}
	c.WaitView(1, 2)
	c.WaitView(3)
	p1.ExpectTotem(t, 1, 2)
	c.Heal()
	p1.ExpectTotem(t, 1, 2, 3)
	p2.ExpectTotem(t, 1, 2)
	p2.ExpectTotem(t, 1, 2, 3)
	c.Check(t)
}
