package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/sequencer"
)

// sequencerActor drives a group's sequencer.Sequencer: submissions in,
// ordered batches out to every replica of the group. Output is batched:
// everything ordered before a self-sent Flush goes in one Ordered message.
type sequencerActor struct {
	node        *Node
	name        []byte
	s           *sequencer.Sequencer
	subscribers []*actor.PID

	pending  []*wire.GroupEvent
	flushing bool
}

func newSequencerActor(n *Node, name []byte, subscribers []*actor.PID) *sequencerActor {
	return &sequencerActor{node: n, name: name, s: sequencer.New(), subscribers: subscribers}
}

// Receive implements actor.Actor.
func (a *sequencerActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	switch m := ctx.Message().(type) {
	case *wire.Submit:
		a.s.Submit(m.Events)
	case *wire.Flush:
		a.flushing = false
		if len(a.pending) > 0 {
			out := &wire.Ordered{Group: a.name, Events: a.pending}
			a.pending = nil
			for _, pid := range a.subscribers {
				ctx.Send(pid, out)
			}
		}
		return
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return
	default:
		a.node.log.Warn().Str("type", typeName(m)).Msg("sequencer: unexpected message dropped")
		return
	}
	if a.s.HasReady() {
		a.pending = append(a.pending, a.s.Ready().Ordered...)
		a.s.Advance()
		if !a.flushing {
			a.flushing = true
			ctx.Send(ctx.Self(), &wire.Flush{})
		}
	}
}
