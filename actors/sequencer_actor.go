package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/cluster"
)

// sequencerActor assigns one group's agreed order, on the node that
// orders the group in the current view: it hosts the group's
// cluster.SequencerMachine.
//
// Its group actor spawns it, as a child, when the group machine starts a
// sequencer (the view places the group here and something is submitted,
// or a handoff in the group's log moves the group here), and stops it when
// the machine stops it (a handoff moves the group to another node; the
// view changes). Its inputs come from the group actor: this node's
// submissions, the Submits of other nodes, every node's acks, the clock.
// It sends what it orders to the other nodes of the view on the node's
// transport itself, and this node's copy to its group actor.
type sequencerActor struct {
	node     *Node
	group    *actor.PID
	gen      uint64 // the group actor's count of its sequencer actors
	sm       *cluster.SequencerMachine
	flushing bool // a seqFlush is in the mailbox
}

// The messages between a group actor and its sequencer actor (in-process
// only).
type (
	// seqIn is a group machine's message for its sequencer machine.
	seqIn struct{ msg cluster.SeqInput }
	// seqTick is the clock.
	seqTick struct{ now time.Duration }
	// seqFlush: send what the inputs since the last flush produced.
	seqFlush struct{}
	// seqOut is the sequencer machine's message for its group machine;
	// gen names the sequencer actor that sent it.
	seqOut struct {
		gen uint64
		msg cluster.GroupInput
	}
)

// Receive implements actor.Actor.
func (a *sequencerActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	defer a.node.stopOnMachinePanic("sequencer")
	if panicking("sequencer", ctx.Message()) {
		panic("test panic in a sequencer actor")
	}
	switch m := ctx.Message().(type) {
	case *seqIn:
		a.sm.Step(m.msg)
	case *seqTick:
		a.sm.Tick(m.now)
	case *seqFlush:
		a.flushing = false
		a.sm.Step(cluster.SeqFlush{})
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return
	default:
		unexpected.Drop(a.node.log, "sequencer: unexpected messages dropped", typeName(m))
		return
	}
	a.carryOut(ctx)
}

// carryOut performs the machine's Ready in its documented order.
func (a *sequencerActor) carryOut(ctx actor.Context) {
	sm := a.sm
	if !sm.HasReady() {
		return
	}
	rd := sm.Ready()
	a.node.sendPeers(rd.Messages)
	for _, m := range rd.ToGroup {
		ctx.Send(a.group, &seqOut{gen: a.gen, msg: m})
	}
	if rd.Flush && !a.flushing {
		a.flushing = true
		ctx.Send(ctx.Self(), &seqFlush{})
	}
	sm.Advance()
}
