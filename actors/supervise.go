package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Supervision: a panic never leaves a state machine half-stepped and
// running.
//
//   - The node actor holds the node's protocol engine. After a panic in the
//     middle of a Step the engine may hold half of a change (a view half
//     installed, a log half applied), and going on could deliver against
//     the agreed order. The node stops instead: its peers see it leave the
//     view (NODEDOWN), its clients' sessions close (CS_ERR_LIBRARY, as
//     libcpg's when corosync dies), Done is closed and Err says why.
//     cpgnode then exits non-zero, so that its supervisor (systemd, the
//     cluster script) starts a fresh node, which rejoins with a new ring,
//     as Corosync does after an assertion.
//   - A group actor holds its group's machine, a sequencer actor its
//     group's order: a panic in either stops the node too, for the same
//     reason (the actor's Receive records the failure and stops the node;
//     the actor itself stops).
//   - A handle actor's state is its own client's: after a panic it stops,
//     and the node finalizes it (PROCDOWN to its group), as if its client
//     had exited. The rest of the node is untouched.

// ErrNodePanicked is what Err returns after the node stopped on a panic
// in its node actor or one of its group actors.
var ErrNodePanicked = errors.New("actors: a state machine's actor panicked; the node stopped")

// stopOnPanic is the node actor's supervisor: it stops the node.
func (n *Node) stopOnPanic() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(0, time.Second, func(reason any) actor.Directive {
		n.failed("node", reason)
		return actor.StopDirective
	})
}

// failed stops the node after a panic in the node actor or a group actor
// (who): Err says why.
func (n *Node) failed(who string, reason any) {
	err := fmt.Errorf("%w: %s actor: %v", ErrNodePanicked, who, reason)
	if !n.failure.CompareAndSwap(nil, &err) {
		return
	}
	n.log.Error().Str("actor", who).Interface("panic", reason).
		Msg("panic in a state machine's actor: stopping the node (its state may be half-changed)")
	go n.Stop() // not here: Stop waits for the node actor, whose failure this may be
}

// stopOnMachinePanic, deferred in the Receive of an actor that steps a
// state machine (who: "group", "sequencer"), stops the node after a panic
// there (the machine may be half-stepped) and lets the panic go on to the
// actor's supervisor, which stops the actor.
func (n *Node) stopOnMachinePanic(who string) {
	if r := recover(); r != nil {
		n.failed(who, r)
		panic(r)
	}
}

// stopHandle is the supervisor of the handle actors: a handle actor that
// panics stops, and the node actor, which watches it, finalizes it.
var stopHandle = actor.NewOneForOneStrategy(0, time.Second, func(reason any) actor.Directive {
	return actor.StopDirective
})

// Done is closed once the node has stopped: by Stop, or on its own after
// a panic in the node actor (Err says which).
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns why the node stopped on its own (ErrNodePanicked, wrapped
// with the panic), or nil.
func (n *Node) Err() error {
	if e := n.failure.Load(); e != nil {
		return *e
	}
	return nil
}
