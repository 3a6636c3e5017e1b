package replica

import (
	"slices"
	"sort"
)

// pending is a proposal of this process: once applied, its place in the
// order (term, index) and its result; answered once committed.
type pending struct {
	op      Op
	applied bool
	term    uint64
	index   uint64
	result  Result
}

// onOp applies an operation in a formed term (buffers it while receiving
// the state, drops it otherwise: the snapshot to come holds it, or no
// term applies it here).
func (r *Replica) onOp(m *msgOp) {
	switch {
	case r.phase != phaseFormed:
	case r.isSynced():
		r.apply(m)
	case r.recv != nil:
		r.recv.buffer = append(r.recv.buffer, m)
	}
}

// apply applies op at the next index of the term.
func (r *Replica) apply(m *msgOp) {
	res := r.store.apply(m.Op)
	r.stateIndex++
	if m.Inc != r.cfg.Incarnation {
		return
	}
	if p := r.pending[m.Seq]; p != nil {
		p.applied, p.term, p.index, p.result = true, r.groupTerm, r.stateIndex, res
		if r.cfg.Bug == BugAnswerOnApply {
			r.answerCommitted(func(q *pending) bool { return q == p })
		}
	}
}

// onAck records that a synced member applied the term up to an index
// and advances the commit point: the highest index a majority of the
// replicas (distinct nodes) have applied.
func (r *Replica) onAck(from Member, m *msgAck) {
	if r.phase != phaseFormed || m.Term != r.groupTerm || !r.synced[from] {
		return
	}
	r.acks[from] = max(r.acks[from], m.Index)
	best := make(map[uint32]uint64)
	for mem, idx := range r.acks {
		best[mem.Node] = max(best[mem.Node], idx)
	}
	q := r.quorum()
	if len(best) < q {
		return
	}
	idxs := make([]uint64, 0, len(best))
	for _, idx := range best {
		idxs = append(idxs, idx)
	}
	slices.Sort(idxs)
	slices.Reverse(idxs)
	if c := idxs[q-1]; c > r.commit {
		r.commit = c
		r.answerCommitted(func(p *pending) bool { return p.term == r.groupTerm && p.index <= c })
	}
}

// commitAdopted answers the proposals that a new term's starting state
// holds: applied at or below one of the positions it descends from (the
// donor's position and its lineage).
func (r *Replica) commitAdopted(from []Pos) {
	r.answerCommitted(func(p *pending) bool {
		for _, at := range from {
			if p.term == at.Term && p.index <= at.Index {
				return true
			}
		}
		return false
	})
}

// answerCommitted answers, in proposal order, the applied proposals that
// done says are committed.
func (r *Replica) answerCommitted(done func(*pending) bool) {
	var seqs []uint64
	for seq, p := range r.pending {
		if p.applied && done(p) {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		r.answers = append(r.answers, Answer{Seq: seq, Result: r.pending[seq].result})
		delete(r.pending, seq)
	}
}
