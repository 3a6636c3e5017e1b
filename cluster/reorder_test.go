package cluster

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
)

// Links reorder: between two nodes, remoting and the client links are
// separate channels, so a message may arrive after one sent later. No
// reordering alone may split a view or change it again.

// totemsSince returns node id's installs from the i-th on.
func (tn *testNet) totemsSince(id uint32, i int) []string { return tn.totems[id][i:] }

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

// A heartbeat that a member sent before it accepted a proposal, arriving
// at the coordinator after the install, is older than the member's state
// for that proposal: it must not make the coordinator think the member
// missed the install (and propose the same view again).
func TestHeartbeatOlderThanAStateArrivesAfterTheInstall(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.run(500 * time.Millisecond)
	tn.isolate(3, true)
	tn.run(300 * time.Millisecond)
	if slices.Contains(tn.nodes[1].Members(), 3) {
		t.Fatalf("node 1 still has node 3: %v", tn.nodes[1].Members())
	}
	tn.isolate(3, false)
	before := len(tn.totems[1])
	seen := make(map[proto.Message]int) // node 3's heartbeats to node 1, numbered
	var installedAt time.Duration = -1
	tn.hold = func(env netMsg) bool {
		e1 := tn.nodes[1]
		if installedAt < 0 && slices.Contains(e1.Members(), 3) && !e1.Syncing() {
			installedAt = tn.now
		}
		switch m := env.msg.(type) {
		case *wire.ViewPropose:
			// The member gets the proposal after its second heartbeat
			// since the heal is out: that one predates its state.
			return env.from == 1 && env.to == 3 && len(seen) < 2
		case *wire.PeerHeartbeat:
			if env.from != 3 || env.to != 1 {
				return false
			}
			if _, ok := seen[m]; !ok {
				seen[m] = len(seen) + 1
			}
			switch {
			case seen[m] == 1:
				return false // node 1 hears node 3 again and proposes
			case installedAt < 0:
				return true
			case m.Accepted == nil && m.Ring.Nodeid == 3:
				return false // sent before node 3 accepted: arrives now
			default:
				return tn.now < installedAt+60*time.Millisecond
			}
		}
		return false
	}
	tn.run(600 * time.Millisecond)
	if installedAt < 0 {
		t.Fatalf("node 1 never installed a view with node 3: %v", tn.totems[1])
	}
	for _, id := range tn.ids() {
		e := tn.nodes[id]
		if !slices.Equal(e.Members(), []uint32{1, 2, 3}) || e.Syncing() {
			t.Errorf("node %d: members %v syncing %v", id, e.Members(), e.Syncing())
		}
	}
	if got := tn.totemsSince(1, before); len(got) != 1 {
		t.Errorf("node 1 installed %v after the heal, want one view", got)
	}
}
