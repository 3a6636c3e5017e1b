package cpgtest_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cpgtest"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// fakeT is a testing.TB that records failures instead of failing the
// test, so that the kit's own tests can show an expectation or Check
// failing. Fatalf ends the goroutine, as testing.T's does: run the code
// under test with run.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	msgs     []string
	cleanups []func()
}

func (f *fakeT) Helper()             {}
func (f *fakeT) Logf(string, ...any) {}
func (f *fakeT) Name() string        { return "TestFake" }
func (f *fakeT) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }

func (f *fakeT) TempDir() string {
	dir, err := os.MkdirTemp("", "cpgtest-fake")
	if err != nil {
		panic(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// run runs fn with f on a goroutine of its own and waits for it, then
// runs the cleanups fn registered.
func (f *fakeT) run(fn func(tb testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// mustFail fails t unless f failed with a message holding every one of
// parts.
func (f *fakeT) mustFail(t *testing.T, what string, parts ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		t.Fatalf("%s did not fail", what)
	}
	msg := strings.Join(f.msgs, "\n")
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s failed without %q in its message:\n%s", what, p, msg)
		}
	}
	t.Logf("%s failed as it should:\n%s", what, msg)
}

// ExpectNoMessage catches a message nobody expected, and returns as soon
// as it comes; a mismatched ExpectConfchg fails with what the probe
// received.
func TestExpectationsFail(t *testing.T) {
	c := cpgtest.NewCluster(t, 2)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{Name: "p1"})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{Name: "p2"})
	joinAll(t, "g", []uint32{1, 2}, p1, p2)
	p1.ExpectNoMessage(t, 20*time.Millisecond) // nothing waiting: it passes

	p2.Mcast([]byte("surprise"))
	var ft fakeT
	start := time.Now()
	ft.run(func(tb testing.TB) { p1.ExpectNoMessage(tb, time.Minute) })
	ft.mustFail(t, "ExpectNoMessage", "p1: ExpectNoMessage(1m0s)", `DELIVER "g" from 2/`, `"surprise"`)
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("ExpectNoMessage failed after %v: it should end when the message comes", el)
	}
	p1.ExpectDeliver(t, p2, []byte("surprise"))
	p2.ExpectDeliver(t, p2, []byte("surprise"))

	p2.Leave()
	var ft2 fakeT
	ft2.run(func(tb testing.TB) { p1.ExpectConfchg(tb, "g", cpgtest.Members(p1, p2)) })
	ft2.mustFail(t, "ExpectConfchg", "p1: ExpectConfchg(\"g\")", "members [1/", "it received:", "[x] #1 CONFCHG")
}

// Check catches a violation: a delivery recorded twice (injected through
// a test hook) breaks integrity.
func TestCheckCatchesAnInjectedDuplicate(t *testing.T) {
	c := cpgtest.NewCluster(t, 2)
	p1 := c.NewProbe(t, 1, cpgtest.ProbeOptions{})
	p2 := c.NewProbe(t, 2, cpgtest.ProbeOptions{})
	joinAll(t, "g", []uint32{1, 2}, p1, p2)
	p1.Mcast([]byte("once"))
	p1.ExpectDeliver(t, p1, []byte("once"))
	p2.ExpectDeliver(t, p1, []byte("once"))
	if rep := c.Check(t); !rep.OK() {
		t.Fatal("Check failed before anything was injected")
	}

	from := cpgtest.ProcOf(p1)
	dup := checker.DeliverRecord(cpgtest.ProcOf(p2), &api.Deliver{Group: []byte("g"), Nodeid: from.Node, Pid: from.Pid,
		Data: checker.EncodeMsgPayload(from, 1, []byte("once"))})
	cpgtest.InjectRecord(c, dup)
	var ft fakeT
	ft.run(func(tb testing.TB) { cpgtest.Check(tb, c) })
	ft.mustFail(t, "Check", "the property checker found violations", "integrity", "twice")
}

// A wait for views that never come fails after the cluster's timeout,
// listing every node's view.
func TestViewWaitFailsWithTheViews(t *testing.T) {
	ft := &fakeT{}
	ft.run(func(tb testing.TB) {
		c := cpgtest.NewCluster(tb, 2, cpgtest.WithTimeout(300*time.Millisecond))
		c.WaitView(1)
	})
	ft.mustFail(t, "WaitView(1) in a view of [1 2]", "WaitView([1]): timed out after 300ms waiting for the views [[1]]",
		"node 1: ring 1.", "members [1 2]", "node 2: ring")
}
