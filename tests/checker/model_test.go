package checker

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// model generates correct histories: nodes split into components; within a
// component every event (join, leave, kill, message) reaches every member
// at once, so each component has one agreed order; splits give NODEDOWN
// confchgs on both sides, merges NODEUP confchgs.
type model struct {
	rng      *rand.Rand
	h        *History
	comp     map[uint32]int // node -> component
	procs    []*mproc
	ring     uint64
	compRing map[int]Record // component -> its last totem confchg
	seq      map[Proc]uint64
	faults   bool
	nextComp int
	rec      *recorder
	records  int
}

type mproc struct {
	p      Proc
	alive  bool
	member bool
}

func (m *model) add(r Record) {
	m.h.Add(r)
	m.records++
	if m.rec != nil {
		m.rec.rs = append(m.rec.rs, r)
	}
}

type recorder struct{ rs []Record }

func (m *model) members(c int) []*mproc {
	var out []*mproc
	for _, q := range m.procs {
		if q.alive && q.member && m.comp[q.p.Node] == c {
			out = append(out, q)
		}
	}
	return out
}

func sortedMembers(qs []*mproc) []Member {
	var ms []Member
	for _, q := range qs {
		ms = append(ms, mem(q.p))
	}
	slices.SortFunc(ms, func(a, b Member) int {
		return api.CompareAddresses(&api.Address{Nodeid: a.Node, Pid: a.Pid}, &api.Address{Nodeid: b.Node, Pid: b.Pid})
	})
	return ms
}

// confchg sends one confchg to the members of component c (after the
// change) and to extra.
func (m *model) confchg(c int, left, joined []Member, extra ...*mproc) {
	to := m.members(c)
	ms := sortedMembers(to)
	for _, q := range append(to, extra...) {
		m.add(Record{Proc: q.p, Kind: KindConfchg, Group: "g", Members: ms, Left: left, Joined: joined})
	}
}

func (m *model) totem(c int) {
	m.ring++
	var nodes []uint32
	for n, cc := range m.comp {
		if cc == c {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	tr := Record{Kind: KindTotem, Ring: RingID{Node: nodes[0], Seq: m.ring}, Nodes: nodes}
	m.compRing[c] = tr
	for _, q := range m.procs {
		if q.alive && m.comp[q.p.Node] == c {
			tr.Proc = q.p
			m.add(tr)
		}
	}
}

func (m *model) step() {
	q := m.procs[m.rng.IntN(len(m.procs))]
	c := m.comp[q.p.Node]
	switch k := m.rng.IntN(20); {
	case k < 12: // message
		if !q.alive || !q.member {
			return
		}
		m.seq[q.p]++
		s := m.seq[q.p]
		m.add(SentRecord(q.p, []byte("g"), s, true))
		data := EncodeMsg(q.p, s, 40)
		for _, r := range m.members(c) {
			m.add(DeliverDataRecord(r.p, []byte("g"), q.p.Node, q.p.Pid, data))
		}
	case k < 14: // join (after a kill: a new incarnation)
		if !q.alive {
			q.p.Inc++
			q.alive = true
			// A new process learns its node's ring first (the initial
			// totem confchg).
			if tr, ok := m.compRing[c]; ok {
				tr.Proc = q.p
				m.add(tr)
			}
		}
		if q.member {
			return
		}
		q.member = true
		m.confchg(c, nil, []Member{ent(q.p, api.ReasonJoin)})
	case k < 15: // leave
		if !q.alive || !q.member {
			return
		}
		q.member = false
		m.confchg(c, []Member{ent(q.p, api.ReasonLeave)}, nil, q)
	case k < 16 && m.faults: // kill
		if !q.alive {
			return
		}
		q.alive = false
		m.add(EndRecord(q.p, true))
		if q.member {
			q.member = false
			m.confchg(c, []Member{ent(q.p, api.ReasonProcDown)}, nil)
		}
	case k < 18 && m.faults: // split q's node off its component
		n := q.p.Node
		others := 0
		for nn, cc := range m.comp {
			if cc == c && nn != n {
				others++
			}
		}
		if others == 0 {
			return
		}
		mine := m.members(c)
		m.nextComp++
		nc := m.nextComp
		m.comp[n] = nc
		var away, stay []Member
		for _, r := range mine {
			if r.p.Node == n {
				away = append(away, ent(r.p, api.ReasonNodeDown))
			} else {
				stay = append(stay, ent(r.p, api.ReasonNodeDown))
			}
		}
		if len(away) > 0 {
			m.confchg(c, away, nil)
		}
		if len(stay) > 0 {
			m.confchg(nc, stay, nil)
		}
		m.totem(c)
		m.totem(nc)
	case k < 20: // merge q's component with another
		m.mergeTwo(c)
	}
}

func (m *model) mergeTwo(c int) bool {
	other := -1
	for _, cc := range m.comp {
		if cc != c {
			other = cc
			break
		}
	}
	if other < 0 {
		return false
	}
	a, b := m.members(c), m.members(other)
	for n, cc := range m.comp {
		if cc == other {
			m.comp[n] = c
		}
	}
	var ja, jb []Member
	for _, r := range b {
		ja = append(ja, ent(r.p, api.ReasonNodeUp))
	}
	for _, r := range a {
		jb = append(jb, ent(r.p, api.ReasonNodeUp))
	}
	all := sortedMembers(append(slices.Clone(a), b...))
	if len(ja) > 0 {
		for _, r := range a {
			m.add(Record{Proc: r.p, Kind: KindConfchg, Group: "g", Members: all, Joined: ja})
		}
	}
	if len(jb) > 0 {
		for _, r := range b {
			m.add(Record{Proc: r.p, Kind: KindConfchg, Group: "g", Members: all, Joined: jb})
		}
	}
	m.totem(c)
	return true
}

func runModel(seed uint64, faults bool, steps int) (*model, Report) {
	return runModelRec(seed, faults, steps, nil)
}

func runModelRec(seed uint64, faults bool, steps int, rec *recorder) (*model, Report) {
	m := &model{rng: rand.New(rand.NewPCG(seed, 1)), h: NewHistory(), comp: map[uint32]int{},
		seq: map[Proc]uint64{}, faults: faults, rec: rec, compRing: map[int]Record{}}
	for n := uint32(1); n <= 4; n++ {
		m.comp[n] = 0
		for i := uint32(0); i < 2; i++ {
			m.procs = append(m.procs, &mproc{p: Proc{Node: n, Pid: 10*n + i}, alive: true})
		}
	}
	m.totem(0)
	for range steps {
		m.step()
	}
	// Heal, then a quiet end: a few more messages, everyone stops.
	for m.mergeTwo(0) {
	}
	for _, q := range m.procs {
		if q.alive && q.member {
			m.seq[q.p]++
			s := m.seq[q.p]
			m.add(SentRecord(q.p, []byte("g"), s, true))
			for _, r := range m.members(0) {
				m.add(DeliverDataRecord(r.p, []byte("g"), q.p.Node, q.p.Pid, EncodeMsg(q.p, s, 40)))
			}
		}
	}
	for _, q := range m.procs {
		if q.alive {
			m.add(EndRecord(q.p, false))
		}
	}
	return m, Check(m.h, Options{Quiet: true, FaultFree: !faults})
}

// TestModelHistories checks that correct histories, with joins, leaves,
// kills, new incarnations, partitions and merges, raise no violation.
func TestModelHistories(t *testing.T) {
	for seed := range uint64(200) {
		for _, faults := range []bool{false, true} {
			m, rep := runModel(seed, faults, 400)
			if !rep.OK() {
				t.Fatalf("seed %d faults %v (%d records): %s", seed, faults, m.records, rep)
			}
		}
	}
}

// TestModelMutations drops one random delivery from model histories. Some
// drops cannot be seen (a process killed before its next confchg, a
// process alone in its view), but most must be.
func TestModelMutations(t *testing.T) {
	caught, total := 0, 0
	for seed := range uint64(300) {
		rec := &recorder{}
		runModelRec(seed, true, 300, rec)
		rs := rec.rs
		var idx []int
		for i, r := range rs {
			if r.Kind == KindDeliver {
				idx = append(idx, i)
			}
		}
		i := idx[rand.New(rand.NewPCG(seed, 9)).IntN(len(idx))]
		dropped := rs[i]
		rs = slices.Delete(rs, i, i+1)
		h := NewHistory()
		h.AddLog(rs)
		rep := Check(h, Options{Quiet: true})
		total++
		if rep.OK() && testing.Verbose() {
			killed := slices.ContainsFunc(rs, func(r Record) bool { return r.Proc == dropped.Proc && r.Killed })
			t.Logf("seed %d: not caught: %s dropped %s:%d (killed later: %v)", seed, dropped.Proc, dropped.From, dropped.Seq, killed)
		}
		if !rep.OK() {
			caught++
			if rep.Count() != rep.Count(PropVirtualSynchrony, PropLiveness, PropGap) {
				t.Errorf("seed %d: a dropped delivery gave other violations: %s", seed, rep)
			}
		}
	}
	t.Logf("caught %d of %d dropped deliveries", caught, total)
	// What a history cannot show: the last deliveries of a process killed
	// right after, a drop just before a cut, a process alone in its view
	// (about one drop in seven): it catches 84-88% (the model's merges
	// follow map order, so the count varies from run to run).
	if caught < total*8/10 {
		t.Errorf("caught only %d of %d dropped deliveries", caught, total)
	}
}
