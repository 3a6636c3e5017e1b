package cpgtest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cpgtest"
	"github.com/actorcpg/actorcpg/tests/sim"
)

// simPartitionAndHeal is TestPartitionAndHealGiveSymmetricConfchgs on the
// simulator; it returns what each process saw.
func simPartitionAndHeal(t *testing.T, seed int64) []string {
	s := cpgtest.NewSim(t, seed, 3)
	p1, p2, p3 := s.NewProc(1), s.NewProc(2), s.NewProc(3)
	for i, p := range []*cpgtest.SimProc{p1, p2, p3} {
		p.Join("g")
		joined := []cpgtest.Process{p1, p2, p3}[:i+1]
		for _, q := range []*cpgtest.SimProc{p1, p2, p3}[:i+1] {
			q.ExpectConfchg(t, "g", cpgtest.Members(joined...), cpgtest.Joined(api.ReasonJoin, p))
		}
		p.ExpectTotem(t, 1, 2, 3)
	}
	p1.Mcast([]byte("before"))
	for _, p := range []*cpgtest.SimProc{p1, p2, p3} {
		p.ExpectDeliver(t, p1, []byte("before"))
	}

	s.Partition([]uint32{1, 2}, []uint32{3})
	for _, p := range []*cpgtest.SimProc{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2), cpgtest.Left(api.ReasonNodeDown, p3))
		p.ExpectTotem(t, 1, 2)
	}
	p3.ExpectConfchg(t, "g", cpgtest.Members(p3), cpgtest.Left(api.ReasonNodeDown, p1, p2))
	p3.ExpectTotem(t, 3)
	p3.Mcast(make([]byte, 3000)) // in parts, on its own side
	p3.ExpectDeliver(t, p3, make([]byte, 3000))

	s.Heal()
	for _, p := range []*cpgtest.SimProc{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3), cpgtest.Joined(api.ReasonNodeUp, p3))
		p.ExpectTotem(t, 1, 2, 3)
	}
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3), cpgtest.Joined(api.ReasonNodeUp, p1, p2))
	p3.ExpectTotem(t, 1, 2, 3)
	for _, p := range []*cpgtest.SimProc{p1, p2, p3} {
		p.ExpectNoMessage(t, 200*time.Millisecond)
	}
	var seen []string
	for _, p := range []*cpgtest.SimProc{p1, p2, p3} {
		for _, e := range p.Events() {
			seen = append(seen, fmt.Sprintf("%s at %s", e, s.Now()))
		}
	}
	if r := s.Check(); r.Failed() {
		t.Fatalf("seed %d failed", seed)
	}
	return seen
}

// The simulated cluster gives the same confchgs as the real one, and a
// seed replays: the same seed and script give the same events at the
// same simulated times.
func TestSimPartitionAndHealReplays(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		first := simPartitionAndHeal(t, seed)
		if again := simPartitionAndHeal(t, seed); !slices.Equal(first, again) {
			t.Fatalf("seed %d ran differently the second time:\n%v\nthen\n%v", seed, first, again)
		}
	}
}

// joinSim joins the processes to group one after the other; each joiner
// and those before it see the join.
func joinSim(t *testing.T, group string, ps ...*cpgtest.SimProc) {
	t.Helper()
	for i, p := range ps {
		p.Join(group)
		var joined []cpgtest.Process
		for _, q := range ps[:i+1] {
			joined = append(joined, q)
		}
		for _, q := range ps[:i+1] {
			q.ExpectConfchg(t, group, cpgtest.Members(joined...), cpgtest.Joined(api.ReasonJoin, p))
		}
	}
}

// A crashed node's processes leave with NODEDOWN; a restarted node's new
// process joins; a node stalled for five tokens leaves and comes back,
// with the same story on both sides.
func TestSimCrashRestartStall(t *testing.T) {
	s := cpgtest.NewSim(t, 11, 3)
	p1, p2, p3 := s.NewProc(1), s.NewProc(2), s.NewProc(3)
	joinSim(t, "g", p1, p2, p3)
	for _, p := range []*cpgtest.SimProc{p1, p2, p3} {
		p.ExpectTotem(t, 1, 2, 3)
	}

	s.Crash(3)
	for _, p := range []*cpgtest.SimProc{p1, p2} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2), cpgtest.Left(api.ReasonNodeDown, p3))
		p.ExpectTotem(t, 1, 2)
	}
	p1.Mcast([]byte("after the crash"))
	p1.ExpectDeliver(t, p1, []byte("after the crash"))
	p2.ExpectDeliver(t, p1, []byte("after the crash"))

	s.Restart(3)
	p1.ExpectTotem(t, 1, 2, 3)
	p2.ExpectTotem(t, 1, 2, 3)
	p3b := s.NewProc(3)
	p3b.Join("g")
	for _, p := range []*cpgtest.SimProc{p1, p2, p3b} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3b), cpgtest.Joined(api.ReasonJoin, p3b))
	}
	p3b.ExpectTotem(t, 1, 2, 3)

	s.Stall(1, 500*time.Millisecond) // five of the simulator's tokens
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1), cpgtest.Left(api.ReasonNodeDown, p2, p3b))
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3b), cpgtest.Joined(api.ReasonNodeUp, p2, p3b))
	p1.ExpectTotem(t, 1, 2, 3)
	for _, p := range []*cpgtest.SimProc{p2, p3b} {
		p.ExpectConfchg(t, "g", cpgtest.Members(p2, p3b), cpgtest.Left(api.ReasonNodeDown, p1))
		p.ExpectTotem(t, 2, 3)
		p.ExpectConfchg(t, "g", cpgtest.Members(p1, p2, p3b), cpgtest.Joined(api.ReasonNodeUp, p1))
		p.ExpectTotem(t, 1, 2, 3)
	}
	p3b.Mcast([]byte("after the stall"))
	for _, p := range []*cpgtest.SimProc{p1, p2, p3b} {
		p.ExpectDeliver(t, p3b, []byte("after the stall"))
		p.ExpectNoMessage(t, 100*time.Millisecond)
	}
}

// A failing simulated run reports its seed and how to replay it: a
// delivery handed over twice (an injected bug of the simulator's shell)
// breaks integrity.
func TestSimFailureNamesTheSeed(t *testing.T) {
	ft := &fakeT{}
	ft.run(func(tb testing.TB) {
		s := cpgtest.NewSim(tb, 42, 3, func(o *sim.Options) { o.Bug = sim.BugDup })
		p1, p2, p3 := s.NewProc(1), s.NewProc(2), s.NewProc(3)
		for _, p := range []*cpgtest.SimProc{p1, p2, p3} {
			p.Join("g")
		}
		for i := range 160 {
			p1.Mcast([]byte(fmt.Sprint(i)))
		}
		s.Run(time.Second)
		s.Check()
	})
	ft.mustFail(t, "a run with a duplicated delivery", "simulated run failed", "seed 42", "integrity", "replay:", "CPGTEST_SIM_TRACE=1")
}
