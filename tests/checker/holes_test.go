package checker

import (
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// The four holes of issue 12: each history below is one the checker before
// it accepted, although the protocol lost a message or broke membership
// agreement in it.

// threeInRing builds A, B and C joined in ring 1/1 (each with its initial
// totem confchg).
func threeInRing() (*builder, []Proc) {
	b := &builder{}
	all := []Proc{pA, pB, pC}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc(all, all, nil, []Member{ent(pC, api.ReasonJoin)})
	return b, all
}

func ends(b *builder, ps ...Proc) {
	for _, p := range ps {
		b.recs = append(b.recs, EndRecord(p, false))
	}
}

// Hole 1: C delivers A:1 and A:3..A:39 in one view and never A:2; long
// afterwards C's node is cut off and C sees A go with NODEDOWN. Extended
// Virtual Synchrony excuses what comes after a cut, never a hole before a
// message the receiver did get: the gap check catches it, and liveness no
// longer takes the late removal as an excuse.
func TestHole1_AHoleIsNotExcusedByALaterRemoval(t *testing.T) {
	b, all := threeInRing()
	b.mcast(pA, 1, all...)
	b.mcast(pA, 2, pA, pB)
	for s := uint64(3); s < 40; s++ {
		b.mcast(pA, s, all...)
	}
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown), ent(pB, api.ReasonNodeDown)}, nil)
	b.totem([]Proc{pA, pB}, RingID{Node: 1, Seq: 2}, 1, 2)
	b.totem([]Proc{pC}, RingID{Node: 3, Seq: 2}, 3)
	ends(b, all...)
	rep := check(b.recs, Options{Quiet: true})
	if rep.Count(PropGap) != 1 || rep.Count(PropLiveness) != 1 {
		t.Fatalf("want one gap and one liveness violation at C:\n%s", rep)
	}
	if rep := check(b.recs, Options{}); rep.Count() != 1 || rep.Count(PropGap) != 1 {
		t.Fatalf("want the gap caught without Quiet too:\n%s", rep)
	}

	// The tail case: C misses A:40 only (no later message of A), and the
	// cut comes after another view change in which C and A stayed
	// together: the excuse is bounded to the first view change.
	b, all = threeInRing()
	b.mcast(pA, 1, all...)
	b.mcast(pA, 2, pA, pB)
	b.totem(all, RingID{Node: 1, Seq: 2}, 1, 2, 3) // a node with no process of the group came and went
	b.mcast(pB, 1, all...)
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown), ent(pB, api.ReasonNodeDown)}, nil)
	b.totem([]Proc{pA, pB}, RingID{Node: 1, Seq: 3}, 1, 2)
	b.totem([]Proc{pC}, RingID{Node: 3, Seq: 3}, 3)
	ends(b, all...)
	rep = check(b.recs, Options{Quiet: true})
	if rep.Count(PropLiveness) == 0 {
		t.Fatalf("want C's missing A:2 (before a view change C and A went through together) caught:\n%s", rep)
	}

	// A legal cut: C is cut off right after A:1; A:2 is sent on A's side.
	b, all = threeInRing()
	b.mcast(pA, 1, all...)
	b.mcast(pA, 2, pA, pB)
	b.cc([]Proc{pA, pB}, []Proc{pA, pB}, []Member{ent(pC, api.ReasonNodeDown)}, nil)
	b.cc([]Proc{pC}, []Proc{pC}, []Member{ent(pA, api.ReasonNodeDown), ent(pB, api.ReasonNodeDown)}, nil)
	b.totem([]Proc{pA, pB}, RingID{Node: 1, Seq: 2}, 1, 2)
	b.totem([]Proc{pC}, RingID{Node: 3, Seq: 2}, 3)
	ends(b, all...)
	// (Unhealed, so the final lists differ: ghost.)
	if rep := check(b.recs, Options{Quiet: true}); rep.Count() != rep.Count(PropGhost) {
		t.Fatalf("a cut right after A:1 excuses A:2 at C:\n%s", rep)
	}
}

// Hole 2: A delivers its own A:2 (so A:2 was ordered) and then finalizes;
// neither B nor C ever delivers it. A finalize is a PROCDOWN with a live
// node (CPG-SPEC 3.3): what was ordered before it is still owed.
func TestHole2_FinalizeIsNotACrash(t *testing.T) {
	b, all := threeInRing()
	b.mcast(pA, 1, all...)
	b.mcast(pA, 2, pA)
	b.recs = append(b.recs, FinalizedRecord(pA))
	b.cc([]Proc{pB, pC}, []Proc{pB, pC}, []Member{ent(pA, api.ReasonProcDown)}, nil)
	ends(b, pB, pC)
	rep := check(b.recs, Options{Quiet: true})
	expect(t, rep, PropLiveness)
	if rep.Count() != 2 {
		t.Fatalf("want A:2 owed to B and to C:\n%s", rep)
	}
	// A crash of A's node does excuse it: A's messages were held only there.
	for i := range b.recs {
		if b.recs[i].Kind == KindEnd && b.recs[i].Proc == pA {
			b.recs[i] = EndRecord(pA, true)
		}
		if b.recs[i].Kind == KindConfchg && len(b.recs[i].Left) == 1 && b.recs[i].Left[0].Node == pA.Node {
			b.recs[i].Left = []Member{ent(pA, api.ReasonNodeDown)}
		}
	}
	b.totem([]Proc{pB, pC}, RingID{Node: 2, Seq: 2}, 2, 3)
	if rep := check(b.recs, Options{Quiet: true}); !rep.OK() {
		t.Fatalf("a crashed sender's last message is not owed:\n%s", rep)
	}
}

// Hole 3: in a fault-free ring, C misses B's JOIN and LEAVE that A sees.
// CPG-SPEC 4.5 and rule 11: within one ring all members of a group see the
// same sequence of confchgs.
func TestHole3_OneRingOneConfchgSequence(t *testing.T) {
	b := &builder{}
	ac := []Proc{pA, pC}
	all := []Proc{pA, pB, pC}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc(ac, ac, nil, []Member{ent(pC, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, all, nil, []Member{ent(pB, api.ReasonJoin)})
	b.cc([]Proc{pA, pB}, ac, []Member{ent(pB, api.ReasonLeave)}, nil)
	b.mcast(pA, 1, ac...)
	pD := Proc{Node: 2, Pid: 21}
	b.totem([]Proc{pD}, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA, pC, pD}, []Proc{pA, pD, pC}, nil, []Member{ent(pD, api.ReasonJoin)})
	ends(b, pA, pB, pC, pD)
	rep := check(b.recs, Options{Quiet: true, FaultFree: true})
	expect(t, rep, PropConfchg)
	if rep.Violations[0].Proc != pC && rep.Violations[0].Proc != pA {
		t.Errorf("want the disagreement between A and C: %s", rep)
	}
}

// Hole 4: the same pair of confchgs (B joins, B leaves) recurs; in the
// second round C's segment is empty while A and B delivered A:3. Segments
// keyed by content alone, and compared only when they share a message,
// never compared the empty one.
func TestHole4_EmptySegmentOfARecurringPairIsCompared(t *testing.T) {
	b := &builder{}
	ac := []Proc{pA, pC}
	all := []Proc{pA, pB, pC}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc(ac, ac, nil, []Member{ent(pC, api.ReasonJoin)})
	for round := uint64(0); round < 2; round++ {
		b.cc(all, all, nil, []Member{ent(pB, api.ReasonJoin)})
		if round == 0 {
			b.mcast(pA, 1, all...)
		} else {
			b.mcast(pA, 2, pA, pB)
		}
		b.cc(all, ac, []Member{ent(pB, api.ReasonLeave)}, nil)
	}
	ends(b, all...)
	rep := check(b.recs, Options{})
	expect(t, rep, PropVirtualSynchrony)

	// And after the last confchg: A and C stay together to a quiet end, A
	// delivers A:3, C does not.
	b = &builder{}
	b.totem(all, RingID{Node: 1, Seq: 1}, 1, 2, 3)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc(ac, ac, nil, []Member{ent(pC, api.ReasonJoin)})
	b.mcast(pC, 1, ac...)
	b.recs = append(b.recs, DeliverDataRecord(pA, []byte("g"), pB.Node, pB.Pid, EncodeMsg(pB, 1, 40)))
	ends(b, ac...)
	rep = check(b.recs, Options{Quiet: true})
	if rep.Count(PropVirtualSynchrony) != 1 {
		t.Fatalf("want the last segments compared:\n%s", rep)
	}
}

// A finalized sender whose last messages were ordered after every other
// member left (CPG does not promise sending-view delivery) owes them to
// nobody; had B stayed, they would be owed to B.
func TestNoLossFinalizedSenderLeftAlone(t *testing.T) {
	b := &builder{}
	ab := []Proc{pA, pB}
	b.totem(ab, RingID{Node: 1, Seq: 1}, 1, 2)
	b.cc([]Proc{pA}, []Proc{pA}, nil, []Member{ent(pA, api.ReasonJoin)})
	b.cc(ab, ab, nil, []Member{ent(pB, api.ReasonJoin)})
	b.mcast(pA, 1, ab...)
	b.recs = append(b.recs, SentRecord(pA, []byte("g"), 2, true), FinalizedRecord(pA))
	stay := b.recs
	b.cc([]Proc{pB}, []Proc{pA}, []Member{ent(pB, api.ReasonLeave)}, nil)
	ends(b, pB)
	if rep := check(b.recs, Options{Quiet: true, FaultFree: true}); !rep.OK() {
		t.Fatal(rep)
	}
	b.recs = stay
	b.cc([]Proc{pB}, []Proc{pB}, []Member{ent(pA, api.ReasonProcDown)}, nil)
	ends(b, pB)
	rep := check(b.recs, Options{Quiet: true, FaultFree: true})
	expect(t, rep, PropNoLoss)
}
