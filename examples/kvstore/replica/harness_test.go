package replica

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// world simulates CPG for replicas, deterministically: each side of the
// network has one agreed order (a queue of events delivered to all its
// members in turn); a partition splits a side (each keeps the pending
// messages of its own members, then sees the others leave with NODEDOWN
// and a new ring), a merge joins two (NODEUP, new ring). The members'
// Ready output is queued after every event.
type world struct {
	t       *testing.T
	n       int // configured replicas
	sides   []*side
	procs   map[Member]*proc
	ringSeq uint64
	nextPid uint32
	inc     uint64
	cfg     func(*Config)
}

type side struct {
	ring    Ring
	members []Member
	queue   []event
}

type proc struct {
	r       *Replica
	alive   bool
	side    *side
	answers map[uint64]Result
}

// event is one step of a side's order: a message, a confchg (Change by
// member: the sides of a merge see different joined lists), or a totem.
type event struct {
	from   Member
	data   []byte
	change func(Member) *Change
	totem  *Ring
	joiner Member // a JOIN's joiner gets its initial totem after it
}

func newWorld(t *testing.T, n int, cfg func(*Config)) *world {
	w := &world{t: t, n: n, procs: make(map[Member]*proc), nextPid: 100, cfg: cfg}
	w.ringSeq++
	w.sides = []*side{{ring: Ring{Node: 1, Seq: w.ringSeq}}}
	return w
}

// start starts a replica on node and has it join the group on side s
// (default: the first side).
func (w *world) start(node uint32, s *side) Member {
	if s == nil {
		s = w.sides[0]
	}
	w.nextPid++
	w.inc++
	m := Member{Node: node, Pid: w.nextPid}
	cfg := Config{Self: m, Replicas: w.n, Incarnation: w.inc}
	if w.cfg != nil {
		w.cfg(&cfg)
	}
	w.procs[m] = &proc{r: New(cfg), alive: true, side: s, answers: map[uint64]Result{}}
	members := sortMembers(append(slices.Clone(s.members), m))
	s.members = members
	s.queue = append(s.queue, event{change: func(Member) *Change {
		return &Change{Members: members, Joined: []Member{m}}
	}, joiner: m})
	return m
}

// kill ends m's process: the others see it leave with PROCDOWN after
// what it sent.
func (w *world) kill(m Member) {
	p := w.procs[m]
	p.alive = false
	s := p.side
	s.members = slices.DeleteFunc(slices.Clone(s.members), func(x Member) bool { return x == m })
	members := s.members
	s.queue = append(s.queue, event{change: func(Member) *Change {
		return &Change{Members: members, Left: []Member{m}}
	}})
}

// partition splits the side of a into the members of a and the rest.
func (w *world) partition(a ...Member) (*side, *side) {
	old := w.procs[a[0]].side
	w.sides = slices.DeleteFunc(w.sides, func(s *side) bool { return s == old })
	var sides [2]*side
	for i, on := range []bool{true, false} {
		w.ringSeq++
		s := &side{ring: Ring{Node: uint32(i + 1), Seq: w.ringSeq}}
		for _, m := range old.members {
			if contains(a, m) == on {
				s.members = append(s.members, m)
				w.procs[m].side = s
			}
		}
		for _, ev := range old.queue {
			if ev.data != nil && contains(s.members, ev.from) {
				s.queue = append(s.queue, ev)
			}
		}
		members, left := s.members, slices.DeleteFunc(slices.Clone(old.members), func(m Member) bool { return contains(s.members, m) })
		s.queue = append(s.queue, event{change: func(Member) *Change {
			return &Change{Members: members, Left: left, ViewChange: true}
		}})
		ring := s.ring
		s.queue = append(s.queue, event{totem: &ring})
		sides[i] = s
		w.sides = append(w.sides, s)
	}
	return sides[0], sides[1]
}

// merge runs both sides until quiet and joins them.
func (w *world) merge(a, b *side) *side {
	w.runSide(a)
	w.runSide(b)
	w.ringSeq++
	s := &side{ring: Ring{Node: 1, Seq: w.ringSeq}, members: sortMembers(append(slices.Clone(a.members), b.members...))}
	w.sides = slices.DeleteFunc(w.sides, func(x *side) bool { return x == a || x == b })
	w.sides = append(w.sides, s)
	for _, m := range s.members {
		w.procs[m].side = s
	}
	am, bm, members := a.members, b.members, s.members
	s.queue = append(s.queue, event{change: func(m Member) *Change {
		if contains(am, m) {
			return &Change{Members: members, Joined: bm, ViewChange: true}
		}
		return &Change{Members: members, Joined: am, ViewChange: true}
	}})
	ring := s.ring
	s.queue = append(s.queue, event{totem: &ring})
	return s
}

// propose proposes op at m.
func (w *world) propose(m Member, op Op) (uint64, error) {
	p := w.procs[m]
	seq, err := p.r.Propose(op)
	w.collect(p)
	return seq, err
}

// put proposes a Put, failing the test if it is refused.
func (w *world) put(m Member, k, v string) uint64 {
	w.t.Helper()
	seq, err := w.propose(m, Op{Kind: Put, Key: k, Value: v})
	if err != nil {
		w.t.Fatalf("put %s at %v: %v", k, m, err)
	}
	return seq
}

// step delivers the next event of side s; false when its queue is empty.
func (w *world) step(s *side) bool {
	if len(s.queue) == 0 {
		return false
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	for _, m := range s.members {
		p := w.procs[m]
		if !p.alive {
			continue
		}
		switch {
		case ev.data != nil:
			p.r.Deliver(ev.from, ev.data)
		case ev.totem != nil:
			p.r.Totem(*ev.totem)
		default:
			if c := ev.change(m); c != nil {
				p.r.Confchg(*c)
			}
			if m == ev.joiner {
				p.r.Totem(s.ring)
			}
		}
	}
	for _, m := range s.members {
		w.collect(w.procs[m])
	}
	return true
}

func (w *world) collect(p *proc) {
	if !p.alive {
		return
	}
	rd := p.r.Ready()
	for _, msg := range rd.Messages {
		p.side.queue = append(p.side.queue, event{from: p.r.cfg.Self, data: msg})
	}
	for _, a := range rd.Answers {
		p.answers[a.Seq] = a.Result
	}
}

func (w *world) runSide(s *side) {
	for i := 0; w.step(s); i++ {
		if i > 1e6 {
			w.t.Fatal("the side does not settle")
		}
	}
}

// run runs every side until quiet.
func (w *world) run() {
	for _, s := range slices.Clone(w.sides) {
		w.runSide(s)
	}
}

// stepUntil steps side s until cond holds.
func (w *world) stepUntil(s *side, what string, cond func() bool) {
	w.t.Helper()
	for !cond() {
		if !w.step(s) {
			w.t.Fatalf("the side went quiet before %s", what)
		}
	}
}

func (w *world) status(m Member) Status { return w.procs[m].r.Status() }

// requireSame fails unless the replicas have the same content and
// position.
func (w *world) requireSame(ms ...Member) {
	w.t.Helper()
	first := w.procs[ms[0]].r
	for _, m := range ms[1:] {
		r := w.procs[m].r
		if !bytes.Equal(r.Hash(), first.Hash()) || r.stateTerm != first.stateTerm || r.stateIndex != first.stateIndex {
			w.t.Fatalf("%v (%d keys at %d.%d) and %v (%d keys at %d.%d) differ", ms[0], first.store.Len(), first.stateTerm, first.stateIndex,
				m, r.store.Len(), r.stateTerm, r.stateIndex)
		}
	}
}

// fill puts n keys of size bytes each through m and runs until quiet.
func (w *world) fill(m Member, n, size int) {
	w.t.Helper()
	v := string(bytes.Repeat([]byte{'v'}, size))
	for i := 0; i < n; i++ {
		w.put(m, fmt.Sprintf("k%04d", i), v)
	}
	w.run()
}
