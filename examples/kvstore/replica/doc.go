// Package replica is the protocol of a kvstore replica on CPG, as a
// deterministic state machine: the shell (package server) feeds it its
// CPG handle's confchgs, totem confchgs and delivered messages, and its
// clients' proposals, and carries out its Ready (messages to multicast
// with CPG_TYPE_AGREED, answers to give). It has no goroutines, clocks or
// randomness, so the unit tests drive several replicas through a
// simulated CPG (harness_test.go) step by step.
//
// # What CPG gives, and what it does not
//
// Every member of the group delivers the group's messages and confchgs
// in one agreed order within a ring; a JOIN, LEAVE or PROCDOWN is an
// event of that order. At a view change (a node lost or found: NODEDOWN,
// NODEUP, then the totem confchg of the new ring) the sides of a
// partition carry on separately, and by Extended Virtual Synchrony a
// member cut off from the others may deliver messages of the old ring
// that they never deliver: a replica on a stale side can apply a write
// nobody else applies, also a SAFE one (the survivors' flush delivers
// what only they hold). So delivery alone never makes a write durable
// here; a majority's acknowledgement does. AGREED is enough for that,
// and SAFE would add a wait without closing the gap.
//
// # Terms and formation rounds
//
// The replicas apply operations in terms. A term is formed by a round
// among the members of one ring and member list (the round's tag names
// both, so no message of another round counts): every member multicasts
// an INFO with whether it holds a state (initialized), that state's
// position (term, index: the first index operations of that term) and
// the highest term it promised. When every member's INFO is delivered,
// every member computes the same outcome: if the initialized members are
// a majority of the configured replicas (distinct node ids), the new
// term is above every promise, and the donor is the initialized member
// with the highest position; the initialized members multicast FORMED
// and promise the term; when every one of those is delivered, the term
// is formed. (With no state anywhere the store starts empty, but only
// when all configured replicas are present.) The members whose position
// equals the donor's hold the term's state (synced); the others will
// receive it. A round starts at every totem confchg (the own JOIN's
// included), and again at any membership change while one runs; between
// a view change's NODEDOWN or NODEUP confchg and its totem confchg the
// replica applies nothing.
//
// Within a formed term a JOIN, LEAVE or PROCDOWN does not start a round:
// every member delivers the same order, so the term goes on; joiners
// receive the state, a departed donor is replaced, and if no synced
// member is left a round starts.
//
// Because every promiser must send FORMED before anyone forms the term,
// and promisers are a majority, two formed terms never share a number,
// and a round's majority of states always includes one from the latest
// formed term: the donor's state holds every operation any earlier term
// committed.
//
// # Commit
//
// A synced replica applies each operation of its term where it is
// delivered (index + 1) and multicasts an ACK of its index. An operation
// is committed when a majority of the configured replicas (distinct
// nodes, synced) have acknowledged its index; only then is its proposer
// answered (a consistent read with the value at its place). A proposal
// also counts as committed when a later term forms from a state that
// holds it (the lineage of the donor's state says so). A proposal never
// answered has an unknown outcome: it may still be applied, in this term
// or, delivered again in a later ring, in another.
//
// # State transfer
//
// One transfer runs at a time in a term, from the synced member with the
// lowest address (the donor) to every member not synced when it starts.
// The donor multicasts START; where START is delivered is the cut point:
// the donor freezes its state there and multicasts it in parts
// (ChunkBytes each, Window in flight: it sends the next part when one of
// its own is delivered back), each receiver buffers the operations
// delivered after START, and when the last part (with the snapshot's
// position, entry count and hash, which the receiver checks) is delivered
// the receiver installs the snapshot, applies the buffered operations,
// and is synced, as every member now knows. The group takes writes all
// along: only the receiver waits. CPG has only multicast, so the parts
// are multicast messages that the other members ignore; a point-to-point
// channel would spare them that traffic but lose the cut point, which
// the agreed order gives for free. If the donor leaves, every member
// sees it at the same place in the order and the next synced member
// sends a new START: the receiver drops its partial snapshot and the
// buffer before the new cut. A joiner that arrives while a transfer runs
// gets the next one.
//
// # Partitions: primary component
//
// A side of a partition takes proposals only while its synced members
// are a majority of the configured replicas (Config.Replicas): a
// minority side refuses writes and consistent reads (ErrNoPrimary; the
// HTTP layer answers 503), cannot form a term, and cannot commit. When
// the sides merge, the round of the new ring makes the majority's state
// (the highest position) everyone's: the minority's replicas receive it
// by state transfer. The alternative of CPG itself (each side carries on,
// no reconciliation) would need conflict resolution and could not give
// linearizable reads.
//
// A replica's identity is its node id (one replica per node). There is
// no persistence: a restarted replica is fresh and counts only once it
// has received the state. If a majority of the replicas lose their state
// at once, the others cannot know whether they hold every committed
// write, and no round forms: the store refuses writes rather than guess.
package replica
