//go:build !race

package multinode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/remote"
)

// Large-message settings: a small atomic size, so that a few MiB travel
// in hundreds of parts.
const (
	atomicSize = 4096
	maxMsgSize = 8 << 20
	// viewChanges bounds the merges tried before giving up on
	// ErrInterrupt. A view change cuts a message only while its parts are
	// on their way to the sequencer, a few ms of each message's time: in
	// practice about one merge in eight does.
	viewChanges = 40
	// largeMin: the flood's messages have largeMin to 2*largeMin bytes.
	largeMin = 1 << 20
	// linkFragment: parts travel between nodes in frames of this size.
	// Frames of one message arrive together, and a node takes them in
	// batches of 64 (protoactor's writer batch): small frames make the
	// sequencer order a message in several steps.
	linkFragment = 16 << 10
	// largePause paces the flood: at full speed the nodes lose each
	// other (TestRule16_NoNodeDown...).
	largePause = 20 * time.Millisecond
)

// largeOutcome is the result of one large McastJoined.
type largeOutcome struct {
	seq  uint64
	size int
	err  error
	took time.Duration
}

// Rule 20: a message above the atomic size is delivered as one callback
// with identical bytes; a view change in mid-send makes the sender get
// INTERRUPT, and receivers never see a partial message.
func TestRule20_LargeMessageWholeOrInterrupted(t *testing.T) {
	c := startCluster(t, 3, func(cfg *remote.Config) {
		cfg.MaxAtomicMsgsize = atomicSize
		cfg.MaxMessageSize = maxMsgSize
		cfg.LinkFragment = linkFragment
	})
	const group = "rule20"
	sender := newMember(t, c, 2, "L2")
	sender.join(t, group)
	recv := map[uint32]*member{}
	for _, id := range []uint32{1, 2, 3} {
		recv[id] = newMember(t, c, id, fmt.Sprintf("R%d", id))
		recv[id].join(t, group)
	}
	everyone := []*member{sender, recv[1], recv[2], recv[3]}
	waitMembers(t, group, addrsOf(0, everyone...), everyone...)
	if got, err := sender.h.MaxAtomicMsgsizeGet(); err != nil || got != atomicSize {
		t.Fatalf("MaxAtomicMsgsizeGet = %d, %v; want %d", got, err, atomicSize)
	}

	// 1. Above the atomic size: one callback, the same bytes everywhere.
	const first = 100_000 // 25 parts
	seq, err := sender.sendRetry(first)
	if err != nil {
		t.Fatalf("McastJoined(%d bytes): %v", first, err)
	}
	id := msgID{sender.h.NodeID(), sender.h.Pid(), seq}
	waitFor(t, fmt.Sprintf("%v at every member", id), func() bool {
		for _, m := range everyone {
			if !hasDelivered(m, id) {
				return false
			}
		}
		return true
	}, func() string { return dumpEvents(everyone...) })
	var sum uint32
	for i, m := range everyone {
		var got []event
		for _, e := range m.snapshot() {
			if e.Kind == kDeliver {
				got = append(got, e)
			}
		}
		if len(got) != 1 || got[0].From != id || got[0].Size != first {
			t.Errorf("%s: deliveries %v, want one callback of %v with %d bytes", m.name, got, id, first)
			continue
		}
		if i == 0 {
			sum = got[0].Sum
		} else if got[0].Sum != sum {
			t.Errorf("%s: crc32c of %v is %#x, the sender got %#x", m.name, id, got[0].Sum, sum)
		}
	}

	// 2. Large messages (1-2 MiB, 256-512 parts) from node 2, back to
	// back, while node 1 merges again after a partition: the merge's view
	// change cuts a message whose parts are still on their way to the
	// sequencer. The group is sequenced on node 3 (rendezvous placement of
	// "rule20" over nodes 1-3, and over 2 and 3), and node 1 coordinates:
	// its proposal reaches the sequencer on another link than the sender's
	// parts, so it can fall between two of them; the parts travel in small
	// frames, which the sequencer takes in several batches. Node 1 is cut
	// off while the sender pauses (an unpaced flood during a token timeout
	// is TestRule16_NoNodeDown...'s).
	rng := rand.New(rand.NewPCG(20, 20))
	var mu sync.Mutex
	var outcomes []largeOutcome
	count := func() (n, cut int) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range outcomes {
			if errors.Is(o.err, api.ErrInterrupt) {
				cut++
			}
		}
		return len(outcomes), cut
	}
	type burst struct{ stop, done chan struct{} }
	bursts := make(chan burst)
	go func() {
		for b := range bursts {
			for {
				select {
				case <-b.stop:
				default:
					size := largeMin + rng.IntN(largeMin)
					start := time.Now()
					seq, err := sender.sendRetry(size)
					mu.Lock()
					outcomes = append(outcomes, largeOutcome{seq, size, err, time.Since(start)})
					mu.Unlock()
					time.Sleep(largePause) // pacing, not an assertion
					continue
				}
				break
			}
			close(b.done)
		}
	}()
	changes := 0
	for cut := 0; changes < viewChanges && cut == 0; changes++ {
		c.isolate(1)
		c.waitView(2, 3)
		c.waitView(1)
		b := burst{make(chan struct{}), make(chan struct{})}
		bursts <- b
		n0, _ := count()
		waitFor(t, "a large message sent in the burst", func() bool { n, _ := count(); return n > n0 }, nil)
		c.heal()
		c.waitView(1, 2, 3)
		close(b.stop)
		<-b.done
		_, cut = count()
	}
	close(bursts)

	mu.Lock()
	res := slices.Clone(outcomes)
	mu.Unlock()
	var ok, cut []largeOutcome
	for _, o := range res {
		switch {
		case o.err == nil:
			ok = append(ok, o)
		case errors.Is(o.err, api.ErrInterrupt):
			cut = append(cut, o)
		default:
			t.Errorf("McastJoined(%d bytes) #%d: %v", o.size, o.seq, o.err)
		}
	}
	var took time.Duration
	for _, o := range ok {
		took += o.took
	}
	if len(ok) > 0 {
		took /= time.Duration(len(ok))
	}
	t.Logf("%d merges under the flood; %d large messages delivered (%v each on average), %d interrupted; %d TRY_AGAIN",
		changes, len(ok), took, len(cut), sender.tryAgains.Load())
	if len(cut) == 0 {
		t.Errorf("no large message was interrupted in %d merges (%d sent whole): ErrInterrupt never returned", changes, len(ok))
	}

	// A last message after everything, at every member, so that no late
	// delivery of anything before it can still come. A split of the
	// sender's side (see TestRule16_NoNodeDown...) can keep one from the
	// others: then send another.
	var lastID msgID
	for attempt := 1; ; attempt++ {
		last, err := sender.sendRetry(first)
		if err != nil {
			t.Fatalf("last McastJoined: %v", err)
		}
		lastID = msgID{sender.h.NodeID(), sender.h.Pid(), last}
		if poll(waitTimeout, func() bool {
			for _, m := range everyone {
				if !hasDelivered(m, lastID) {
					return false
				}
			}
			return true
		}) {
			break
		}
		if attempt == 3 {
			t.Fatalf("the last message %v is not at every member after %d tries:%s", lastID, attempt, dumpEvents(everyone...))
		}
	}

	// Every member checked each delivery's length and CRC32C. A message
	// has the same bytes everywhere and is delivered at most once, and an
	// interrupted one nowhere. The sender delivers each of its messages
	// that returned CS_OK; whoever went through the same views as the
	// sender delivered the same messages in each (virtual synchrony), so
	// each such message reached every member in the sender's partition.
	sums := make(map[msgID]uint32)
	for _, m := range everyone {
		count := make(map[msgID]int)
		for _, e := range m.snapshot() {
			if e.Kind != kDeliver {
				continue
			}
			count[e.From]++
			if s, ok := sums[e.From]; ok && s != e.Sum {
				t.Errorf("%s: %v has crc32c %#x, another member got %#x", m.name, e.From, e.Sum, s)
			}
			sums[e.From] = e.Sum
		}
		for id, n := range count {
			if n > 1 {
				t.Errorf("%s: %v delivered %d times", m.name, id, n)
			}
		}
		for _, o := range cut {
			id := msgID{sender.h.NodeID(), sender.h.Pid(), o.seq}
			if count[id] == 0 {
				continue
			}
			// Delivered in view V: by a member that went on from V with
			// the sender, that breaks rule 20 here; by one that went
			// another way, it is the next test's bug, which a split of the
			// sender's side can also bring about here.
			ring, next := segmentOf(m, group, id)
			if sn := nextAfter(sender, group, ring); sn != "" && sn != next {
				t.Logf("%s delivered interrupted message #%d in view %s, then went to %s, the sender to %s: "+
					"see TestRule20_InterruptedMessageIsNotDeliveredInTheOtherPartition", m.name, o.seq, ring, next, sn)
				continue
			}
			t.Errorf("%s: interrupted message #%d delivered; %s\n  sender: %s", m.name, o.seq, around(m, id, 6),
				around(sender, msgID{sender.h.NodeID(), sender.h.Pid(), o.seq - 1}, 6))
		}
		if m == sender {
			var missing []uint64
			for _, o := range ok {
				if count[msgID{sender.h.NodeID(), sender.h.Pid(), o.seq}] != 1 {
					missing = append(missing, o.seq)
				}
			}
			if len(missing) > 0 {
				t.Errorf("%s: %d of its messages that returned CS_OK not delivered to itself: %v%s", m.name, len(missing), missing, dumpEvents(m))
			}
		}
	}
	checkVirtualSynchrony(t, group, everyone...)
	checkStreams(t, everyone...)
}

// sequencerOf returns the node that sequences group in a view of the
// given members. It mirrors cluster's rendezvous placement (owner in
// cluster/engine.go: FNV-64a of the name and the node id, then
// splitmix64's finalizer; the highest score wins, ties to the lowest id),
// so that a test can put a group's sequencer where its scenario needs it.
// If the placement changes, the scenarios lose their point but their
// checks still hold; TestSequencerOfPlacesGroups says so.
func sequencerOf(group string, members []uint32) uint32 {
	var best uint32
	var bestScore uint64
	for _, m := range members {
		h := fnv.New64a()
		h.Write([]byte(group))
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], m)
		h.Write(b[:])
		x := h.Sum64()
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		if best == 0 || x > bestScore || (x == bestScore && m < best) {
			best, bestScore = m, x
		}
	}
	return best
}

// groupSequencedOn returns the first name prefix-N sequenced on node in a
// view of members.
func groupSequencedOn(prefix string, node uint32, members []uint32) string {
	for i := 0; ; i++ {
		if g := fmt.Sprintf("%s-%d", prefix, i); sequencerOf(g, members) == node {
			return g
		}
	}
}

// Settings of the cut scenario: 3 MiB messages in 768 parts of 4 KiB,
// which travel between nodes in frames of 16 KiB (192 frames a message):
// small frames make the ordered parts reach a node in a steady stream
// rather than in a few bursts.
const (
	cutSize     = 3 << 20
	cutFragment = 16 << 10
	// cutRounds bounds the rounds; the test stops earlier once both
	// kinds of cut have interrupted a message.
	cutRounds = 8
)

// sendOutcome is what one large McastJoined returned.
type sendOutcome struct {
	m   *member
	id  msgID
	err error
}

// Rule 20 across a partition: a large message that a view change cuts in
// the middle gives its sender ErrInterrupt, and then no member delivers
// it, on either side of the partition; a large message that is not cut
// is delivered whole, with the same bytes, by every member on the
// sender's side (every member that goes on with the sender to its next
// view), and by a member of the other side only whole and with the same
// bytes.
//
// The sender's node 1 sends two large messages at once, from handles A1
// and B1; the group is sequenced on node 3, so every part goes to node 3
// and comes back ordered, 16 KiB at a time. Parts of one message are
// submitted together and ordered in a row, so when the first of the two
// is delivered on node 1 the parts of the other are on their way. At
// that delivery (in the test's deliver callback on node 1) the links are
// cut: node 3 is isolated (the sequencer leaves the sender's side), or,
// in every other round, node 1 (the sender leaves the sequencer's side). From the cut on, node 1 receives no more ordered
// parts; the view change that follows finds the second message
// part-delivered on node 1 with the rest unordered, and interrupts it.
//
// Cutting the links before the send would not do: then no part is
// ordered, and the view change sends the whole message again in the new
// view (the sender gets CS_OK). The cut is not synchronized with the
// parts' arrival either, which the test cannot see: if no part of the
// second message had reached node 1 yet, or every part had, it is
// delivered whole, which rule 20 allows too. The checks hold either way;
// the test also requires that the interrupt path was taken in at least
// one of its rounds. In 25 runs on 2 cores, both kinds of cut
// interrupted a message in every run, the first round of each kind in
// about 3 runs of 4.
func TestRule20_InterruptedMessageIsNotDeliveredInTheOtherPartition(t *testing.T) {
	c := startCluster(t, 3, func(cfg *remote.Config) {
		cfg.MaxAtomicMsgsize = atomicSize
		cfg.MaxMessageSize = maxMsgSize
		cfg.LinkFragment = cutFragment
	})
	group := groupSequencedOn("rule20x", 3, []uint32{1, 2, 3})
	a := newMember(t, c, 1, "A1")
	b := newMember(t, c, 1, "B1")
	r1 := newMember(t, c, 1, "R1")
	r2 := newMember(t, c, 2, "R2")
	r3 := newMember(t, c, 3, "R3")
	everyone := []*member{a, b, r1, r2, r3}
	for _, m := range everyone {
		m.join(t, group)
	}
	waitMembers(t, group, addrsOf(0, everyone...), everyone...)
	onNodes := func(nodes ...uint32) []*member {
		var out []*member
		for _, m := range everyone {
			if slices.Contains(nodes, m.node) {
				out = append(out, m)
			}
		}
		return out
	}

	// The checksum each large message must arrive with.
	wantSum := make(map[msgID]uint32)
	sumOf := func(id msgID) uint32 {
		if s, ok := wantSum[id]; ok {
			return s
		}
		s := crc32.Checksum(encodeMsg(id, cutSize), castagnoli)
		wantSum[id] = s
		return s
	}
	var interrupted []msgID
	cuts := map[uint32]int{} // interrupts by isolated node
	for round := 0; round < cutRounds && (cuts[1] == 0 || cuts[3] == 0); round++ {
		victim := []uint32{3, 1}[round%2]
		side, other := []uint32{1, 2}, []uint32{3}
		if victim == 1 {
			side, other = []uint32{1}, []uint32{2, 3}
		}
		baseA, baseB := a.nextSeq.Load(), b.nextSeq.Load()
		cutOff := make(chan struct{})
		var once sync.Once
		var first msgID
		hook := func(e event) {
			f := e.From
			if (f.Nodeid == a.h.NodeID() && f.Pid == a.h.Pid() && f.Seq > baseA) ||
				(f.Nodeid == b.h.NodeID() && f.Pid == b.h.Pid() && f.Seq > baseB) {
				once.Do(func() {
					first = f
					c.isolate(victim)
					close(cutOff)
				})
			}
		}
		r1.early.Store(&hook)
		results := make(chan sendOutcome, 2)
		for _, s := range []*member{a, b} {
			go func() {
				seq, err := s.sendRetry(cutSize)
				results <- sendOutcome{s, msgID{s.h.NodeID(), s.h.Pid(), seq}, err}
			}()
		}
		select {
		case <-cutOff:
		case <-time.After(waitTimeout):
			t.Fatalf("round %d: R1 delivered neither large message:%s", round, dumpEvents(everyone...))
		}
		r1.early.Store(nil)
		var outs []sendOutcome
		for range 2 {
			select {
			case o := <-results:
				outs = append(outs, o)
			case <-time.After(waitTimeout):
				t.Fatalf("round %d: a large McastJoined did not return after the cut", round)
			}
		}
		c.waitView(side...)
		c.waitView(other...)
		// A message from each member on each side, delivered by all of
		// them there: whatever the view change delivers has been
		// delivered before it.
		everyoneDelivers(t, group, onNodes(side...)...)
		everyoneDelivers(t, group, onNodes(other...)...)

		for _, o := range outs {
			where := map[string]int{}
			for _, m := range everyone {
				for _, e := range m.snapshot() {
					if e.Kind != kDeliver || e.From != o.id {
						continue
					}
					where[m.name]++
					if e.Size != cutSize || e.Sum != sumOf(o.id) {
						t.Errorf("round %d: %s delivered %v with %d bytes, crc32c %#x; sent %d bytes, crc32c %#x",
							round, m.name, o.id, e.Size, e.Sum, cutSize, sumOf(o.id))
					}
				}
			}
			kind := "first"
			if o.id != first {
				kind = "second"
			}
			t.Logf("round %d (node %d isolated): %s message %v: McastJoined %v; delivered by %v", round, victim, kind, o.id, o.err, where)
			switch {
			case errors.Is(o.err, api.ErrInterrupt):
				interrupted = append(interrupted, o.id)
				cuts[victim]++
				if o.id == first {
					t.Errorf("round %d: %v returned ErrInterrupt, but R1 on the sender's node had delivered it before the cut", round, o.id)
				}
				if len(where) > 0 {
					t.Errorf("round %d: %v returned ErrInterrupt, yet was delivered by %v", round, o.id, where)
				}
			case o.err == nil:
				// Every member that went on from the view in which the
				// sender delivered it to the sender's next view delivered
				// it too (virtual synchrony): the sender's side of the
				// cut, unless load split it as well.
				// (next is "" while the sender is still in the view in
				// which it delivered it: then every member in that view.)
				ring, next := segmentOf(o.m, group, o.id)
				if ring == "" {
					t.Errorf("round %d: %v returned CS_OK, but its sender %s did not deliver it:%s",
						round, o.id, o.m.name, dumpEvents(o.m))
					break
				}
				for _, m := range everyone {
					if n := where[m.name]; n > 1 || (n == 0 && inView(m, group, ring) && nextAfter(m, group, ring) == next) {
						t.Errorf("round %d: %v returned CS_OK and was delivered in view %s, then %s; %s went the same way and delivered it %d times:%s",
							round, o.id, ring, next, m.name, n, dumpEvents(m, o.m))
					}
				}
			default:
				t.Errorf("round %d: %s: McastJoined(%d bytes): %v", round, o.m.name, cutSize, o.err)
			}
		}
		c.heal()
		c.waitView(1, 2, 3)
	}

	// After the last heal nothing cut comes back: no member delivers an
	// interrupted message, and every stream is FIFO without duplicates.
	everyoneDelivers(t, group, everyone...)
	for _, id := range interrupted {
		for _, m := range everyone {
			if hasDelivered(m, id) {
				t.Errorf("%s delivered %v after the heal; its McastJoined returned ErrInterrupt", m.name, id)
			}
		}
	}
	t.Logf("interrupted: %d with node 3 (the sequencer) isolated, %d with node 1 (the sender's node) isolated", cuts[3], cuts[1])
	if len(interrupted) == 0 {
		t.Errorf("no large message was interrupted in %d rounds: the interrupt path was never taken", cutRounds)
	}
	checkVirtualSynchrony(t, group, everyone...)
	checkStreams(t, everyone...)
}

// sequencerOf agrees with the engine's placement: three cluster.Engine
// state machines, linked by a loop that carries their messages, form a
// view of nodes 1-3, and each engine's Owner of a group is sequencerOf's
// answer.
func TestSequencerOfMatchesTheEngine(t *testing.T) {
	ids := []uint32{1, 2, 3}
	engines := map[uint32]*cluster.Engine{}
	for _, id := range ids {
		engines[id] = cluster.New(cluster.Config{NodeID: id, Nodes: ids, RingSeq: 1, Incarnation: 1,
			Token: 100 * time.Millisecond, Heartbeat: 20 * time.Millisecond, Join: 20 * time.Millisecond,
			Consensus: 200 * time.Millisecond, Retransmit: 30 * time.Millisecond})
	}
	type envelope struct {
		from, to uint32
		msg      proto.Message
	}
	var queue []envelope
	take := func(id uint32) {
		e := engines[id]
		if !e.HasReady() {
			return
		}
		for _, o := range e.Ready().Messages {
			queue = append(queue, envelope{id, o.To, o.Msg})
		}
		e.Advance()
	}
	formed := func() bool {
		for _, id := range ids {
			if e := engines[id]; e.Syncing() || !slices.Equal(e.Members(), ids) {
				return false
			}
		}
		return true
	}
	var now time.Duration
	for ; !formed() && now < time.Minute; now += 5 * time.Millisecond {
		q := queue
		queue = nil
		for _, env := range q {
			engines[env.to].Step(env.from, env.msg)
			take(env.to)
		}
		for _, id := range ids {
			engines[id].Tick(now)
			take(id)
		}
	}
	if !formed() {
		t.Fatalf("the engines formed no view of %v in a minute of simulated time", ids)
	}
	seen := map[uint32]bool{}
	for i := 0; i < 40; i++ {
		g := fmt.Sprintf("g%d", i)
		want := sequencerOf(g, ids)
		seen[want] = true
		for _, id := range ids {
			if got := engines[id].Owner([]byte(g)); got != want {
				t.Errorf("group %q: node %d's engine places it on node %d, sequencerOf on node %d", g, id, got, want)
			}
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("40 groups placed on %d of %d nodes", len(seen), len(ids))
	}
	if g := groupSequencedOn("rule20x", 3, ids); engines[1].Owner([]byte(g)) != 3 {
		t.Errorf("%q is not sequenced on node 3", g)
	}
}

// inView reports whether m went through view ring (a totem confchg) as a
// member of group.
func inView(m *member, group, ring string) bool {
	return slices.ContainsFunc(segments(m, group), func(s segment) bool { return s.ring == ring })
}
