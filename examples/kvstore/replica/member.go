package replica

import (
	"fmt"
	"slices"
)

// Member is a CPG member address: the node id and the pid of one handle.
// A kvstore replica is one member; its node id is its replica identity.
type Member struct {
	Node uint32
	Pid  uint32
}

// String formats m as "node/pid", as testcpg prints members.
func (m Member) String() string { return fmt.Sprintf("%d/%d", m.Node, m.Pid) }

// compare orders members by (node, pid), as CPG sorts member lists.
func (m Member) compare(o Member) int {
	switch {
	case m.Node != o.Node:
		return cmpU32(m.Node, o.Node)
	default:
		return cmpU32(m.Pid, o.Pid)
	}
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Ring is a totem ring id: the coordinator's node id and the ring's
// sequence number. Ring ids are never reused.
type Ring struct {
	Node uint32
	Seq  uint64
}

// sortMembers returns a sorted copy of ms.
func sortMembers(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.SortFunc(out, Member.compare)
	return out
}

// distinctNodes counts the node ids among ms: a node is one replica.
func distinctNodes(ms []Member) int {
	seen := make(map[uint32]bool, len(ms))
	for _, m := range ms {
		seen[m.Node] = true
	}
	return len(seen)
}

// contains reports whether ms holds m.
func contains(ms []Member, m Member) bool { return slices.Contains(ms, m) }

// intersect returns the members of ms that are also in of, in ms's order.
func intersect(ms, of []Member) []Member {
	var out []Member
	for _, m := range ms {
		if contains(of, m) {
			out = append(out, m)
		}
	}
	return out
}
