// Package sim is a deterministic simulator of an actorcpg cluster, in the
// manner of TigerBeetle's VOPR: 3 to 7 nodes, each the real cluster.Engine
// (the same Host and GroupMachines that the node actor and the group
// actors host, exchanging the same messages), with simulated client
// processes, network and clock, all in one goroutine and all decided by
// one seed. Every run is checked by the property checker (tests/checker)
// and by the simulator's own end-of-run checks.
//
// # What a seed decides
//
// From the seed come the parameters (Params: nodes, client slots per node,
// groups, length of the active part, which Features are on and how hard)
// and four random sources (schedule, network, clients, local messages), so
// that turning one feature off disturbs the others less. Nothing else
// varies: no time.Now, no global rand, no map order. The simulator takes
// the engines' output in the order they give it (the engine's own order,
// documented in package cluster): it sorts nothing.
//
//   - Nodes start within 50 ms of each other and tick every 5 ms.
//   - Clients (one per slot and node) join one of the groups, multicast
//     checker.EncodeMsg(proc, seq, size) messages of 36 B up to several
//     times Config.Fragment (512 B: large ones travel in parts), AGREED,
//     sometimes SAFE, FIFO or UNORDERED; they leave and join again, and
//     finalize (Engine.Gone: the process ends Finalized, a PROCDOWN while
//     its node goes on, and the slot starts a new incarnation, with a new
//     pid unless Reuse); they report a congested queue now and then
//     (Congestion).
//   - The network marshals every message at send and unmarshals it at
//     arrival, after a random delay; links are FIFO unless Reorder. Loss
//     and Dup hit data messages (Submit, Ordered, Ack, Nack), All extends
//     them to every message, Spikes delays some messages up to 90 ms.
//   - Crash drops a node's engine (its clients end Killed); it restarts
//     with RingSeq = the last Ready.PersistSeq + 1 and a larger Incarnation.
//     Partition cuts the network into two or three sides, or one link one
//     way, or makes one node deaf, then heals. Slow stalls a node: no
//     ticks, its inputs wait, then it wakes to a tick (its clock has
//     jumped) and its backlog; half the runs with Slow also stall one node
//     for 2 to 10 tokens (a GC pause, SIGSTOP), long enough for the others
//     to form a view without it (drawn from a source of its own).
//   - Interleave (7 runs in 8): each node is cluster.NewAsync's engine,
//     the composition of the actor shell. The messages between a node's
//     own machines (the host's routes, Freeze, Install, ticks and resume
//     to its groups; their Frozen, Installed and acks back; a group's
//     flush to itself; the clients' multicasts, congestion and
//     finalization to their group) wait in per-machine mailboxes, first
//     in, first out, as an actor's. Each mailbox that gets a message is
//     run (Engine.RunLocal, one message) after a delay drawn from the
//     seed: none one time in four, else up to the run's LocalMax (0.2, 1
//     or 2 ms), and one time in 64 a stall of up to 30 ms (the actor not
//     scheduled: the messages behind it wait too); a mailbox with more
//     messages is run again after another such delay. Peers' messages, ticks and client calls come in between,
//     so the checks see the states the shell goes through while a local
//     message is on its way: a group frozen late or answering late, the
//     host holding other nodes' messages while its groups install a view,
//     groups held until the totem confchg, a group dropped when its
//     Installed says idle and nothing is on its way to it. A stalled node
//     runs none until it resumes.
//     Join and Leave, which a client waits for, run their group's mailbox
//     first, then answer. Without Interleave the node is cluster.New's
//     engine, which delivers them within each call.
//
// Clients use the engine the way the handle API does: Join and Leave
// answered CodeTryAgain are retried; a multicast is refused (TRY_AGAIN,
// retried) while the node syncs, the group is flow-controlled or the send
// window is full, as the client last heard from its node (notes from the
// node reach it after a short delay, in order). A small message is
// recorded sent ok when handed over; a large one blocks its sender until
// its own delivery (sent ok) or Ready.Interrupted (not ok). A SAFE message
// is recorded with checker.SafeSentRecord.
//
// After the active part every fault stops, the network heals, crashed
// nodes restart and clients only finish what they started (retries,
// pending joins and leaves, large messages). The run ends once it has
// settled: one view of all nodes, no view change running, no client
// waiting, no data message for 300 ms (nothing left to retransmit, every
// stable point at its highest seq). A run that has not settled 6 s later
// fails.
//
// # Checks
//
// checker.Check with Quiet, and FaultFree (no-loss) in every run without
// Crash, Partition, Slow or All (Params.FaultFree): loss and duplication
// of data messages, reordering and delay spikes are what the protocol
// masks, so no message may go missing there; lost view traffic (All) may
// make a node leave the view for a while, as a partition does. Plus: every
// TRY_AGAIN was resolved and every join, leave and large message
// completed; every engine's member list of every group equals the live
// joined clients (no ghosts in the engines); no member delivered a large
// message whose sender got ErrInterrupt; a fault-free run never leaves its
// first full view (Params.KeepsView); a SAFE message delivered in a ring
// (not in a view change's flush) was held by every node of that ring at
// that moment, as the simulator sees from the Ordered frames each node
// received or sent (safe.go); with Options.CheckSent, no message changed
// after its engine
// handed it out. Boundedness is checked from outside only (the settled
// state implies no gap, nothing unordered, nothing unstable).
//
// # Running and replaying
//
//	go test ./tests/sim                          # 500 seeds, one summary line
//	go test ./tests/sim -run TestSim -sim.seeds=20000  # a soak
//	go test ./tests/sim -run TestSim -sim.seed=193 -sim.trace
//
// A failing seed prints its report and the command that replays it
// exactly, with -sim.trace for one line per input and output (time in ms,
// node or client, what happened; -sim.traceall adds idle ticks and
// heartbeats). TestSim also minimizes the first failing seed: it turns
// features off and lowers clients, groups, active time and nodes while
// the seed still fails, and prints the smaller replay command
// (-sim.nodes, -sim.clients, -sim.groups, -sim.active, -sim.disable,
// -sim.enable). TestRegression holds the seeds of the bugs found so far:
// a fixed one must run clean (no violation, no problem), an open one is an
// expected failure that fails once its seed no longer shows the bug
// (-sim.regress: a plain assertion that fails while it does). Most of them
// were found by an earlier simulator (before Interleave, while it sorted
// parts of the engines' output) and no longer necessarily reach their
// scenario (see regression).
//
// # Scripted runs
//
// NewScript(seed, nodes, o) is the same World driven by a test instead of
// the seed's clients and faults (script.go; cpgtest.NewSim wraps it): the
// test starts processes (NewProc) and calls their Join, Leave, Mcast and
// Finalize, which advance simulated time while they wait as the blocking
// API would; it makes faults (Partition, DropLink, Heal, Crash, Restart,
// Stall) and advances time (Run, RunUntil); Finish heals, restarts,
// settles and checks as Run's end does. The seed still decides the
// nodes' start times, the network's delays (and, with Options.Enable of
// ScriptNetwork, its loss, duplication, reordering and spikes) and the
// interleaving of local messages; a scripted process's pid is new on its
// node (1000 + its handle number).
//
// # Injected bugs
//
// TestInjectedBugIsCaught shows that the checks catch a bug of every
// class: for each Bug it runs a fixed seed budget with the bug injected
// (-sim.bug=NAME replays one seed) and the same seeds without it, and
// fails unless some seed shows more violations of the property the bug
// breaks than without it. It prints "sim-bugs: injected=N caught=M".
// Engine bugs are cluster.Config.Bug on every node; shell bugs change
// what one client gets where the simulator hands the engine's output to
// its clients, at one event chosen from the seed alone (the at-th event
// the bug can hit, over all clients, at drawn from a source of its own
// so that the run's other draws do not move):
//
//	name          where   what                                          caught by
//	skipflush     engine  no flush at a view change                     virtual-synchrony
//	nooriginheld  engine  delivery does not wait for the origin         agreed-order
//	nodedup       engine  the flush delivers again what was delivered   integrity
//	ghost         engine  a cohort's member list is taken whole: the    ghost
//	                      processes of a node that left stay members
//	safeearly     engine  SAFE delivered as AGREED, before stable       safe
//	drop          shell   one delivery of another's message is lost     no-loss, virtual-synchrony, liveness
//	dup           shell   one delivery is handed over twice             integrity
//	swap          shell   two adjacent deliveries of one sender swap    fifo, agreed-order
//	corrupt       shell   the last payload byte of one delivery flips   integrity
//	wrongpid      shell   one delivery reports sender pid + 1000        integrity
//	skipconfchg   shell   a confchg about other processes is lost       confchg
//
// The budgets are the first 40 seeds (the seed's own features exercise
// these bugs in most runs, and TestSim's runs serve as the runs without
// the bug), except nooriginheld (60 seeds with Slow: it needs a sequencer
// cut off while its origins do not hold what it ordered) and safeearly
// (40 seeds with Safe). The shell bugs leave a client's own messages
// alone (its send window and large messages wait for them). safeearly is
// caught by the simulator's SAFE oracle (safe.go), which sees any SAFE
// message delivered before every node of its ring holds it; the checker's
// safe property sees it only when a node that delivered a SAFE message
// early is cut off (crashes) before any other node holds it, since the
// flush delivers a SAFE message to the survivors of a cut that alone hold
// it (as Totem's transitional configuration does).
package sim
