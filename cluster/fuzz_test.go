package cluster

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
)

// wireKinds are the messages a node accepts from its peers, by the first
// byte of a fuzz input.
var wireKinds = []func() proto.Message{
	func() proto.Message { return &wire.PeerHeartbeat{} },
	func() proto.Message { return &wire.ViewPropose{} },
	func() proto.Message { return &wire.ViewReject{} },
	func() proto.Message { return &wire.ViewState{} },
	func() proto.Message { return &wire.ViewInstall{} },
	func() proto.Message { return &wire.Submit{} },
	func() proto.Message { return &wire.Ordered{} },
	func() proto.Message { return &wire.Ack{} },
	func() proto.Message { return &wire.Nack{} },
}

// fuzzNet is three nodes in one view with a group whose members have
// exchanged a few messages: state for a hostile message to hit.
func fuzzNet(t testing.TB) *testNet {
	tn := newTestNet(t, 3)
	tn.run(300 * time.Millisecond)
	tn.joinAll("g")
	for i := range 3 {
		tn.mcast(uint32(1+i), 1, "hello")
	}
	tn.run(50 * time.Millisecond)
	return tn
}

// FuzzStepHostile feeds node 1 of a running three-node cluster a wire
// message it decodes from arbitrary bytes, as from a peer (or a stranger
// claiming a node id, known or not): the engine must not panic, whatever
// the message says, and a message from a node that is not a member must
// not stop it making progress. The first byte picks the message type, the
// second the sender. The seeds are the messages the nodes really
// exchanged.
//
// A member's messages are trusted for what they say, as Corosync trusts
// every holder of its authkey: a member can send an Ordered event for a
// seq it did not order, which then takes the place of the real one at
// node 1 (a retransmission may come from any replica). What makes a
// member is its certificate (remote's mutual TLS binds the sender id to
// it), so this target asserts only the absence of a panic for them; the
// engine still drops what no correct member could send (validOrdered,
// validSubmitted), and the first such case the fuzzer found, an event of
// no kind from node 0 that stalled the group, is in testdata.
func FuzzStepHostile(f *testing.F) {
	tn := fuzzNet(f)
	seen := 0
	tn.hold = func(m netMsg) bool {
		if seen < 64 {
			for k, mk := range wireKinds {
				if proto.MessageName(mk()) == proto.MessageName(m.msg) {
					if b, err := proto.Marshal(m.msg); err == nil {
						f.Add(append([]byte{byte(k), byte(m.from)}, b...))
						seen++
					}
				}
			}
		}
		return false
	}
	tn.mcast(2, 1, "seed")
	tn.run(100 * time.Millisecond)
	f.Add([]byte{6, 2, 0x0a, 0x01, 'g', 0x12, 0x02, 0x08, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		m := wireKinds[int(b[0])%len(wireKinds)]()
		if proto.Unmarshal(b[2:], m) != nil {
			return
		}
		tn := fuzzNet(t)
		from := uint32(b[1] % 5) // 0 and 4 are not nodes of the cluster
		tn.nodes[1].Step(from, m)
		tn.take(1)
		tn.run(400 * time.Millisecond)
		if from >= 1 && from <= 3 {
			return // a member: no panic is all (see above)
		}
		// The cluster goes on: a message sent now is delivered at node 1.
		before := len(tn.events[1][1])
		tn.mcast(3, 1, "after")
		tn.run(400 * time.Millisecond)
		if len(tn.events[1][1]) == before {
			t.Fatalf("after %T %v from %d, node 1 delivers nothing more", m, m, from)
		}
	})
}

// TestHostileOrderedEventOfNoMemberIsDropped: an Ordered frame whose
// event names no node of the view (or no kind) is dropped whole. Taken,
// it held the next seq for an origin that would never hold it, and the
// group stalled at node 1 (the first case FuzzStepHostile found).
func TestHostileOrderedEventOfNoMemberIsDropped(t *testing.T) {
	for _, ev := range []*wire.GroupEvent{
		{Kind: wire.Kind_KIND_MCAST, Nodeid: 0, Data: []byte("x")},
		{Kind: wire.Kind_KIND_MCAST, Nodeid: 9, Data: []byte("x")},
		{Kind: wire.Kind_KIND_UNSPECIFIED, Nodeid: 2},
		{Kind: wire.Kind_KIND_HANDOFF, Nodeid: 2},
	} {
		tn := fuzzNet(t)
		gr := tn.nodes[1].groups["g"].gm
		ev.Seq = gr.contiguous() + 1
		tn.nodes[1].Step(2, &wire.Ordered{Group: []byte("g"), Ring: tn.nodes[1].Ring(), From: 2, Events: []*wire.GroupEvent{ev}})
		tn.take(1)
		tn.run(400 * time.Millisecond)
		before := len(tn.events[1][1])
		tn.mcast(3, 1, "after")
		tn.run(400 * time.Millisecond)
		if len(tn.events[1][1]) == before {
			t.Fatalf("after an Ordered event %v from node 2, node 1 delivers nothing more", ev)
		}
	}
}
