package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/groups"
)

// groupActor drives one node's groups.Group: it feeds it the local
// handles' requests and the sequencer's ordered events, and carries out its
// Ready. Submissions to the sequencer are batched: everything that arrived
// before a self-sent Flush goes in one Submit.
type groupActor struct {
	node    *Node
	nodePID *actor.PID
	seq     *actor.PID
	g       *groups.Group
	handles map[groups.HandleID]*actor.PID
	// byActor finds a local handle from its actor, for Terminated.
	byActor map[string]groups.HandleID

	pending  []*wire.GroupEvent
	flushing bool
}

func newGroupActor(n *Node, name []byte, nodePID, seq *actor.PID) *groupActor {
	return &groupActor{
		node:    n,
		nodePID: nodePID,
		seq:     seq,
		g:       groups.New(name, n.cfg.NodeID),
		handles: make(map[groups.HandleID]*actor.PID),
		byActor: make(map[string]groups.HandleID),
	}
}

// Receive implements actor.Actor.
func (a *groupActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	switch m := ctx.Message().(type) {
	case *wire.HandleMcast:
		a.g.Mcast(groups.HandleID(m.HandleId), m.Msgs)
	case *wire.Ordered:
		a.g.Apply(m.Events)
	case *wire.Flush:
		a.flushing = false
		if len(a.pending) > 0 {
			ctx.Send(a.seq, &wire.Submit{Group: a.g.Name(), Events: a.pending})
			a.pending = nil
		}
		return
	case *wire.JoinGroup:
		code := a.g.Join(groups.HandleID(m.HandleId), m.Pid)
		if code == api.CodeOK {
			h, pid := groups.HandleID(m.HandleId), pidOf(m.HandleActor)
			if pid == nil {
				pid = actor.NewPID(ctx.Self().Address, "none")
			}
			a.handles[h] = pid
			a.byActor[pid.String()] = h
			// Whatever way the handle actor ends, its member goes.
			ctx.Watch(pid)
			if a.g.FlowControlled() {
				ctx.Send(pid, &wire.FlowControl{Enabled: true})
			}
		}
		ctx.Respond(&wire.JoinResult{Code: int32(code), GroupActor: apiPid(ctx.Self())})
	case *wire.LeaveGroup:
		h := groups.HandleID(m.HandleId)
		if m.Gone {
			a.g.Gone(h)
			a.forget(ctx, h)
		} else {
			a.g.Leave(h, api.Reason(m.Reason))
		}
	case *wire.Congestion:
		a.g.Congestion(groups.HandleID(m.HandleId), m.Congested)
	case *actor.Terminated:
		// A system message overtakes the handle's last user messages (its
		// leave, its multicasts), so queue the PROCDOWN behind them.
		if h, ok := a.byActor[m.Who.String()]; ok {
			ctx.Send(ctx.Self(), &wire.LeaveGroup{HandleId: uint64(h), Reason: uint32(api.ReasonProcDown), Gone: true})
		}
		return
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return
	default:
		a.node.log.Warn().Str("type", typeName(m)).Msg("group: unexpected message dropped")
		return
	}
	a.carryOut(ctx)
}

// carryOut performs the group's Ready in its documented order.
func (a *groupActor) carryOut(ctx actor.Context) {
	if !a.g.HasReady() {
		return
	}
	rd := a.g.Ready()
	if len(rd.Submit) > 0 {
		a.pending = append(a.pending, rd.Submit...)
		if !a.flushing {
			a.flushing = true
			ctx.Send(ctx.Self(), &wire.Flush{})
		}
	}
	if rd.MembersChanged {
		// Before the confchgs go out, so that a member that saw one reads
		// the same list from membership_get.
		ctx.Send(a.nodePID, &wire.GroupMembers{Group: a.g.Name(), Members: a.g.Members()})
	}
	for _, d := range rd.Deliveries {
		if pid, ok := a.handles[d.Handle]; ok {
			ctx.Send(pid, &wire.LocalEvents{Events: d.Events})
		}
	}
	for _, l := range rd.Left {
		if pid, ok := a.handles[l.Handle]; ok {
			ctx.Send(pid, &wire.MemberLeft{Reason: uint32(l.Reason)})
			a.forget(ctx, l.Handle)
		}
	}
	for _, r := range rd.Rejected {
		if pid, ok := a.handles[r.Handle]; ok {
			ctx.Send(pid, &wire.McastRejected{Count: r.Count, Bytes: r.Bytes})
		}
	}
	if rd.FlowChanged {
		fc := &wire.FlowControl{Enabled: a.g.FlowControlled()}
		for _, pid := range a.handles {
			ctx.Send(pid, fc)
		}
	}
	a.g.Advance()
}

// forget stops tracking local handle h (it left or is gone).
func (a *groupActor) forget(ctx actor.Context, h groups.HandleID) {
	pid, ok := a.handles[h]
	if !ok {
		return
	}
	delete(a.handles, h)
	delete(a.byActor, pid.String())
	ctx.Unwatch(pid)
}
