package actors

import (
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// groupActor is one group on its node: it hosts the group's
// cluster.GroupMachine (the replica, the log of the view, the node's
// submissions). When this node orders the group, the group actor's child,
// its sequencer actor (sequencerActor), assigns the order.
//
// Its inputs: from the node actor, the group's messages from other nodes
// (checked and routed by the node's cluster.Host), Freeze and Install,
// the clock, the joins of local handles, and resume (the view's totem
// confchg is out); from its handle actors, their multicasts, leaves and
// congestion; from its sequencer actor, what it ordered. It carries out its
// machine's output itself: messages to other nodes on the node's
// transport, events to its handle actors, its acks and its answers
// (Frozen, Installed) to the node actor, and the sequencer's inputs to
// its sequencer actor (spawned and stopped as the machine says).
//
// The node actor spawns it at the group's first local join or first
// message, and stops it when its machine says it is drained (between view
// changes) or its Installed says it is idle, and nothing the node sent is
// still on its way to it (the node's count of what it sent equals the
// count the answer carries). A message a link handed straight to it
// (Node.fromPeer) as it stopped is lost, as on the network: its sender
// sends it again.
type groupActor struct {
	node    *Node
	nodePID *actor.PID
	name    []byte
	gm      *cluster.GroupMachine
	handles map[groups.HandleID]*actor.PID
	// seq is the group's sequencer actor while this node orders the
	// group (nil otherwise); seqs counts those spawned, for their names.
	seq  *actor.PID
	seqs uint64
	// owner is the node that orders the group, as last published
	// (cpgtool's listing).
	owner uint32
	// stats are the group's counters (WithGroupMetrics; nil: not kept).
	stats *groupCounters

	// got counts the messages of the node actor taken (groupIn,
	// groupJoin): see reaping in nodeActor.answered.
	got uint64
	// held: between Freeze and resume the group neither ticks nor
	// flushes. Past its Install it would otherwise order and deliver the
	// new view's events before the node sends the view's totem confchg.
	held      bool
	wantFlush bool
	flushing  bool // a groupFlush is in the mailbox
}

// The messages between the node actor and its group actors (in-process
// only).
type (
	// groupIn is a message of the node's Host for the group's machine.
	groupIn struct{ msg cluster.GroupInput }
	// groupJoin is a local handle's join, answered to replyTo with a
	// wire.JoinResult.
	groupJoin struct {
		req     *wire.JoinGroup
		handle  *actor.PID
		replyTo *actor.PID
	}
	// groupPeer is a group message of node from (a Submit, Ordered or
	// Nack) that a link handed straight to the group actor (Node.fromPeer
	// checked it).
	groupPeer struct {
		from uint32
		msg  proto.Message
	}
	// groupTick is the clock.
	groupTick struct{ now time.Duration }
	// groupResume: the view's totem confchg is out; tick and flush again.
	groupResume struct{}
	// groupFlush: send what the inputs since the last flush produced.
	groupFlush struct{}
	// groupAnswer is a group machine's answer to the view machine; got
	// is the group actor's count of the node's messages when it answered.
	groupAnswer struct {
		name []byte
		msg  cluster.ViewInput
		got  uint64
	}
	// groupDrained is a group machine's news that it is drained (see
	// cluster.Drained); got as in groupAnswer; from the group actor that
	// sends it (a later actor of the group must not be stopped on an
	// earlier one's news).
	groupDrained struct {
		d    cluster.Drained
		got  uint64
		from *actor.PID
	}
	// groupAcks are a group's acknowledgements, for the node's next
	// wire.Ack to each node of the view.
	groupAcks struct{ acks []*wire.GroupAck }
)

// Receive implements actor.Actor.
func (a *groupActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	defer a.node.stopOnMachinePanic("group")
	if panicking("group", ctx.Message()) {
		panic("test panic in a group actor")
	}
	switch m := ctx.Message().(type) {
	case *groupIn:
		a.got++
		switch in := m.msg.(type) {
		case cluster.Freeze:
			a.held = true
		case cluster.PeerMsg:
			if a.node.blocked(in.From) {
				return // cut off since the node routed it (fault tests)
			}
		case cluster.AckPart:
			if a.node.blocked(in.From) {
				return
			}
		}
		a.gm.Step(m.msg)
		if g, ok := m.msg.(cluster.GoneReq); ok {
			a.carryOut(ctx)
			delete(a.handles, g.Handle)
			return
		}
	case *groupJoin:
		a.got++
		h := groups.HandleID(m.req.HandleId)
		code := a.gm.Step(cluster.JoinReq{Handle: h, Pid: m.req.Pid})
		if code == api.CodeOK {
			a.handles[h] = m.handle
		}
		if m.replyTo != nil {
			ctx.Send(m.replyTo, &wire.JoinResult{Code: int32(code), GroupActor: apiPid(ctx.Self())})
		}
	case *groupPeer:
		if a.node.blocked(m.from) {
			return // cut off since the link routed it (fault tests)
		}
		// The machine takes it only in its installed view, unfrozen: the
		// link routed it in the view it knew, which may have ended since.
		a.gm.Step(cluster.PeerMsg{From: m.from, Msg: m.msg})
	case *groupTick:
		if !a.held {
			a.gm.Tick(m.now)
			if a.seq != nil {
				ctx.Send(a.seq, &seqTick{now: m.now})
			}
		}
	case *seqOut:
		if a.seq == nil || m.gen != a.seqs {
			return // a stopped sequencer actor's, still on its way
		}
		a.gm.Step(m.msg)
	case *groupResume:
		a.held = false
		if a.wantFlush {
			a.wantFlush = false
			a.scheduleFlush(ctx)
		}
	case *groupFlush:
		a.flushing = false
		if a.held {
			a.wantFlush = true
			return
		}
		a.gm.Step(cluster.FlushReq{})
	case *wire.HandleMcast:
		a.gm.Step(cluster.McastReq{Handle: groups.HandleID(m.HandleId), Msgs: m.Msgs})
	case *wire.LeaveGroup:
		h := groups.HandleID(m.HandleId)
		if m.Gone {
			a.gm.Step(cluster.GoneReq{Handle: h})
			a.carryOut(ctx)
			delete(a.handles, h)
			return
		}
		code := a.gm.Step(cluster.LeaveReq{Handle: h, Reason: api.Reason(m.Reason)})
		reply(ctx, status(code))
	case *wire.Congestion:
		a.gm.Step(cluster.CongestionReq{Handle: groups.HandleID(m.HandleId), Congested: m.Congested})
	case *actor.Stopped:
		if a.stats.ownGroup() {
			// Reaped: the group has no members; a new actor for it
			// publishes them again.
			a.stats.members.Store(0)
			a.stats.orders.Store(false)
		}
		return
	case *actor.Started, *actor.Stopping, *actor.Restarting:
		return
	default:
		unexpected.Drop(a.node.log, "group: unexpected messages dropped", typeName(m))
		return
	}
	a.carryOut(ctx)
}

func (a *groupActor) scheduleFlush(ctx actor.Context) {
	if !a.flushing {
		a.flushing = true
		ctx.Send(ctx.Self(), &groupFlush{})
	}
}

// carryOut performs the machine's Ready in its documented order.
func (a *groupActor) carryOut(ctx actor.Context) {
	gm := a.gm
	if !gm.HasReady() {
		return
	}
	rd := gm.Ready()
	a.node.sendPeers(rd.Messages)
	if len(rd.Acks) > 0 {
		ctx.Send(a.nodePID, &groupAcks{acks: slices.Clone(rd.Acks)})
	}
	if rd.MembersChanged {
		// Before the events go out: a handle that saw its confchg finds
		// the member list that includes it.
		members := gm.Members()
		a.node.setGroupMembers(a.name, members)
		if a.stats.ownGroup() {
			a.stats.members.Store(int64(len(members)))
		}
	}
	if o := gm.Owner(); o != a.owner {
		a.owner = o
		a.node.setGroupSequencer(a.name, o)
		if a.stats.ownGroup() {
			a.stats.orders.Store(o == a.node.cfg.NodeID)
		}
	}
	for _, d := range rd.Deliveries {
		if pid, ok := a.handles[d.Handle]; ok {
			ctx.Send(pid, &wire.LocalEvents{Events: d.Events})
			if a.stats != nil {
				a.countDelivered(d.Events)
			}
		}
	}
	for _, l := range rd.Left {
		if pid, ok := a.handles[l.Handle]; ok {
			ctx.Send(pid, &wire.MemberLeft{Reason: uint32(l.Reason)})
		}
	}
	for _, r := range rd.Rejected {
		if pid, ok := a.handles[r.Handle]; ok {
			ctx.Send(pid, &wire.McastRejected{Count: r.Count, Bytes: r.Bytes})
		}
	}
	for _, f := range rd.Flow {
		if pid, ok := a.handles[f.Handle]; ok {
			ctx.Send(pid, &wire.FlowControl{Enabled: f.Enabled})
		}
	}
	for _, h := range rd.Interrupted {
		if pid, ok := a.handles[h]; ok {
			ctx.Send(pid, &wire.McastInterrupted{Count: 1})
		}
	}
	for _, m := range rd.ToSeq {
		a.toSequencer(ctx, m)
	}
	for _, m := range rd.ToView {
		ctx.Send(a.nodePID, &groupAnswer{name: a.name, msg: m, got: a.got})
	}
	if rd.Drained != nil {
		ctx.Send(a.nodePID, &groupDrained{d: *rd.Drained, got: a.got, from: ctx.Self()})
	}
	if rd.Flush {
		if a.held {
			a.wantFlush = true
		} else {
			a.scheduleFlush(ctx)
		}
	}
	gm.Advance()
}

// toSequencer carries out one of the group machine's messages for its
// sequencer: spawn the sequencer actor (SeqStart), stop it (SeqStop), or
// pass the message on.
func (a *groupActor) toSequencer(ctx actor.Context, m cluster.SeqInput) {
	switch m := m.(type) {
	case cluster.SeqStart:
		if a.seq != nil {
			ctx.Stop(a.seq)
		}
		a.seqs++
		sa := &sequencerActor{node: a.node, group: ctx.Self(), gen: a.seqs, sm: cluster.NewSequencerMachine(m.Config)}
		pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return sa },
			actor.WithDispatcher(a.node.dispatcher)), "seq-"+itoa(a.seqs))
		if err != nil {
			// Not expected (the names are the group actor's own). The
			// group goes unordered here until the view changes: say so.
			a.node.log.Error().Err(err).Bytes("group", a.name).Msg("spawn sequencer actor")
			a.seq = nil
			return
		}
		a.seq = pid
		a.node.setSequencer(a.name, pid)
	case cluster.SeqStop:
		if a.seq != nil {
			ctx.Stop(a.seq)
			a.seq = nil
			a.node.setSequencer(a.name, nil)
		}
	default:
		if a.seq != nil {
			ctx.Send(a.seq, &seqIn{msg: m})
		}
	}
}

// countDelivered adds the messages among events, handed to one local
// handle, to the group's counters.
func (a *groupActor) countDelivered(events []*api.Event) {
	var msgs, size uint64
	for _, e := range events {
		if d := e.GetDeliver(); d != nil {
			msgs++
			size += uint64(len(d.Data))
		}
	}
	if msgs > 0 {
		a.stats.delivMsgs.Add(msgs)
		a.stats.delivBytes.Add(size)
	}
}
