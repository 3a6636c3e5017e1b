package cpg_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	premote "github.com/asynkron/protoactor-go/remote"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// everyEvent joins an actor-face receiver and a handle API member to a
// group, multicasts from the member, and checks that the receiver gets its
// JOIN confchg, the initial totem confchg, the member's JOIN confchg and
// the message, in that order.
func everyEvent(t *testing.T, node *actors.Node, recv *actor.PID, rec *record, opts ...cpg.Option) {
	t.Helper()
	h := initActor(t, recv, api.ModelV1DeliverInitialTotemConf, append([]cpg.Option{cpg.WithNode(node)}, opts...)...)
	join(t, h, "g")
	m := newDispatcher(t, cpg.WithNode(node))
	join(t, m.h, "g")
	if err := m.h.McastJoined(api.TypeAgreed, []byte("hello")); err != nil {
		t.Fatalf("McastJoined: %v", err)
	}
	me, other := addrOf(h), addrOf(m.h)
	want := []string{
		fmt.Sprintf("confchg members=[%s] joined=[%s JOIN]", me, me),
		fmt.Sprintf("totem members=[%d]", node.NodeID()),
		fmt.Sprintf("confchg members=[%s %s] joined=[%s JOIN]", me, other, other),
		fmt.Sprintf("deliver %s %q", other, "hello"),
	}
	got := rec.waitFor(t, "every event", func(got []string) bool { return len(got) >= len(want) })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("receiver got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// An embedded node started in the application's own actor system
// (actors.WithActorSystem) delivers every event to a receiver spawned
// there, and its Stop leaves that system running.
func TestActorFaceReceiverInApplicationSystem(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	node, err := actors.Start(remote.DefaultConfig(), actors.WithActorSystem(sys))
	if err != nil {
		t.Fatalf("Start WithActorSystem: %v", err)
	}
	if node.System() != sys {
		t.Fatalf("the node runs in another system")
	}
	recv, rec := spawnRecorder(t, sys, nil)
	everyEvent(t, node, recv, rec)

	// A second node cannot share the system (one node actor per system).
	if n2, err := actors.Start(remote.DefaultConfig(), actors.WithActorSystem(sys)); err == nil {
		n2.Stop()
		t.Errorf("a second node started in the same system")
	}
	node.Stop()
	waitGone(t, sys)
	echo := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(string); ok {
			ctx.Respond("pong")
		}
	}))
	if res, err := sys.Root.RequestFuture(echo, "ping", patience).Result(); err != nil || res != "pong" {
		t.Errorf("the application's system after the node stopped: %v, %v; want pong", res, err)
	}
}

// A listening node started WithActorSystem starts remoting on the
// application's system, and refuses a system that already has remoting.
func TestActorFaceNodeRemotingInApplicationSystem(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	node := startNode(t, func(c *remote.Config) { c.Listen = "127.0.0.1:0" }, actors.WithActorSystem(sys))
	if node.Address() == "" || sys.Address() != node.Address() {
		t.Fatalf("node address %q, system address %q", node.Address(), sys.Address())
	}
	recv, rec := spawnRecorder(t, sys, nil)
	everyEvent(t, node, recv, rec)

	busy := actor.NewActorSystem()
	defer busy.Shutdown()
	// Remoting set up on the system (NewRemote registers it; not started
	// here, since two gRPC servers starting in one process race on
	// grpclog's globals).
	premote.NewRemote(busy, premote.Configure("127.0.0.1", 0))
	cfg := remote.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	if n, err := actors.Start(cfg, actors.WithActorSystem(busy)); err == nil {
		n.Stop()
		t.Errorf("a listening node started in a system that already has remoting")
	} else if !strings.Contains(err.Error(), "remoting") {
		t.Errorf("refusal does not say why: %v", err)
	}
}

// An embedded handle whose receiver lives in another actor system than
// the node's delivers every event when that system is given
// (cpg.WithActorSystem).
func TestActorFaceReceiverInAnotherSystem(t *testing.T) {
	node := startNode(t, nil)
	other := actor.NewActorSystem()
	defer other.Shutdown()
	recv, rec := spawnRecorder(t, other, nil)
	everyEvent(t, node, recv, rec, cpg.WithActorSystem(other))
}

// A receiver that cannot receive events is refused with ErrInvalidParam,
// never accepted and starved.
func TestActorFaceRefusesReceiverThatCannotReceive(t *testing.T) {
	node := startNode(t, func(c *remote.Config) { c.Listen = "127.0.0.1:0" })
	other := actor.NewActorSystem()
	defer other.Shutdown()
	inOther, _ := spawnRecorder(t, other, nil)
	stopped, _ := spawnRecorder(t, node.System(), nil)
	if err := node.System().Root.StopFuture(stopped).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		recv *actor.PID
		opts []cpg.Option
	}{
		{"an id never spawned", actor.NewPID(node.System().Address(), "never-spawned"), nil},
		{"a PID of another address", actor.NewPID("10.9.8.7:4000", "x"), nil},
		{"a stopped actor", stopped, nil},
		{"a PID with no id", actor.NewPID(node.System().Address(), ""), nil},
		{"a receiver of another system, not given", inOther, nil},
		{"a receiver of another system, the wrong one given", inOther, []cpg.Option{cpg.WithActorSystem(node.System())}},
		{"an id never spawned in the given system", actor.NewPID(other.Address(), "never-spawned"), []cpg.Option{cpg.WithActorSystem(other)}},
		{"attached, no system given", inOther, []cpg.Option{cpg.WithAddress(node.Address())}},
		{"attached, an id never spawned", actor.NewPID(other.Address(), "never-spawned"), []cpg.Option{cpg.WithAddress(node.Address()), cpg.WithActorSystem(other)}},
	} {
		opts := c.opts
		if !strings.HasPrefix(c.what, "attached") {
			opts = append([]cpg.Option{cpg.WithNode(node)}, opts...)
		}
		h, err := cpg.InitializeActor(c.recv, 0, opts...)
		if err == nil {
			_ = h.Finalize()
			t.Errorf("%s: accepted", c.what)
			continue
		}
		if !errors.Is(err, api.ErrInvalidParam) {
			t.Errorf("%s: %v, want ErrInvalidParam", c.what, err)
		}
	}
}

// When a receiver actor stops without finalizing its handle, the handle is
// finalized and another member sees it leave with PROCDOWN within the
// client timeout, embedded or attached.
func TestActorFaceReceiverStopGivesProcDown(t *testing.T) {
	node := startNode(t, func(c *remote.Config) { c.Listen = "127.0.0.1:0" })
	other := actor.NewActorSystem()
	defer other.Shutdown()
	for _, c := range []struct {
		what string
		sys  *actor.ActorSystem
		opts []cpg.Option
	}{
		{"embedded, the node's system", node.System(), []cpg.Option{cpg.WithNode(node)}},
		{"embedded, another system", other, []cpg.Option{cpg.WithNode(node), cpg.WithActorSystem(other)}},
		{"attached", other, []cpg.Option{cpg.WithAddress(node.Address()), cpg.WithActorSystem(other)}},
	} {
		t.Run(c.what, func(t *testing.T) {
			group := "procdown " + c.what
			watcher := newDispatcher(t, cpg.WithNode(node))
			join(t, watcher.h, group)
			recv, _ := spawnRecorder(t, c.sys, nil)
			h, err := cpg.InitializeActor(recv, 0, c.opts...)
			if err != nil {
				t.Fatalf("InitializeActor: %v", err)
			}
			join(t, h, group)
			me, w := addrOf(h), addrOf(watcher.h)
			watcher.rec.waitSeen(t, fmt.Sprintf("confchg members=[%s %s] joined=[%s JOIN]", w, me, me))
			start := time.Now()
			c.sys.Root.Stop(recv)
			watcher.rec.waitSeen(t, fmt.Sprintf("confchg members=[%s] left=[%s PROCDOWN]", w, me))
			if d, limit := time.Since(start), node.Config().ClientTimeout; d > limit {
				t.Errorf("PROCDOWN came after %v, beyond the client timeout %v", d, limit)
			}
			if err := h.Join([]byte(group)); !errors.Is(err, api.ErrBadHandle) {
				t.Errorf("the stopped receiver's handle: Join = %v, want ErrBadHandle", err)
			}
		})
	}
}

// waitGone waits until no actor of the stopped node, nor of its handles'
// client side, is left in sys: only the receivers the test spawned may be.
func waitGone(t *testing.T, sys *actor.ActorSystem) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		var left []string
		for _, m := range sys.ProcessRegistry.LocalPIDs.LocalPIDs {
			for _, id := range m.Keys() {
				if strings.HasPrefix(id, "cpg") { // the node's, the couriers, the client actor
					left = append(left, id)
				}
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("actors of the stopped node left in the application's system: %v", left)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
