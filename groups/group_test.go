package groups_test

// Unit tests of groups.Group, the deterministic replica of one process
// group, with no actor system. The test plays the sequencer: every event a
// replica submits gets the next sequence number (1, 2, 3, ...) in
// submission order, and every replica applies every ordered event. Events
// are described as stable text so that expectations read like CPG-SPEC:
//
//	confchg members=[1/10 1/20] joined=[1/20 JOIN]
//	deliver 1/10 "hello"

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// who names a local handle of one replica.
type who struct {
	node   uint32
	handle groups.HandleID
}

// bench drives the replicas of one group (one per node) with a fake
// sequencer and records every output of their Ready.
type bench struct {
	t        *testing.T
	nodes    []uint32 // replica order, for determinism
	replicas map[uint32]*groups.Group
	seq      uint64

	got      map[who][]string // described events per handle
	left     map[who][]api.Reason
	rejected map[who]uint32
	flow     map[uint32][]bool // FlowControlled() at each FlowChanged
	text     map[*api.Event]string
}

func newBench(t *testing.T, nodes ...uint32) *bench {
	t.Helper()
	b := &bench{
		t:        t,
		nodes:    nodes,
		replicas: make(map[uint32]*groups.Group),
		got:      make(map[who][]string),
		left:     make(map[who][]api.Reason),
		rejected: make(map[who]uint32),
		flow:     make(map[uint32][]bool),
		text:     make(map[*api.Event]string),
	}
	for _, n := range nodes {
		b.replicas[n] = groups.New([]byte("grp"), n)
	}
	return b
}

func (b *bench) g(node uint32) *groups.Group { return b.replicas[node] }

// collect carries out every replica's Ready (recording deliveries, Left,
// Rejected and flow changes) and returns the events they submitted, not
// yet sequenced.
func (b *bench) collect() []*wire.GroupEvent {
	var subs []*wire.GroupEvent
	for _, n := range b.nodes {
		g := b.replicas[n]
		if !g.HasReady() {
			continue
		}
		rd := g.Ready()
		subs = append(subs, rd.Submit...)
		for _, d := range rd.Deliveries {
			for _, ev := range d.Events {
				b.got[who{n, d.Handle}] = append(b.got[who{n, d.Handle}], b.describe(ev))
			}
		}
		for _, l := range rd.Left {
			b.left[who{n, l.Handle}] = append(b.left[who{n, l.Handle}], l.Reason)
		}
		for _, r := range rd.Rejected {
			b.rejected[who{n, r.Handle}] += r.Count
		}
		if rd.FlowChanged {
			b.flow[n] = append(b.flow[n], g.FlowControlled())
		}
		g.Advance()
		if g.HasReady() {
			b.t.Fatalf("node %d: HasReady after Advance", n)
		}
	}
	return subs
}

// order gives events the next sequence numbers, as the group's sequencer
// would.
func (b *bench) order(evs []*wire.GroupEvent) []*wire.GroupEvent {
	for _, ev := range evs {
		b.seq++
		ev.Seq = b.seq
	}
	return evs
}

// apply hands every replica its own copy of the ordered events, as they
// would arrive over the wire.
func (b *bench) apply(evs ...*wire.GroupEvent) {
	for _, n := range b.nodes {
		cp := make([]*wire.GroupEvent, len(evs))
		for i, ev := range evs {
			cp[i] = proto.Clone(ev).(*wire.GroupEvent)
		}
		b.replicas[n].Apply(cp)
	}
}

// stabilize sequences and applies everything submitted until the replicas
// are quiet.
func (b *bench) stabilize() {
	for {
		subs := b.collect()
		if len(subs) == 0 {
			return
		}
		b.apply(b.order(subs)...)
	}
}

// events returns and forgets what handle h of node got so far.
func (b *bench) events(node uint32, h groups.HandleID) []string {
	w := who{node, h}
	out := b.got[w]
	delete(b.got, w)
	return out
}

func (b *bench) mcast(node uint32, h groups.HandleID, msgs ...string) {
	reqs := make([]*api.McastRequest, len(msgs))
	for i, m := range msgs {
		reqs[i] = &api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte(m)}
	}
	b.replicas[node].Mcast(h, reqs)
}

// join joins handle h (pid) on node and checks the call succeeds.
func (b *bench) join(node uint32, h groups.HandleID, pid uint32) {
	b.t.Helper()
	if code := b.replicas[node].Join(h, pid); code != api.CodeOK {
		b.t.Fatalf("node %d: Join(h%d, pid %d) = %v, want CS_OK", node, h, pid, code)
	}
}

// describe renders an event once: a replica shares one event among its
// receiving handles.
func (b *bench) describe(ev *api.Event) string {
	s, ok := b.text[ev]
	if !ok {
		s = describe(ev)
		b.text[ev] = s
	}
	return s
}

// describe renders an event as one stable line.
func describe(ev *api.Event) string {
	switch {
	case ev.Deliver != nil:
		d := ev.Deliver
		return fmt.Sprintf("deliver %d/%d %q", d.Nodeid, d.Pid, d.Data)
	case ev.Confchg != nil:
		c := ev.Confchg
		var sb strings.Builder
		sb.WriteString("confchg members=" + addrs(c.Members))
		if len(c.Left) > 0 {
			sb.WriteString(" left=" + addrs(c.Left))
		}
		if len(c.Joined) > 0 {
			sb.WriteString(" joined=" + addrs(c.Joined))
		}
		return sb.String()
	case ev.TotemConfchg != nil:
		return "totem " + ev.TotemConfchg.String()
	}
	return "unknown event"
}

// addrs renders an address list: "[1/10 1/20 LEAVE]"; a member list's
// reason (always 0) is shown only if it is not.
func addrs(as []*api.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%d/%d", a.Nodeid, a.Pid)
		if a.Reason != 0 {
			parts[i] += " " + api.Reason(a.Reason).String()
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func wantEvents(t *testing.T, who string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s got:\n\t%s\nwant:\n\t%s", who, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// Rule 6 and 8: after join(G) the first event for G on the joiner is a
// confchg with joined == [{self, JOIN}] and member ∋ self; every other
// member receives the same confchg, members sorted by (nodeid, pid).
func TestJoinDeliversOwnJoinConfchgToJoinerAndMembers(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 30)
	b.stabilize()
	wantEvents(t, "h1", b.events(1, 1), []string{
		"confchg members=[1/30] joined=[1/30 JOIN]",
	})

	// Two more join, with lower pids: the member list stays sorted.
	b.join(1, 2, 10)
	b.join(1, 3, 20)
	b.stabilize()
	second := "confchg members=[1/10, 1/30] joined=[1/10 JOIN]"
	third := "confchg members=[1/10, 1/20, 1/30] joined=[1/20 JOIN]"
	wantEvents(t, "h1", b.events(1, 1), []string{second, third})
	wantEvents(t, "h2", b.events(1, 2), []string{second, third})
	wantEvents(t, "h3", b.events(1, 3), []string{third})

	members := b.g(1).Members()
	if got := addrs(members); got != "[1/10, 1/20, 1/30]" {
		t.Errorf("Members() = %s, want [1/10, 1/20, 1/30]", got)
	}
}

// Rule 6: no message of G is delivered to a handle before its own JOIN
// confchg, even when the message was sent after the handle called join but
// ordered before its JOIN.
func TestNothingBeforeOwnJoinIsApplied(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.stabilize()
	b.events(1, 1)

	b.mcast(1, 1, "before")
	b.join(1, 2, 20)
	subs := b.collect() // "before", then JOIN of 1/20
	if len(subs) != 2 {
		t.Fatalf("submitted %d events, want 2", len(subs))
	}
	b.order(subs)
	b.apply(subs[0])
	b.collect()
	if got := b.events(1, 2); len(got) != 0 {
		t.Fatalf("h2 got %q before its JOIN was applied", got)
	}
	b.apply(subs[1])
	b.mcast(1, 1, "after")
	b.stabilize()
	wantEvents(t, "h1", b.events(1, 1), []string{
		`deliver 1/10 "before"`,
		"confchg members=[1/10, 1/20] joined=[1/20 JOIN]",
		`deliver 1/10 "after"`,
	})
	wantEvents(t, "h2", b.events(1, 2), []string{
		"confchg members=[1/10, 1/20] joined=[1/20 JOIN]",
		`deliver 1/10 "after"`,
	})
}

// A message sent right after join (Corosync's JOIN_STARTED state) is
// accepted and ordered after the sender's own JOIN, so every member sees
// the confchg first.
func TestMcastRightAfterJoinFollowsTheJoinConfchg(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.stabilize()
	b.events(1, 1)

	b.join(1, 2, 20)
	b.mcast(1, 2, "early")
	b.stabilize()
	want := []string{
		"confchg members=[1/10, 1/20] joined=[1/20 JOIN]",
		`deliver 1/20 "early"`,
	}
	wantEvents(t, "h1", b.events(1, 1), want)
	wantEvents(t, "h2", b.events(1, 2), want)
	if n := b.rejected[who{1, 2}]; n != 0 {
		t.Errorf("h2 had %d messages rejected, want 0", n)
	}
}

// Rule 13: leave → confchg with left == [{self, LEAVE}] and member ∌ self,
// delivered to the leaver and to all members. Messages ordered before the
// leave still reach the leaver; after its confchg Ready.Left names it and
// it receives nothing more of G (the Go target, unlike corosync §8.1).
func TestLeaveDeliversOwnLeaveConfchgThenNothing(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.join(1, 2, 20)
	b.stabilize()
	b.events(1, 1)
	b.events(1, 2)

	b.mcast(1, 1, "m1")
	if code := b.g(1).Leave(2, api.ReasonLeave); code != api.CodeOK {
		t.Fatalf("Leave = %v, want CS_OK", code)
	}
	if code := b.g(1).Leave(2, api.ReasonLeave); code != api.CodeNotExist {
		t.Errorf("second Leave while leaving = %v, want CS_ERR_NOT_EXIST", code)
	}
	b.mcast(1, 2, "from the leaver") // refused: the leave is in flight
	b.stabilize()

	leaveCC := "confchg members=[1/10] left=[1/20 LEAVE]"
	wantEvents(t, "h1", b.events(1, 1), []string{`deliver 1/10 "m1"`, leaveCC})
	wantEvents(t, "leaver", b.events(1, 2), []string{`deliver 1/10 "m1"`, leaveCC})
	if got := b.left[who{1, 2}]; !slices.Equal(got, []api.Reason{api.ReasonLeave}) {
		t.Errorf("Ready.Left for the leaver = %v, want [LEAVE]", got)
	}
	if got := b.left[who{1, 1}]; len(got) != 0 {
		t.Errorf("Ready.Left names h1 (%v), which stayed", got)
	}
	if n := b.rejected[who{1, 2}]; n != 1 {
		t.Errorf("rejected messages of the leaver = %d, want 1", n)
	}

	b.mcast(1, 1, "m2")
	b.join(1, 3, 30)
	b.stabilize()
	if got := b.events(1, 2); len(got) != 0 {
		t.Errorf("leaver got %q after its own leave confchg", got)
	}
	if code := b.g(1).Leave(2, api.ReasonLeave); code != api.CodeNotExist {
		t.Errorf("Leave after leaving = %v, want CS_ERR_NOT_EXIST", code)
	}

	// The handle may join again (the intended semantics; corosync §8.1).
	b.join(1, 2, 20)
	b.stabilize()
	wantEvents(t, "rejoined", b.events(1, 2), []string{
		"confchg members=[1/10, 1/20, 1/30] joined=[1/20 JOIN]",
	})
}

// Eviction of a member that fell behind is a leave with reason PROCDOWN:
// unlike finalize, the evicted handle still gets its own confchg, then
// Ready.Left names it with PROCDOWN.
func TestEvictionIsALeaveWithProcdown(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.join(1, 2, 20)
	b.stabilize()
	b.events(1, 1)
	b.events(1, 2)

	if code := b.g(1).Leave(2, api.ReasonProcDown); code != api.CodeOK {
		t.Fatalf("Leave(PROCDOWN) = %v, want CS_OK", code)
	}
	b.stabilize()
	cc := "confchg members=[1/10] left=[1/20 PROCDOWN]"
	wantEvents(t, "h1", b.events(1, 1), []string{cc})
	wantEvents(t, "evicted", b.events(1, 2), []string{cc})
	if got := b.left[who{1, 2}]; !slices.Equal(got, []api.Reason{api.ReasonProcDown}) {
		t.Errorf("Ready.Left for the evicted handle = %v, want [PROCDOWN]", got)
	}
}

// Rule 14: leave while not joined → NOT_EXIST, and nothing is submitted.
func TestLeaveWhileNotJoined(t *testing.T) {
	b := newBench(t, 1)
	if code := b.g(1).Leave(7, api.ReasonLeave); code != api.CodeNotExist {
		t.Errorf("Leave of a stranger = %v, want CS_ERR_NOT_EXIST", code)
	}
	if b.g(1).HasReady() {
		t.Errorf("a refused Leave left output: %+v", b.g(1).Ready())
	}
}

// Rule 15: finalize without leave → every other member sees
// left == [{n, p, PROCDOWN}]. The finalized handle gets nothing more, not
// even events ordered before its PROCDOWN, and needs no Ready.Left.
func TestGoneIsProcdownForOthersAndSilenceForTheHandle(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.join(1, 2, 20)
	b.stabilize()
	b.events(1, 1)
	b.events(1, 2)

	b.mcast(1, 1, "in flight")
	b.g(1).Gone(2)
	b.g(1).Gone(2) // a second Gone changes nothing
	b.stabilize()
	wantEvents(t, "h1", b.events(1, 1), []string{
		`deliver 1/10 "in flight"`,
		"confchg members=[1/10] left=[1/20 PROCDOWN]",
	})
	if got := b.events(1, 2); len(got) != 0 {
		t.Errorf("finalized handle got %q", got)
	}
	if got := b.left[who{1, 2}]; len(got) != 0 {
		t.Errorf("Ready.Left names the finalized handle: %v", got)
	}
	if got := addrs(b.g(1).Members()); got != "[1/10]" {
		t.Errorf("Members() = %s, want [1/10]", got)
	}
}

// A handle finalized while its leave is in flight leaves with LEAVE, once.
func TestGoneWhileLeavingKeepsTheLeave(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.join(1, 2, 20)
	b.stabilize()
	b.events(1, 1)
	b.events(1, 2)

	b.g(1).Leave(2, api.ReasonLeave)
	b.g(1).Gone(2)
	b.stabilize()
	wantEvents(t, "h1", b.events(1, 1), []string{"confchg members=[1/10] left=[1/20 LEAVE]"})
	if got := b.events(1, 2); len(got) != 0 {
		t.Errorf("finalized handle got %q", got)
	}
}

// A handle finalized before its own JOIN is applied still joins and
// leaves for the others (no ghost member), and receives nothing.
func TestGoneBeforeOwnJoinIsApplied(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.stabilize()
	b.events(1, 1)

	b.join(1, 2, 20)
	b.g(1).Gone(2)
	b.stabilize()
	wantEvents(t, "h1", b.events(1, 1), []string{
		"confchg members=[1/10, 1/20] joined=[1/20 JOIN]",
		"confchg members=[1/10] left=[1/20 PROCDOWN]",
	})
	if got := b.events(1, 2); len(got) != 0 {
		t.Errorf("finalized handle got %q", got)
	}
	if got := addrs(b.g(1).Members()); got != "[1/10]" {
		t.Errorf("Members() = %s, want [1/10]: a ghost member stayed", got)
	}
}

// Rule 9 and §4.7: join twice on one handle → EXIST; the same pid from
// another handle → EXIST; a new handle with the pid of an incarnation
// whose PROCDOWN is in flight → TRY_AGAIN, then OK once it is applied.
func TestJoinExistAndTryAgain(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	if code := b.g(1).Join(1, 10); code != api.CodeExist {
		t.Errorf("same handle joins again before its JOIN is applied = %v, want CS_ERR_EXIST", code)
	}
	b.stabilize()
	if code := b.g(1).Join(1, 10); code != api.CodeExist {
		t.Errorf("same handle joins again = %v, want CS_ERR_EXIST", code)
	}
	if code := b.g(1).Join(2, 10); code != api.CodeExist {
		t.Errorf("another handle with the same pid = %v, want CS_ERR_EXIST", code)
	}
	b.join(1, 3, 11) // another pid: OK
	b.stabilize()

	b.g(1).Gone(1) // PROCDOWN of 1/10 in flight
	if code := b.g(1).Join(4, 10); code != api.CodeTryAgain {
		t.Errorf("new handle, pid 10, PROCDOWN in flight = %v, want CS_ERR_TRY_AGAIN", code)
	}
	b.stabilize()
	if code := b.g(1).Join(4, 10); code != api.CodeOK {
		t.Errorf("new handle, pid 10, after the PROCDOWN = %v, want CS_OK", code)
	}
	b.stabilize()
	if got := addrs(b.g(1).Members()); got != "[1/10, 1/11]" {
		t.Errorf("Members() = %s, want [1/10, 1/11]", got)
	}
}

// A pid of this node that is in the member list without a local handle
// (an earlier incarnation the replica only knows from the order) gets
// TRY_AGAIN, not a duplicate member.
func TestJoinOfAPidStillInTheMemberListIsTryAgain(t *testing.T) {
	b := newBench(t, 1)
	b.apply(b.order([]*wire.GroupEvent{{Kind: wire.Kind_KIND_JOIN, Nodeid: 1, Pid: 42, Reason: uint32(api.ReasonJoin)}})...)
	b.collect()
	if code := b.g(1).Join(1, 42); code != api.CodeTryAgain {
		t.Errorf("Join of 1/42 while 1/42 is a member = %v, want CS_ERR_TRY_AGAIN", code)
	}
	// The same pid on another node is another process.
	b.apply(b.order([]*wire.GroupEvent{{Kind: wire.Kind_KIND_JOIN, Nodeid: 2, Pid: 43, Reason: uint32(api.ReasonJoin)}})...)
	b.join(1, 1, 43)
	b.stabilize()
	if got := addrs(b.g(1).Members()); got != "[1/42, 1/43, 2/43]" {
		t.Errorf("Members() = %s, want [1/42, 1/43, 2/43]", got)
	}
}

// §8.6 (Go target): a multicast from a handle that is not a member is
// refused and counted in Ready.Rejected, never ordered.
func TestMcastFromNonMemberIsRejected(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.stabilize()
	b.events(1, 1)

	b.mcast(1, 9, "stranger", "danger")
	rd := b.g(1).Ready()
	if len(rd.Submit) != 0 {
		t.Errorf("a stranger's messages were submitted: %v", rd.Submit)
	}
	want := []groups.Rejected{{Handle: 9, Count: 2, Bytes: uint64(len("stranger") + len("danger"))}}
	if !slices.Equal(rd.Rejected, want) {
		t.Errorf("Ready.Rejected = %+v, want %+v", rd.Rejected, want)
	}
	b.stabilize()
	if got := b.events(1, 1); len(got) != 0 {
		t.Errorf("member got %q from a stranger", got)
	}
}

// An ordered message whose sender is not a member (it left, or never
// joined) is delivered to nobody.
func TestOrderedMessageFromNonMemberIsDropped(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.stabilize()
	b.events(1, 1)
	b.apply(b.order([]*wire.GroupEvent{
		{Kind: wire.Kind_KIND_MCAST, Nodeid: 5, Pid: 5, Data: []byte("ghost")},
		{Kind: wire.Kind_KIND_MCAST, Nodeid: 1, Pid: 10, Data: []byte("real")},
	})...)
	b.collect()
	wantEvents(t, "h1", b.events(1, 1), []string{`deliver 1/10 "real"`})
}

// Events are applied strictly in sequence order: early ones wait for the
// gap, and duplicates (already applied or already waiting) are ignored.
func TestApplyBuffersOutOfOrderAndIgnoresDuplicates(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.stabilize()
	b.events(1, 1)

	b.mcast(1, 1, "m1", "m2", "m3")
	evs := b.order(b.collect()) // seq 2, 3, 4
	if evs[0].Seq != 2 || evs[2].Seq != 4 {
		t.Fatalf("sequenced %d..%d, want 2..4", evs[0].Seq, evs[2].Seq)
	}
	b.apply(evs[2])
	b.apply(evs[1], evs[2])
	if b.g(1).HasReady() {
		t.Fatalf("events ahead of a gap were delivered: %+v", b.g(1).Ready())
	}
	if got := b.g(1).NextSeq(); got != 2 {
		t.Errorf("NextSeq() = %d while waiting for 2", got)
	}
	b.apply(evs[0])
	b.collect()
	wantEvents(t, "h1", b.events(1, 1), []string{
		`deliver 1/10 "m1"`, `deliver 1/10 "m2"`, `deliver 1/10 "m3"`,
	})

	b.apply(evs...)
	b.apply(&wire.GroupEvent{Seq: 1, Kind: wire.Kind_KIND_JOIN, Nodeid: 1, Pid: 10, Reason: uint32(api.ReasonJoin)})
	b.collect()
	if got := b.events(1, 1); len(got) != 0 {
		t.Errorf("duplicates were delivered again: %q", got)
	}
	if got := b.g(1).NextSeq(); got != 5 {
		t.Errorf("NextSeq() = %d, want 5", got)
	}
}

// Rule 11: replicas on two nodes fed the same order give their members
// the same sequence of confchgs and messages, with the true sender.
func TestRemoteNodeEventsAreApplied(t *testing.T) {
	b := newBench(t, 1, 2)
	b.join(1, 1, 10)
	b.stabilize()
	b.join(2, 1, 10) // same pid, other node: another process
	b.stabilize()
	b.mcast(2, 1, "from node 2")
	b.stabilize()
	b.mcast(1, 1, "from node 1")
	b.stabilize()
	b.g(2).Gone(1)
	b.stabilize()

	both := []string{
		"confchg members=[1/10, 2/10] joined=[2/10 JOIN]",
		`deliver 2/10 "from node 2"`,
		`deliver 1/10 "from node 1"`,
	}
	wantEvents(t, "node 1 h1", b.events(1, 1), append([]string{
		"confchg members=[1/10] joined=[1/10 JOIN]",
	}, append(both, "confchg members=[1/10] left=[2/10 PROCDOWN]")...))
	wantEvents(t, "node 2 h1", b.events(2, 1), both)
	for _, n := range b.nodes {
		if got := addrs(b.g(n).Members()); got != "[1/10]" {
			t.Errorf("node %d: Members() = %s, want [1/10]", n, got)
		}
	}
}

// Flow control: the group is flow-controlled while any local member is
// congested; Ready.FlowChanged reports each change, and only changes.
// Non-members cannot congest it; a member that goes stops congesting it.
func TestCongestionChangesFlowControl(t *testing.T) {
	b := newBench(t, 1)
	b.join(1, 1, 10)
	b.join(1, 2, 20)
	b.join(1, 3, 30)
	b.stabilize()

	step := func(what string, f func(), want []bool) {
		t.Helper()
		f()
		b.stabilize()
		if got := b.flow[1]; !slices.Equal(got, want) {
			t.Errorf("%s: flow changes %v, want %v", what, got, want)
		}
		delete(b.flow, 1)
	}
	g := b.g(1)
	step("stranger congested", func() { g.Congestion(99, true) }, nil)
	if g.FlowControlled() {
		t.Errorf("a stranger's congestion flow-controlled the group")
	}
	step("h1 congested", func() { g.Congestion(1, true) }, []bool{true})
	step("h1 congested again", func() { g.Congestion(1, true) }, nil)
	step("h2 congested too", func() { g.Congestion(2, true) }, nil)
	step("h1 drained", func() { g.Congestion(1, false) }, nil)
	if !g.FlowControlled() {
		t.Errorf("group not flow-controlled while h2 is congested")
	}
	step("h2 drained", func() { g.Congestion(2, false) }, []bool{false})
	step("h3 congested", func() { g.Congestion(3, true) }, []bool{true})
	step("h3 finalized", func() { g.Gone(3) }, []bool{false})
	step("h2 congested, then leaves", func() {
		g.Congestion(2, true)
		g.Leave(2, api.ReasonLeave)
	}, []bool{true, false})
	if g.FlowControlled() {
		t.Errorf("group still flow-controlled after every congested member went")
	}
}

// Idle reports a group with no members and no local handles, so that its
// replica may be dropped.
func TestIdleAfterEveryoneLeft(t *testing.T) {
	b := newBench(t, 1)
	if !b.g(1).Idle() {
		t.Errorf("new group not idle")
	}
	b.join(1, 1, 10)
	if b.g(1).Idle() {
		t.Errorf("group idle with a join in flight")
	}
	b.stabilize()
	b.g(1).Leave(1, api.ReasonLeave)
	b.stabilize()
	if !b.g(1).Idle() {
		t.Errorf("group not idle after its last member left: %s", addrs(b.g(1).Members()))
	}
}

// §8.5 (Go target: slices, no 128 limit): groups of more than
// CPG_MEMBERS_MAX = 128 members, up to 300, joined in random pid order on
// two nodes, give every joiner its own JOIN confchg first with the full
// sorted member list, and every message reaches all 300.
func TestMoreThan128MembersAnd300MemberGroup(t *testing.T) {
	const n = 300
	b := newBench(t, 1, 2)
	r := rand.New(rand.NewPCG(1, 2))
	type proc struct {
		node uint32
		h    groups.HandleID
		pid  uint32
	}
	procs := make([]proc, n)
	for i := range procs {
		procs[i] = proc{node: uint32(1 + i%2), h: groups.HandleID(i + 1), pid: uint32(1000 + i)}
	}
	r.Shuffle(n, func(i, j int) { procs[i].pid, procs[j].pid = procs[j].pid, procs[i].pid })

	var members []*api.Address
	for i, p := range procs {
		b.join(p.node, p.h, p.pid)
		b.stabilize()
		a := &api.Address{Nodeid: p.node, Pid: p.pid}
		j, _ := slices.BinarySearchFunc(members, a, api.CompareAddresses)
		members = slices.Insert(members, j, a)
		got := b.events(p.node, p.h)
		want := fmt.Sprintf("confchg members=%s joined=[%d/%d JOIN]", addrs(members), p.node, p.pid)
		if len(got) != 1 || got[0] != want {
			t.Fatalf("joiner %d (%d/%d) got %d events, first %q; want its own JOIN confchg with %d members",
				i, p.node, p.pid, len(got), first(got), len(members))
		}
	}
	if len(members) != n {
		t.Fatalf("expected %d members, have %d", n, len(members))
	}
	for _, node := range b.nodes {
		if got, want := addrs(b.g(node).Members()), addrs(members); got != want {
			t.Fatalf("node %d: member list differs from the expected sorted list", node)
		}
	}
	// Every earlier joiner saw every later join: n-1-i further confchgs.
	// Clear them, then one message from the last joiner reaches all n.
	for _, p := range procs {
		b.events(p.node, p.h)
	}
	last := procs[n-1]
	b.mcast(last.node, last.h, "to all 300")
	b.stabilize()
	want := fmt.Sprintf("deliver %d/%d %q", last.node, last.pid, "to all 300")
	for _, p := range procs {
		got := b.events(p.node, p.h)
		if len(got) != 1 || got[0] != want {
			t.Fatalf("member %d/%d got %q, want [%s]", p.node, p.pid, got, want)
		}
	}
}

// Joins of a large group: each earlier member sees every later join, in
// the same order as every other member.
func TestEveryMemberSeesTheSameJoinSequence(t *testing.T) {
	const n = 150
	b := newBench(t, 1)
	for i := 0; i < n; i++ {
		b.join(1, groups.HandleID(i+1), uint32(n-i))
	}
	b.stabilize()
	ref := b.events(1, 1)
	if len(ref) != n {
		t.Fatalf("first joiner got %d confchgs, want %d", len(ref), n)
	}
	for i := 1; i < n; i++ {
		got := b.events(1, groups.HandleID(i+1))
		if !slices.Equal(got, ref[i:]) {
			t.Fatalf("joiner %d saw a different sequence from the first joiner's (from its own join on)", i+1)
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
