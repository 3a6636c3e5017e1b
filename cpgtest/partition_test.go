package cpgtest_test

import (
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cpgtest"
)

// joinAll joins the probes to group one after the other; each joiner and
// those before it see the join, and the joiner its initial totem
// confchg (of the view ids).
func joinAll(t *testing.T, group string, ids []uint32, ps ...*cpgtest.Probe) {
	t.Helper()
	for i, p := range ps {
		p.Join(group)
		for _, q := range ps[:i+1] {
			q.ExpectConfchg(t, group, cpgtest.Members(procs(ps[:i+1])...), cpgtest.Joined(api.ReasonJoin, p))
		}
		p.ExpectTotem(t, ids...)
	}
}

func procs(ps []*cpgtest.Probe) []cpgtest.Process {
	out := make([]cpgtest.Process, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// A partition gives each side a confchg with the other side's processes
// leaving (NODEDOWN) and a totem confchg of its own view; each side
// delivers its own messages only; the heal gives both sides a NODEUP
// confchg and the merged view. The property checker finds nothing.
func TestPartitionAndHealGiveSymmetricConfchgs(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{})
	p3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{})
	joinAll(t, "g", []uint32{1, 2, 3}, p1, p2, p3)
	p1.Mcast([]byte("before"))
	for _, p := range []*cpgtest.Probe{p1, p2, p3} {
		p.ExpectDeliver(t, p1, []byte("before"))
	}

	c.Partition([]uint32{1, 2}, []uint32{3})
	for _, p := range []*cpgtest.Probe{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2), cpgtest.Left(api.ReasonNodeDown, p3))
		p.ExpectTotem(t, 1, 2)
	}
	p3.ExpectConfchg(t, "g", cpgtest.Members(p3), cpgtest.Left(api.ReasonNodeDown, p1, p2))
	if ring := p3.ExpectTotem(t, 3).RingId; ring.Nodeid != 3 {
		t.Errorf("the isolated node's ring %s: its representative is not itself", cpgtest.RingString(ring))
	}
	p1.Mcast([]byte("big side"))
	p3.Mcast([]byte("small side"))
	p1.ExpectDeliver(t, p1, []byte("big side"))
	p2.ExpectDeliver(t, p1, []byte("big side"))
	p3.ExpectDeliver(t, p3, []byte("small side"))

	c.Heal()
	for _, p := range []*cpgtest.Probe{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3), cpgtest.Joined(api.ReasonNodeUp, p3))
		p.ExpectTotem(t, 1, 2, 3)
	}
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3), cpgtest.Joined(api.ReasonNodeUp, p1, p2))
	p3.ExpectTotem(t, 1, 2, 3)
	for _, p := range []*cpgtest.Probe{p1, p2, p3} {
		p.ExpectNoMessage(t, 100*time.Millisecond)
	}
	c.Check(t)
}

// A partition that names one node isolates it from the rest, which stay
// together; the heal merges them again, and the checker finds nothing.
func TestPartitionOfOneNodeIsolatesItFromTheRest(t *testing.T) {
	c := cpgtest.NewCluster(t, 3)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{})
	joinAll(t, "g", []uint32{1, 2, 3}, p1, p3)
	c.Partition([]uint32{1})
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1), cpgtest.Left(api.ReasonNodeDown, p3))
	p1.ExpectTotem(t, 1)
	p3.ExpectConfchg(t, "g", cpgtest.Members(p3), cpgtest.Left(api.ReasonNodeDown, p1))
	p3.ExpectTotem(t, 2, 3)
	c.Heal()
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1, p3), cpgtest.Joined(api.ReasonNodeUp, p3))
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p3), cpgtest.Joined(api.ReasonNodeUp, p1))
	p1.ExpectTotem(t, 1, 2, 3)
	p3.ExpectTotem(t, 1, 2, 3)
	cpgtest.Check(t, c)
}
