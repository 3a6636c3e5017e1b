package cluster

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// testNet runs engines over an in-memory network in one goroutine: every
// step delivers the queued messages (unless the link is cut), flushes and
// advances the clock by one tick.
type testNet struct {
	t       testing.TB
	nodes   map[uint32]*Engine
	down    map[uint32]bool
	cut     map[[2]uint32]bool
	now     time.Duration
	queue   []netMsg
	events  map[uint32]map[groups.HandleID][]string
	totems  map[uint32][]string
	persist map[uint32]uint64
	flows   map[uint32][]FlowChange
	// lose, when set, drops the messages it returns true for.
	lose func(to uint32, m proto.Message) bool
	// hold, when set, keeps the queued messages it returns true for until
	// a later step: they arrive after messages sent after them (links
	// reorder).
	hold func(env netMsg) bool
	// async, when set, makes the nodes NewAsync's engines: their local
	// messages (locals, the mailboxes woken and not yet run) run in an
	// order drawn from it, between the network's messages.
	async  *rand.Rand
	locals []localRun
}

// localRun is a node's mailbox to run once (Engine.RunLocal).
type localRun struct {
	node uint32
	mb   Mailbox
}

type netMsg struct {
	from, to uint32
	msg      proto.Message
}

func testConfig(id uint32, nodes []uint32) Config {
	return Config{
		NodeID: id, Nodes: nodes, RingSeq: 1, Incarnation: 1,
		Token: 100 * time.Millisecond, Heartbeat: 20 * time.Millisecond,
		Join: 20 * time.Millisecond, Consensus: 200 * time.Millisecond,
		Retransmit: 30 * time.Millisecond, Fragment: 1000, FrameBytes: 4000,
	}
}

func newTestNet(t testing.TB, n int) *testNet {
	tn := &testNet{t: t, nodes: map[uint32]*Engine{}, down: map[uint32]bool{}, cut: map[[2]uint32]bool{},
		events: map[uint32]map[groups.HandleID][]string{}, totems: map[uint32][]string{}, persist: map[uint32]uint64{},
		flows: map[uint32][]FlowChange{}}
	var ids []uint32
	for i := 1; i <= n; i++ {
		ids = append(ids, uint32(i))
	}
	for _, id := range ids {
		tn.nodes[id] = New(testConfig(id, ids))
		tn.events[id] = map[groups.HandleID][]string{}
	}
	return tn
}

func (tn *testNet) take(id uint32) {
	e := tn.nodes[id]
	for _, mb := range e.Wakeups() {
		tn.locals = append(tn.locals, localRun{id, mb})
	}
	if !e.HasReady() {
		return
	}
	rd := e.Ready()
	if rd.PersistSeq != 0 {
		tn.persist[id] = rd.PersistSeq
	}
	for _, o := range rd.Messages {
		tn.queue = append(tn.queue, netMsg{id, o.To, o.Msg})
	}
	for _, d := range rd.Deliveries {
		for _, ev := range d.Events {
			tn.events[id][d.Handle] = append(tn.events[id][d.Handle], describe(ev))
		}
	}
	tn.flows[id] = append(tn.flows[id], rd.Flow...)
	if rd.Totem != nil {
		tn.totems[id] = append(tn.totems[id], fmt.Sprintf("%d.%d %v", rd.Totem.RingId.Nodeid, rd.Totem.RingId.Seq, rd.Totem.Members))
	}
	e.Advance()
}

func describe(ev *api.Event) string {
	switch {
	case ev.Deliver != nil:
		return fmt.Sprintf("msg %d/%d %s", ev.Deliver.Nodeid, ev.Deliver.Pid, ev.Deliver.Data)
	case ev.Confchg != nil:
		c := ev.Confchg
		return fmt.Sprintf("confchg m=%s l=%s j=%s", addrs(c.Members), addrs(c.Left), addrs(c.Joined))
	}
	return "?"
}

func addrs(l []*api.Address) string {
	var s []string
	for _, a := range l {
		if a.Reason != 0 {
			s = append(s, fmt.Sprintf("%d/%d(%d)", a.Nodeid, a.Pid, a.Reason))
		} else {
			s = append(s, fmt.Sprintf("%d/%d", a.Nodeid, a.Pid))
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// step delivers what is queued, flushes every node and ticks the clock.
func (tn *testNet) step() {
	q := tn.queue
	tn.queue = nil
	var held []netMsg
	for _, env := range q {
		if tn.hold != nil && tn.hold(env) {
			held = append(held, env)
			continue
		}
		if tn.down[env.to] || tn.down[env.from] || tn.cut[[2]uint32{env.from, env.to}] {
			continue
		}
		if tn.lose != nil && tn.lose(env.to, env.msg) {
			continue
		}
		tn.runLocals(tn.async != nil && tn.async.Intn(2) == 0)
		tn.nodes[env.to].Step(env.from, env.msg)
		tn.take(env.to)
	}
	tn.runLocals(false)
	tn.queue = append(held, tn.queue...)
	tn.now += 5 * time.Millisecond
	for _, id := range tn.ids() {
		if tn.down[id] {
			continue
		}
		e := tn.nodes[id]
		e.Tick(tn.now)
		tn.take(id)
		if e.NeedsFlush() {
			e.Flush()
		}
		tn.take(id)
	}
}

// runLocals runs some of the woken mailboxes (all with all), picked at
// random (async nets only).
func (tn *testNet) runLocals(all bool) {
	if tn.async == nil {
		return
	}
	for n := tn.async.Intn(4); len(tn.locals) > 0 && (all || n > 0); n-- {
		i := tn.async.Intn(len(tn.locals))
		l := tn.locals[i]
		tn.locals = slices.Delete(tn.locals, i, i+1)
		if !tn.down[l.node] && tn.nodes[l.node].RunLocal(l.mb) {
			tn.take(l.node)
		}
	}
}

// newEngine starts node cfg.NodeID's engine: NewAsync's on an async net.
func (tn *testNet) newEngine(cfg Config) *Engine {
	if tn.async != nil {
		return NewAsync(cfg)
	}
	return New(cfg)
}

func (tn *testNet) ids() []uint32 {
	var ids []uint32
	for id := range tn.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (tn *testNet) run(d time.Duration) {
	end := tn.now + d
	for tn.now < end {
		tn.step()
	}
}

func (tn *testNet) isolate(id uint32, on bool) {
	for _, o := range tn.ids() {
		if o != id {
			tn.cut[[2]uint32{id, o}] = on
			tn.cut[[2]uint32{o, id}] = on
		}
	}
}

// joinAll joins handle 1 of every node (pid 100+nodeid) to group name and
// lets the joins settle.
func (tn *testNet) joinAll(name string) {
	for _, id := range tn.ids() {
		tn.nodes[id].Join([]byte(name), 1, 100+id)
		tn.take(id)
	}
	tn.run(100 * time.Millisecond)
}

func (tn *testNet) mcast(id uint32, h groups.HandleID, data string) {
	e := tn.nodes[id]
	e.Mcast(h, []*api.McastRequest{{Guarantee: uint32(api.TypeAgreed), Data: []byte(data)}})
	tn.take(id)
}

func TestThreeNodesFormOneView(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	for _, id := range tn.ids() {
		e := tn.nodes[id]
		if !slices.Equal(e.Members(), []uint32{1, 2, 3}) || e.Syncing() {
			t.Fatalf("node %d: members %v syncing %v totems %v", id, e.Members(), e.Syncing(), tn.totems[id])
		}
		if e.Ring().Nodeid != 1 {
			t.Fatalf("node %d: ring %v", id, e.Ring())
		}
	}
}

func TestAgreedOrderAcrossNodesAndNodeDown(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	for _, id := range tn.ids() {
		if c := tn.nodes[id].Join([]byte("g"), groups.HandleID(1), 100+id); c != api.CodeOK {
			t.Fatalf("join on %d: %v", id, c)
		}
		tn.take(id)
	}
	tn.run(100 * time.Millisecond)
	for i := 0; i < 20; i++ {
		for _, id := range tn.ids() {
			tn.mcast(id, 1, fmt.Sprintf("%d-%d", id, i))
		}
		tn.step()
	}
	tn.run(100 * time.Millisecond)
	a, b, c := tn.events[1][1], tn.events[2][1], tn.events[3][1]
	// Each node's stream starts at its own join; compare the common tail.
	if !slices.Equal(a[len(a)-60:], b[len(b)-60:]) || !slices.Equal(a[len(a)-60:], c[len(c)-60:]) {
		t.Fatalf("streams differ:\n1 %v\n2 %v\n3 %v", a, b, c)
	}
	tn.down[3] = true
	tn.run(500 * time.Millisecond)
	last1 := tn.events[1][1][len(tn.events[1][1])-1]
	last2 := tn.events[2][1][len(tn.events[2][1])-1]
	want := "confchg m=[1/101 2/102] l=[3/103(3)] j=[]"
	if last1 != want || last2 != want {
		t.Fatalf("after node 3 down: %q / %q", last1, last2)
	}
	if !slices.Equal(tn.nodes[1].Members(), []uint32{1, 2}) {
		t.Fatalf("members %v", tn.nodes[1].Members())
	}
	// Node 3 comes back with a new incarnation: NODEUP once it joins.
	cfg := testConfig(3, []uint32{1, 2, 3})
	cfg.RingSeq, cfg.Incarnation = tn.persist[3]+1, 2
	tn.nodes[3] = New(cfg)
	tn.events[3] = map[groups.HandleID][]string{}
	tn.down[3] = false
	tn.run(500 * time.Millisecond)
	if c := tn.nodes[3].Join([]byte("g"), 1, 103); c != api.CodeOK {
		t.Fatalf("rejoin: %v", c)
	}
	tn.take(3)
	tn.run(100 * time.Millisecond)
	tn.mcast(1, 1, "after")
	tn.run(100 * time.Millisecond)
	for _, id := range tn.ids() {
		ev := tn.events[id][1]
		if ev[len(ev)-1] != "msg 1/101 after" {
			t.Fatalf("node %d: %v", id, ev)
		}
	}
}

func TestPartitionAndHealGiveNodeDownThenNodeUp(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	tn.isolate(3, true)
	tn.run(600 * time.Millisecond)
	tn.mcast(1, 1, "a-side")
	tn.mcast(3, 1, "c-side")
	tn.run(100 * time.Millisecond)
	tn.isolate(3, false)
	tn.run(600 * time.Millisecond)
	for _, id := range tn.ids() {
		e := tn.nodes[id]
		if !slices.Equal(e.Members(), []uint32{1, 2, 3}) {
			t.Fatalf("node %d members %v", id, e.Members())
		}
		t.Logf("node %d: %v\n totems %v", id, tn.events[id][1], tn.totems[id])
		got := tn.events[id][1]
		last := got[len(got)-1]
		if !strings.HasPrefix(last, "confchg m=[1/101 2/102 3/103]") || !strings.Contains(last, "(4)") {
			t.Fatalf("node %d last %q", id, last)
		}
	}
}

// Lost submissions, ordered events and acks inside a view are recovered
// (re-send, Nack): every node delivers every message once, in one order.
func TestLossInsideAViewIsRepaired(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	rng := rand.New(rand.NewSource(7))
	tn.lose = func(_ uint32, m proto.Message) bool {
		switch m.(type) {
		case *wire.Submit, *wire.Ordered, *wire.Ack, *wire.Nack:
			return rng.Intn(10) == 0
		}
		return false
	}
	for i := 0; i < 200; i++ {
		tn.mcast(uint32(1+i%3), 1, fmt.Sprintf("m%d", i))
		if i%7 == 0 {
			tn.step()
		}
	}
	tn.run(300 * time.Millisecond)
	tn.lose = nil
	tn.run(500 * time.Millisecond)
	var ref []string
	for _, id := range tn.ids() {
		var msgs []string
		for _, ev := range tn.events[id][1] {
			if strings.HasPrefix(ev, "msg ") {
				msgs = append(msgs, ev)
			}
		}
		if len(msgs) != 200 {
			t.Fatalf("node %d delivered %d of 200", id, len(msgs))
		}
		if ref == nil {
			ref = msgs
		} else if !slices.Equal(ref, msgs) {
			t.Fatalf("node %d order differs", id)
		}
	}
	for _, id := range tn.ids() {
		if tn.nodes[id].Ring().Seq != tn.nodes[1].Ring().Seq {
			t.Fatalf("loss of data caused a view change")
		}
	}
}

// Node 1 stops hearing node 3 for a while, but node 3 hears everyone: nodes
// 1 and 2 form a view without 3, and node 3 never notices on its own. When
// the views merge, node 3 must still see the processes of 1 and 2 leave
// (NODEDOWN) and come back (NODEUP): in between they delivered messages it
// did not.
func TestMergeFromAnotherViewIsADownThenUpForEveryCohort(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	tn.cut[[2]uint32{3, 1}] = true
	tn.run(400 * time.Millisecond)
	if !slices.Equal(tn.nodes[1].Members(), []uint32{1, 2}) {
		t.Fatalf("node 1 members %v", tn.nodes[1].Members())
	}
	tn.mcast(1, 1, "while-3-is-out")
	tn.run(50 * time.Millisecond)
	tn.cut[[2]uint32{3, 1}] = false
	tn.run(600 * time.Millisecond)
	got := tn.events[3][1]
	want := []string{
		"confchg m=[3/103] l=[1/101(3) 2/102(3)] j=[]",
		"confchg m=[1/101 2/102 3/103] l=[] j=[1/101(4) 2/102(4)]",
	}
	if !slices.Equal(got[len(got)-2:], want) {
		t.Fatalf("node 3 saw %v", got)
	}
	for _, ev := range got {
		if strings.Contains(ev, "while-3-is-out") {
			t.Fatalf("node 3 delivered a message of a view it was not in")
		}
	}
}

// Malformed, forged or nonsensical messages from a listed node are dropped
// or ignored: never a panic, and the cluster still works afterwards.
func TestHostilePeerMessagesNeverPanic(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	rng := rand.New(rand.NewSource(3))
	ring := func() *api.RingId {
		switch rng.Intn(3) {
		case 0:
			return nil
		case 1:
			return tn.nodes[1].Ring()
		}
		return &api.RingId{Nodeid: uint32(rng.Intn(5)), Seq: uint64(rng.Intn(100))}
	}
	ev := func() *wire.GroupEvent {
		if rng.Intn(5) == 0 {
			return nil
		}
		return &wire.GroupEvent{Seq: uint64(rng.Intn(50)), Kind: wire.Kind(rng.Intn(5)), Nodeid: uint32(rng.Intn(5)),
			Pid: uint32(rng.Intn(3)), Msgid: uint64(rng.Intn(10)), Part: rng.Intn(2) == 0, More: rng.Intn(2) == 0, Data: []byte("x")}
	}
	evs := func() []*wire.GroupEvent {
		var out []*wire.GroupEvent
		for i := rng.Intn(4); i > 0; i-- {
			out = append(out, ev())
		}
		return out
	}
	addrs := func() []*api.Address {
		var out []*api.Address
		for i := rng.Intn(4); i > 0; i-- {
			if rng.Intn(4) == 0 {
				out = append(out, nil)
			} else {
				out = append(out, &api.Address{Nodeid: uint32(rng.Intn(5)), Pid: uint32(rng.Intn(3))})
			}
		}
		return out
	}
	names := [][]byte{nil, []byte("g"), []byte("h"), make([]byte, 200)}
	name := func() []byte { return names[rng.Intn(len(names))] }
	for i := 0; i < 20000; i++ {
		from := uint32(1 + rng.Intn(3))
		to := uint32(1 + rng.Intn(3))
		var m proto.Message
		switch rng.Intn(9) {
		case 0:
			m = &wire.PeerHeartbeat{From: from, Ring: ring(), MaxSeq: uint64(rng.Intn(100))}
		case 1:
			m = &wire.ViewPropose{From: from, Ring: ring(), Members: []uint32{1, 2, 3, uint32(rng.Intn(9))}}
		case 2:
			m = &wire.ViewReject{From: from, Ring: ring(), MaxSeq: uint64(rng.Intn(100))}
		case 3:
			m = &wire.ViewState{From: from, Ring: ring(), OldRing: ring(), Groups: []*wire.GroupState{nil,
				{Group: name(), Delivered: uint64(rng.Intn(20)), Members: addrs(), Held: evs()}}}
		case 4:
			m = &wire.ViewInstall{From: from, Ring: ring(), Members: []uint32{1, 2, 3},
				Cohorts: []*wire.CohortCut{nil, {OldRing: ring(), Nodes: []uint32{1, 2, 3}, Groups: []*wire.GroupCut{nil, {Group: name(), Upto: uint64(rng.Intn(20)), Events: evs()}}}},
				Groups:  []*wire.GroupMembers{nil, {Group: name(), Members: addrs()}}}
		case 5:
			m = &wire.Submit{From: from, Ring: ring(), Group: name(), Events: evs(), Restart: rng.Intn(2) == 0}
		case 6:
			m = &wire.Ordered{From: from, Ring: ring(), Group: name(), Events: evs(), Stable: uint64(rng.Intn(30)), High: uint64(rng.Intn(30))}
		case 7:
			m = &wire.Ack{From: from, Ring: ring(), Groups: []*wire.GroupAck{nil, {Group: name(), Seq: uint64(rng.Intn(30))}}}
		case 8:
			m = &wire.Nack{From: from, Ring: ring(), Group: name(), Seq: uint64(rng.Intn(30)), SeqTo: uint64(rng.Intn(30))}
		}
		tn.nodes[to].Step(from, m)
		tn.take(to)
		if i%100 == 0 {
			tn.step()
		}
	}
	// The hostile traffic stops; the cluster settles and still orders.
	tn.queue = nil
	tn.run(1500 * time.Millisecond)
	if c := tn.nodes[1].Join([]byte("after"), 9, 900); c != api.CodeOK {
		t.Fatalf("join after the storm: %v", c)
	}
	tn.take(1)
	tn.run(300 * time.Millisecond)
	got := tn.events[1][9]
	if len(got) == 0 || !strings.HasPrefix(got[0], "confchg") {
		t.Fatalf("no confchg after the storm: %v", got)
	}
}

// A SAFE message is delivered only once every node of the view holds it
// (the stable point covers it); an AGREED one does not wait. Messages
// after a waiting SAFE one wait behind it, keeping the agreed order.
func TestSafeWaitsForEveryNode(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	// Node 3 receives everything but its acks are lost: nothing is stable.
	tn.lose = func(_ uint32, m proto.Message) bool {
		a, ok := m.(*wire.Ack)
		return ok && a.From == 3
	}
	owner := tn.nodes[1].Owner([]byte("g"))
	if owner == 3 {
		t.Skip("the group's sequencer is on node 3, whose acks are local")
	}
	e := tn.nodes[1]
	e.Mcast(1, []*api.McastRequest{{Guarantee: uint32(api.TypeSafe), Data: []byte("safe")}})
	e.Mcast(1, []*api.McastRequest{{Guarantee: uint32(api.TypeAgreed), Data: []byte("agreed-after")}})
	tn.take(1)
	tn.run(200 * time.Millisecond)
	for _, id := range tn.ids() {
		for _, ev := range tn.events[id][1] {
			if strings.Contains(ev, "safe") || strings.Contains(ev, "agreed-after") {
				t.Fatalf("node %d delivered %q before node 3 acknowledged it", id, ev)
			}
		}
	}
	tn.lose = nil
	tn.run(200 * time.Millisecond)
	for _, id := range tn.ids() {
		got := tn.events[id][1]
		if len(got) < 2 || got[len(got)-2] != "msg 1/101 safe" || got[len(got)-1] != "msg 1/101 agreed-after" {
			t.Fatalf("node %d: %v", id, got)
		}
	}
}

// A node that lags does not let the others run away from it: once a
// group's backlog that some node may not hold passes Config.Window, the
// group's local handles are flow-controlled until it is down to half.
func TestBacklogFlowControlsSendersWhileANodeLags(t *testing.T) {
	tn := newTestNet(t, 3)
	for _, id := range tn.ids() {
		cfg := testConfig(id, tn.ids())
		cfg.Window = 10 * (100 + 64)
		tn.nodes[id] = New(cfg)
	}
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	sender := uint32(1)
	if tn.nodes[1].Owner([]byte("g")) == 1 {
		sender = 2 // the lagging node's acks must matter to the sender's node
	}
	lagging := uint32(6) - sender - tn.nodes[1].Owner([]byte("g"))
	tn.lose = func(_ uint32, m proto.Message) bool {
		a, ok := m.(*wire.Ack)
		return ok && a.From == lagging
	}
	payload := strings.Repeat("x", 100)
	for i := 0; i < 15; i++ {
		tn.mcast(sender, 1, payload)
		tn.step()
	}
	tn.run(50 * time.Millisecond)
	if f := tn.flows[sender]; len(f) == 0 || !f[len(f)-1].Enabled || f[len(f)-1].Handle != 1 {
		t.Fatalf("node %d: flow changes %v while node %d acknowledges nothing: want flow control on", sender, f, lagging)
	}
	tn.lose = nil
	tn.run(200 * time.Millisecond)
	if f := tn.flows[sender]; f[len(f)-1].Enabled {
		t.Fatalf("node %d: flow changes %v after node %d caught up: want flow control off", sender, f, lagging)
	}
	for _, id := range tn.ids() {
		if n := len(tn.events[id][1]); n < 15 {
			t.Fatalf("node %d delivered %d events, want the join confchgs and 15 messages", id, n)
		}
	}
}

// A group dropped while idle and used again goes on with its event ids.
// Node 3's process sends, leaves, and node 3 is cut off: on its side the
// group is empty and dropped, while nodes 1 and 2, where the group lives on,
// remember node 3's last event id. After the heal node 3's process joins
// again: its join and messages must not be taken for old ones (the chaos
// test found them dropped).
func TestGroupUsedAgainAfterBeingDroppedKeepsItsIDs(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	for i := 0; i < 5; i++ {
		tn.mcast(3, 1, fmt.Sprintf("first-%d", i))
	}
	tn.run(100 * time.Millisecond)
	tn.nodes[3].Leave(1, api.ReasonLeave)
	tn.take(3)
	tn.run(100 * time.Millisecond)
	tn.isolate(3, true)
	tn.run(400 * time.Millisecond)
	tn.isolate(3, false)
	tn.run(600 * time.Millisecond)
	if c := tn.nodes[3].Join([]byte("g"), 2, 203); c != api.CodeOK {
		t.Fatalf("join again: %v", c)
	}
	tn.take(3)
	tn.run(100 * time.Millisecond)
	tn.mcast(3, 2, "second")
	tn.run(100 * time.Millisecond)
	got := tn.events[1][1]
	if len(got) < 2 || got[len(got)-1] != "msg 3/203 second" || !strings.Contains(got[len(got)-2], "j=[3/203(1)]") {
		t.Fatalf("node 1 after node 3's process came back: %v", got)
	}
}

// A node that saw no event of a group in this view still reports the group
// at a view change, so a join it has not received yet is not lost: the
// joiner is not removed (PROCDOWN) while it lives (found by the chaos test).
func TestJoinNotYetSeenByOneSurvivorStaysAtViewChange(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	owner := tn.nodes[1].Owner([]byte("g"))
	var joiner, late uint32 // a non-owner joins; another non-owner misses it
	for _, id := range tn.ids() {
		if id != owner {
			if joiner == 0 {
				joiner = id
			} else {
				late = id
			}
		}
	}
	// The group exists and empties again, everything stable.
	tn.nodes[joiner].Join([]byte("g"), 1, 100)
	tn.take(joiner)
	tn.run(100 * time.Millisecond)
	tn.nodes[joiner].Leave(1, api.ReasonLeave)
	tn.take(joiner)
	tn.run(200 * time.Millisecond)
	// The late node misses the next join; then the owner crashes.
	tn.lose = func(to uint32, m proto.Message) bool {
		o, ok := m.(*wire.Ordered)
		return ok && to == late && len(o.Events) > 0
	}
	tn.nodes[joiner].Join([]byte("g"), 2, 200)
	tn.take(joiner)
	tn.run(20 * time.Millisecond)
	tn.lose = nil
	tn.down[owner] = true
	tn.run(600 * time.Millisecond)
	members := tn.nodes[late].GroupMembers([]byte("g"))
	if len(members) != 1 || members[0].Pid != 200 {
		t.Fatalf("node %d: members of g %v, want the joiner", late, members)
	}
	for _, ev := range tn.events[joiner][2] {
		if strings.Contains(ev, "(5)") {
			t.Fatalf("the joiner was removed: %v", tn.events[joiner][2])
		}
	}
}

// A side that must skip an event of the old view (its origin, on the other
// side, may not hold it) first sees the other side's processes leave, in
// one confchg, and only then delivers the rest of its own nodes' events:
// Totem's transitional configuration. Node 3's acknowledgements are lost,
// so nodes 1 and 2 never learn that node 3 holds its message m3; node 1's
// m1 is ordered after it. When node 3 is cut off, nodes 1 and 2 skip m3
// and deliver m1 after the NODEDOWN confchg.
func TestFlushWithAHoleDeliversTheRestAfterATransitionalConfchg(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	name := ""
	for i := 0; name == ""; i++ {
		if n := fmt.Sprintf("g%d", i); tn.nodes[1].Owner([]byte(n)) == 1 {
			name = n
		}
	}
	tn.joinAll(name)
	tn.lose = func(_ uint32, m proto.Message) bool {
		a, ok := m.(*wire.Ack)
		return ok && a.From == 3
	}
	tn.mcast(3, 1, "m3")
	tn.run(20 * time.Millisecond)
	tn.mcast(1, 1, "m1")
	tn.run(50 * time.Millisecond)
	for _, id := range []uint32{1, 2} {
		if got := strings.Join(tn.events[id][1], "\n"); strings.Contains(got, "m1") || strings.Contains(got, "m3") {
			t.Fatalf("node %d delivered before node 3 was known to hold m3:\n%s", id, got)
		}
	}
	tn.isolate(3, true)
	tn.run(600 * time.Millisecond)
	for _, id := range []uint32{1, 2} {
		got := tn.events[id][1]
		i := slices.Index(got, "confchg m=[1/101 2/102] l=[3/103(3)] j=[]")
		j := slices.Index(got, "msg 1/101 m1")
		if i < 0 || j < i || slices.Contains(got, "msg 3/103 m3") {
			t.Fatalf("node %d: want the NODEDOWN confchg, then m1, and no m3:\n%s", id, strings.Join(got, "\n"))
		}
	}
	if got := tn.events[3][1]; !slices.Contains(got, "msg 3/103 m3") {
		t.Fatalf("node 3 did not deliver its own m3:\n%s", strings.Join(got, "\n"))
	}
}

// A congested member on one node flow-controls the group's senders on the
// others (so that a fast sender cannot bury a slow receiver), until it
// drains; if its all-clear is lost, the congestion lease runs out.
func TestCongestedMemberElsewhereFlowControlsSenders(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	last := func(id uint32) (bool, bool) {
		f := tn.flows[id]
		if len(f) == 0 {
			return false, false
		}
		return f[len(f)-1].Enabled, true
	}
	tn.nodes[3].Congestion(1, true)
	tn.take(3)
	tn.run(20 * time.Millisecond)
	if on, _ := last(1); !on {
		t.Fatalf("node 1: flow changes %v while node 3's member is congested: want on", tn.flows[1])
	}
	tn.nodes[3].Congestion(1, false)
	tn.take(3)
	tn.run(20 * time.Millisecond)
	if on, _ := last(1); on {
		t.Fatalf("node 1: flow changes %v after node 3's member drained: want off", tn.flows[1])
	}
	// Congested again, and the all-clear is lost: the lease runs out.
	tn.nodes[3].Congestion(1, true)
	tn.take(3)
	tn.run(20 * time.Millisecond)
	tn.lose = func(_ uint32, m proto.Message) bool {
		a, ok := m.(*wire.Ack)
		return ok && a.From == 3
	}
	tn.nodes[3].Congestion(1, false)
	tn.take(3)
	tn.run(20 * time.Millisecond)
	if on, _ := last(1); !on {
		t.Fatalf("node 1: flow changes %v: the lost all-clear cannot have arrived", tn.flows[1])
	}
	tn.run(200 * time.Millisecond)
	if on, _ := last(1); on {
		t.Fatalf("node 1: flow changes %v: the congestion lease should have run out", tn.flows[1])
	}
}

// A group that empties is drained between view changes: every node drops
// its machine, the node that orders it once its sequencer has stopped. The
// group used again in the same view goes on where it ended (its seqs and
// each sender's ids continue: nothing is delivered twice or lost), and a
// view change after that finds every node's part of it.
func TestDrainedGroupIsDroppedAndResumesInTheSameView(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.joinAll("g")
	for _, id := range tn.ids() {
		tn.mcast(id, 1, fmt.Sprintf("before %d", id))
	}
	tn.run(100 * time.Millisecond)
	for _, id := range tn.ids() {
		tn.nodes[id].Leave(1, api.ReasonLeave)
		tn.take(id)
	}
	tn.run(200 * time.Millisecond)
	for _, id := range tn.ids() {
		if _, ok := tn.nodes[id].groups["g"]; ok {
			t.Fatalf("node %d still holds the drained group's machine", id)
		}
	}
	ring := tn.nodes[1].Ring()
	// Again, in the same view.
	for _, id := range tn.ids() {
		if c := tn.nodes[id].Join([]byte("g"), 2, 200+id); c != api.CodeOK {
			t.Fatalf("join again: %v", c)
		}
		tn.take(id)
	}
	tn.run(100 * time.Millisecond)
	for _, id := range tn.ids() {
		tn.mcast(id, 2, fmt.Sprintf("after %d", id))
	}
	tn.run(200 * time.Millisecond)
	if r := tn.nodes[1].Ring(); r.Seq != ring.Seq || r.Nodeid != ring.Nodeid {
		t.Fatalf("the view changed (%v, was %v): the test wants the same view", r, ring)
	}
	var want []string
	for _, id := range tn.ids() {
		got := tn.events[id][2]
		var msgs []string
		for _, ev := range got {
			if strings.HasPrefix(ev, "msg") {
				msgs = append(msgs, ev)
			}
		}
		if len(msgs) != 3 {
			t.Fatalf("node %d after the group came back: %v", id, got)
		}
		if want == nil {
			want = msgs
		} else if !slices.Equal(msgs, want) {
			t.Fatalf("node %d delivered %v, node 1 %v", id, msgs, want)
		}
		if s, ok := tn.nodes[id].groups["g"]; !ok || s.gm.base == 0 && s.gm.next <= 4 {
			t.Fatalf("node %d: the group's log did not go on where it ended", id)
		}
	}
	// A view change: every node reports the group, the members stay.
	tn.down[3] = true
	tn.run(time.Second)
	for _, id := range []uint32{1, 2} {
		if ms := tn.nodes[id].GroupMembers([]byte("g")); len(ms) != 2 {
			t.Fatalf("node %d after the view change: members %v", id, ms)
		}
	}
}
