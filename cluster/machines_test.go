package cluster

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// testGroup returns the machine of group "g" on node 1 in ring 2.5 of
// nodes 1..3, where node 2 orders the group.
func testGroup(t *testing.T, self uint32) *GroupMachine {
	t.Helper()
	cfg := Config{NodeID: self, Nodes: []uint32{1, 2, 3}, Retransmit: 10 * time.Millisecond, Window: DefaultWindow,
		FrameBytes: 1 << 20, Handoff: -1}
	return NewGroupMachine(GroupConfig{Config: cfg, Name: []byte("g"), Ring: ringID{2, 5}, Members: []uint32{1, 2, 3}})
}

func takeGroup(g *GroupMachine) GroupReady {
	rd := g.Ready()
	// A copy: Advance reuses the slices.
	rd.Messages, rd.Acks, rd.Deliveries, rd.ToView, rd.ToSeq = slices.Clone(rd.Messages), slices.Clone(rd.Acks),
		slices.Clone(rd.Deliveries), slices.Clone(rd.ToView), slices.Clone(rd.ToSeq)
	g.Advance()
	return rd
}

func mcastEvent(seq uint64, node uint32, msgid uint64) *wire.GroupEvent {
	return &wire.GroupEvent{Seq: seq, Kind: wire.Kind_KIND_MCAST, Nodeid: node, Pid: 100 + node, Msgid: msgid,
		Guarantee: uint32(api.TypeAgreed), Data: []byte("x")}
}

// pair is one node's machines of a group, composed as the host does: the
// group machine and, when it starts one, its sequencer machine, whose
// messages to each other are carried at once.
type pair struct {
	g   *GroupMachine
	s   *SequencerMachine
	out GroupReady
}

func (p *pair) step(in GroupInput) api.Code {
	code := p.g.Step(in)
	p.settle()
	return code
}

func (p *pair) tick(now time.Duration) {
	p.g.Tick(now)
	if p.s != nil {
		p.s.Tick(now)
	}
	p.settle()
}

// settle carries the machines' messages to each other until they are
// quiet, gathering their output.
func (p *pair) settle() {
	for p.g.HasReady() || (p.s != nil && p.s.HasReady()) {
		rd := takeGroup(p.g)
		p.out.Messages = append(p.out.Messages, rd.Messages...)
		p.out.Acks = append(p.out.Acks, rd.Acks...)
		p.out.Deliveries = append(p.out.Deliveries, rd.Deliveries...)
		p.out.ToView = append(p.out.ToView, rd.ToView...)
		for _, m := range rd.ToSeq {
			switch m := m.(type) {
			case SeqStart:
				p.s = NewSequencerMachine(m.Config)
			case SeqStop:
				p.s = nil
			default:
				if p.s != nil {
					p.s.Step(m)
				}
			}
		}
		if p.s == nil {
			continue
		}
		if p.s.Ready().Flush {
			p.s.Step(SeqFlush{})
		}
		srd := p.s.Ready()
		p.out.Messages = append(p.out.Messages, srd.Messages...)
		back := slices.Clone(srd.ToGroup)
		p.s.Advance()
		for _, m := range back {
			p.g.Step(m)
		}
	}
}

// take returns and clears what the machines produced.
func (p *pair) take() GroupReady {
	out := p.out
	p.out = GroupReady{}
	return out
}

func TestGroupMachineFreezeAnswersStateAndTakesNoSubmitsUntilInstall(t *testing.T) {
	self := uint32(0)
	for _, n := range []uint32{1, 2, 3} {
		if owner([]byte("g"), []uint32{1, 2, 3}) == n {
			self = n // the group's sequencer in the view
		}
	}
	p := &pair{g: testGroup(t, self)}
	other := self%3 + 1
	ring := ringID{2, 5}
	sub := func(msgid uint64) {
		ev := mcastEvent(0, other, msgid)
		ev.Seq = 0
		p.step(PeerMsg{From: other, Msg: &wire.Submit{Group: []byte("g"), From: other, Ring: ring.api(), Restart: true, Events: []*wire.GroupEvent{ev}}})
	}
	sub(1)
	p.step(FlushReq{})
	rd := p.take()
	if n := orderedEvents(rd.Messages); n != 2 { // to both other nodes
		t.Fatalf("before the freeze: %d ordered events sent, want 2", n)
	}

	p.step(Freeze{Ring: ringID{1, 6}})
	rd = p.take()
	if len(rd.ToView) != 1 {
		t.Fatalf("freeze: answers %v", rd.ToView)
	}
	fr, ok := rd.ToView[0].(Frozen)
	if !ok || fr.Ring != (ringID{1, 6}) || string(fr.State.Group) != "g" || len(fr.State.Held) != 1 || fr.State.Held[0].Seq != 1 {
		t.Fatalf("freeze: answer %+v", rd.ToView[0])
	}
	// Frozen: a submission is not ordered, a flush sends nothing, a tick
	// neither, a join must wait.
	sub(2)
	p.step(FlushReq{})
	p.tick(time.Second)
	if rd := p.take(); len(rd.Messages) != 0 || len(rd.Acks) != 0 {
		t.Fatalf("frozen group sent %v acks %v", rd.Messages, rd.Acks)
	}
	if c := p.step(JoinReq{Handle: 1, Pid: 101}); c != api.CodeTryAgain {
		t.Fatalf("join while frozen: %v", c)
	}
	// Its cut: the event it holds. Then the new view takes submissions.
	p.step(Install{Ring: ringID{1, 6}, Members: []uint32{1, 2, 3}, OldMembers: []uint32{1, 2, 3}, Cohort: []uint32{1, 2, 3},
		Cut: &wire.GroupCut{Group: []byte("g"), Events: fr.State.Held, Upto: 1}, Now: time.Second})
	rd = p.take()
	if len(rd.ToView) != 1 {
		t.Fatalf("install: answers %v", rd.ToView)
	}
	if in, ok := rd.ToView[0].(Installed); !ok || in.Ring != (ringID{1, 6}) || !in.Idle {
		t.Fatalf("install: answer %+v", rd.ToView[0])
	}
	ring = ringID{1, 6}
	if owner([]byte("g"), []uint32{1, 2, 3}) == self {
		sub(3)
		p.step(FlushReq{})
		if n := orderedEvents(p.take().Messages); n != 2 {
			t.Fatalf("after the install: %d ordered events sent, want 2", n)
		}
	}
}

func orderedEvents(out []Outbound) int {
	n := 0
	for _, o := range out {
		if m, ok := o.Msg.(*wire.Ordered); ok {
			n += len(m.Events)
		}
	}
	return n
}

func TestGroupMachineDeliversInOrderAndAcks(t *testing.T) {
	g := testGroup(t, 1)
	if c := g.Step(JoinReq{Handle: 1, Pid: 101}); c != api.CodeOK {
		t.Fatalf("join: %v", c)
	}
	rd := takeGroup(g)
	if !rd.Flush {
		t.Fatal("a join does not ask for a flush")
	}
	join := &wire.GroupEvent{Seq: 1, Kind: wire.Kind_KIND_JOIN, Nodeid: 1, Pid: 101, Msgid: 1}
	seqr := owner([]byte("g"), []uint32{1, 2, 3})
	ord := func(evs ...*wire.GroupEvent) {
		g.Step(PeerMsg{From: seqr, Msg: &wire.Ordered{Group: []byte("g"), From: seqr, Ring: ringID{2, 5}.api(), Events: evs, High: evs[len(evs)-1].Seq}})
	}
	if seqr == 1 {
		t.Fatal("node 1 orders \"g\": the test needs a group another node orders (pick another name)")
	}
	g.Step(FlushReq{}) // the join goes to the sequencer
	takeGroup(g)
	join3 := &wire.GroupEvent{Seq: 3, Kind: wire.Kind_KIND_JOIN, Nodeid: 3, Pid: 103, Msgid: 1}
	ord(mcastEvent(4, 3, 2)) // early: a gap before it
	ord(join)
	ord(join3)
	// 2 is missing: held are 1 only, 3 and 4 early.
	if g.contiguous() != 1 || len(g.early) != 2 {
		t.Fatalf("held up to %d, %d early; want 1 and 2", g.contiguous(), len(g.early))
	}
	ord(&wire.GroupEvent{Seq: 2, Kind: wire.Kind_KIND_JOIN, Nodeid: 2, Pid: 102, Msgid: 1})
	g.Step(FlushReq{})
	rd = takeGroup(g)
	if len(rd.Acks) != 1 || rd.Acks[0].Seq != 4 {
		t.Fatalf("acks %v, want one at 4", rd.Acks)
	}
	// Node 1's own join is delivered; the others' events wait until their
	// origins hold them.
	if g.next != 2 || len(rd.Deliveries) == 0 {
		t.Fatalf("delivered up to %d (%d deliveries) before the origins hold theirs, want the join alone", g.next-1, len(rd.Deliveries))
	}
	g.Step(AckPart{From: 2, Ack: &wire.GroupAck{Group: []byte("g"), Seq: 4}})
	if g.next != 3 {
		t.Fatalf("delivered up to %d once node 2 holds its join, want 2", g.next-1)
	}
	g.Step(AckPart{From: 3, Ack: &wire.GroupAck{Group: []byte("g"), Seq: 4}})
	if g.next != 5 || len(takeGroup(g).Deliveries) == 0 {
		t.Fatalf("delivered up to %d once every origin holds its events, want 4", g.next-1)
	}
	if got := g.Members(); len(got) != 3 {
		t.Fatalf("members %v", got)
	}
}

// TestViewMachineCollectsGroupStatesAndComputesTheEngineCut drives two
// view machines by hand, with their groups' answers as messages: the
// coordinator's install has the cut the old engine computed (installFor
// over the members' states), and the groups are installed before the
// totem confchg comes out.
func TestViewMachineCollectsGroupStatesAndComputesTheEngineCut(t *testing.T) {
	cfg := func(id uint32) Config {
		return Config{NodeID: id, Nodes: []uint32{1, 2}, Token: 100 * time.Millisecond, Heartbeat: 10 * time.Millisecond,
			Join: 20 * time.Millisecond, Consensus: 200 * time.Millisecond, RingSeq: 1}
	}
	v1, v2 := NewViewMachine(cfg(1)), NewViewMachine(cfg(2))
	v1.StepLocal(GroupOpened{Group: []byte("a")})
	v1.StepLocal(GroupOpened{Group: []byte("b")})
	v2.StepLocal(GroupOpened{Group: []byte("a")})

	// Node 1 hears node 2 and proposes.
	v1.Tick(0)
	v1.Advance()
	v1.Step(2, &wire.PeerHeartbeat{From: 2, Ring: ringID{2, 1}.api(), Members: []uint32{2}, Incarnation: 1, Seq: 1})
	var prop *wire.ViewPropose
	for now := time.Duration(0); prop == nil && now < time.Second; now += 10 * time.Millisecond {
		v1.Step(2, &wire.PeerHeartbeat{From: 2, Ring: ringID{2, 1}.api(), Members: []uint32{2}, Incarnation: 1, Seq: uint64(now) + 2})
		v1.Tick(now)
		for _, o := range v1.Ready().Messages {
			if p, ok := o.Msg.(*wire.ViewPropose); ok {
				prop = p
			}
		}
		if prop == nil {
			v1.Advance()
		}
	}
	if prop == nil {
		t.Fatal("no proposal")
	}
	rd := v1.Ready()
	v1.Advance()
	// Node 1 froze its groups, a then b, and waits for their states.
	if len(rd.ToGroups) != 2 || string(rd.ToGroups[0].Group) != "a" || string(rd.ToGroups[1].Group) != "b" {
		t.Fatalf("freeze: %+v", rd.ToGroups)
	}
	ring := ringOf(prop.Ring)
	for _, tg := range rd.ToGroups {
		if f, ok := tg.Msg.(Freeze); !ok || f.Ring != ring {
			t.Fatalf("freeze: %+v", tg)
		}
	}
	ev := mcastEvent(1, 1, 1)
	stA1 := &wire.GroupState{Group: []byte("a"), Delivered: 0, Members: []*api.Address{{Nodeid: 1, Pid: 101}},
		Held: []*wire.GroupEvent{ev}, OriginHeld: []*wire.NodeSeq{{Node: 1, Seq: 1}}}
	stB1 := &wire.GroupState{Group: []byte("b"), Members: []*api.Address{{Nodeid: 1, Pid: 102}}}
	v1.StepLocal(Frozen{Ring: ring, State: stB1}) // answers in any order
	if v1.HasReady() {
		t.Fatalf("state sent with one group of two: %+v", v1.Ready())
	}
	v1.StepLocal(Frozen{Ring: ring, State: stA1})

	// Node 2 accepts and answers with its one group's state.
	v2.Step(1, prop)
	rd2 := v2.Ready()
	v2.Advance()
	if len(rd2.ToGroups) != 1 {
		t.Fatalf("node 2 freeze: %+v", rd2.ToGroups)
	}
	stA2 := &wire.GroupState{Group: []byte("a"), Members: []*api.Address{{Nodeid: 2, Pid: 201}}}
	v2.StepLocal(Frozen{Ring: ring, State: stA2})
	var st2 *wire.ViewState
	for _, o := range v2.Ready().Messages {
		if s, ok := o.Msg.(*wire.ViewState); ok {
			st2 = s
		}
	}
	v2.Advance()
	if st2 == nil {
		t.Fatal("node 2 sent no state")
	}
	v1.Step(2, st2)
	rd = v1.Ready()
	v1.Advance()
	var in *wire.ViewInstall
	for _, o := range rd.Messages {
		if m, ok := o.Msg.(*wire.ViewInstall); ok {
			in = m
		}
	}
	if in == nil {
		t.Fatal("no install")
	}
	// The same cut installFor computes from the same states.
	want := v1.installFor(&attempt{ring: ring, members: []uint32{1, 2}, states: map[uint32]*wire.ViewState{
		1: {From: 1, Ring: ring.api(), OldRing: ringID{1, 1}.api(), OldMembers: []uint32{1}, Groups: []*wire.GroupState{stA1, stB1}},
		2: st2,
	}})
	if !proto.Equal(in, want) {
		t.Fatalf("install\n%v\nwant\n%v", in, want)
	}
	if len(in.Cohorts) != 2 || len(in.Cohorts[0].Groups) != 2 || len(in.Cohorts[0].Groups[0].Events) != 1 {
		t.Fatalf("node 1's cohort cut: %v", in.Cohorts)
	}
	// Node 1's groups get their cut and list; the totem waits for both.
	if len(rd.ToGroups) != 2 {
		t.Fatalf("install to groups: %+v", rd.ToGroups)
	}
	ia := rd.ToGroups[0].Msg.(Install)
	if ia.Ring != ring || ia.Cut == nil || len(ia.Cut.Events) != 1 || len(ia.List) != 2 || !slices.Equal(ia.Cohort, []uint32{1}) {
		t.Fatalf("install of a: %+v", ia)
	}
	if rd.Totem != nil {
		t.Fatal("totem before the groups installed")
	}
	v1.StepLocal(Installed{Group: []byte("a"), Ring: ring})
	v1.StepLocal(Installed{Group: []byte("b"), Ring: ring, Idle: true})
	rd = v1.Ready()
	v1.Advance()
	if rd.Totem == nil || ringOf(rd.Totem.RingId) != ring || !slices.Equal(rd.Totem.Members, []uint32{1, 2}) {
		t.Fatalf("totem %v", rd.Totem)
	}
	// b went idle: the next view change freezes a alone.
	if got := v1.sortedGroups(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("groups after the install: %v", got)
	}
}

// A group machine started again in the view where its node dropped it
// drained resumes its log there: the next seq is delivered with no gap to
// fill (nothing below it will come again in this view).
func TestGroupMachineResumesADrainedLog(t *testing.T) {
	cfg := testConfig(1, []uint32{1, 2, 3})
	seqr := owner([]byte("g"), []uint32{1, 2, 3})
	if seqr == 1 {
		t.Fatal("node 1 orders \"g\": the test needs a group another node orders")
	}
	ring := ringID{2, 5}
	g := NewGroupMachine(GroupConfig{Config: cfg, Name: []byte("g"), Ring: ring, Members: []uint32{1, 2, 3},
		Resume: &Drained{Group: []byte("g"), Ring: ring, Seq: 10, Owner: seqr}})
	if c := g.Step(JoinReq{Handle: 1, Pid: 101}); c != api.CodeOK {
		t.Fatalf("join: %v", c)
	}
	g.Step(FlushReq{})
	takeGroup(g)
	join := &wire.GroupEvent{Seq: 11, Kind: wire.Kind_KIND_JOIN, Nodeid: 1, Pid: 101, Msgid: 1}
	g.Step(PeerMsg{From: seqr, Msg: &wire.Ordered{Group: []byte("g"), From: seqr, Ring: ring.api(), Events: []*wire.GroupEvent{join}, Stable: 10, High: 11}})
	rd := takeGroup(g)
	if len(rd.Deliveries) == 0 {
		t.Fatalf("the join at seq 11 was not delivered (held up to %d, next %d)", g.contiguous(), g.next)
	}
	g.Tick(time.Second)
	for _, o := range takeGroup(g).Messages {
		if _, ok := o.Msg.(*wire.Nack); ok {
			t.Fatalf("asked again for what the drained machine had: %v", o.Msg)
		}
	}
}

// TestViewMachineDuplicateProposalCountsEachGroupOnce: a proposal that
// comes twice (a duplicate) freezes the groups twice; with an asynchronous
// caller the first freeze's answers may come in after the second freeze
// started. Each group counts once: the state goes to the coordinator with
// every group's, not with one group's twice (found by the simulator with
// interleaved local messages, seed 100).
func TestViewMachineDuplicateProposalCountsEachGroupOnce(t *testing.T) {
	cfg := Config{NodeID: 2, Nodes: []uint32{1, 2}, Token: 100 * time.Millisecond, Heartbeat: 10 * time.Millisecond,
		Join: 20 * time.Millisecond, Consensus: 200 * time.Millisecond, RingSeq: 1}
	v := NewViewMachine(cfg)
	v.StepLocal(GroupOpened{Group: []byte("a")})
	v.StepLocal(GroupOpened{Group: []byte("b")})
	ring := ringID{1, 5}
	prop := &wire.ViewPropose{From: 1, Ring: ring.api(), Members: []uint32{1, 2}}
	v.Step(1, prop)
	v.Step(1, prop) // the duplicate, before any group answered
	if n := len(v.Ready().ToGroups); n != 4 {
		t.Fatalf("freezes: %d, want 4 (two per group)", n)
	}
	v.Advance()
	stA := &wire.GroupState{Group: []byte("a")}
	stB := &wire.GroupState{Group: []byte("b")}
	v.StepLocal(Frozen{Ring: ring, State: stA}) // a's answer to the first freeze
	v.StepLocal(Frozen{Ring: ring, State: stA}) // and to the second
	for _, o := range v.Ready().Messages {
		if _, ok := o.Msg.(*wire.ViewState); ok {
			t.Fatalf("state sent with group a's answers alone: %v", o.Msg)
		}
	}
	v.StepLocal(Frozen{Ring: ring, State: stB})
	var st *wire.ViewState
	for _, o := range v.Ready().Messages {
		if s, ok := o.Msg.(*wire.ViewState); ok {
			st = s
		}
	}
	if st == nil || len(st.Groups) != 2 || string(st.Groups[0].Group) != "a" || string(st.Groups[1].Group) != "b" {
		t.Fatalf("state %v, want groups a and b", st)
	}
}
