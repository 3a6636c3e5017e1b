package replica

import (
	"bytes"
	"fmt"
	"slices"
)

// transfer is a state transfer as every member of the term sees it: one
// at a time, from the synced member with the lowest address (the donor)
// to the members not synced when it starts. Its START message is the cut
// point: the snapshot is the donor's state where START is delivered, and
// each receiver applies, after it, the operations delivered after START.
type transfer struct {
	donor     Member
	started   bool // START delivered
	id        uint64
	receivers []Member
}

// receiving is a receiver's side: the parts so far and the operations
// delivered since START.
type receiving struct {
	next    uint64
	entries []Entry
	buffer  []*msgOp
}

// donating is the donor's side: the snapshot frozen at START, in parts.
type donating struct {
	id      uint64
	entries []Entry
	bounds  []int // part k is entries[bounds[k]:bounds[k+1]]
	cut     uint64
	hash    []byte
	lineage []Pos
	sent    uint64
}

// maybeStartTransfer starts a transfer when none runs and some member is
// not synced. With no synced member left, only a new round can find the
// state: one starts.
func (r *Replica) maybeStartTransfer() {
	if r.phase != phaseFormed || r.xfer != nil {
		return
	}
	receivers := r.unsyncedMembers()
	if len(receivers) == 0 {
		return
	}
	synced := r.syncedMembers()
	if len(synced) == 0 {
		r.startRound()
		return
	}
	r.xfer = &transfer{donor: synced[0]}
	if synced[0] == r.cfg.Self {
		r.xferSeq++
		r.send(&msgStart{Term: r.groupTerm, ID: r.xferSeq, Ring: r.ring, Receivers: receivers, Synced: synced})
	}
}

// abortTransfer ends the transfer under way without completing it (its
// donor or all its receivers left).
func (r *Replica) abortTransfer() {
	r.xfer, r.recv, r.donor = nil, nil, nil
}

func (r *Replica) onStart(from Member, m *msgStart) {
	self := r.cfg.Self
	if m.Ring != r.ring || !contains(r.members, from) {
		return // sent in another ring, or by a member gone since
	}
	if r.phase == phaseForming && contains(m.Receivers, self) {
		// A joiner of a formed term: its own round had no one else; the
		// donor's START brings it into the term.
		r.round = nil
		r.phase = phaseFormed
		r.groupTerm = m.Term
		r.synced = make(map[Member]bool)
		for _, s := range intersect(m.Synced, r.members) {
			r.synced[s] = true
		}
		r.acks = make(map[Member]uint64)
		r.commit = 0
		r.xfer = &transfer{donor: from}
	}
	x := r.xfer
	if r.phase != phaseFormed || m.Term != r.groupTerm || x == nil || x.started || x.donor != from {
		return
	}
	x.started, x.id = true, m.ID
	x.receivers = intersect(sortMembers(m.Receivers), r.members)
	if len(x.receivers) == 0 {
		r.abortTransfer()
		r.maybeStartTransfer()
		return
	}
	if from == self {
		r.beginDonating(m.ID)
	}
	if contains(x.receivers, self) {
		r.recv = &receiving{}
	}
}

// beginDonating freezes the snapshot and sends the first parts.
func (r *Replica) beginDonating(id uint64) {
	es := r.store.Entries()
	d := &donating{id: id, entries: es, cut: r.stateIndex, hash: hashEntries(es), lineage: r.lineage, bounds: []int{0}}
	size := 0
	for i, e := range es {
		n := len(e.Key) + len(e.Value) + 8
		if size > 0 && size+n > r.cfg.ChunkBytes {
			d.bounds = append(d.bounds, i)
			size = 0
		}
		size += n
	}
	d.bounds = append(d.bounds, len(es))
	r.donor = d
	for i := 0; i < r.cfg.Window; i++ {
		r.sendPart()
	}
}

// sendPart sends the donor's next part, if any is left.
func (r *Replica) sendPart() {
	d := r.donor
	parts := uint64(len(d.bounds) - 1)
	if d.sent >= parts {
		return
	}
	k := d.sent
	c := &msgChunk{Term: r.groupTerm, ID: d.id, Part: k, Entries: d.entries[d.bounds[k]:d.bounds[k+1]]}
	if k == parts-1 {
		c.Last, c.Cut, c.Count, c.Hash, c.Lineage = true, d.cut, uint64(len(d.entries)), d.hash, d.lineage
	}
	d.sent++
	r.send(c)
}

func (r *Replica) onChunk(from Member, m *msgChunk) {
	x := r.xfer
	if r.phase != phaseFormed || x == nil || !x.started || from != x.donor || m.ID != x.id || m.Term != r.groupTerm {
		return
	}
	if from == r.cfg.Self && r.donor != nil {
		r.sendPart() // one part delivered: one more in flight
	}
	if rc := r.recv; rc != nil {
		if m.Part != rc.next {
			panic(fmt.Sprintf("replica %v: transfer %d part %d, expected %d", r.cfg.Self, m.ID, m.Part, rc.next))
		}
		rc.next++
		rc.entries = append(rc.entries, m.Entries...)
	}
	if !m.Last {
		return
	}
	if r.recv != nil {
		r.install(m)
	}
	for _, m := range x.receivers {
		r.synced[m] = true
	}
	r.xfer, r.recv, r.donor = nil, nil, nil
	r.xferDone++
	r.maybeStartTransfer()
}

// install replaces the local state with the received snapshot, checks
// it, and applies the operations delivered since START.
func (r *Replica) install(last *msgChunk) {
	rc := r.recv
	if uint64(len(rc.entries)) != last.Count || !bytes.Equal(hashEntries(rc.entries), last.Hash) {
		panic(fmt.Sprintf("replica %v: transfer %d: snapshot of %d entries does not match its hash (%d entries announced)",
			r.cfg.Self, last.ID, len(rc.entries), last.Count))
	}
	r.store = storeOf(rc.entries)
	r.initialized = true
	r.lineage = slices.Clone(last.Lineage)
	r.commitAdopted(last.Lineage)
	r.stateTerm, r.stateIndex, r.lastAck = r.groupTerm, last.Cut, 0
	r.promised = max(r.promised, r.groupTerm)
	if r.cfg.Bug == BugSkipBuffer {
		return
	}
	for _, op := range rc.buffer {
		r.apply(op)
	}
	r.replayed += uint64(len(rc.buffer))
}
