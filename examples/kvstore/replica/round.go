package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// round is a formation round: every current member multicasts its INFO;
// once all are delivered, each computes the same outcome (the new term,
// the donor, who is synced), and the initialized members multicast
// FORMED; once those are delivered the term is formed. The round is
// named by its tag (the ring and the member list), so that a message of
// another round is never counted in this one.
type round struct {
	tag   uint64
	infos map[Member]*msgInfo

	computed  bool
	term      uint64
	bootstrap bool     // nobody holds a state and every replica is here
	promisers []Member // who must send FORMED
	donor     Member   // whose state the term starts from (not bootstrap)
	formed    map[Member]bool
}

// roundTag names the round of a ring and member list. A member list
// never recurs within a ring (a pid that left never comes back), and a
// ring id is never reused.
func roundTag(ring Ring, members []Member) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ring.Node))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], ring.Seq)
	h.Write(b[:])
	for _, m := range members {
		binary.BigEndian.PutUint64(b[:], uint64(m.Node)<<32|uint64(m.Pid))
		h.Write(b[:])
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// startRound forgets the term and sends this replica's INFO for a round
// of the current ring and members.
func (r *Replica) startRound() {
	r.resetTerm()
	r.phase = phaseForming
	r.round = &round{tag: roundTag(r.ring, r.members), infos: make(map[Member]*msgInfo)}
	r.send(&msgInfo{Tag: r.round.tag, Initialized: r.initialized, Term: r.stateTerm, Index: r.stateIndex, Promised: r.promised, Lineage: r.lineage})
}

func (r *Replica) onInfo(from Member, m *msgInfo) {
	rd := r.round
	if r.phase != phaseForming || rd == nil || m.Tag != rd.tag || rd.computed || !contains(r.members, from) {
		return
	}
	rd.infos[from] = m
	r.checkRound()
}

func (r *Replica) onFormed(from Member, m *msgFormed) {
	rd := r.round
	if r.phase != phaseForming || rd == nil || m.Tag != rd.tag || !rd.computed || m.Term != rd.term {
		return
	}
	rd.formed[from] = true
	r.checkRound()
}

// checkRound moves the round on: when every member's INFO is in, it
// computes the outcome (or stays, without a majority of initialized
// replicas); when every promiser's FORMED is in, the term is formed.
func (r *Replica) checkRound() {
	rd := r.round
	if !rd.computed {
		for _, m := range r.members {
			if rd.infos[m] == nil {
				return
			}
		}
		if !r.computeRound() {
			return // a minority: wait for the membership to change
		}
		if contains(rd.promisers, r.cfg.Self) {
			r.promised = max(r.promised, rd.term)
			r.send(&msgFormed{Tag: rd.tag, Term: rd.term})
		}
		return
	}
	for _, m := range rd.promisers {
		if !rd.formed[m] {
			return
		}
	}
	r.completeRound()
}

// computeRound decides the round from the INFOs: the initialized members
// must be a majority of the replicas (or, to start the store, every
// replica is here and none holds a state). The term is above every
// promise; the donor is the initialized member with the highest
// position (lowest address among equals).
func (r *Replica) computeRound() bool {
	rd := r.round
	var initialized []Member
	var top uint64
	for _, m := range r.members {
		in := rd.infos[m]
		top = max(top, in.Promised)
		if in.Initialized {
			initialized = append(initialized, m)
		}
	}
	switch {
	case distinctNodes(initialized) >= r.quorum():
		rd.promisers = initialized
		rd.donor = initialized[0]
		for _, m := range initialized[1:] {
			if d, in := rd.infos[rd.donor], rd.infos[m]; in.Term > d.Term || (in.Term == d.Term && in.Index > d.Index) {
				rd.donor = m
			}
		}
	case len(initialized) == 0 && distinctNodes(r.members) >= r.cfg.Replicas:
		rd.promisers, rd.bootstrap = r.members, true
	default:
		return false
	}
	rd.computed, rd.term, rd.formed = true, top+1, make(map[Member]bool)
	return true
}

// completeRound forms the term: the members whose position equals the
// donor's hold its state (synced), the others will receive it; the
// proposals the donor's state holds are committed.
func (r *Replica) completeRound() {
	rd := r.round
	r.round = nil
	r.phase = phaseFormed
	r.groupTerm = rd.term
	r.promised = max(r.promised, rd.term)
	r.synced = make(map[Member]bool)
	r.acks = make(map[Member]uint64)
	r.commit = 0
	if rd.bootstrap {
		for _, m := range r.members {
			r.synced[m] = true
		}
		r.store, r.initialized, r.lineage = NewStore(), true, nil
	} else {
		d := rd.infos[rd.donor]
		for _, m := range rd.promisers {
			if in := rd.infos[m]; in.Term == d.Term && in.Index == d.Index {
				r.synced[m] = true
			}
		}
		from := Pos{Term: d.Term, Index: d.Index}
		r.commitAdopted(append(d.Lineage, from))
		if r.synced[r.cfg.Self] {
			r.lineage = extendLineage(d.Lineage, from)
		}
	}
	if r.synced[r.cfg.Self] {
		r.stateTerm, r.stateIndex, r.lastAck = rd.term, 0, 0
	}
	r.maybeStartTransfer()
}

// maxLineage bounds a state's lineage: a proposal whose term is older
// than that many terms back is left unanswered (its outcome unknown to
// its client) rather than found.
const maxLineage = 32

// extendLineage returns the lineage of a term formed from a state at
// from whose lineage is base.
func extendLineage(base []Pos, from Pos) []Pos {
	out := append(slices.Clone(base), from)
	if len(out) > maxLineage {
		out = out[len(out)-maxLineage:]
	}
	return out
}
