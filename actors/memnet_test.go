package actors_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// memCluster starts n nodes on one MemNetwork (no sockets) with a 1 s
// token and waits for their common view.
func memCluster(t *testing.T, n int) (*remote.MemNetwork, []*actors.Node) {
	t.Helper()
	net := remote.NewMemNetwork()
	t.Cleanup(net.Close)
	var list []remote.NodeAddr
	for id := uint32(1); id <= uint32(n); id++ {
		list = append(list, remote.NodeAddr{NodeID: id, Addr: fmt.Sprintf("mem-%d:0", id)})
	}
	var ns []*actors.Node
	for _, na := range list {
		cfg := remote.DefaultConfig()
		cfg.NodeID, cfg.Nodes = na.NodeID, list
		cfg.Token, cfg.Heartbeat = time.Second, 100*time.Millisecond
		node, err := actors.Start(cfg, actors.WithNetwork(net))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Stop)
		ns = append(ns, node)
	}
	waitViews(t, ns, list2ids(list))
	return net, ns
}

func list2ids(list []remote.NodeAddr) []uint32 {
	var ids []uint32
	for _, na := range list {
		ids = append(ids, na.NodeID)
	}
	return ids
}

// waitViews waits until every node of ns has installed a view of members.
func waitViews(t *testing.T, ns []*actors.Node, members []uint32) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("a view of %v", members), func() bool {
		for _, n := range ns {
			if !slices.Equal(n.View().GetMembers(), members) {
				return false
			}
		}
		return true
	})
}

// TestMemNetworkClusterFormsDeliversAndPartitions: three real nodes (node
// actors, engines, handle actors) on an in-memory network, under the race
// detector and without a socket, form one view, deliver a member's
// message to every member, split when node 3 is cut off (NODEDOWN on both
// sides) and merge when the network heals.
func TestMemNetworkClusterFormsDeliversAndPartitions(t *testing.T) {
	net, ns := memCluster(t, 3)
	var ms []*member
	for _, n := range ns {
		ms = append(ms, join(t, n, "mem"))
	}
	waitUntil(t, "three members", func() bool {
		got, err := ms[0].h.MembershipGet([]byte("mem"))
		return err == nil && len(got) == 3
	})
	if err := ms[0].h.McastJoined(api.TypeAgreed, []byte("over memory")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the message at every member", func() bool {
		for _, m := range ms {
			m.mu.Lock()
			got := m.got
			m.mu.Unlock()
			if got == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range []uint32{1, 2} {
		net.Cut(id, 3)
		net.Cut(3, id)
	}
	waitViews(t, ns[:2], []uint32{1, 2})
	waitViews(t, ns[2:], []uint32{3})
	waitUntil(t, "NODEDOWN of node 3's member at node 1", func() bool {
		return ms[0].leftWith(3, ms[2].h.Pid(), api.ReasonNodeDown)
	})
	net.Heal()
	waitViews(t, ns, []uint32{1, 2, 3})
}
