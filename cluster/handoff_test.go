package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
)

// joinedNet returns three nodes in one view with handle 1 of each joined
// to group "g".
func joinedNet(t *testing.T) *testNet {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	return tn
}

// nonOwner returns a node of the view other than the group's sequencer.
func (tn *testNet) nonOwner(name string, not ...uint32) uint32 {
	own := tn.nodes[1].Owner([]byte(name))
	for _, id := range tn.ids() {
		if id != own && !slices.Contains(not, id) {
			return id
		}
	}
	tn.t.Fatalf("no node besides %d", own)
	return 0
}

// sendEvery makes node id multicast n messages tagged tag, one per step.
func (tn *testNet) sendEvery(id uint32, n int, tag string) {
	for i := range n {
		tn.mcast(id, 1, fmt.Sprintf("%s%d", tag, i))
		tn.step()
	}
}

// sameLogs fails unless every listed node delivered the same messages to
// handle 1 in the same order, and returns node ids[0]'s. (The handles
// joined at different points: their confchgs differ.)
func (tn *testNet) sameLogs(ids ...uint32) []string {
	tn.t.Helper()
	msgs := func(id uint32) []string {
		var out []string
		for _, s := range tn.events[id][1] {
			if strings.HasPrefix(s, "msg ") {
				out = append(out, s)
			}
		}
		return out
	}
	want := msgs(ids[0])
	for _, id := range ids[1:] {
		if got := msgs(id); !slices.Equal(got, want) {
			tn.t.Fatalf("node %d delivered\n%s\nnode %d delivered\n%s", ids[0], strings.Join(want, "\n"), id, strings.Join(got, "\n"))
		}
	}
	return want
}

func countPrefix(log []string, prefix string) int {
	n := 0
	for _, s := range log {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// A lone sender on another node gets the group's sequencer after
// Config.Handoff; every node agrees on the move and delivers the same
// messages in the same order, none twice, none lost.
func TestSequencerMovesToALoneSender(t *testing.T) {
	tn := joinedNet(t)
	first := tn.nodes[1].Owner([]byte("g"))
	sender := tn.nonOwner("g")
	tn.sendEvery(sender, 40, "a") // 200 ms, above DefaultHandoff
	tn.run(100 * time.Millisecond)
	for _, id := range tn.ids() {
		if got := tn.nodes[id].Owner([]byte("g")); got != sender {
			t.Fatalf("node %d: sequencer on node %d (started on %d), want the lone sender %d", id, got, first, sender)
		}
	}
	log := tn.sameLogs(tn.ids()...)
	if n := countPrefix(log, fmt.Sprintf("msg %d/%d a", sender, 100+sender)); n != 40 {
		t.Fatalf("delivered %d of 40 messages:\n%s", n, strings.Join(log, "\n"))
	}
	// Another node takes over as the lone sender: the sequencer follows.
	other := tn.nonOwner("g")
	tn.sendEvery(other, 40, "b")
	tn.run(100 * time.Millisecond)
	for _, id := range tn.ids() {
		if got := tn.nodes[id].Owner([]byte("g")); got != other {
			t.Fatalf("node %d: sequencer on node %d, want %d", id, got, other)
		}
	}
	log = tn.sameLogs(tn.ids()...)
	if n := countPrefix(log, "msg "); n != 80 {
		t.Fatalf("delivered %d of 80 messages:\n%s", n, strings.Join(log, "\n"))
	}
}

// Senders on two nodes at once keep the sequencer where it is.
func TestSequencerStaysWithTwoSenders(t *testing.T) {
	tn := joinedNet(t)
	own := tn.nodes[1].Owner([]byte("g"))
	a := tn.nonOwner("g")
	b := tn.nonOwner("g", a)
	for i := range 60 {
		tn.mcast(a, 1, fmt.Sprintf("a%d", i))
		tn.mcast(b, 1, fmt.Sprintf("b%d", i))
		tn.step()
	}
	tn.run(100 * time.Millisecond)
	if got := tn.nodes[1].Owner([]byte("g")); got != own {
		t.Fatalf("sequencer moved from %d to %d with two senders", own, got)
	}
	if n := countPrefix(tn.sameLogs(tn.ids()...), "msg "); n != 120 {
		t.Fatalf("delivered %d of 120 messages", n)
	}
}

// Multicasts that the old sequencer receives after it handed the group
// over (they were on their way) are ordered once by the new one, in each
// sender's order; a node that misses the handoff's Ordered frame gets it
// again from the old sequencer.
func TestHandoffWithSubmissionsInFlightAndALostFrame(t *testing.T) {
	tn := joinedNet(t)
	old := tn.nodes[1].Owner([]byte("g"))
	sender := tn.nonOwner("g")
	third := tn.nonOwner("g", sender)
	lostOne := false
	tn.lose = func(to uint32, m proto.Message) bool {
		o, ok := m.(*wire.Ordered)
		if !ok || to != third || lostOne {
			return false
		}
		for _, ev := range o.Events {
			if ev.Kind == wire.Kind_KIND_HANDOFF {
				lostOne = true
				return true
			}
		}
		return false
	}
	for i := range 40 {
		tn.mcast(sender, 1, fmt.Sprintf("s%d", i))
		if i >= 30 {
			// The third node sends too, once the handoff may be under way.
			tn.mcast(third, 1, fmt.Sprintf("t%d", i))
		}
		tn.step()
	}
	tn.run(300 * time.Millisecond)
	if !lostOne {
		t.Fatalf("no handoff happened (sequencer still on %d)", tn.nodes[1].Owner([]byte("g")))
	}
	log := tn.sameLogs(tn.ids()...)
	for _, who := range []struct {
		node uint32
		tag  string
		n    int
	}{{sender, "s", 40}, {third, "t", 10}} {
		var seen []string
		for _, s := range log {
			if p := fmt.Sprintf("msg %d/%d %s", who.node, 100+who.node, who.tag); strings.HasPrefix(s, p) {
				seen = append(seen, strings.TrimPrefix(s, p))
			}
		}
		if len(seen) != who.n {
			t.Fatalf("node %d: %d of %d messages delivered (old sequencer %d):\n%s", who.node, len(seen), who.n, old, strings.Join(log, "\n"))
		}
		for i, s := range seen {
			if want := fmt.Sprint(i + 40 - who.n); s != want {
				t.Fatalf("node %d's messages out of order: %v", who.node, seen)
			}
		}
	}
}

// The new sequencer fails right after the handoff: the survivors flush the
// view's log (the handoff in it changes nothing) and go on with the view's
// sequencer, delivering the same messages.
func TestNewSequencerFailsAfterHandoff(t *testing.T) {
	tn := joinedNet(t)
	sender := tn.nonOwner("g")
	tn.sendEvery(sender, 30, "a")
	if got := tn.nodes[sender].Owner([]byte("g")); got != sender {
		t.Fatalf("sequencer on %d after 150 ms of a lone sender %d", got, sender)
	}
	var rest []uint32
	for _, id := range tn.ids() {
		if id != sender {
			rest = append(rest, id)
			tn.mcast(id, 1, "after")
		}
	}
	tn.isolate(sender, true)
	tn.run(800 * time.Millisecond)
	log := tn.sameLogs(rest...)
	if n := countPrefix(log, "msg ") - countPrefix(log, fmt.Sprintf("msg %d/", sender)); n != 2 || !slices.Contains(tn.events[rest[0]][1], fmt.Sprintf("confchg m=[%d/%d %d/%d] l=[%d/%d(3)] j=[]", rest[0], 100+rest[0], rest[1], 100+rest[1], sender, 100+sender)) {
		t.Fatalf("survivors delivered %d of their 2 messages:\n%s", n, strings.Join(log, "\n"))
	}
	for _, id := range rest {
		if got, want := tn.nodes[id].Owner([]byte("g")), owner([]byte("g"), rest); got != want {
			t.Fatalf("node %d: sequencer %d in the new view, want %d", id, got, want)
		}
	}
}

// The sequencer sends an origin node its own events without their
// payloads (elided): the origin puts them back from its pending copies and
// delivers them whole; the other nodes get them whole.
func TestOriginGetsItsOwnEventsElided(t *testing.T) {
	tn := newTestNet(t, 3)
	for _, id := range tn.ids() {
		cfg := testConfig(id, tn.ids())
		cfg.Handoff = -1 // keep the sequencer where it is
		tn.nodes[id] = New(cfg)
	}
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	owner := tn.nodes[1].Owner([]byte("g"))
	sender := tn.nonOwner("g")
	elided, whole := 0, 0
	tn.lose = func(to uint32, m proto.Message) bool {
		if o, ok := m.(*wire.Ordered); ok && o.From == owner {
			for _, ev := range o.Events {
				switch {
				case ev.Elided && to == sender && len(ev.Data) == 0:
					elided++
				case ev.Elided:
					t.Errorf("node %d got an elided event of node %d", to, ev.Nodeid)
				case ev.Kind == wire.Kind_KIND_MCAST && ev.Nodeid == sender:
					whole++
				}
			}
		}
		return false
	}
	tn.sendEvery(sender, 10, "p")
	tn.run(100 * time.Millisecond)
	if elided != 10 || whole != 10 {
		t.Fatalf("%d elided events to the origin, %d whole ones to the third node; want 10 and 10", elided, whole)
	}
	log := tn.sameLogs(tn.ids()...)
	if n := countPrefix(log, fmt.Sprintf("msg %d/%d p", sender, 100+sender)); n != 10 {
		t.Fatalf("delivered %d of 10 messages whole:\n%s", n, strings.Join(log, "\n"))
	}
}

// An elided event the origin has no pending copy of (here: a made-up id)
// is not taken: the node asks the sequencer for it again, whole.
func TestElidedEventWithoutAPendingCopyIsAskedForAgain(t *testing.T) {
	tn := joinedNet(t)
	owner := tn.nodes[1].Owner([]byte("g"))
	other := tn.nonOwner("g")
	e := tn.nodes[other]
	next := e.groups["g"].gm.contiguous() + 1
	e.Step(owner, &wire.Ordered{Group: []byte("g"), Ring: e.Ring(), From: owner, High: next, Stable: next - 1,
		Events: []*wire.GroupEvent{{Seq: next, Kind: wire.Kind_KIND_MCAST, Nodeid: other, Pid: 100 + other, Inc: 1, Msgid: 999, Elided: true}}})
	if got := e.groups["g"].gm.contiguous(); got != next-1 {
		t.Fatalf("took the elided event it has no copy of: contiguous %d", got)
	}
	var nack *wire.Nack
	for range 20 {
		tn.now += 5 * time.Millisecond
		e.Tick(tn.now)
		if e.HasReady() {
			for _, o := range e.Ready().Messages {
				if n, ok := o.Msg.(*wire.Nack); ok && o.To == owner && n.Seq == next {
					nack = n
				}
			}
			e.Advance()
		}
	}
	if nack == nil {
		t.Fatalf("no Nack for seq %d to the sequencer %d", next, owner)
	}
}
