package cpgtest

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/actorcpg/actorcpg/api"
)

// Addr is a CPG process's member address: its node id and pid.
type Addr struct {
	Node, Pid uint32
}

// Address returns a itself, so that an Addr is a Process.
func (a Addr) Address() Addr { return a }

// String returns "node/pid".
func (a Addr) String() string { return fmt.Sprintf("%d/%d", a.Node, a.Pid) }

// Process is anything with a member address: a Probe, a SimProc, an
// Addr (for a process the test made another way).
type Process interface {
	Address() Addr
}

// ConfchgMatch checks one confchg: it returns "" when the confchg
// matches, else what differs.
type ConfchgMatch func(*api.Confchg) string

// Members matches a confchg whose member list is exactly ps.
func Members(ps ...Process) ConfchgMatch {
	want := reasoned(0, ps)
	return func(cc *api.Confchg) string {
		return sameList("members", cc.GetMembers(), want)
	}
}

// Joined matches a confchg whose joined list is exactly ps, each with
// reason r (api.ReasonJoin or api.ReasonNodeUp), in any order.
func Joined(r api.Reason, ps ...Process) ConfchgMatch {
	want := reasoned(r, ps)
	return func(cc *api.Confchg) string {
		return sameList("joined", cc.GetJoined(), want)
	}
}

// Left matches a confchg whose left list is exactly ps, each with reason
// r (api.ReasonLeave, api.ReasonNodeDown or api.ReasonProcDown), in any
// order.
func Left(r api.Reason, ps ...Process) ConfchgMatch {
	want := reasoned(r, ps)
	return func(cc *api.Confchg) string {
		return sameList("left", cc.GetLeft(), want)
	}
}

// member is one entry of a confchg list.
type member struct {
	Addr
	reason uint32
}

func (m member) String() string {
	if m.reason == 0 {
		return m.Addr.String()
	}
	return fmt.Sprintf("%s(%s)", m.Addr, api.Reason(m.reason))
}

func cmpMember(a, b member) int {
	return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Pid, b.Pid), cmp.Compare(a.reason, b.reason))
}

func reasoned(r api.Reason, ps []Process) []member {
	out := make([]member, len(ps))
	for i, p := range ps {
		out[i] = member{p.Address(), uint32(r)}
	}
	slices.SortFunc(out, cmpMember)
	return out
}

// sameList compares a confchg list with want as sets.
func sameList(name string, got []*api.Address, want []member) string {
	g := make([]member, len(got))
	for i, a := range got {
		g[i] = member{Addr{a.GetNodeid(), a.GetPid()}, a.GetReason()}
	}
	slices.SortFunc(g, cmpMember)
	if slices.Equal(g, want) {
		return ""
	}
	return fmt.Sprintf("%s %v, want %v", name, g, want)
}
