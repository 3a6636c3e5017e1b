package checker

import (
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// The shape of sim seed 15731: in one ring, D joins, leaves and joins again
// with the same member list; C saw the first JOIN and the LEAVE, then its
// node was cut off, before the second JOIN. D's messages after the second
// JOIN are not owed to C: the two JOIN confchgs are two occurrences of one
// content in one ring, and C shares only the first.
func TestLivenessRecurringJoinInOneRing(t *testing.T) {
	pD := Proc{Node: 4, Pid: 40}
	pC := Proc{Node: 5, Pid: 50}
	acd := []Proc{pA, pC, pD}
	b := &builder{}
	b.totem(acd, RingID{Node: 1, Seq: 8}, 1, 4, 5)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pC}, []Proc{pA, pC}, nil, []Member{ent(pC, api.ReasonJoin)})
	b.cc(acd, []Proc{pA, pD, pC}, nil, []Member{ent(pD, api.ReasonJoin)})
	b.cc(acd, []Proc{pA, pC}, []Member{ent(pD, api.ReasonLeave)}, nil)
	// C's node is cut off; A's side orders D's second JOIN and messages.
	b.cc([]Proc{pA, pD}, []Proc{pA, pD, pC}, nil, []Member{ent(pD, api.ReasonJoin)})
	for s := uint64(1); s <= 3; s++ {
		b.mcast(pD, s, pA, pD)
	}
	b.cc([]Proc{pA, pD}, []Proc{pA, pD}, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown)}, nil)
	b.totem([]Proc{pA, pD}, RingID{Node: 1, Seq: 9}, 1, 4)
	b.totem([]Proc{pC}, RingID{Node: 5, Seq: 9}, 5)
	// Heal.
	b.cc([]Proc{pA, pD}, []Proc{pA, pD, pC}, nil, []Member{ent(pC, api.ReasonNodeUp)})
	b.cc([]Proc{pC}, []Proc{pA, pD, pC}, nil, []Member{ent(pA, api.ReasonNodeUp), ent(pD, api.ReasonNodeUp)})
	b.totem(acd, RingID{Node: 1, Seq: 10}, 1, 4, 5)
	ends(b, acd...)
	if rep := check(b.recs, Options{Quiet: true}); !rep.OK() {
		t.Fatal(rep)
	}
	// Had C stayed in the ring (no cut), the messages would be owed.
	b = &builder{}
	b.totem(acd, RingID{Node: 1, Seq: 8}, 1, 4, 5)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pC}, []Proc{pA, pC}, nil, []Member{ent(pC, api.ReasonJoin)})
	b.cc(acd, []Proc{pA, pD, pC}, nil, []Member{ent(pD, api.ReasonJoin)})
	b.cc(acd, []Proc{pA, pC}, []Member{ent(pD, api.ReasonLeave)}, nil)
	b.cc(acd, []Proc{pA, pD, pC}, nil, []Member{ent(pD, api.ReasonJoin)})
	for s := uint64(1); s <= 3; s++ {
		b.mcast(pD, s, pA, pD)
	}
	ends(b, acd...)
	if rep := check(b.recs, Options{Quiet: true}); rep.Count(PropLiveness) != 3 {
		t.Fatalf("want D:1-3 owed to C:\n%s", rep)
	}
}

// The shape of sim seed 8789 (and 215): the Install of ring 1/2 is lost to
// node 3, which the others list in it (a view may list a node that fails
// before installing it). In 1/2, A delivers A:1 and leaves. C never
// installed 1/2: it is owed nothing of it, and its next view change shows
// the others gone.
func TestLivenessRingNeverInstalled(t *testing.T) {
	all := []Proc{pA, pB, pC}
	b := &builder{}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc(all, all, nil, []Member{ent(pC, api.ReasonJoin)})
	b.totem([]Proc{pA, pB}, RingID{Node: 1, Seq: 2}, 1, 2, 3) // C misses it
	b.mcast(pA, 1, pA, pB)
	b.cc([]Proc{pA, pB}, []Proc{pB, pC}, []Member{ent(pA, api.ReasonLeave)}, nil)
	b.cc([]Proc{pB}, []Proc{pB}, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.totem([]Proc{pA, pB}, RingID{Node: 1, Seq: 3}, 1, 2)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown), ent(pB, api.ReasonNodeDown)}, nil)
	b.totem([]Proc{pC}, RingID{Node: 3, Seq: 3}, 3)
	b.cc([]Proc{pB}, []Proc{pB, pC}, nil, []Member{ent(pC, api.ReasonNodeUp)})
	b.cc([]Proc{pC}, []Proc{pB, pC}, nil, []Member{ent(pB, api.ReasonNodeUp)})
	b.totem(all, RingID{Node: 1, Seq: 4}, 1, 2, 3)
	ends(b, all...)
	if rep := check(b.recs, Options{Quiet: true}); !rep.OK() {
		t.Fatal(rep)
	}
	// Had C installed 1/2 and delivered A's LEAVE there, it would have
	// had to deliver A:1 before it (virtual synchrony).
	var rs []Record
	for _, r := range b.recs {
		rs = append(rs, r)
		if r.Kind == KindTotem && r.Ring.Seq == 2 && r.Proc == pB {
			r.Proc = pC
			rs = append(rs, r)
		}
		if r.Kind == KindConfchg && r.Proc == pB && len(r.Left) == 1 && r.Left[0].Reason == api.ReasonLeave {
			r.Proc = pC
			rs = append(rs, r)
		}
	}
	for i, r := range rs {
		if r.Kind == KindConfchg && r.Proc == pC && len(r.Left) == 2 {
			rs[i].Left = []Member{ent(pB, api.ReasonNodeDown)}
		}
	}
	if rep := check(rs, Options{Quiet: true}); rep.Count(PropVirtualSynchrony) != 1 {
		t.Fatalf("want C's segment before A's LEAVE short of A:1:\n%s", rep)
	}
}

// A churning handle with CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF gets the
// current ring's totem confchg after each of its JOINs (rule 7), and the
// first one only after its first JOIN: the same ring again is not a ring
// change, and its first JOIN belongs to that ring (the multinode churn
// test's shape: numbered without a ring, every later occurrence of B's
// JOIN was one off and the sequences of one ring seemed to disagree).
func TestInitialTotemAfterEachJoin(t *testing.T) {
	ab := []Proc{pA, pB}
	r := RingID{Node: 1, Seq: 2}
	b := &builder{}
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.totem([]Proc{pA}, r, 1, 2)
	for round := uint64(1); round <= 3; round++ {
		b.cc(ab, ab, nil, []Member{ent(pB, api.ReasonJoin)})
		b.totem([]Proc{pB}, r, 1, 2) // B's initial totem confchg, every time
		b.mcast(pA, round, ab...)
		b.cc(ab, []Proc{pA}, []Member{ent(pB, api.ReasonLeave)}, nil)
	}
	ends(b, ab...)
	if rep := check(b.recs, Options{Quiet: true, FaultFree: true}); !rep.OK() {
		t.Fatal(rep)
	}
}
