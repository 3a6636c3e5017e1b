package cluster

import (
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/internal/wire"
)

func testSeq(self uint32) *SequencerMachine {
	cfg := testConfig(self, []uint32{1, 2, 3})
	cfg.Handoff = 50 * time.Millisecond
	return NewSequencerMachine(SeqConfig{Config: cfg, Name: []byte("g"), Ring: ringID{2, 5}, Members: []uint32{1, 2, 3}})
}

func takeSeq(s *SequencerMachine) SeqReady {
	if s.Ready().Flush {
		s.Step(SeqFlush{})
	}
	rd := s.Ready()
	out := SeqReady{Messages: append([]Outbound(nil), rd.Messages...), ToGroup: append([]GroupInput(nil), rd.ToGroup...)}
	s.Advance()
	return out
}

// The sequencer machine numbers every node's submissions in one order,
// sends them to the other nodes (without their own payloads) and to its
// own group machine, and announces the stable point once every node
// acknowledged.
func TestSequencerMachineOrdersSendsAndAnnouncesStable(t *testing.T) {
	s := testSeq(1)
	s.Step(SeqSubmit{From: 2, Restart: true, Events: []*wire.GroupEvent{mcastEvent(0, 2, 1)}})
	s.Step(SeqSubmit{From: 1, Restart: true, Events: []*wire.GroupEvent{mcastEvent(0, 1, 1), mcastEvent(0, 1, 2)}})
	rd := takeSeq(s)
	if len(rd.ToGroup) != 1 {
		t.Fatalf("to the group machine: %v", rd.ToGroup)
	}
	own := rd.ToGroup[0].(SeqOrdered)
	if len(own.Events) != 3 || own.Events[0].Nodeid != 2 || own.Events[2].Seq != 3 || own.High != 3 || own.Stable != 0 {
		t.Fatalf("own copy %+v", own)
	}
	elided := 0
	for _, o := range rd.Messages {
		m := o.Msg.(*wire.Ordered)
		if len(m.Events) != 3 {
			t.Fatalf("to %d: %d events", o.To, len(m.Events))
		}
		for _, ev := range m.Events {
			if ev.Elided {
				if ev.Nodeid != o.To {
					t.Fatalf("node %d's event elided for node %d", ev.Nodeid, o.To)
				}
				elided++
			}
		}
	}
	if len(rd.Messages) != 2 || elided != 1 {
		t.Fatalf("messages %v, %d elided", rd.Messages, elided)
	}
	for _, n := range []uint32{1, 2} {
		s.Step(SeqAck{From: n, Seq: 3})
	}
	if rd := takeSeq(s); len(rd.Messages) != 0 {
		t.Fatalf("stable announced before node 3 acknowledged: %v", rd.Messages)
	}
	s.Step(SeqAck{From: 3, Seq: 3})
	rd = takeSeq(s)
	if len(rd.Messages) != 2 || rd.Messages[0].Msg.(*wire.Ordered).Stable != 3 {
		t.Fatalf("stable announcement %v", rd.Messages)
	}
	// Node 3 acknowledges again: it did not hear of the stable point.
	s.Step(SeqAck{From: 3, Seq: 3})
	rd = takeSeq(s)
	if len(rd.Messages) != 1 || rd.Messages[0].To != 3 || rd.Messages[0].Msg.(*wire.Ordered).Stable != 3 {
		t.Fatalf("repeat to node 3: %v", rd.Messages)
	}
}

// A node that alone submits for Config.Handoff gets the group: the machine
// orders a handoff to it and then orders nothing more.
func TestSequencerMachineHandsOffToALoneSender(t *testing.T) {
	s := testSeq(1)
	msgid := uint64(1)
	now := time.Duration(0)
	var handoff *wire.GroupEvent
	for i := 0; i < 40 && handoff == nil; i++ {
		now += 5 * time.Millisecond
		s.Tick(now)
		s.Step(SeqSubmit{From: 2, Restart: msgid == 1, Events: []*wire.GroupEvent{mcastEvent(0, 2, msgid)}})
		msgid++
		for _, m := range takeSeq(s).ToGroup {
			for _, ev := range m.(SeqOrdered).Events {
				if ev.Kind == wire.Kind_KIND_HANDOFF {
					handoff = ev
				}
			}
		}
	}
	if handoff == nil || handoff.Handoff.To != 2 || handoff.Nodeid != 1 {
		t.Fatalf("handoff %v", handoff)
	}
	s.Step(SeqSubmit{From: 2, Events: []*wire.GroupEvent{mcastEvent(0, 2, msgid)}})
	for _, m := range takeSeq(s).ToGroup {
		if evs := m.(SeqOrdered).Events; len(evs) > 0 {
			t.Fatalf("ordered %v after handing the group over", evs)
		}
	}
	// The machine that takes over goes on after the handoff's seq.
	r := NewSequencerMachine(SeqConfig{Config: testConfig(2, []uint32{1, 2, 3}), Name: []byte("g"), Ring: ringID{2, 5},
		Members: []uint32{1, 2, 3}, Resume: handoff, Acks: map[uint32]uint64{2: handoff.Seq}})
	r.Step(SeqSubmit{From: 2, Events: []*wire.GroupEvent{mcastEvent(0, 2, msgid)}})
	got := takeSeq(r).ToGroup[0].(SeqOrdered)
	if len(got.Events) != 1 || got.Events[0].Seq != handoff.Seq+1 {
		t.Fatalf("after the handoff: %+v", got)
	}
}
