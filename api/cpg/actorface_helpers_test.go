package cpg_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// patience bounds every wait for something that must happen.
const patience = 10 * time.Second

// record is what a recording actor saw, described as text, in order.
type record struct {
	mu     sync.Mutex
	seen   []string
	notify chan struct{}
}

func newRecord() *record { return &record{notify: make(chan struct{}, 1)} }

func (r *record) add(s string) {
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *record) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// waitFor waits until cond holds on what was recorded, or fails the test.
func (r *record) waitFor(t *testing.T, what string, cond func([]string) bool) []string {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		if got := r.all(); cond(got) {
			return got
		}
		select {
		case <-r.notify:
		case <-time.After(5 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; recorded:\n  %s", what, strings.Join(r.all(), "\n  "))
		}
	}
}

// waitSeen waits until every line of want was recorded.
func (r *record) waitSeen(t *testing.T, want ...string) []string {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%q", want), func(got []string) bool {
		for _, w := range want {
			if index(got, w) < 0 {
				return false
			}
		}
		return true
	})
}

func index(got []string, s string) int {
	for i, g := range got {
		if g == s {
			return i
		}
	}
	return -1
}

func describe(m any) string {
	switch m := m.(type) {
	case *api.Deliver:
		return fmt.Sprintf("deliver %d/%d %q", m.Nodeid, m.Pid, m.Data)
	case *api.Confchg:
		s := "confchg members=" + addrs(m.Members)
		if len(m.Left) > 0 {
			s += " left=" + addrs(m.Left)
		}
		if len(m.Joined) > 0 {
			s += " joined=" + addrs(m.Joined)
		}
		return s
	case *api.TotemConfchg:
		return fmt.Sprintf("totem members=%v", m.Members)
	case *api.FlowControl:
		return fmt.Sprintf("flowcontrol %v", m.Enabled)
	}
	return ""
}

func addrs(as []*api.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%d/%d", a.Nodeid, a.Pid)
		if a.Reason != 0 {
			parts[i] += " " + api.Reason(a.Reason).String()
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func addrOf(h *cpg.Handle) string { return fmt.Sprintf("%d/%d", h.NodeID(), h.Pid()) }

// recorder is an actor that records the actor face's messages; before
// each Deliver it calls slow, if set (a slow or stalled receiver).
type recorder struct {
	rec  *record
	slow func()
}

// Receive implements actor.Actor.
func (a *recorder) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*api.Deliver); ok && a.slow != nil {
		a.slow()
	}
	if s := describe(ctx.Message()); s != "" {
		a.rec.add(s)
	}
}

// spawnRecorder spawns a recording actor in sys.
func spawnRecorder(t *testing.T, sys *actor.ActorSystem, slow func()) (*actor.PID, *record) {
	t.Helper()
	rec := newRecord()
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &recorder{rec: rec, slow: slow} }))
	t.Cleanup(func() { sys.Root.Stop(pid) })
	return pid, rec
}

// startNode starts a private node; edit changes its config first.
func startNode(t *testing.T, edit func(*remote.Config), opts ...actors.Option) *actors.Node {
	t.Helper()
	cfg := remote.DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	n, err := actors.Start(cfg, opts...)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(n.Stop)
	return n
}

// dispatcher is a handle API member whose events a goroutine dispatches into
// a record.
type dispatcher struct {
	h   *cpg.Handle
	rec *record
}

func newDispatcher(t *testing.T, opts ...cpg.Option) *dispatcher {
	t.Helper()
	m := &dispatcher{rec: newRecord()}
	h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
		Deliver: func(_ *cpg.Handle, g []byte, nodeid, pid uint32, msg []byte) {
			if len(msg) > 64 {
				msg = msg[:16]
			}
			m.rec.add(describe(&api.Deliver{Group: g, Nodeid: nodeid, Pid: pid, Data: msg}))
		},
		Confchg: func(_ *cpg.Handle, g []byte, members, left, joined []*api.Address) {
			m.rec.add(describe(&api.Confchg{Group: g, Members: members, Left: left, Joined: joined}))
		},
	}, nil, opts...)
	if err != nil {
		t.Fatalf("ModelInitialize: %v", err)
	}
	m.h = h
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Dispatch(api.DispatchBlocking)
	}()
	t.Cleanup(func() {
		_ = h.Finalize()
		<-done
	})
	return m
}

// initActor creates an actor-face handle for receiver.
func initActor(t *testing.T, receiver *actor.PID, flags uint32, opts ...cpg.Option) *cpg.Handle {
	t.Helper()
	h, err := cpg.InitializeActor(receiver, flags, opts...)
	if err != nil {
		t.Fatalf("InitializeActor: %v", err)
	}
	t.Cleanup(func() { _ = h.Finalize() })
	return h
}

func join(t *testing.T, h *cpg.Handle, group string) {
	t.Helper()
	if err := h.Join([]byte(group)); err != nil {
		t.Fatalf("Join: %v", err)
	}
}
