package cpgtest_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cpgtest"
)

// In a test, t is the test's *testing.T. An example has none, so the
// examples use a stand-in, exampleTB (at the end of this file).

// A cluster of three real nodes in the test's process: they share one
// view, and a node is an *actors.Node as any other.
func ExampleNewCluster() {
	t := newExampleTB()
	defer t.cleanup()

	c := cpgtest.NewCluster(t, 3)
	fmt.Println("nodes", c.IDs())
	fmt.Println("node 2's view", c.Node(2).View().Members)
	// Output:
	// nodes [1 2 3]
	// node 2's view [1 2 3]
}

// A probe joins a group, multicasts, and expects its own JOIN confchg,
// the initial totem confchg and its own message; then the property
// checker reads what it saw.
func ExampleCluster_NewProbe() {
	t := newExampleTB()
	defer t.cleanup()

	c := cpgtest.NewCluster(t, 2)
	p := c.NewProbe(t, 1, cpgtest.ProbeOptions{Name: "p"})
	p.Join("orders")
	p.ExpectConfchg(t, "orders", cpgtest.Members(p), cpgtest.Joined(api.ReasonJoin, p))
	fmt.Println("view", p.ExpectTotem(t).Members)
	p.Mcast([]byte("order 1"))
	d := p.ExpectDeliver(t, p, []byte("order 1"))
	fmt.Printf("delivered %q\n", d.Data)
	fmt.Println("checker OK:", c.Check(t).OK())
	// Output:
	// view [1 2]
	// delivered "order 1"
	// checker OK: true
}

// A partition splits the processes: each side sees the other's leave
// with NODEDOWN; the heal merges them back with NODEUP.
func ExampleCluster_Partition() {
	t := newExampleTB()
	defer t.cleanup()

	c := cpgtest.NewCluster(t, 3)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p3 := c.NewProbe(t, 3, cpgtest.ProbeOptions{})
	p1.Join("g")
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1))
	p3.Join("g")
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1, p3))
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p3))

	c.Partition([]uint32{1, 2}, []uint32{3})
	cc := p1.ExpectConfchg(t, "g", cpgtest.Members(p1), cpgtest.Left(api.ReasonNodeDown, p3))
	fmt.Println("node 1 sees", len(cc.Left), "process leave:", api.Reason(cc.Left[0].Reason))
	p3.ExpectConfchg(t, "g", cpgtest.Members(p3), cpgtest.Left(api.ReasonNodeDown, p1))

	c.Heal()
	cc = p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p3), cpgtest.Joined(api.ReasonNodeUp, p1))
	fmt.Println("node 3 sees", len(cc.Joined), "process come back:", api.Reason(cc.Joined[0].Reason))
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1, p3), cpgtest.Joined(api.ReasonNodeUp, p3))
	c.Check(t)
	// Output:
	// node 1 sees 1 process leave: NODEDOWN
	// node 3 sees 1 process come back: NODEUP
}

// The deterministic mode: the same script on the simulator, in simulated
// time. The seed decides the network's delays and the order in which a
// node's actors see their messages; a failure names it, and the same
// seed replays the run.
func ExampleNewSim() {
	t := newExampleTB()
	defer t.cleanup()

	s := cpgtest.NewSim(t, 1, 3)
	p1, p3 := s.NewProc(1), s.NewProc(3)
	p1.Join("g")
	p1.ExpectConfchg(t, "g", cpgtest.Members(p1), cpgtest.Joined(api.ReasonJoin, p1))
	p3.Join("g")
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p3), cpgtest.Joined(api.ReasonJoin, p3))
	s.Partition([]uint32{1, 2}, []uint32{3})
	p3.ExpectConfchg(t, "g", cpgtest.Members(p3), cpgtest.Left(api.ReasonNodeDown, p1))
	p1.Mcast([]byte("only on node 1's side"))
	s.Heal()
	p3.ExpectConfchg(t, "g", cpgtest.Members(p1, p3), cpgtest.Joined(api.ReasonNodeUp, p1))
	r := s.Check()
	fmt.Println("seed", r.Seed, "violations", r.Violations())
	// Output:
	// seed 1 violations 0
}

// exampleTB stands in for a test's *testing.T in the examples: a failure
// panics, and cleanup runs what the kit registered.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func newExampleTB() *exampleTB { return &exampleTB{} }

func (t *exampleTB) Helper()                      {}
func (t *exampleTB) Name() string                 { return "Example" }
func (t *exampleTB) Logf(string, ...any)          {}
func (t *exampleTB) Errorf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
func (t *exampleTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
func (t *exampleTB) Cleanup(f func())             { t.cleanups = append(t.cleanups, f) }

func (t *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "cpgtest-example")
	if err != nil {
		panic(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanup runs the cleanups, the last registered first.
func (t *exampleTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
