// Package cpgtest is a test kit for code that uses actorcpg, in the manner
// of Akka's TestKit: a cluster of real nodes inside one test process,
// faults on demand, probes that expect events, the property checker over
// everything the probes saw, and a seeded deterministic mode whose
// failures replay.
//
// # A cluster in a test
//
// NewCluster(t, n) starts nodes 1..n with actors.Start on one
// remote.MemNetwork: the production node actor, group, sequencer and
// handle actors, without a socket or a port, clean under the race
// detector. Every node has a state directory of its own (t.TempDir), so
// a restarted node's ring seq grows. The timings are short
// (DefaultToken, DefaultHeartbeat; WithTimings changes them), and
// everything stops when the test ends. Node(id) is the *actors.Node, for
// cpg.WithNode and anything else a test needs of it.
//
// # Faults
//
// Each fault but DropLink and DelayLink returns once the views it calls
// for are installed on every running node that should have them (each
// side of the partition sees exactly its running nodes, or everyone sees
// everyone), and fails the test after the cluster's timeout (WithTimeout,
// DefaultTimeout) listing every node's view:
//
//   - Partition(sides...): every direction between two sides is cut;
//     the nodes no side names form one more side (Partition([]uint32{1})
//     isolates node 1), and a partition replaces the last.
//   - Heal(): ends the partition, and every dropped or delayed direction.
//   - Kill(id): cuts the node's links at once, then stops it (a crash:
//     nothing of its shutdown reaches the others); its probes end killed.
//   - Restart(id): a fresh node with the same id and state directory, on
//     its side of the partition if there is one.
//   - Stall(id, d): for d the node neither sends nor receives (its links
//     hold their traffic, in order) and its node, group and sequencer
//     actors process nothing (their mailboxes are suspended), as in a long
//     GC pause or SIGSTOP; then it wakes to its backlog and a clock that
//     jumped. Its clients, the probes included, keep running.
//   - DropLink(from, to, on) and DelayLink(from, to, d): one direction
//     loses, or is late by d; they return at once, since what the
//     protocol makes of them is for the test to observe (WaitView).
//
// # Probes
//
// NewProbe(t, id, opts) is a CPG process: a handle of the actor face
// (cpg.InitializeActor with api.ModelV1DeliverInitialTotemConf) whose
// receiver, an actor in the node's actor system, records every Deliver,
// Confchg, TotemConfchg and FlowControl it gets. Join, Leave, Mcast and
// Finalize retry api.ErrTryAgain and fail the test on any other error.
// A probe's messages carry a small header (sender, seq, CRC) before the
// test's bytes, for the checker; its deliveries show the test's bytes
// alone.
//
// The expectations (ExpectConfchg, ExpectDeliver, ExpectTotem,
// ExpectFlowControl) each take the next event of their kind, waiting for
// it (on the probe's events, never by sleeping) up to the timeout, and
// fail with what the probe received: every event, marked [x] when an
// expectation took it. The four kinds are four queues, so that an
// expectation of confchgs skips deliveries and totem confchgs. Matchers
// (Members, Joined, Left) compare confchg lists as sets. ExpectNoMessage
// fails as soon as an untaken delivery, confchg or totem confchg comes
// (flow control notices, which every view change brings, do not count).
//
// # Checking
//
// Check(t, c) runs the property checker of tests/checker over what every
// probe saw (agreed order, integrity, FIFO, virtual synchrony, confchg
// agreement, gaps, NODEDOWN, membership, ring ids) and fails the test
// with its report. CheckWith adds liveness, ghosts and SAFE delivery for a
// run the test let end healed and quiet, and no-loss for a run without a
// fault. A message that did not come from a probe is checked for
// membership and NODEDOWN only.
//
// # Deterministic mode
//
// NewSim(t, seed, n) runs n nodes (1 to 7) on the simulator of tests/sim:
// the nodes' protocol machines as cluster.NewAsync composes them (a
// node's own actor messages in mailboxes, delivered in an order the seed
// draws), a simulated network and clock, all in the test's goroutine.
// Its processes (NewProc) have the calls and expectations of a probe;
// its faults (Partition, Heal, Crash, Restart, Stall, DropLink) wait for
// views the same way; time moves only while the kit waits (Run, a fault,
// an expectation, a retried call). When the test ends (or at Check) the
// run heals, settles and is checked with the property checker, liveness
// and ghosts included, and the simulator's own checks; a failure names
// the seed, and the same seed and script replay the run exactly
// (CPGTEST_SIM_TRACE=1 prints every input and output). It drives the
// protocol engines, not the actors: no actor system, no handle API, no
// flow control notices, no MemNetwork; a simulated process is told its
// node's view when it starts, not after its first confchg.
//
// # Logs
//
// CPGTEST_LOG=debug (or info, warn, ...) sends the nodes' logs to stderr;
// WithLogger gives them a logger.
package cpgtest
