// Package cpg is the CPG API of actorcpg: Corosync's cpg_* calls in Go
// (the handle API: Initialize, Join, McastJoined, Dispatch, ...) and the
// actor face, where an actor receives a handle's events as messages.
//
// # The handle API
//
// A Handle's callbacks run inside Dispatch, on the caller's goroutine. The
// calls that wait for the node have Context variants (JoinContext,
// LeaveContext, McastJoinedContext, FinalizeContext,
// MembershipGetContext, LocalGetContext, InitializeContext,
// ModelInitializeContext, InitializeActorContext) that return the
// context's error when it ends first.
//
// # The actor face
//
// InitializeActor(receiver, flags, opts...) creates a handle whose events
// go to the receiver actor as *api.Confchg, *api.Deliver and
// *api.TotemConfchg messages, with the order and meaning of the
// callbacks, plus *api.FlowControl{Enabled} when the handle's multicasts
// start or stop being refused with api.ErrTryAgain (in order with the
// events, so an actor never polls FlowControlStateGet). The receiver also
// gets *actor.Touch messages, which protoactor answers by itself: ignore
// them.
//
// The receiver must be a live actor of the system its events are sent
// from: the embedded node's system, or the one given with
// WithActorSystem (required for an attached handle, and for an embedded
// one whose receiver lives in another system). Anything else (an id never
// spawned, a stopped actor, another address) is refused with
// api.ErrInvalidParam. A node may itself run in the application's system:
// actors.Start(cfg, actors.WithActorSystem(sys)).
//
// The receiver is watched: when it stops, its handle is finalized and its
// group sees it leave with PROCDOWN, as when a process exits.
//
// The actor face is bounded like the handle API: events reach the
// receiver only as fast as it processes them (receiver.go explains how:
// credit comes back to the node only when the receiver has processed the
// events), the backlog waits in the node's bounded queue, its group is
// flow-controlled above QueueHighBytes, and a receiver that stalls is
// evicted with PROCDOWN.
//
// Nothing needs to block in Receive. Each call has a message form whose
// outcome arrives at the calling actor as a *Reply carrying the caller's
// correlation id: InitializeActorAsync, and on a Handle JoinAsync,
// LeaveAsync, McastJoinedAsync, FinalizeAsync and MembershipGetAsync. A
// handle's asynchronous calls run in the order made. McastJoined itself
// does not wait for messages up to MaxAtomicMsgsizeGet. On an embedded
// node an actor may also send *api.JoinRequest, *api.LeaveRequest and
// *api.FinalizeRequest to Handle.ActorPID() with ctx.Request (each
// answered with *api.Status, in the order sent) and *api.McastRequest
// one-way.
package cpg
