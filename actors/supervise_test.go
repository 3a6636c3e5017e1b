package actors_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote"
)

// oneNode starts an in-process node (no listener: several remotings in
// one process race in gRPC's global logger under -race).
func oneNode(t *testing.T) *actors.Node {
	t.Helper()
	n, err := actors.Start(remote.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// member is a joined handle that records the confchgs it dispatches.
type member struct {
	h    *cpg.Handle
	mu   sync.Mutex
	left []*api.Address
	got  int
}

func join(t *testing.T, n *actors.Node, group string) *member {
	t.Helper()
	m := &member{}
	h, err := cpg.Initialize(&cpg.Callbacks{
		Deliver: func(*cpg.Handle, []byte, uint32, uint32, []byte) {
			m.mu.Lock()
			m.got++
			m.mu.Unlock()
		},
		Confchg: func(_ *cpg.Handle, _ []byte, _, left, _ []*api.Address) {
			m.mu.Lock()
			m.left = append(m.left, left...)
			m.mu.Unlock()
		},
	}, cpg.WithNode(n))
	if err != nil {
		t.Fatal(err)
	}
	m.h = h
	go func() { _ = h.Dispatch(api.DispatchBlocking) }()
	if err := h.Join([]byte(group)); err != nil {
		t.Fatal(err)
	}
	return m
}

// leftWith reports whether m saw (nodeid, pid) leave for reason.
func (m *member) leftWith(nodeid, pid uint32, reason api.Reason) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.left {
		if a.Nodeid == nodeid && a.Pid == pid && api.Reason(a.Reason) == reason {
			return true
		}
	}
	return false
}

// TestSupervisionNodeActorPanicStopsTheNode: a panic in the node actor
// (whose engine may then be half-stepped) stops the node: Done closes, Err
// says why, and its handles fail with CS_ERR_LIBRARY from then on (its
// peers see it leave the view, as for any node that stops). With the old
// resume strategy the node went on with whatever state the panic left.
func TestSupervisionNodeActorPanicStopsTheNode(t *testing.T) {
	n := oneNode(t)
	m := join(t, n, "sup")
	actors.SetPanicHook(func(who string, m any) bool {
		_, ok := m.(*api.LocalGetRequest)
		return who == "node" && ok
	})
	t.Cleanup(func() { actors.SetPanicHook(nil) })
	go m.h.LocalGet() // the node actor panics on it (the call itself waits for its timeout)
	select {
	case <-n.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not stop after its node actor panicked")
	}
	if err := n.Err(); !errors.Is(err, actors.ErrNodePanicked) {
		t.Fatalf("Err() = %v, want ErrNodePanicked", err)
	}
	waitUntil(t, "CS_ERR_LIBRARY from a handle of the stopped node", func() bool {
		return errors.Is(m.h.McastJoined(api.TypeAgreed, []byte("after")), api.ErrLibrary)
	})
}

// TestSupervisionHandleActorPanicFinalizesTheHandle: a panic in a handle
// actor stops that handle only: its group sees it leave with PROCDOWN, and
// the node and its other handles carry on.
func TestSupervisionHandleActorPanicFinalizesTheHandle(t *testing.T) {
	n := oneNode(t)
	victim := join(t, n, "sup-h")
	stays := join(t, n, "sup-h")
	waitUntil(t, "two members in the group", func() bool {
		ms, err := stays.h.MembershipGet([]byte("sup-h"))
		return err == nil && len(ms) == 2
	})
	actors.SetPanicHook(func(who string, m any) bool {
		_, ok := m.(*api.LeaveRequest)
		return who == "handle" && ok
	})
	t.Cleanup(func() { actors.SetPanicHook(nil) })
	go victim.h.Leave([]byte("sup-h")) // its handle actor panics on it (the call waits for its timeout)
	waitUntil(t, "PROCDOWN of the panicked handle", func() bool {
		return stays.leftWith(1, victim.h.Pid(), api.ReasonProcDown)
	})
	actors.SetPanicHook(nil)
	if err := stays.h.McastJoined(api.TypeAgreed, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other handle's own message delivered", func() bool {
		stays.mu.Lock()
		defer stays.mu.Unlock()
		return stays.got > 0
	})
	if n.Err() != nil {
		t.Fatalf("the node stopped: %v", n.Err())
	}
}

// TestSupervisionGroupActorPanicStopsTheNode: a panic in a group actor
// (whose group machine may then be half-stepped) stops the node, as one
// in the node actor does: Done closes, Err says why, and its handles fail
// with CS_ERR_LIBRARY from then on.
func TestSupervisionGroupActorPanicStopsTheNode(t *testing.T) {
	n := oneNode(t)
	m := join(t, n, "sup-g")
	if m.h.GroupPID() == nil {
		t.Fatal("no group actor PID after the join")
	}
	actors.SetPanicHook(func(who string, m any) bool {
		_, ok := m.(*wire.HandleMcast)
		return who == "group" && ok
	})
	t.Cleanup(func() { actors.SetPanicHook(nil) })
	go m.h.McastJoined(api.TypeAgreed, []byte("boom")) // the group actor panics on it
	select {
	case <-n.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the node did not stop after a group actor panicked (Err %v)", n.Err())
	}
	if err := n.Err(); !errors.Is(err, actors.ErrNodePanicked) {
		t.Fatalf("Err() = %v, want ErrNodePanicked", err)
	}
	waitUntil(t, "CS_ERR_LIBRARY from a handle of the stopped node", func() bool {
		return errors.Is(m.h.McastJoined(api.TypeAgreed, []byte("after")), api.ErrLibrary)
	})
}
