package checker

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
)

var (
	pA = Proc{Node: 1, Pid: 10}
	pB = Proc{Node: 2, Pid: 20}
	pC = Proc{Node: 3, Pid: 30}
)

func mem(p Proc) Member { return Member{Node: p.Node, Pid: p.Pid} }

func ent(p Proc, r api.Reason) Member { return Member{Node: p.Node, Pid: p.Pid, Reason: r} }

// builder writes hand-made histories: each call appends the records that
// the listed processes see.
type builder struct{ recs []Record }

func (b *builder) cc(to []Proc, members []Proc, left, joined []Member) {
	var ms []Member
	for _, p := range members {
		ms = append(ms, mem(p))
	}
	for _, p := range to {
		b.recs = append(b.recs, Record{Proc: p, Kind: KindConfchg, Group: "g",
			Members: slices.Clone(ms), Left: slices.Clone(left), Joined: slices.Clone(joined)})
	}
}

func (b *builder) totem(to []Proc, ring RingID, nodes ...uint32) {
	for _, p := range to {
		b.recs = append(b.recs, Record{Proc: p, Kind: KindTotem, Ring: ring, Nodes: nodes})
	}
}

// mcast records from sending seq and every process in to delivering it.
func (b *builder) mcast(from Proc, seq uint64, to ...Proc) {
	b.recs = append(b.recs, SentRecord(from, []byte("g"), seq, true))
	data := EncodeMsg(from, seq, 64+int(seq))
	for _, p := range to {
		b.recs = append(b.recs, DeliverDataRecord(p, []byte("g"), from.Node, from.Pid, data))
	}
}

// clean is a correct history of three processes on three nodes: joins,
// messages, node 3 cut off (NODEDOWN on both sides, messages on both
// sides), the heal (NODEUP) and more messages.
func clean() []Record {
	b := &builder{}
	all := []Proc{pA, pB, pC}
	ab := []Proc{pA, pB}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc(ab, ab, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc(all, all, nil, []Member{ent(pC, api.ReasonJoin)})
	b.mcast(pA, 1, all...)
	b.mcast(pB, 1, all...)
	b.mcast(pC, 1, all...)
	b.mcast(pA, 2, all...)
	b.mcast(pB, 2, all...)
	b.cc(ab, ab, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown), ent(pB, api.ReasonNodeDown)}, nil)
	b.totem(ab, RingID{Node: 1, Seq: 2}, 2, 1)
	b.totem([]Proc{pC}, RingID{Node: 3, Seq: 2}, 3)
	b.mcast(pA, 3, ab...)
	b.mcast(pC, 2, pC)
	b.mcast(pB, 3, ab...)
	b.cc(ab, all, nil, []Member{ent(pC, api.ReasonNodeUp)})
	b.cc([]Proc{pC}, all, nil, []Member{ent(pB, api.ReasonNodeUp), ent(pA, api.ReasonNodeUp)})
	b.totem(all, RingID{Node: 1, Seq: 3}, 1, 2, 3)
	b.mcast(pC, 3, all...)
	b.mcast(pA, 4, all...)
	b.mcast(pB, 4, all...)
	for _, p := range all {
		b.recs = append(b.recs, EndRecord(p, false))
	}
	return b.recs
}

func check(rs []Record, opts Options) Report {
	h := NewHistory()
	h.AddLog(rs)
	return Check(h, opts)
}

// find returns the index of the n-th (from 0) record that matches.
func find(t *testing.T, rs []Record, n int, f func(Record) bool) int {
	t.Helper()
	for i, r := range rs {
		if f(r) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	t.Fatal("record not found")
	return -1
}

func isDeliver(to, from Proc, seq uint64) func(Record) bool {
	return func(r Record) bool {
		return r.Kind == KindDeliver && r.Proc == to && r.From == from && r.Seq == seq
	}
}

func isConfchg(to Proc) func(Record) bool {
	return func(r Record) bool { return r.Kind == KindConfchg && r.Proc == to }
}

func TestCleanHistory(t *testing.T) {
	rep := check(clean(), Options{Quiet: true, FaultFree: true})
	if !rep.OK() {
		t.Fatal(rep)
	}
	t.Log(rep)
	c := rep.Counts
	if c.Procs != 3 || c.Groups != 1 || c.Messages != 11 || c.Deliveries != 29 || c.Confchgs != 12 || c.Ends != 3 || c.Sent != 11 {
		t.Errorf("counts %+v", c)
	}
}

// expect checks that rep has at least one violation of each of props and
// no violation of any other property.
func expect(t *testing.T, rep Report, props ...Property) {
	t.Helper()
	for _, p := range props {
		if rep.Count(p) == 0 {
			t.Fatalf("want %v violations, got none of %s:\n%s", props, p, rep)
		}
	}
	if rep.Count() != rep.Count(props...) {
		t.Fatalf("want only %v violations, got:\n%s", props, rep)
	}
	for _, v := range rep.Violations {
		if !slices.Contains(props, v.Property) || v.Detail == "" {
			t.Fatalf("want only %v violations, got %v", props, v)
		}
	}
	t.Log(rep)
}

func TestSwappedOrder(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, isDeliver(pB, pA, 1))
	j := find(t, rs, 0, isDeliver(pB, pB, 1))
	rs[i], rs[j] = rs[j], rs[i]
	rep := check(rs, Options{Quiet: true, FaultFree: true})
	expect(t, rep, PropOrder)
	if rep.Violations[0].Proc != pB && rep.Violations[0].Proc != pC {
		t.Errorf("blamed %v", rep.Violations[0].Proc)
	}
}

func TestOrderCycle(t *testing.T) {
	// Three processes that each deliver two of three messages: no two of
	// them disagree, but no single order fits all three.
	b := &builder{}
	all := []Proc{pA, pB, pC}
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc(all, all, nil, []Member{ent(pC, api.ReasonJoin)})
	b.mcast(pA, 1, pA, pC)
	b.mcast(pB, 1, pA, pB)
	b.mcast(pC, 1, pB, pC)
	// pC got C:1 first.
	i := find(t, b.recs, 0, isDeliver(pC, pA, 1))
	j := find(t, b.recs, 0, isDeliver(pC, pC, 1))
	b.recs[i], b.recs[j] = b.recs[j], b.recs[i]
	rep := check(b.recs, Options{})
	expect(t, rep, PropOrder)
	if !strings.Contains(rep.Violations[0].Detail, "cycle") {
		t.Errorf("want a cycle, got %v", rep.Violations[0])
	}
}

func TestDuplicate(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, isDeliver(pB, pA, 2))
	rs = slices.Insert(rs, i+1, rs[i])
	rep := check(rs, Options{Quiet: true, FaultFree: true})
	expect(t, rep, PropIntegrity)
	if rep.Count() != 1 || !strings.Contains(rep.Violations[0].Detail, "twice") {
		t.Errorf("want one duplicate, got %s", rep)
	}
}

func TestBadCRC(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, isDeliver(pB, pA, 2))
	data := EncodeMsg(pA, 2, 66)
	data[50] ^= 1
	rs[i] = DeliverDataRecord(pB, []byte("g"), pA.Node, pA.Pid, data)
	if rs[i].OK || rs[i].From != pA || rs[i].Seq != 2 {
		t.Fatalf("corrupt record %+v", rs[i])
	}
	rep := check(rs, Options{Quiet: true, FaultFree: true})
	expect(t, rep, PropIntegrity)
	if rep.Count() != 1 {
		t.Errorf("want one violation: %s", rep)
	}
}

func TestWrongSender(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, isDeliver(pC, pA, 2))
	rs[i].Pid = 11
	expect(t, check(rs, Options{Quiet: true, FaultFree: true}), PropIntegrity)
}

func TestFIFOSwap(t *testing.T) {
	rs := clean()
	// Every process delivers A:2 where A:1 was and A:1 where A:2 was: the
	// order is agreed, but not FIFO.
	for _, p := range []Proc{pA, pB, pC} {
		i := find(t, rs, 0, isDeliver(p, pA, 1))
		j := find(t, rs, 0, isDeliver(p, pA, 2))
		rs[i], rs[j] = rs[j], rs[i]
	}
	rep := check(rs, Options{Quiet: true, FaultFree: true})
	expect(t, rep, PropFIFO)
	if rep.Count() != 3 {
		t.Errorf("want 3 violations: %s", rep)
	}
}

// B misses A:2 between A:1 and A:3 of one view: a hole (gap), and a
// segment of the view that lacks what the others delivered (virtual
// synchrony).
func TestVirtualSynchrony(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, isDeliver(pB, pA, 2))
	rs = slices.Delete(rs, i, i+1)
	rep := check(rs, Options{})
	expect(t, rep, PropVirtualSynchrony, PropGap)
	if rep.Count() != 2 || rep.Violations[0].Proc != pB || rep.Violations[1].Proc != pB {
		t.Errorf("want one violation of each at B: %s", rep)
	}
}

func TestVirtualSynchronyRepeatedViews(t *testing.T) {
	// The same two confchgs (B joins, B leaves) happen twice; in the second
	// round C lacks a message that A and B delivered.
	rs := faultFree()
	i := find(t, rs, 0, isDeliver(pC, pA, 4))
	rs = slices.Delete(rs, i, i+1)
	rep := check(rs, Options{})
	expect(t, rep, PropVirtualSynchrony, PropGap)
	if rep.Count() != 2 || rep.Violations[0].Proc != pC {
		t.Errorf("want one violation of each at C: %s", rep)
	}
}

func TestConfchgArithmetic(t *testing.T) {
	rs := clean()
	// B's confchg for C's join lacks C.
	i := find(t, rs, 1, isConfchg(pB))
	if len(rs[i].Joined) != 1 || rs[i].Joined[0] != ent(pC, api.ReasonJoin) {
		t.Fatalf("wrong record %+v", rs[i])
	}
	rs[i].Members = []Member{mem(pA), mem(pB)}
	expect(t, check(rs, Options{Quiet: true}), PropConfchg)
}

func TestConfchgUnsorted(t *testing.T) {
	rs := clean()
	i := find(t, rs, 2, isConfchg(pA))
	rs[i].Members = []Member{mem(pA), mem(pC), mem(pB)}
	expect(t, check(rs, Options{}), PropConfchg)
}

func TestConfchgNotOwnJoin(t *testing.T) {
	rs := clean()
	// C's first confchg is dropped: its first is then a NODEDOWN one.
	i := find(t, rs, 0, isConfchg(pC))
	rs = slices.Delete(rs, i, i+1)
	for {
		i = slices.IndexFunc(rs, func(r Record) bool { return r.Kind == KindDeliver && r.Proc == pC })
		if i < 0 || i > find(t, rs, 0, isConfchg(pC)) {
			break
		}
		rs = slices.Delete(rs, i, i+1) // its deliveries before that too
	}
	expect(t, check(rs, Options{}), PropConfchg)
}

func TestMissingSelfDelivery(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, func(r Record) bool { return r.Kind == KindEnd })
	rs = slices.Insert(rs, i, SentRecord(pA, []byte("g"), 5, true))
	rep := check(rs, Options{Quiet: true})
	expect(t, rep, PropLiveness)
	if rep.Count() != 1 || rep.Violations[0].Proc != pA || !strings.Contains(rep.Violations[0].Detail, "itself") {
		t.Errorf("want one self-delivery violation at A: %s", rep)
	}
	// Without Quiet nothing is checked.
	if rep := check(rs, Options{}); !rep.OK() {
		t.Error(rep)
	}
}

func TestLivenessOtherMember(t *testing.T) {
	rs := clean()
	// The last message, B:4, never reaches C (after the last confchg, so
	// virtual synchrony cannot see it).
	i := find(t, rs, 0, isDeliver(pC, pB, 4))
	rs = slices.Delete(rs, i, i+1)
	if rep := check(rs, Options{}); !rep.OK() {
		t.Fatal(rep)
	}
	rep := check(rs, Options{Quiet: true})
	expect(t, rep, PropLiveness)
	if rep.Count() != 1 || rep.Violations[0].Proc != pC {
		t.Errorf("want one violation at C: %s", rep)
	}
}

// A sender delivers its message and leaves while the receiver's node is
// being cut off: the receiver never delivers the message nor sees the
// LEAVE; it sees the sender's node go down instead. As in Extended Virtual
// Synchrony, the message is not owed to it. Had it seen the LEAVE, it
// would be.
func TestLivenessExcusedByAFailureBeforeTheLeave(t *testing.T) {
	b := &builder{}
	all := []Proc{pA, pB, pC}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc(all, all, nil, []Member{ent(pC, api.ReasonJoin)})
	b.mcast(pA, 1, pA, pB)
	b.cc([]Proc{pA, pB}, []Proc{pB, pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown), ent(pB, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pB}, []Proc{pB}, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pB}, []Proc{pB, pC}, nil, []Member{ent(pC, api.ReasonNodeUp)})
	b.cc([]Proc{pC}, []Proc{pB, pC}, nil, []Member{ent(pB, api.ReasonNodeUp)})
	for _, p := range all {
		b.recs = append(b.recs, EndRecord(p, false))
	}
	if rep := check(b.recs, Options{Quiet: true}); !rep.OK() {
		t.Fatal(rep)
	}
	// C sees A's LEAVE (no failure in between) but not the message.
	b = &builder{}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc(all, all, nil, []Member{ent(pC, api.ReasonJoin)})
	b.mcast(pA, 1, pA, pB)
	b.cc(all, []Proc{pB, pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
	for _, p := range all {
		b.recs = append(b.recs, EndRecord(p, false))
	}
	if rep := check(b.recs, Options{Quiet: true}); rep.Count(PropLiveness) != 1 {
		t.Fatalf("want one liveness violation at C: %s", rep)
	}
}

// faultFree is a correct history without faults: B joins and leaves twice
// with identical confchgs, A sends, and A sends once more at the end.
func faultFree() []Record {
	b := &builder{}
	ac := []Proc{pA, pC}
	all := []Proc{pA, pB, pC}
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc(ac, ac, nil, []Member{ent(pC, api.ReasonJoin)})
	for round := uint64(0); round < 2; round++ {
		b.cc(all, all, nil, []Member{ent(pB, api.ReasonJoin)})
		b.mcast(pA, 2*round+1, all...)
		b.mcast(pA, 2*round+2, all...)
		b.cc(all, ac, []Member{ent(pB, api.ReasonLeave)}, nil)
	}
	b.mcast(pA, 5, ac...)
	for _, p := range all {
		b.recs = append(b.recs, EndRecord(p, false))
	}
	return b.recs
}

func TestNoLoss(t *testing.T) {
	rs := faultFree()
	if rep := check(rs, Options{Quiet: true, FaultFree: true}); !rep.OK() {
		t.Fatal(rep)
	}
	i := find(t, rs, 0, isDeliver(pC, pA, 5))
	rs = slices.Delete(rs, i, i+1)
	rep := check(rs, Options{FaultFree: true})
	expect(t, rep, PropNoLoss)
	if rep.Count() != 1 || rep.Violations[0].Proc != pC {
		t.Errorf("want one violation at C: %s", rep)
	}
}

func TestNoLossNobody(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, func(r Record) bool { return r.Kind == KindEnd })
	rs = slices.Insert(rs, i, SentRecord(pB, []byte("g"), 5, true))
	rep := check(rs, Options{FaultFree: true})
	expect(t, rep, PropNoLoss)
	if rep.Count() != 1 {
		t.Errorf("want one violation: %s", rep)
	}
}

func TestGhost(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, func(r Record) bool { return r.Kind == KindEnd && r.Proc == pC })
	rs[i].Killed = true
	rep := check(rs, Options{Quiet: true})
	expect(t, rep, PropGhost)
	if rep.Count() != 2 {
		t.Errorf("want a ghost at A and at B: %s", rep)
	}
	// Once A and B see C's PROCDOWN, C is gone.
	rs = slices.Insert(rs, i+1, Record{Proc: pA, Kind: KindConfchg, Group: "g",
		Members: []Member{mem(pA), mem(pB)}, Left: []Member{ent(pC, api.ReasonProcDown)}})
	rs = slices.Insert(rs, i+1, Record{Proc: pB, Kind: KindConfchg, Group: "g",
		Members: []Member{mem(pA), mem(pB)}, Left: []Member{ent(pC, api.ReasonProcDown)}})
	if rep := check(rs, Options{Quiet: true}); !rep.OK() {
		t.Error(rep)
	}
}

// C leaves at the end of the last ring; A sees its LEAVE, B does not. Not
// a legal history: within one ring every member sees the same sequence of
// confchgs (CPG-SPEC 4.5, rule 11), and no NODEDOWN or new ring came to
// excuse B. The per-ring sequence check compares the confchg each process
// delivered next; B delivered none after the NODEUP, so it is the final
// lists that disagree here: caught as ghost (C still a member at B) and
// disagreement (B's final list differs from A's).
func TestGhostLeftAndDisagreement(t *testing.T) {
	rs := clean()
	// C leaves; A sees it, B does not.
	i := find(t, rs, 0, func(r Record) bool { return r.Kind == KindEnd })
	lv := Record{Kind: KindConfchg, Group: "g", Members: []Member{mem(pA), mem(pB)},
		Left: []Member{ent(pC, api.ReasonLeave)}}
	for _, p := range []Proc{pA, pC} {
		lv.Proc = p
		rs = slices.Insert(rs, i, lv)
	}
	rep := check(rs, Options{Quiet: true})
	expect(t, rep, PropGhost)
	if rep.Count() != 2 {
		t.Errorf("want C a ghost at B and B disagreeing: %s", rep)
	}
}

func TestNodeDown(t *testing.T) {
	rs := clean()
	// A and B deliver C:2, sent in C's partition, after C's NODEDOWN.
	i := find(t, rs, 0, isDeliver(pC, pC, 2))
	r := rs[i]
	r.Proc = pA
	j := find(t, rs, 0, isDeliver(pA, pA, 3))
	rs = slices.Insert(rs, j, r)
	r.Proc = pB
	rs = slices.Insert(rs, j, r)
	rep := check(rs, Options{Quiet: true})
	expect(t, rep, PropNodeDown)
	if rep.Count() != 2 {
		t.Errorf("want violations at A and B: %s", rep)
	}
}

func TestMembership(t *testing.T) {
	rs := clean()
	// A delivers a message before its own JOIN confchg.
	i := find(t, rs, 0, isConfchg(pA))
	rs = slices.Insert(rs, i, DeliverDataRecord(pA, []byte("g"), pA.Node, pA.Pid, EncodeMsg(pA, 0, 40)))
	expect(t, check(rs, Options{}), PropMembership)
}

func TestTotem(t *testing.T) {
	rs := clean()
	i := find(t, rs, 0, func(r Record) bool { return r.Kind == KindTotem && r.Proc == pB && r.Ring.Seq == 3 })
	rs[i].Ring.Seq = 1
	rs[i].Nodes = []uint32{1, 2}
	rep := check(rs, Options{})
	expect(t, rep, PropTotem)
	if rep.Count() != 2 { // seq went back, and ring 1/1 with other nodes
		t.Errorf("want 2 violations: %s", rep)
	}
}

func TestEmpty(t *testing.T) {
	var h History
	if rep := Check(&h, Options{Quiet: true, FaultFree: true}); !rep.OK() || rep.Err() != nil {
		t.Fatal(rep)
	}
	h.Add(EndRecord(pA, true))
	if rep := Check(&h, Options{Quiet: true, FaultFree: true}); !rep.OK() || rep.Counts.Procs != 1 {
		t.Fatal(rep)
	}
}

func TestCap(t *testing.T) {
	rs := clean()
	for _, p := range []Proc{pA, pB, pC} {
		i := find(t, rs, 0, isDeliver(p, pA, 1))
		for range 30 {
			rs = slices.Insert(rs, i+1, rs[i])
		}
	}
	rep := check(rs, Options{MaxPerProperty: 5})
	if rep.Count(PropIntegrity) != 90 || len(rep.Violations) != 5 {
		t.Fatalf("want 90 counted, 5 kept: %s", rep)
	}
	if !strings.Contains(rep.String(), "85 more integrity") || rep.Err() == nil {
		t.Error(rep)
	}
}

func TestMsgRoundTrip(t *testing.T) {
	from := Proc{Node: 7, Pid: 1234, Inc: 3}
	for _, size := range []int{0, HeaderSize, HeaderSize + 1, 100, 4099, 1 << 20} {
		b := EncodeMsg(from, 42, size)
		if len(b) != max(size, HeaderSize) {
			t.Fatalf("size %d: len %d", size, len(b))
		}
		if !bytes.Equal(b, EncodeMsg(from, 42, size)) {
			t.Fatal("not deterministic")
		}
		f, s, err := DecodeMsg(b)
		if err != nil || f != from || s != 42 {
			t.Fatalf("size %d: %v %v %v", size, f, s, err)
		}
		for _, i := range []int{0, 5, 13, 20, 30, 33, len(b) - 1} {
			c := bytes.Clone(b)
			c[i] ^= 0x40
			if _, _, err := DecodeMsg(c); err == nil {
				t.Fatalf("size %d: flipped byte %d not caught", size, i)
			}
		}
		if _, _, err := DecodeMsg(b[:len(b)-1]); err == nil {
			t.Fatalf("size %d: truncation not caught", size)
		}
	}
	if !bytes.Equal(EncodeMsg(from, 1, 200)[HeaderSize:], EncodeMsg(from, 1, 300)[HeaderSize:200]) {
		t.Error("filler depends on the size")
	}
	if bytes.Equal(EncodeMsg(from, 1, 200)[HeaderSize:], EncodeMsg(from, 2, 200)[HeaderSize:]) {
		t.Error("filler does not depend on seq")
	}
	b := EncodeMsg(from, 9, 100)
	c := bytes.Clone(b)
	c[70] ^= 1
	if f, s, err := DecodeMsg(c); !errors.Is(err, ErrCRC) || f != from || s != 9 {
		t.Errorf("corrupt filler: %v %v %v", f, s, err)
	}
	if f, s, err := DecodeMsg(append(b, 0)); !errors.Is(err, ErrLength) || f != from || s != 9 {
		t.Errorf("longer: %v %v %v", f, s, err)
	}
	if _, _, err := DecodeMsg(b[:10]); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
	if _, _, err := DecodeMsg(make([]byte, 64)); !errors.Is(err, ErrMagic) {
		t.Error(err)
	}
}

func TestLogRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewLogWriter(&buf)
	p := Proc{Node: 1, Pid: 2, Inc: 3}
	grp := []byte("grp\xff\x00") // not UTF-8
	cc := &api.Confchg{Group: grp,
		Members: []*api.Address{{Nodeid: 1, Pid: 2}, {Nodeid: 4, Pid: 5}},
		Left:    []*api.Address{{Nodeid: 3, Pid: 9, Reason: uint32(api.ReasonNodeDown)}},
		Joined:  []*api.Address{{Nodeid: 4, Pid: 5, Reason: uint32(api.ReasonNodeUp)}}}
	data := EncodeMsg(Proc{Node: 4, Pid: 5}, 77, 500)
	bad := bytes.Clone(data)
	bad[400]++
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Confchg(p, cc))
	must(w.Deliver(p, &api.Deliver{Group: []byte("g"), Nodeid: 4, Pid: 5, Data: data}))
	must(w.DeliverData(p, []byte("g"), 4, 5, bad))
	must(w.Deliver(p, &api.Deliver{Group: []byte("g"), Nodeid: 4, Pid: 5, Data: []byte("junk")}))
	must(w.Totem(p, &api.TotemConfchg{RingId: &api.RingId{Nodeid: 1, Seq: 12}, Members: []uint32{1, 4}}))
	must(w.Sent(p, []byte("g"), 8, true))
	must(w.Sent(p, []byte("g"), 9, false))
	must(w.End(p, true))
	must(w.Flush())
	want := []Record{
		{Proc: p, Kind: KindConfchg, Group: string(grp),
			Members: []Member{{Node: 1, Pid: 2}, {Node: 4, Pid: 5}},
			Left:    []Member{{Node: 3, Pid: 9, Reason: api.ReasonNodeDown}},
			Joined:  []Member{{Node: 4, Pid: 5, Reason: api.ReasonNodeUp}}},
		{Proc: p, Kind: KindDeliver, Group: "g", Node: 4, Pid: 5, From: Proc{Node: 4, Pid: 5}, Seq: 77, OK: true, Len: 500},
		{Proc: p, Kind: KindDeliver, Group: "g", Node: 4, Pid: 5, From: Proc{Node: 4, Pid: 5}, Seq: 77, Len: 500},
		{Proc: p, Kind: KindDeliver, Group: "g", Node: 4, Pid: 5, Len: 4},
		{Proc: p, Kind: KindTotem, Ring: RingID{Node: 1, Seq: 12}, Nodes: []uint32{1, 4}},
		{Proc: p, Kind: KindSent, Group: "g", Seq: 8, OK: true},
		{Proc: p, Kind: KindSent, Group: "g", Seq: 9},
		{Proc: p, Kind: KindEnd, Killed: true},
	}
	text := buf.String()
	if strings.Count(text, "\n") != len(want) {
		t.Fatalf("not one line per record:\n%s", text)
	}
	t.Logf("log:\n%s", text)
	got, err := ReadLog(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// A torn last line (the writer was killed) is skipped.
	got, err = ReadLog(strings.NewReader(text + `{"proc":{"node":1,"pi`))
	if err != nil || len(got) != len(want) {
		t.Fatalf("torn line: %d records, %v", len(got), err)
	}
	// A bad line in the middle is an error.
	if _, err := ReadLog(strings.NewReader("{}\nnope\n{}\n")); err == nil {
		t.Fatal("bad line accepted")
	}
	// The same history from the log and from the records checks the same.
	h := NewHistory()
	h.AddLog(got)
	rep := Check(h, Options{})
	t.Log(rep)
	// The confchg is not p's own JOIN; two payloads are bad and one of them
	// repeats 4/5:77; the messages of group "g" reach p, which never joined
	// "g".
	if rep.Count(PropConfchg) != 1 || rep.Count(PropIntegrity) != 3 || rep.Count(PropMembership) != 3 || rep.Count() != 7 {
		t.Error(rep)
	}
}

// TestMillionRecords builds a history of about a million records (20
// processes, 48,000 messages, a partition and its heal) and checks it.
func TestMillionRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const nproc = 20
	const rounds = 3000 // each process sends one message per round
	start := time.Now()
	h := NewHistory()
	procs := make([]Proc, nproc)
	for i := range procs {
		procs[i] = Proc{Node: uint32(i/2 + 1), Pid: uint32(100 + i)}
	}
	seq := make([]uint64, nproc)
	var members []Member
	cc := func(to []Proc, ms []Member, left, joined []Member) {
		for _, p := range to {
			h.Add(Record{Proc: p, Kind: KindConfchg, Group: "big", Members: ms, Left: left, Joined: joined})
		}
	}
	for i, p := range procs {
		members = append(members, mem(p))
		cc(procs[:i+1], slices.Clone(members), nil, []Member{ent(p, api.ReasonJoin)})
	}
	flood := func(side []Proc, n int) {
		for range n {
			for i, p := range side {
				pi := slices.Index(procs, p)
				_ = i
				seq[pi]++
				h.Add(Record{Proc: p, Kind: KindSent, Group: "big", Seq: seq[pi], OK: true})
				for _, q := range side {
					h.Add(Record{Proc: q, Kind: KindDeliver, Group: "big", Node: p.Node, Pid: p.Pid,
						From: p, Seq: seq[pi], OK: true, Len: 100})
				}
			}
		}
	}
	flood(procs, rounds/3)
	// Split: nodes 1-5 and 6-10.
	x, y := procs[:nproc/2], procs[nproc/2:]
	var mx, my, lx, ly, jx, jy []Member
	for _, p := range x {
		mx = append(mx, mem(p))
		ly = append(ly, ent(p, api.ReasonNodeDown))
		jy = append(jy, ent(p, api.ReasonNodeUp))
	}
	for _, p := range y {
		my = append(my, mem(p))
		lx = append(lx, ent(p, api.ReasonNodeDown))
		jx = append(jx, ent(p, api.ReasonNodeUp))
	}
	cc(x, mx, lx, nil)
	cc(y, my, ly, nil)
	flood(x, rounds/3)
	flood(y, rounds/3)
	cc(x, members, nil, jx)
	cc(y, members, nil, jy)
	flood(procs, rounds/3)
	for _, p := range procs {
		h.Add(EndRecord(p, false))
	}
	built := time.Since(start)
	start = time.Now()
	rep := Check(h, Options{Quiet: true})
	took := time.Since(start)
	t.Logf("built in %v, checked in %v: %s", built, took, rep)
	if !rep.OK() {
		t.Fatal(rep)
	}
	if rep.Counts.Records < 1_000_000 {
		t.Errorf("only %d records", rep.Counts.Records)
	}
	if took > 30*time.Second {
		t.Errorf("check took %v", took)
	}
}

// A confchg's content can recur: A joins while C's node is being cut off
// (A's confchg lists C, C never sees it), sends, and leaves; after the
// merge A joins again and both see a confchg with the same member and
// joined lists. The two are different confchgs (different rings), so C,
// which never shared A's first membership, is not owed its message. Had C
// shared it (the same ring), it would be.
func TestLivenessTellsRecurringConfchgsApartByRing(t *testing.T) {
	build := func(cut bool) []Record {
		b := &builder{}
		ac := []Proc{pA, pC}
		b.totem(ac, RingID{Node: 1, Seq: 1}, 1, 3)
		b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
		b.cc(ac, ac, nil, []Member{ent(pC, api.ReasonJoin)})
		b.cc(ac, []Proc{pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
		if cut {
			b.cc([]Proc{pA}, ac, nil, []Member{ent(pA, api.ReasonJoin)}) // C is cut off already
			b.mcast(pA, 1, pA)
			b.cc([]Proc{pA}, []Proc{pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
			b.totem([]Proc{pA}, RingID{Node: 1, Seq: 2}, 1)
			b.totem([]Proc{pC}, RingID{Node: 3, Seq: 2}, 3)
			b.totem(ac, RingID{Node: 1, Seq: 3}, 1, 3)
		} else {
			b.cc(ac, ac, nil, []Member{ent(pA, api.ReasonJoin)})
			b.mcast(pA, 1, pA)
			b.cc(ac, []Proc{pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
		}
		b.cc(ac, ac, nil, []Member{ent(pA, api.ReasonJoin)})
		b.mcast(pA, 2, pA, pC)
		for _, p := range ac {
			b.recs = append(b.recs, EndRecord(p, false))
		}
		return b.recs
	}
	if rep := check(build(true), Options{Quiet: true}); !rep.OK() {
		t.Fatalf("C never shared A's first membership (another ring): %s", rep)
	}
	if rep := check(build(false), Options{Quiet: true}); rep.Count(PropLiveness) != 1 {
		t.Fatalf("C shared A's membership and missed its message: want one liveness violation: %s", rep)
	}
}

// C leaves, rejoins alone on its cut-off node, and misses the install of
// the view in which A sees it come back (NODEUP), sends and leaves; in the
// next view A joins again and both see it. The last point they shared
// ended C's membership (its LEAVE): C is not owed A's message. Had C
// installed that view too (the same NODEUP, in the same view change), it
// would be.
func TestLivenessReceiverThatLeftAndCameBackUnseen(t *testing.T) {
	build := func(missed bool) []Record {
		b := &builder{}
		ac := []Proc{pA, pC}
		b.totem(ac, RingID{Node: 1, Seq: 1}, 1, 3)
		b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
		b.cc(ac, ac, nil, []Member{ent(pC, api.ReasonJoin)})
		b.cc(ac, []Proc{pA}, []Member{ent(pC, api.ReasonLeave)}, nil)
		b.totem([]Proc{pA}, RingID{Node: 1, Seq: 2}, 1)
		b.totem([]Proc{pC}, RingID{Node: 3, Seq: 2}, 3)
		b.cc([]Proc{pC}, []Proc{pC}, nil, []Member{ent(pC, api.ReasonJoin)})
		b.cc([]Proc{pA}, ac, nil, []Member{ent(pC, api.ReasonNodeUp)})
		if missed {
			b.totem([]Proc{pA}, RingID{Node: 1, Seq: 3}, 1, 3)
			b.mcast(pA, 1, pA)
			b.cc([]Proc{pA}, []Proc{pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
			b.totem(ac, RingID{Node: 1, Seq: 4}, 1, 3)
		} else {
			b.cc([]Proc{pC}, ac, nil, []Member{ent(pA, api.ReasonNodeUp)})
			b.totem(ac, RingID{Node: 1, Seq: 3}, 1, 3)
			b.mcast(pA, 1, pA)
			b.cc(ac, []Proc{pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
		}
		b.cc(ac, ac, nil, []Member{ent(pA, api.ReasonJoin)})
		b.mcast(pA, 2, pA, pC)
		for _, p := range ac {
			b.recs = append(b.recs, EndRecord(p, false))
		}
		return b.recs
	}
	if rep := check(build(true), Options{Quiet: true}); rep.Count(PropLiveness) != 0 {
		t.Fatalf("C never installed the view of A's message: %s", rep)
	}
	if rep := check(build(false), Options{Quiet: true}); rep.Count(PropLiveness) != 1 {
		t.Fatalf("C shared the view and missed A's message: want one liveness violation: %s", rep)
	}
}
