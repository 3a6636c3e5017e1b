package actors_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// watcher records the Terminated it gets for the actor it watches.
type watcher struct {
	target *actor.PID
	done   chan struct{}
}

func (w *watcher) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.Watch(w.target)
	case *actor.Terminated:
		if m.Who.Equal(w.target) {
			close(w.done)
		}
	}
}

// TestGroupActorPIDIsPublicAndReaped: an embedded handle learns its group
// actor at its join (Handle.GroupPID); two handles of a group on one node
// share it; an application may watch it, and it stops once the group is
// empty and a view change finds it idle (it holds no sequencer duty then).
// A later join of the group gets a new actor.
func TestGroupActorPIDIsPublicAndReaped(t *testing.T) {
	_, ns := memCluster(t, 3)
	a := join(t, ns[0], "pub")
	b := join(t, ns[0], "pub")
	ga, gb := a.h.GroupPID(), b.h.GroupPID()
	if ga == nil || gb == nil || !ga.Equal(gb) {
		t.Fatalf("group actors %v and %v: want one, the same", ga, gb)
	}
	if ga.Equal(ns[0].PID()) {
		t.Fatal("the group actor is the node actor")
	}
	w := &watcher{target: ga, done: make(chan struct{})}
	ns[0].System().Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	for _, m := range []*member{a, b} {
		if err := m.h.Leave([]byte("pub")); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "an empty group", func() bool {
		ms, err := a.h.MembershipGet([]byte("pub"))
		return err == nil && len(ms) == 0
	})
	// A view change drops idle groups: stop the other nodes, one at a
	// time (a view change that comes before the leaves are done, e.g. on
	// a loaded machine, finds the group busy).
	reaped := false
	for _, n := range ns[1:] {
		n.Stop()
		select {
		case <-w.done:
			reaped = true
		case <-time.After(8 * time.Second):
		}
		if reaped {
			break
		}
	}
	if !reaped {
		t.Fatal("the idle group's actor was not stopped")
	}
	if err := a.h.Join([]byte("pub")); err != nil {
		t.Fatal(err)
	}
	if g := a.h.GroupPID(); g == nil || g.Equal(ga) {
		t.Fatalf("group actor after the group came back: %v (the old one was %v)", g, ga)
	}
	waitUntil(t, "the member back", func() bool {
		ms, err := a.h.MembershipGet([]byte("pub"))
		return err == nil && len(ms) == 1 && ms[0].Pid == a.h.Pid()
	})
	_ = api.CodeOK
}

// TestMembershipOnANodeWithoutLocalMembers: membership_get on a node where
// no handle is in the group lists the members of the other nodes (the
// group actor publishes its member list when it changes, with or without
// local handles to deliver the confchg to).
func TestMembershipOnANodeWithoutLocalMembers(t *testing.T) {
	_, ns := memCluster(t, 2)
	m := join(t, ns[0], "remote-only")
	other := join(t, ns[1], "elsewhere")
	waitUntil(t, "node 2 listing the member of node 1", func() bool {
		ms, err := other.h.MembershipGet([]byte("remote-only"))
		return err == nil && len(ms) == 1 && ms[0].Nodeid == 1 && ms[0].Pid == m.h.Pid()
	})
	if err := m.h.Leave([]byte("remote-only")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node 2 listing no member", func() bool {
		ms, err := other.h.MembershipGet([]byte("remote-only"))
		return err == nil && len(ms) == 0
	})
}

// TestGroupActorsAreReapedAfterAThousandGroups: 1,000 groups joined and
// left one after another, on a node that orders them all (one node) and
// across three nodes: once each group is empty and drained, every node
// holds no group actor and no sequencer actor, and the process's
// goroutines are back where they were before the first join.
func TestGroupActorsAreReapedAfterAThousandGroups(t *testing.T) {
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			var ns []*actors.Node
			if nodes == 1 {
				ns = []*actors.Node{oneNode(t)}
			} else {
				_, ns = memCluster(t, nodes)
			}
			h, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(ns[0]))
			if err != nil {
				t.Fatal(err)
			}
			defer h.Finalize()
			time.Sleep(100 * time.Millisecond) // the nodes' own goroutines settle
			base := runtime.NumGoroutine()
			for i := 0; i < 1000; i++ {
				name := []byte(fmt.Sprintf("reap-%d", i))
				// The handle's last leave is delivered first: until then
				// a join is answered TRY_AGAIN (CPG-SPEC 3.8, step 2).
				err := h.Join(name)
				for deadline := time.Now().Add(10 * time.Second); errors.Is(err, api.ErrTryAgain) && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
					err = h.Join(name)
				}
				if err != nil {
					t.Fatalf("join %s: %v", name, err)
				}
				if err := h.Leave(name); err != nil {
					t.Fatalf("leave %s: %v", name, err)
				}
			}
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				left := 0
				for _, n := range ns {
					left += len(n.GroupActors()) + len(n.Sequencers())
				}
				if left == 0 {
					break
				}
				if time.Now().After(deadline) {
					for _, n := range ns {
						t.Errorf("node %d: group actors %v, sequencers %v", n.NodeID(), n.GroupActors(), n.Sequencers())
					}
					t.FailNow()
				}
			}
			waitUntil(t, fmt.Sprintf("goroutines back to %d", base), func() bool {
				return runtime.NumGoroutine() <= base
			})
		})
	}
}
