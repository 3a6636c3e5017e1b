package conformance

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// Rule 6: after join(G) returns OK, the first event for G on that handle is
// a confchg with joined == [{self, JOIN}] and member ∋ self; no message of
// G is delivered to it before. Checked while another member floods G.
func TestRule06_FirstEventIsOwnJoinConfchg(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule06"
	sender := newClient(t, "sender", 0, cpg.WithNode(node))
	join(t, sender, g)

	// Flood G, and join a new handle in the middle of the flood.
	const n = 300
	for i := 0; i < n/2; i++ {
		mcast(t, sender, fmt.Sprintf("m%d", i))
	}
	b := newClient(t, "b", 0, cpg.WithNode(node))
	wantCode(t, "Join", b.h.Join([]byte(g)), nil)
	for i := n / 2; i < n; i++ {
		mcast(t, sender, fmt.Sprintf("m%d", i))
	}
	mcast(t, sender, "end")
	waitAll(t, "end at both", func() bool {
		return hasDeliver(g, "end")(sender.events()) && hasDeliver(g, "end")(b.events())
	}, sender, b)

	evs := b.events()
	first := evs[0]
	self := b.self(api.ReasonJoin)
	if first.Kind != kConfchg || first.Group != g {
		t.Fatalf("first event of the joiner is %v, want its own JOIN confchg", first)
	}
	if !slices.Equal(first.Joined, []addr{self}) {
		t.Errorf("joined = %v, want [%v]", first.Joined, self)
	}
	if len(first.Left) != 0 {
		t.Errorf("left = %v, want []", first.Left)
	}
	if !slices.Contains(first.Members, addr{self.Nodeid, self.Pid, 0}) {
		t.Errorf("members %v do not hold self %v", first.Members, self)
	}
	want := sortedAddrs(noReason(sender.self(0), b.self(0))...)
	if !slices.Equal(first.Members, want) {
		t.Errorf("members = %v, want %v", first.Members, want)
	}
	for _, e := range after(evs, 0) {
		if e.Kind == kConfchg {
			t.Errorf("unexpected confchg after the joiner's own: %v", e)
		}
	}
	// The joiner's messages are exactly the suffix of the sender's that
	// follows the sender's view of the same confchg.
	sev := sender.events()
	i := indexOf(sev, func(e event) bool { return joinedIs(e, g, self) })
	if i < 0 {
		t.Fatalf("the sender never saw the joiner's confchg")
	}
	if got, want := delivered(evs, g), delivered(after(sev, i), g); !slices.Equal(got, want) {
		t.Errorf("joiner delivered %d messages, want the %d the sender delivered after the join confchg", len(got), len(want))
	}
}

// Rule 7: with DELIVER_INITIAL_TOTEM_CONF, a totem confchg holding the
// current ring immediately follows the handle's first confchg. Without the
// flag, no totem confchg comes (there is no ring change).
func TestRule07_InitialTotemConfchgFollowsFirstConfchg(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule07"
	ring := node.Ring()
	wantTotem := event{Kind: kTotem, Ring: addr{Nodeid: ring.GetNodeid()}, RingSeq: ring.GetSeq(), TotemMemb: []uint32{node.NodeID()}}
	if ring.GetNodeid() != node.NodeID() || ring.GetSeq() == 0 {
		t.Fatalf("node ring = %v, want (nodeid %d, seq > 0)", ring, node.NodeID())
	}

	check := func(t *testing.T, c *client) {
		if err := c.h.Join([]byte(g)); err != nil {
			t.Fatal(err)
		}
		mcast(t, c, "after-join-"+c.name)
		evs := waitFor(t, c, "own message", hasDeliver(g, "after-join-"+c.name))
		if len(evs) < 2 {
			t.Fatalf("events = %v", evs)
		}
		if !joinedIs(evs[0], g, c.self(api.ReasonJoin)) {
			t.Errorf("first event = %v, want own JOIN confchg", evs[0])
		}
		if !equalTotem(evs[1], wantTotem) {
			t.Errorf("second event = %v, want %v", evs[1], wantTotem)
		}
		for _, e := range evs[2:] {
			if e.Kind == kTotem {
				t.Errorf("a second totem confchg: %v", e)
			}
		}
	}
	t.Run("Dispatch", func(t *testing.T) {
		check(t, newClient(t, "flagged", api.ModelV1DeliverInitialTotemConf, cpg.WithNode(node)))
	})
	t.Run("ActorFace", func(t *testing.T) {
		check(t, newActorClient(t, "actor", node, nil, nil, api.ModelV1DeliverInitialTotemConf))
	})
	t.Run("WithoutFlag", func(t *testing.T) {
		c := newClient(t, "plain", 0, cpg.WithNode(node))
		join(t, c, g)
		mcast(t, c, "plain-msg")
		evs := waitFor(t, c, "own message", hasDeliver(g, "plain-msg"))
		for _, e := range evs {
			if e.Kind == kTotem {
				t.Errorf("totem confchg without the flag: %v", e)
			}
		}
	})
}

func equalTotem(a, b event) bool {
	return a.Kind == kTotem && b.Kind == kTotem && a.Ring.Nodeid == b.Ring.Nodeid && a.RingSeq == b.RingSeq && slices.Equal(a.TotemMemb, b.TotemMemb)
}

// Rule 8: every member of G receives the same confchg, with an identical
// member_list sorted by (nodeid, pid). Pids are chosen out of order so that
// join order and sort order differ.
func TestRule08_SameConfchgSortedMembersAtAllMembers(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule08"
	pids := []uint32{3000, 1000, 2000, 500}
	var cs []*client
	for _, p := range pids {
		cs = append(cs, newClient(t, fmt.Sprintf("pid%d", p), 0, cpg.WithNode(node), cpg.WithPid(p)))
	}
	for i, c := range cs {
		if c.h.Pid() != pids[i] {
			t.Fatalf("WithPid(%d) gave pid %d", pids[i], c.h.Pid())
		}
		join(t, c, g)
	}
	// cs[1] leaves; then everyone left sees the same LEAVE confchg.
	wantCode(t, "Leave", cs[1].h.Leave([]byte(g)), nil)
	leaver := cs[1].self(api.ReasonLeave)
	waitSeen(t, "LEAVE confchg everywhere", func(e event) bool { return leftIs(e, g, leaver) }, cs...)

	all := func(ps ...uint32) []addr {
		var out []addr
		for _, p := range ps {
			out = append(out, addr{node.NodeID(), p, 0})
		}
		return out
	}
	// Expected confchgs, in order, with the members each must show.
	type step struct {
		joined, left []addr
		members      []addr
	}
	steps := []step{
		{joined: []addr{{1, 3000, 1}}, members: all(3000)},
		{joined: []addr{{1, 1000, 1}}, members: all(1000, 3000)},
		{joined: []addr{{1, 2000, 1}}, members: all(1000, 2000, 3000)},
		{joined: []addr{{1, 500, 1}}, members: all(500, 1000, 2000, 3000)},
		{left: []addr{{1, 1000, 2}}, members: all(500, 2000, 3000)},
	}
	for i, c := range cs {
		var got []event
		for _, e := range c.events() {
			if e.Kind == kConfchg {
				got = append(got, e)
			}
		}
		// Member i sees the steps from its own join (step i) on.
		want := steps[i:]
		if len(got) != len(want) {
			t.Errorf("%s: %d confchgs, want %d: %v", c.name, len(got), len(want), got)
			continue
		}
		for j, s := range want {
			e := got[j]
			if e.Group != g || !slices.Equal(e.Members, s.members) || !slices.Equal(e.Joined, s.joined) || !slices.Equal(e.Left, s.left) {
				t.Errorf("%s: confchg %d = %v, want members=%v left=%v joined=%v", c.name, j, e, s.members, s.left, s.joined)
			}
			if !slices.IsSortedFunc(e.Members, cmpAddr) {
				t.Errorf("%s: member list %v not sorted by (nodeid, pid)", c.name, e.Members)
			}
		}
	}
}

func cmpAddr(a, b addr) int {
	return api.CompareAddresses(&api.Address{Nodeid: a.Nodeid, Pid: a.Pid}, &api.Address{Nodeid: b.Nodeid, Pid: b.Pid})
}

// Rule 9: join twice on one handle, same or another group -> EXIST; join
// of the same group from another handle of the same process (same pid) ->
// EXIST; another group from another handle -> OK.
func TestRule09_DuplicateJoinGivesExist(t *testing.T) {
	node := startNode(t, nil)
	pid := uint32(os.Getpid()) // a process's handles share its pid, as in libcpg
	a := newClient(t, "a", 0, cpg.WithNode(node), cpg.WithPid(pid))
	join(t, a, "G")
	if api.CodeOf(api.ErrExist) != 14 {
		t.Errorf("EXIST is code %d, want 14", api.CodeOf(api.ErrExist))
	}

	wantCode(t, "same handle, same group", a.h.Join([]byte("G")), api.ErrExist)
	wantCode(t, "same handle, other group", a.h.Join([]byte("H")), api.ErrExist)

	b := newClient(t, "b", 0, cpg.WithNode(node), cpg.WithPid(pid))
	wantCode(t, "other handle of the same process, same group", b.h.Join([]byte("G")), api.ErrExist)
	join(t, b, "H") // other handle, other group: OK
	wantCode(t, "second handle, join again", b.h.Join([]byte("G")), api.ErrExist)

	// Join immediately repeated, before the own JOIN confchg: still EXIST.
	c := newClient(t, "c", 0, cpg.WithNode(node))
	wantCode(t, "first join", c.h.Join([]byte("K")), nil)
	wantCode(t, "join again before the JOIN confchg", c.h.Join([]byte("K")), api.ErrExist)
	waitJoined(t, c, "K")

	// The failed joins changed no membership.
	if m := membership(t, a, "G"); !slices.Equal(m, noReason(a.self(0))) {
		t.Errorf("G members = %v, want [%v]", m, a.self(0))
	}
	if m := membership(t, a, "H"); !slices.Equal(m, noReason(b.self(0))) {
		t.Errorf("H members = %v, want [%v]", m, b.self(0))
	}
	for _, cl := range []*client{a, b, c} {
		for _, e := range cl.events() {
			if e.Kind == kConfchg && len(e.Joined) == 1 && e.Joined[0] != cl.self(api.ReasonJoin) {
				t.Errorf("%s: unexpected confchg %v", cl.name, e)
			}
		}
	}

	// actorcpg by default gives each handle its own pid (CPG-SPEC 8.10), so
	// two handles of one process may both join the same group.
	d := newClient(t, "d", 0, cpg.WithNode(node))
	e := newClient(t, "e", 0, cpg.WithNode(node))
	if d.h.Pid() == e.h.Pid() {
		t.Fatalf("default pids collide: %d", d.h.Pid())
	}
	join(t, d, "L")
	join(t, e, "L")
}

// Rule 10: mcast from a joined handle is delivered to all members of G,
// the sender included, exactly once, with the sender's (nodeid, pid).
// actorcpg: mcast while not joined returns NOT_EXIST, where Corosync
// returns CS_OK and drops the message (CPG-SPEC 8.6).
func TestRule10_McastDeliveredToAllOnceWithSenderAddress(t *testing.T) {
	t.Run("AllMembersOnce", testMcastAllMembersOnce)
	t.Run("FlowControlIsReal", testMcastFlowControl)
}

func testMcastAllMembersOnce(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule10"
	var cs []*client
	for i := 0; i < 3; i++ {
		c := newClient(t, fmt.Sprintf("m%d", i), 0, cpg.WithNode(node))
		join(t, c, g)
		cs = append(cs, c)
	}
	outsider := newClient(t, "outsider", 0, cpg.WithNode(node))
	// Our behaviour (CPG-SPEC 8.6): refused with NOT_EXIST, not silently dropped.
	wantCode(t, "mcast while not joined", outsider.h.McastJoined(api.TypeAgreed, []byte("outsider")), api.ErrNotExist)
	join(t, outsider, "elsewhere")
	wantCode(t, "mcast joined to another group is sent there", outsider.h.McastJoined(api.TypeAgreed, []byte("outsider-elsewhere")), nil)

	const n = 50
	for i := 0; i < n; i++ {
		for _, c := range cs {
			mcast(t, c, fmt.Sprintf("%s-%d", c.name, i))
		}
	}
	// Gathered iovecs arrive as one message.
	if err := cs[0].h.McastJoined(api.TypeAgreed, []byte("io"), []byte("vec"), nil, []byte("s")); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		mcast(t, c, "end-"+c.name)
	}
	waitAll(t, "every end marker everywhere", func() bool {
		for _, r := range cs {
			evs := r.events()
			for _, s := range cs {
				if !hasDeliver(g, "end-"+s.name)(evs) {
					return false
				}
			}
		}
		return true
	}, cs...)

	for _, r := range cs {
		count := map[string]int{}
		for _, e := range r.events() {
			if e.Kind != kDeliver {
				continue
			}
			if e.Group != g {
				t.Errorf("%s: delivery of group %q", r.name, e.Group)
			}
			count[e.Data]++
			// The sender's address is the true sender's.
			var from *client
			for _, s := range cs {
				if len(e.Data) > len(s.name) && e.Data[:len(s.name)+1] == s.name+"-" || e.Data == "end-"+s.name {
					from = s
				}
			}
			if e.Data == "iovecs" {
				from = cs[0]
			}
			if from == nil {
				t.Errorf("%s: unexpected message %q", r.name, e.Data)
				continue
			}
			if e.Nodeid != from.h.NodeID() || e.Pid != from.h.Pid() {
				t.Errorf("%s: %q from %d/%d, want %d/%d", r.name, e.Data, e.Nodeid, e.Pid, from.h.NodeID(), from.h.Pid())
			}
		}
		for _, s := range cs {
			for i := 0; i < n; i++ {
				if k := count[fmt.Sprintf("%s-%d", s.name, i)]; k != 1 {
					t.Errorf("%s received %s-%d %d times, want once", r.name, s.name, i, k)
				}
			}
		}
		if count["iovecs"] != 1 {
			t.Errorf("%s received the gathered message %d times, want once", r.name, count["iovecs"])
		}
		if count["outsider"]+count["outsider-elsewhere"] != 0 {
			t.Errorf("%s received the outsider's messages", r.name)
		}
	}
}

// testMcastFlowControl: while a member does not dispatch, its queue passes
// the high-water mark and the group is flow-controlled: mcast returns
// TRY_AGAIN and FlowControlStateGet reports ENABLED. actorcpg: the state is
// real (CPG-SPEC 8.7; Corosync's cpg_flow_control_state_get always says
// DISABLED). Once the member dispatches, the state clears and every
// message, including those sent after, is delivered exactly once in order.
func testMcastFlowControl(t *testing.T) {
	node := startNode(t, func(c *remote.Config) {
		c.QueueHighBytes = 32 << 10
		c.QueueLimitBytes = 64 << 20
	})
	const g = "rule10-fc"
	s := newClient(t, "sender", 0, cpg.WithNode(node))
	r := newClient(t, "slow", 0, cpg.WithNode(node))
	join(t, s, g)
	join(t, r, g)
	waitSeen(t, "slow's join at the sender", func(e event) bool { return joinedIs(e, g, r.self(api.ReasonJoin)) }, s)
	for _, c := range []*client{s, r} {
		if st, err := c.h.FlowControlStateGet(); err != nil || st != api.FlowControlDisabled {
			t.Fatalf("%s: FlowControlStateGet before load = %v, %v; want DISABLED", c.name, st, err)
		}
	}
	payload := string(make([]byte, 1024))
	sent := 0
	for {
		err := s.h.McastJoined(api.TypeAgreed, []byte(fmt.Sprintf("%06d", sent)+payload))
		if errors.Is(err, api.ErrTryAgain) {
			break
		}
		if err != nil {
			t.Fatalf("mcast %d: %v", sent, err)
		}
		sent++
		pump(t, s) // the sender keeps up; only the slow member lags
		if sent > 10000 {
			t.Fatalf("no TRY_AGAIN after %d messages while a member does not dispatch", sent)
		}
	}
	if st, err := s.h.FlowControlStateGet(); err != nil || st != api.FlowControlEnabled {
		t.Errorf("sender: FlowControlStateGet after TRY_AGAIN = %v, %v; want ENABLED", st, err)
	}
	// The group's state reaches each member's client asynchronously; the
	// slow member (which must not dispatch here) sees it shortly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := r.h.FlowControlStateGet()
		if err == nil && st == api.FlowControlEnabled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow: FlowControlStateGet = %v, %v; want ENABLED", st, err)
		}
		time.Sleep(time.Millisecond)
	}
	wantCode(t, "mcast while flow-controlled", s.h.McastJoined(api.TypeAgreed, []byte("refused")), api.ErrTryAgain)

	// The slow member catches up; flow control ends.
	waitAll(t, "flow control to end", func() bool {
		st, err := s.h.FlowControlStateGet()
		return err == nil && st == api.FlowControlDisabled
	}, s, r)
	for i := 0; i < 10; i++ {
		mcast(t, s, fmt.Sprintf("%06d", sent)+payload)
		sent++
	}
	last := fmt.Sprintf("%06d", sent-1) + payload
	waitFor(t, r, "the last message at the slow member", hasDeliver(g, last))
	got := delivered(r.events(), g)
	if len(got) != sent {
		t.Fatalf("slow member got %d messages, want %d", len(got), sent)
	}
	for i, m := range got {
		want := fmt.Sprintf("%d/%d:%06d", s.h.NodeID(), s.h.Pid(), i)
		if m[:len(want)] != want {
			t.Fatalf("message %d = %q..., want %q...", i, m[:len(want)], want)
		}
	}
}
