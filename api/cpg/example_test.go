package cpg_test

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// A handle joins a group, multicasts, and dispatches its own JOIN confchg,
// the initial totem confchg and its own message, in that order.
func Example() {
	node, _ := actors.Start(remote.DefaultConfig())
	defer node.Stop()

	h, _ := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
		Deliver: func(h *cpg.Handle, group []byte, nodeid, pid uint32, msg []byte) {
			fmt.Printf("deliver %s from %d/%d: %s\n", group, nodeid, pid, msg)
		},
		Confchg: func(h *cpg.Handle, group []byte, members, left, joined []*api.Address) {
			fmt.Printf("confchg %s: %d member(s), joined %d/%d reason %v\n",
				group, len(members), joined[0].Nodeid, joined[0].Pid, api.Reason(joined[0].Reason))
		},
		TotemConfchg: func(h *cpg.Handle, ring *api.RingId, members []uint32) {
			fmt.Printf("totem ring %d.%d members %v\n", ring.Nodeid, ring.Seq, members)
		},
		Flags: api.ModelV1DeliverInitialTotemConf,
	}, nil, cpg.WithNode(node), cpg.WithPid(42))
	defer h.Finalize()

	_ = h.Join([]byte("demo"))
	_ = h.McastJoined(api.TypeAgreed, []byte("hello "), []byte("world"))
	for i := 0; i < 3; i++ {
		_ = h.Dispatch(api.DispatchOne)
	}
	// Output:
	// confchg demo: 1 member(s), joined 1/42 reason JOIN
	// totem ring 1.1 members [1]
	// deliver demo from 1/42: hello world
}

// member is an actor using the actor face: its events arrive in Receive.
type member struct {
	node *actors.Node
	h    *cpg.Handle
	done chan struct{}
}

func (m *member) Receive(ctx actor.Context) {
	switch ev := ctx.Message().(type) {
	case *actor.Started:
		m.h, _ = cpg.InitializeActor(ctx.Self(), 0, cpg.WithNode(m.node))
		_ = m.h.Join([]byte("orders"))
	case *api.Confchg:
		fmt.Printf("confchg %s: joined pid %d\n", ev.Group, ev.Joined[0].Pid)
		_ = m.h.McastJoined(api.TypeAgreed, []byte("order-1"))
	case *api.Deliver:
		fmt.Printf("deliver %s\n", ev.Data)
		close(m.done)
	}
}

// An actor receives *api.Confchg and *api.Deliver messages in its Receive.
func Example_actor() {
	node, _ := actors.Start(remote.DefaultConfig())
	defer node.Stop()
	m := &member{node: node, done: make(chan struct{})}
	pid := node.System().Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return m }))
	<-m.done
	_ = node.System().Root.StopFuture(pid).Wait()
	// Output:
	// confchg orders: joined pid 4194305
	// deliver order-1
}
