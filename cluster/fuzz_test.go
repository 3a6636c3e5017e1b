package cluster

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api/wire"
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
// claiming a node id, known or not): the engine must neither panic nor
// stop making progress, whatever the message says. The first byte picks
// the message type, the second the sender. The seeds are the messages
// the nodes really exchanged.
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
		// The cluster goes on: a message sent now is delivered at node 1.
		before := len(tn.events[1][1])
		tn.mcast(3, 1, "after")
		tn.run(400 * time.Millisecond)
		if len(tn.events[1][1]) == before {
			t.Fatalf("after %T %v from %d, node 1 delivers nothing more", m, m, from)
		}
	})
}
