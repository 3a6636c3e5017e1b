// Package cluster is one node's protocol engine, built from pure state
// machines: failure detection, view agreement with a virtual-synchrony
// flush (ViewMachine), the node's replica of every group (GroupMachine,
// over groups.Group) and the sequencer of every group this node orders
// (SequencerMachine, over sequencer.Sequencer).
//
// No machine has goroutines, clocks or randomness. Each takes inputs with
// Step (and Tick, with the time given by the caller) and collects outputs
// in a Ready that the caller takes with Ready and acknowledges with
// Advance, like etcd-io/raft's RawNode. The actor shell (package actors)
// and the simulator (tests/sim) drive the same machines, today through
// Engine.
//
// # The machines
//
// ViewMachine (view_machine.go), one per node, owns the view: the
// installed ring and members, the highest ring seqs (used, seen,
// promised), heartbeats and what each peer is known to be in, failure
// detection, the attempt it coordinates (propose, the members' states,
// the cut, the install) and the proposal it accepted. It knows the
// node's groups by name only.
//
// GroupMachine (group_machine.go, group_view.go), one per (node, group),
// owns everything of one group on the node: the replica (member list,
// reassembly, local handles and their flow control), the log of the
// current view (held events, the early ones beyond a gap, stable point,
// acks of each node, delivery cursor and per-origin dedup), this node's
// pending submissions, and where the group's sequencer is (the view's
// placement, then each handoff in the log). It knows the view only as the
// view machine told it (Install).
//
// SequencerMachine (seq_machine.go), one per group on the node that
// orders the group, assigns the agreed order: it numbers the submissions
// of every node, sends them to the view (each node's own payloads left
// out) and to its group machine, announces the stable point as the nodes
// acknowledge, and hands the group over to a node that alone submits
// (Config.Handoff). The group machine starts it (SeqStart: the view
// places the group here and something is submitted, or a handoff in its
// log moves the group here) and stops it (SeqStop: a handoff moves the
// group away, Freeze, Install).
//
// No machine reads another's fields: everything one needs from another
// comes as a message (messages.go, seq_machine.go), a value the sender
// gives up, so that each machine lives in its own actor.
//
// # The messages
//
// Into a GroupMachine (GroupInput):
//   - from peers, through the host: PeerMsg (a Submit, Ordered or Nack of
//     the group's installed ring) and AckPart (the group's part of a
//     wire.Ack);
//   - from local handles: JoinReq, LeaveReq (Step answers with the code),
//     GoneReq, McastReq, CongestionReq, and FlushReq (send what the
//     inputs produced);
//   - from the view machine: Freeze and Install;
//   - from its sequencer machine: SeqOrdered (what it ordered).
//
// Into a SequencerMachine (SeqInput), from its group machine: SeqSubmit
// (this node's submissions, and other nodes' Submits), SeqAck (every
// node's acks) and SeqFlush; SeqStart and SeqStop are for the host, which
// starts and stops the machine.
//
// Into the ViewMachine: peer messages (Step: any message proves its
// sender alive; PeerHeartbeat, ViewPropose, ViewReject, ViewState and
// ViewInstall drive the protocol), and from the node's side (StepLocal):
// GroupOpened (the host started a group machine), Frozen and Installed
// (the groups' answers).
//
// # The view change, as messages
//
//  1. A member accepts a proposal: the view machine sends every group
//     Freeze{ring}. A frozen group takes nothing from its view's peers,
//     does not tick, flush or take submissions for ordering; local
//     leaves and multicasts still queue (for the new view), joins get
//     CodeTryAgain.
//  2. Each group answers Frozen{ring, its wire.GroupState}: what it
//     delivered, its member list, what it holds above the stable point
//     and what each node is known to hold.
//  3. With every group's answer, the view machine sends its ViewState to
//     the coordinator, which, with every member's, computes the cut of
//     each cohort and group (installFor, flushCut) and sends the install.
//  4. The view machine installs the view and sends every group
//     Install{ring, members, old members, cohort, the group's cut, its
//     new member list}: the group delivers the cut, drops the large
//     messages the change interrupted, emits its confchgs, and starts the
//     new view's log; it answers Installed (Idle: nothing left of it, the
//     host may drop its machine).
//  5. With every group's Installed, the view machine emits the totem
//     confchg and a heartbeat of the new view.
//
// # Groups that empty
//
// A group whose machine finds it drained at a Tick (no members anywhere,
// no local handles, nothing to send, everything ordered delivered and
// stable) says so (GroupReady.Drained) and the host drops its machine
// (Host.Drop) between view changes. The node that orders the group first
// stops its sequencer machine (SeqDrain, refused while the sequencer has
// anything its group machine has not seen, or some node does not hold).
// A message of the group that comes later starts a machine again, resumed
// where the dropped one ended (GroupConfig.Resume): its log goes on after
// the drained seq, and its sequencer, if this node orders the group, after
// the last it numbered, knowing each origin's next id (so a late copy of
// an old submission is not ordered twice). The view machine still counts a
// dropped group: a view change starts it again, resumed, so that the node
// reports what it saw of the group in the view, and the install drops it
// for good (Installed.Idle).
//
// # Host and Engine: the composition
//
// Host (host.go) is the node's side without its group machines: one
// ViewMachine and the node-level duties: it drops messages of nodes
// outside the node list, checks a group message (ring, sender,
// well-formed events) and names the group it is for (GroupRoute), keeps
// the messages of an accepted ring that come before its install and gives
// them again right after it (Replay), batches the groups' acks into one
// wire.Ack per node, and remembers the last event id of the groups whose
// machines were dropped (Open, Close). How its messages reach the group
// machines, and their answers reach it, is its caller's. An asynchronous
// caller (NewAsync's Engine, the actor shell) sees what New's Engine never
// does: the view machine waiting for its groups' Installed. Meanwhile the host holds other nodes'
// messages (TakeHeld gives them back after the totem confchg), ticks
// nothing and counts as Syncing, so that the install is still one step
// for the view.
//
// Engine composes the Host, a GroupMachine per group, its
// SequencerMachine when this node orders the group, and the route from a
// handle to its group, on one of two schedules. New's engine is
// synchronous: the machines' messages to each other go through a FIFO
// queue that every call drains before it returns, so each call is one
// step, as before the split (the cluster tests drive it; the host never
// holds anything there). NewAsync's engine (engine_async.go) is the actor
// shell's composition, run by its caller one message at a time: every
// machine has a mailbox, first in, first out, as an actor's (the node's
// side, each group's, and each running sequencer's). A call (Step, Tick,
// Join, ...) is the node's side taking one message; what it sends its
// groups, and they send it and their sequencers, waits in the mailboxes
// until the caller delivers it (Wakeups names the mailboxes that got
// messages, RunLocal delivers one). Meanwhile the caller steps peers'
// messages, ticks and client calls, and the engine does what the shell
// does while a local message is on its way: a group is held from its
// Freeze until the node resumes it after the totem confchg (no tick; a
// flush, which a group sends itself, waits); the host holds other nodes'
// messages while its groups install a view, and gives them (TakeHeld),
// after the messages of the new view that came before its install
// (Replay), once the totem confchg is out; an idle or drained group's
// machine is dropped only if nothing the node sent it since its answer is
// on its way; a stopped sequencer's output still on its way to its group
// is dropped; and Ready.SyncChanged is the host's Syncing, which lasts
// until the totem confchg. The simulator drives it, and picks from its
// seed when each local message is delivered. The actor shell (package
// actors) composes the same machines with actors: the node actor hosts
// the Host, one group actor per group hosts its GroupMachine, the group
// actor's child, a sequencer actor, hosts its SequencerMachine, and the
// mailboxes are theirs.
//
// # The order of output
//
// Nothing depends on map order. Within one call (or RunLocal) the
// Engine's Ready gathers, in the order they happen: the view machine's
// output each time it is stepped, then each group machine's output right
// after it is stepped. Groups are ticked, frozen and installed in api.CompareNames
// order; queued flushes go in the order the groups asked; a group's flow
// changes are listed by handle. Deliveries of a view change (each
// group's cut and confchgs, group by group in name order) come before
// Ready.TotemAt, those of the new view after. The groups' acks go last,
// in one wire.Ack per node of the view, in member order. With NewAsync
// each RunLocal's Ready is its one machine's output: a view change's
// deliveries come in the Readys of its groups' Installs, in the order the
// caller ran them, while Installing reports true, before the Ready with
// the totem confchg; and the groups' acks go out when the node's side
// takes them (in the order their messages came).
package cluster
