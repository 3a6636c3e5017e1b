package actors_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
)

// sequencerOf waits until one node of ns runs group's sequencer actor and
// returns the node's index and the actor.
func sequencerOf(t *testing.T, ns []*actors.Node, group string) (int, *actor.PID) {
	t.Helper()
	var at int
	var pid *actor.PID
	waitUntil(t, "a sequencer actor of "+group, func() bool {
		for i, n := range ns {
			if p, ok := n.Sequencers()[group]; ok {
				at, pid = i, p
				return true
			}
		}
		return false
	})
	return at, pid
}

// TestSequencerActorRunsWhereTheGroupIsOrderedAndMovesOnHandoff: a group's
// agreed order is assigned by a sequencer actor on one node of the view
// (rendezvous placement); when another node alone multicasts to the group
// for a while, the sequencer moves there (handoff): the first actor stops
// (an application watching it sees Terminated) and the sender's node runs
// the group's new sequencer actor. Every message is delivered once, in
// order, across the move.
func TestSequencerActorRunsWhereTheGroupIsOrderedAndMovesOnHandoff(t *testing.T) {
	_, ns := memCluster(t, 3)
	var group string
	var m *member
	var first *actor.PID
	var firstAt int
	for i := 0; ; i++ {
		group = fmt.Sprintf("seq-%d", i)
		m = join(t, ns[0], group)
		at, pid := sequencerOf(t, ns, group)
		if at != 0 {
			first, firstAt = pid, at
			break
		}
		// Node 1 orders this one: try another name.
		if err := m.h.Finalize(); err != nil {
			t.Fatal(err)
		}
	}
	w := &watcher{target: first, done: make(chan struct{})}
	ns[firstAt].System().Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
	sent := 0
	moved := false
	for deadline := time.Now().Add(20 * time.Second); !moved && time.Now().Before(deadline); {
		err := m.h.McastJoined(api.TypeAgreed, []byte(fmt.Sprintf("m%d", sent)))
		if errors.Is(err, api.ErrTryAgain) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		time.Sleep(time.Millisecond)
		_, moved = ns[0].Sequencers()[group]
	}
	if !moved {
		t.Fatalf("after %d messages from node 1 alone, its sequencer stays where it was", sent)
	}
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the first sequencer actor did not stop after the handoff")
	}
	for _, n := range ns[1:] {
		if _, ok := n.Sequencers()[group]; ok {
			t.Fatalf("node %d still runs a sequencer actor of %s", n.NodeID(), group)
		}
	}
	// What cpgtool -s shows: the node that orders the group, per group.
	waitUntil(t, "the iteration naming node 1 the group's sequencer", func() bool {
		it, err := m.h.IterationInitialize(api.IterationOneGroup, []byte(group))
		if err != nil {
			return false
		}
		defer it.Finalize()
		d, err := it.Next()
		return err == nil && d.Sequencer == ns[0].NodeID()
	})
	waitUntil(t, "every message delivered", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.got >= sent
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.got != sent {
		t.Fatalf("delivered %d of %d messages", m.got, sent)
	}
}

// TestSupervisionSequencerActorPanicStopsTheNode: a panic in a sequencer
// actor (whose machine may then be half-stepped) stops the node, as one in
// its group actor does.
func TestSupervisionSequencerActorPanicStopsTheNode(t *testing.T) {
	n := oneNode(t)
	m := join(t, n, "sup-s")
	sequencerOf(t, []*actors.Node{n}, "sup-s")
	actors.SetPanicHook(func(who string, m any) bool {
		switch m.(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
			return false // it must still be able to stop
		}
		return who == "sequencer"
	})
	t.Cleanup(func() { actors.SetPanicHook(nil) })
	go m.h.McastJoined(api.TypeAgreed, []byte("boom")) // its submission reaches the sequencer actor
	select {
	case <-n.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the node did not stop after a sequencer actor panicked (Err %v)", n.Err())
	}
	if err := n.Err(); !errors.Is(err, actors.ErrNodePanicked) {
		t.Fatalf("Err() = %v, want ErrNodePanicked", err)
	}
}
