package replica

import (
	"errors"
	"slices"
)

// Config configures a Replica.
type Config struct {
	// Self is this replica's member address (the handle's node id and pid).
	Self Member
	// Replicas is the configured number of replicas, N: one per node. A
	// side of a partition is primary while its synced replicas are a
	// majority of N (distinct node ids).
	Replicas int
	// Incarnation names this process in its operations' ids; it must
	// differ between processes (a restarted process picks a new one).
	Incarnation uint64
	// ChunkBytes bounds the entries of one state transfer part (default
	// 64 KiB); Window is how many parts a donor has in flight (default 4).
	ChunkBytes int
	Window     int
	// Bug injects a bug, for the tests that show the checker catches it.
	Bug Bug
}

// Bug names a bug a test injects.
type Bug int

// The injectable bugs.
const (
	NoBug Bug = iota
	// BugMinorityPrimary makes a quorum one replica: each side of a
	// partition forms a term and commits writes (split brain).
	BugMinorityPrimary
	// BugSkipBuffer makes a receiver drop the operations delivered while
	// it received its snapshot, instead of applying them after it.
	BugSkipBuffer
	// BugAnswerOnApply answers a proposal once applied locally, without
	// waiting for a majority's acknowledgements (delivery taken for
	// durability).
	BugAnswerOnApply
)

// Change is a group membership change (a CPG confchg).
type Change struct {
	Members []Member // the members after the change
	Left    []Member
	Joined  []Member
	// ViewChange is set for the confchgs of a view change (reasons
	// NODEDOWN and NODEUP): there the order of the sides may have forked.
	ViewChange bool
}

// Ready is what the shell must do after a step, in order: multicast
// Messages (AGREED, in this order) and answer the proposals in Answers.
type Ready struct {
	Messages [][]byte
	Answers  []Answer
}

// Answer is the committed result of this process's proposal Seq.
type Answer struct {
	Seq    uint64
	Result Result
}

// Errors of Propose: refused, nothing was sent, the operation did not
// happen.
var (
	ErrNoPrimary = errors.New("replica: not in the primary component")
	ErrSyncing   = errors.New("replica: receiving the state")
	ErrLeft      = errors.New("replica: left the group")
)

type phase int

const (
	phaseJoining phase = iota // before the own JOIN confchg and the ring id
	phasePaused               // between a view change's confchgs and its totem confchg
	phaseForming              // a formation round runs
	phaseFormed               // a term is formed: operations are applied
	phaseLeft                 // this member left the group
)

var phaseNames = [...]string{"joining", "paused", "forming", "formed", "left"}

// Replica is one kvstore replica's protocol: a deterministic state
// machine driven by its CPG handle's events (Confchg, Totem, Deliver) and
// its clients' proposals (Propose), whose output (Ready) the shell
// carries out. No goroutines, clocks or randomness; not safe for
// concurrent use.
type Replica struct {
	cfg Config

	joined    bool
	ring      Ring
	ringKnown bool
	members   []Member // sorted
	phase     phase

	// The replica's state and its position: the first stateIndex
	// operations of term stateTerm applied to that term's base state.
	store       *Store
	initialized bool
	stateTerm   uint64
	stateIndex  uint64
	promised    uint64 // the highest term this replica promised
	// lineage is where the state's term and its ancestors started: the
	// position of the state each was formed from, oldest first (at most
	// maxLineage). A proposal applied at or below one of these positions
	// is in the state.
	lineage []Pos

	round *round // the formation round, while forming

	// The formed term and what every member knows of it.
	groupTerm uint64
	synced    map[Member]bool // members holding the term's state
	acks      map[Member]uint64
	commit    uint64
	xfer      *transfer  // the transfer under way, as every member sees it
	recv      *receiving // this replica's side of it, as a receiver
	donor     *donating  // this replica's side of it, as the donor
	xferSeq   uint64     // this replica's transfers as a donor
	xferDone  uint64     // transfers seen completed
	replayed  uint64     // operations applied after a received snapshot

	nextSeq uint64
	pending map[uint64]*pending
	lastAck uint64
	dropped uint64 // undecodable messages

	out     [][]byte
	answers []Answer
}

// New returns a replica that has not joined yet.
func New(cfg Config) *Replica {
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = 64 << 10
	}
	if cfg.Window <= 0 {
		cfg.Window = 4
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	return &Replica{cfg: cfg, store: NewStore(), pending: make(map[uint64]*pending)}
}

// quorum is a majority of the configured replicas.
func (r *Replica) quorum() int {
	if r.cfg.Bug == BugMinorityPrimary {
		return 1
	}
	return r.cfg.Replicas/2 + 1
}

// Confchg steps a group membership change.
func (r *Replica) Confchg(c Change) {
	if r.phase == phaseLeft {
		return
	}
	r.members = sortMembers(c.Members)
	self := r.cfg.Self
	if contains(c.Left, self) {
		r.phase = phaseLeft
		r.resetTerm()
		return
	}
	if !r.joined {
		if !contains(c.Joined, self) {
			return
		}
		r.joined = true
		if r.ringKnown {
			r.startRound()
		}
		return
	}
	if c.ViewChange {
		r.resetTerm()
		r.phase = phasePaused
		return
	}
	switch r.phase {
	case phaseForming:
		r.startRound() // a new member list: a new round
	case phaseFormed:
		r.membershipChanged(c)
	}
}

// Totem steps a totem confchg: a new ring (or, right after the own JOIN,
// the current one). A formation round starts for the ring.
func (r *Replica) Totem(ring Ring) {
	r.ring, r.ringKnown = ring, true
	if r.joined && r.phase != phaseLeft {
		r.startRound()
	}
}

// Deliver steps a message multicast to the group by from.
func (r *Replica) Deliver(from Member, data []byte) {
	m, err := decode(data)
	if err != nil {
		r.dropped++
		return
	}
	if !r.joined || r.phase == phaseLeft {
		return
	}
	switch m := m.(type) {
	case *msgOp:
		r.onOp(m)
	case *msgAck:
		r.onAck(from, m)
	case *msgInfo:
		r.onInfo(from, m)
	case *msgFormed:
		r.onFormed(from, m)
	case *msgStart:
		r.onStart(from, m)
	case *msgChunk:
		r.onChunk(from, m)
	}
}

// Propose multicasts op and returns its sequence number, which an Answer
// will carry once op is committed. It refuses (nothing sent) unless this
// replica is synced in a primary component. An operation that is never
// answered may or may not have happened.
func (r *Replica) Propose(op Op) (uint64, error) {
	switch {
	case r.phase == phaseLeft:
		return 0, ErrLeft
	case r.phase == phaseFormed && !r.isSynced():
		return 0, ErrSyncing
	case !r.isPrimary():
		return 0, ErrNoPrimary
	}
	r.nextSeq++
	r.pending[r.nextSeq] = &pending{op: op}
	r.send(&msgOp{Inc: r.cfg.Incarnation, Seq: r.nextSeq, Op: op})
	return r.nextSeq, nil
}

// Forget drops proposal seq: its caller gave up waiting.
func (r *Replica) Forget(seq uint64) { delete(r.pending, seq) }

// Ready returns what to do now and clears it. A synced replica that has
// applied operations since its last acknowledgement acknowledges them.
func (r *Replica) Ready() Ready {
	if r.phase == phaseFormed && r.isSynced() && r.stateIndex > r.lastAck {
		r.send(&msgAck{Term: r.groupTerm, Index: r.stateIndex})
		r.lastAck = r.stateIndex
	}
	rd := Ready{Messages: r.out, Answers: r.answers}
	r.out, r.answers = nil, nil
	return rd
}

// HasReady reports whether Ready has something to do.
func (r *Replica) HasReady() bool {
	return len(r.out) > 0 || len(r.answers) > 0 ||
		(r.phase == phaseFormed && r.isSynced() && r.stateIndex > r.lastAck)
}

// HasLeft reports whether this replica left the group (evicted): it
// takes nothing more; its process should end.
func (r *Replica) HasLeft() bool { return r.phase == phaseLeft }

// Get reads key from the local replica: no ordering, possibly stale.
func (r *Replica) Get(key string) (string, bool) { return r.store.Get(key) }

// Hash returns the hash of the local replica's content (Store.Hash).
func (r *Replica) Hash() []byte { return r.store.Hash() }

type encodable interface{ encode() []byte }

func (r *Replica) send(m encodable) { r.out = append(r.out, m.encode()) }

// isSynced reports whether this replica holds the formed term's state.
func (r *Replica) isSynced() bool { return r.phase == phaseFormed && r.synced[r.cfg.Self] }

// isPrimary reports whether this replica may take proposals: synced, in
// a term whose synced current members are a majority.
func (r *Replica) isPrimary() bool {
	return r.isSynced() && distinctNodes(r.syncedMembers()) >= r.quorum()
}

// syncedMembers returns the current members holding the term's state,
// sorted.
func (r *Replica) syncedMembers() []Member {
	var out []Member
	for _, m := range r.members {
		if r.synced[m] {
			out = append(out, m)
		}
	}
	return out
}

// unsyncedMembers returns the current members that do not.
func (r *Replica) unsyncedMembers() []Member {
	var out []Member
	for _, m := range r.members {
		if !r.synced[m] {
			out = append(out, m)
		}
	}
	return out
}

// resetTerm forgets the formed term and any round or transfer.
func (r *Replica) resetTerm() {
	r.round = nil
	r.groupTerm = 0
	r.synced = nil
	r.acks = nil
	r.commit = 0
	r.xfer, r.recv, r.donor = nil, nil, nil
}

// membershipChanged handles a JOIN, LEAVE or PROCDOWN in a formed term:
// the term goes on (every member delivers the same order), departed
// members stop counting, a departed donor is replaced, joiners get the
// state.
func (r *Replica) membershipChanged(c Change) {
	for _, m := range c.Left {
		delete(r.synced, m)
		delete(r.acks, m)
	}
	if x := r.xfer; x != nil {
		switch {
		case !contains(r.members, x.donor):
			r.abortTransfer()
		case x.started:
			x.receivers = intersect(x.receivers, r.members)
			if len(x.receivers) == 0 {
				r.abortTransfer()
			}
		}
	}
	r.maybeStartTransfer()
}

// Status describes the replica.
func (r *Replica) Status() Status {
	s := Status{
		Self: r.cfg.Self, Phase: phaseNames[r.phase], Ring: r.ring,
		Members: slices.Clone(r.members), Synced: r.syncedMembers(), Primary: r.isPrimary(),
		Term: r.groupTerm, StateTerm: r.stateTerm, StateIndex: r.stateIndex, Commit: r.commit,
		Promised: r.promised, Initialized: r.initialized, Keys: r.store.Len(),
		Pending: len(r.pending), TransfersDone: r.xferDone, Dropped: r.dropped,
		Donating: r.donor != nil, AppliedAfterSnapshot: r.replayed,
	}
	if r.recv != nil {
		s.Receiving, s.TransferStarted, s.ReceivedParts, s.BufferedOps = true, true, r.recv.next, len(r.recv.buffer)
	}
	if r.phase == phaseFormed && !r.isSynced() {
		s.Receiving = true
	}
	return s
}

// Status is a replica's state, for /status and tests.
type Status struct {
	Self    Member
	Phase   string
	Ring    Ring
	Members []Member
	Synced  []Member
	// Primary: proposals are taken (synced, with a majority synced).
	Primary bool
	// Term is the formed term; StateTerm and StateIndex the position of
	// the local state; Commit the term's committed index.
	Term, StateTerm, StateIndex, Commit uint64
	Promised                            uint64
	Initialized                         bool
	// Receiving: waiting for or receiving the state; once its transfer's
	// START is delivered (TransferStarted), ReceivedParts parts so far and
	// BufferedOps operations delivered since.
	Receiving       bool
	TransferStarted bool
	ReceivedParts   uint64
	BufferedOps     int
	Donating        bool
	TransfersDone   uint64
	// AppliedAfterSnapshot counts the operations this replica buffered
	// while receiving a state and applied after it.
	AppliedAfterSnapshot uint64
	Keys                 int
	Pending              int
	Dropped              uint64
}
