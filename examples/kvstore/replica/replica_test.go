package replica

import (
	"errors"
	"fmt"
	"testing"
)

// three starts three replicas and runs until their term is formed.
func three(t *testing.T, cfg func(*Config)) (*world, []Member) {
	t.Helper()
	w := newWorld(t, 3, cfg)
	ms := []Member{w.start(1, nil), w.start(2, nil), w.start(3, nil)}
	w.run()
	for _, m := range ms {
		if st := w.status(m); st.Phase != "formed" || !st.Primary {
			t.Fatalf("%v: %+v, want formed and primary", m, st)
		}
	}
	return w, ms
}

// TestStartNeedsEveryReplica: with no state anywhere, the store starts
// only when all N replicas are there (term 1, empty); before that, every
// proposal is refused.
func TestStartNeedsEveryReplica(t *testing.T) {
	w := newWorld(t, 3, nil)
	a, b := w.start(1, nil), w.start(2, nil)
	w.run()
	if _, err := w.propose(a, Op{Kind: Put, Key: "k", Value: "v"}); !errors.Is(err, ErrNoPrimary) {
		t.Fatalf("two of three fresh replicas: %v, want ErrNoPrimary", err)
	}
	c := w.start(3, nil)
	w.run()
	for _, m := range []Member{a, b, c} {
		if st := w.status(m); st.Term != 1 || !st.Primary || st.Keys != 0 {
			t.Fatalf("%v: %+v, want term 1, primary, empty", m, st)
		}
	}
}

// TestWritesCommitAndAnswerInOrder: a put and a consistent read through
// different replicas are answered once committed, with the value in
// order; every replica ends at the same position.
func TestWritesCommitAndAnswerInOrder(t *testing.T) {
	w, ms := three(t, nil)
	put := w.put(ms[0], "x", "1")
	read, err := w.propose(ms[1], Op{Kind: Read, Key: "x"})
	if err != nil {
		t.Fatal(err)
	}
	w.run()
	if got, ok := w.procs[ms[0]].answers[put]; !ok || got.Value != "1" {
		t.Fatalf("put answer %+v %v", got, ok)
	}
	if got := w.procs[ms[1]].answers[read]; !got.Found || got.Value != "1" {
		t.Fatalf("read answer %+v, want 1", got)
	}
	w.requireSame(ms...)
}

// TestJoinerGetsStateWhileWritesGoOn: a replica restarted into a running
// term receives a snapshot in parts, cut at its transfer's START, while
// writes keep committing; it applies the writes delivered meanwhile after
// the snapshot and ends identical to the others.
func TestJoinerGetsStateWhileWritesGoOn(t *testing.T) {
	w, ms := three(t, func(c *Config) { c.ChunkBytes, c.Window = 512, 1 })
	w.fill(ms[0], 200, 50)
	w.kill(ms[2])
	w.run()
	if !w.status(ms[0]).Primary {
		t.Fatal("two of three replicas are not primary")
	}
	j := w.start(3, nil)
	s := w.procs[j].side
	w.stepUntil(s, "the joiner receives parts", func() bool { return w.status(j).ReceivedParts >= 2 })
	var seqs []uint64
	for i := 0; i < 5; i++ {
		seqs = append(seqs, w.put(ms[1], fmt.Sprintf("during%d", i), "x"))
	}
	w.stepUntil(s, "writes delivered during the transfer", func() bool { return w.status(j).BufferedOps >= 5 })
	if st := w.status(j); !st.Receiving || st.Primary {
		t.Fatalf("joiner mid-transfer: %+v", st)
	}
	if _, err := w.propose(j, Op{Kind: Put, Key: "k", Value: "v"}); !errors.Is(err, ErrSyncing) {
		t.Fatalf("a proposal at a receiver: %v, want ErrSyncing", err)
	}
	w.run()
	for _, seq := range seqs {
		if _, ok := w.procs[ms[1]].answers[seq]; !ok {
			t.Fatalf("write %d during the transfer not answered", seq)
		}
	}
	if st := w.status(j); !st.Primary || st.Keys != 205 {
		t.Fatalf("joiner after the transfer: %+v", st)
	}
	w.requireSame(ms[0], ms[1], j)
}

// TestDonorDiesMidTransfer: the donor is killed after a few parts; the
// next synced member (lowest address) sends a new START, the receiver
// drops the partial snapshot and gets the whole state from it.
func TestDonorDiesMidTransfer(t *testing.T) {
	w, ms := three(t, func(c *Config) { c.ChunkBytes, c.Window = 256, 1 })
	w.fill(ms[0], 100, 40)
	w.kill(ms[2])
	w.run()
	j := w.start(3, nil)
	s := w.procs[j].side
	w.stepUntil(s, "parts from the first donor", func() bool { return w.status(j).ReceivedParts >= 3 })
	if !w.status(ms[0]).Donating {
		t.Fatalf("the donor is not %v (lowest synced address): %+v", ms[0], w.status(ms[0]))
	}
	w.put(ms[1], "while-replacing", "y")
	w.kill(ms[0])
	w.run()
	if st := w.status(j); st.Receiving || st.Keys != 101 || st.TransfersDone != 1 {
		t.Fatalf("joiner after the donor's death: %+v", st)
	}
	w.requireSame(ms[1], j)
	// Two of three again: writes commit.
	seq := w.put(j, "after", "z")
	w.run()
	if _, ok := w.procs[j].answers[seq]; !ok {
		t.Fatal("a write after the transfer was not committed")
	}
}

// TestMinorityRefusesAndResyncsOnMerge is the partition policy: the side
// with a majority of the replicas forms a new term and takes writes; the
// minority refuses them; on merge a new round makes the majority's
// state everyone's (the minority replica receives it).
func TestMinorityRefusesAndResyncsOnMerge(t *testing.T) {
	w, ms := three(t, nil)
	w.put(ms[0], "a", "1")
	w.run()
	maj, min := w.partition(ms[0], ms[1])
	w.run()
	if _, err := w.propose(ms[2], Op{Kind: Put, Key: "a", Value: "minority"}); !errors.Is(err, ErrNoPrimary) {
		t.Fatalf("minority put: %v, want ErrNoPrimary", err)
	}
	if _, err := w.propose(ms[2], Op{Kind: Read, Key: "a"}); !errors.Is(err, ErrNoPrimary) {
		t.Fatalf("minority consistent read: %v, want ErrNoPrimary", err)
	}
	seq := w.put(ms[0], "a", "2")
	w.run()
	if _, ok := w.procs[ms[0]].answers[seq]; !ok {
		t.Fatal("the majority did not commit")
	}
	term := w.status(ms[0]).Term
	w.merge(maj, min)
	w.run()
	if st := w.status(ms[2]); st.Term <= term || !st.Primary || st.TransfersDone != 1 {
		t.Fatalf("minority replica after merge: %+v (majority term was %d)", st, term)
	}
	if v, _ := w.procs[ms[2]].r.Get("a"); v != "2" {
		t.Fatalf("minority replica has a=%q after merge, want 2", v)
	}
	w.requireSame(ms...)
}

// TestProposalAdoptedByNextTerm: a write applied everywhere but committed
// only on the side its proposer is not on is answered when the merged
// term forms, since the new term's state holds it.
func TestProposalAdoptedByNextTerm(t *testing.T) {
	w, ms := three(t, nil)
	seq := w.put(ms[0], "a", "1")
	s := w.procs[ms[0]].side
	w.step(s) // the op: applied at all three, acks queued
	if len(w.procs[ms[0]].answers) != 0 {
		t.Fatal("answered before any ack")
	}
	left, right := w.partition(ms[0])
	w.run()
	if _, ok := w.procs[ms[0]].answers[seq]; ok {
		t.Fatal("answered by a minority")
	}
	w.merge(left, right)
	w.run()
	if got, ok := w.procs[ms[0]].answers[seq]; !ok || got.Value != "1" {
		t.Fatalf("the write was not answered when the next term adopted it: %+v %v", got, ok)
	}
	w.requireSame(ms...)
}

// TestRoundNeedsMajorityOfStates: after two of three replicas restart,
// the survivor alone holds a state: no round can form (its state may miss
// committed writes only the dead ones held), so nothing is accepted.
func TestRoundNeedsMajorityOfStates(t *testing.T) {
	w, ms := three(t, nil)
	w.put(ms[0], "a", "1")
	w.run()
	w.kill(ms[1])
	w.kill(ms[2])
	w.run()
	b, c := w.start(2, nil), w.start(3, nil)
	w.run()
	// The term goes on within the ring: the survivor gives them the state.
	for _, m := range []Member{b, c} {
		if st := w.status(m); !st.Primary || st.Keys != 1 {
			t.Fatalf("%v: %+v", m, st)
		}
	}
	// A view change now: every replica holds the state again; forms.
	l, r := w.partition(ms[0])
	w.run()
	w.merge(l, r)
	w.run()
	w.requireSame(ms[0], b, c)
}

// TestNoSyncedMemberLeftStartsRound: the only synced member dies while
// the others still receive: a new round among them finds the highest
// state they hold (or none), without a majority of states nothing forms.
func TestNoSyncedMemberLeftStartsRound(t *testing.T) {
	w, ms := three(t, func(c *Config) { c.ChunkBytes, c.Window = 64, 1 })
	w.fill(ms[0], 50, 20)
	w.kill(ms[1])
	w.kill(ms[2])
	w.run()
	b := w.start(2, nil)
	s := w.procs[b].side
	w.stepUntil(s, "a part", func() bool { return w.status(b).ReceivedParts >= 1 })
	w.kill(ms[0])
	w.run()
	if st := w.status(b); st.Phase != "forming" || st.Primary {
		t.Fatalf("the receiver alone: %+v, want forming", st)
	}
}

// TestBugSkipBufferDiverges: with the injected bug, a receiver loses the
// writes delivered during its transfer (the unit-level proof that the
// injection does what the linearizability test relies on).
func TestBugSkipBufferDiverges(t *testing.T) {
	w, ms := three(t, func(c *Config) { c.ChunkBytes, c.Window, c.Bug = 256, 1, BugSkipBuffer })
	w.fill(ms[0], 50, 40)
	w.kill(ms[2])
	w.run()
	j := w.start(3, nil)
	s := w.procs[j].side
	w.stepUntil(s, "a part", func() bool { return w.status(j).ReceivedParts >= 1 })
	w.put(ms[0], "lost", "x")
	w.run()
	if v, ok := w.procs[j].r.Get("lost"); ok {
		t.Fatalf("the bug did not lose the write (%q)", v)
	}
}

// TestBugMinorityPrimarySplitsBrain: with the injected bug both sides of
// a partition take writes.
func TestBugMinorityPrimarySplitsBrain(t *testing.T) {
	w, ms := three(t, func(c *Config) { c.Bug = BugMinorityPrimary })
	w.partition(ms[0], ms[1])
	w.run()
	a, b := w.put(ms[0], "k", "majority"), w.put(ms[2], "k", "minority")
	w.run()
	if _, ok := w.procs[ms[0]].answers[a]; !ok {
		t.Fatal("majority write not committed")
	}
	if _, ok := w.procs[ms[2]].answers[b]; !ok {
		t.Fatal("the bug did not let the minority commit")
	}
}
