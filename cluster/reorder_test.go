package cluster

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api/wire"
)

// Links reorder: between two nodes, remoting and the client links are
// separate channels, so a message may arrive after one sent later. No
// reordering alone may split a view or change it again.

// A proposal that reaches a node before any heartbeat of its coordinator
// proves the coordinator alive: the node waits for the install and does
// not propose a view of its own without the coordinator (seed 70856:
// nodes 2-5 installed ring 2.4 [2 3 4 5] after the full view 1.3).
func TestProposalBeforeTheCoordinatorsFirstHeartbeat(t *testing.T) {
	tn := newTestNet(t, 3)
	proposed := false // node 2 got node 1's proposal
	tn.hold = func(env netMsg) bool {
		if env.to != 2 {
			return false
		}
		switch m := env.msg.(type) {
		case *wire.ViewPropose:
			if env.from == 1 {
				proposed = true
			} else {
				t.Errorf("node %d proposed %v %v to node 2", env.from, m.Ring, m.Members)
			}
		case *wire.PeerHeartbeat:
			// Node 2 hears node 3 late enough that node 1's proposal
			// comes before node 2 would propose itself, and node 1's
			// heartbeats only after that proposal.
			return env.from == 1 && !proposed || env.from == 3 && tn.now < 25*time.Millisecond
		}
		return false
	}
	tn.lose = func(to uint32, m proto.Message) bool {
		if p, ok := m.(*wire.ViewPropose); ok && p.From == 2 {
			t.Errorf("node 2 proposed %v %v to node %d", p.Ring, p.Members, to)
		}
		return false
	}
	tn.run(500 * time.Millisecond)
	if !proposed {
		t.Fatal("node 1 never proposed to node 2")
	}
	for _, id := range tn.ids() {
		e := tn.nodes[id]
		if !slices.Equal(e.Members(), []uint32{1, 2, 3}) || e.Syncing() || len(tn.totems[id]) != 1 {
			t.Errorf("node %d: members %v syncing %v, installed %v", id, e.Members(), e.Syncing(), tn.totems[id])
		}
	}
}
