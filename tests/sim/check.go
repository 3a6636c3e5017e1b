package sim

import (
	"fmt"
	"slices"

	"github.com/actorcpg/actorcpg/api"
)

// finalChecks are the simulator's own checks at the end of a run, beside
// the property checker's:
//
//   - tryagain: every client alive at the end got what it was refused
//     with TRY_AGAIN (join, leave, multicast), and its joins, leaves and
//     large messages completed;
//   - settle: the run settled (one view, no data traffic: nothing left to
//     retransmit, every sequencer's stable point at its highest seq, no
//     gap, nothing unordered), so buffers are bounded by what is in flight;
//   - engine ghosts: every engine's member list of every group is exactly
//     the live joined clients;
//   - interrupt: no member delivered a large message whose sender got
//     ErrInterrupt;
//   - aliasing (Options.CheckSent): no data message changed between its
//     engine handing it out and its arrival (with KeepSent: until the end).
func (w *World) finalChecks() {
	w.checkSent()
	if !w.done {
		w.problem("the event queue ran dry before the run settled")
		return
	}
	for _, n := range w.nodes {
		for _, c := range n.clients {
			if c != nil && c.busy() {
				w.problem("tryagain: %s %s", c.proc, c.waiting())
			}
		}
		if n.up && (n.eng.HasReady() || n.eng.NeedsFlush()) {
			w.problem("node %d: output left after settling", n.id)
		}
	}
	for _, k := range w.interrupted {
		if w.large[k] {
			w.problem("interrupt: %s:%d was delivered, but its sender got ErrInterrupt", k.proc, k.seq)
		}
	}
	w.engineGhosts()
}

// engineGhosts compares every engine's member list of every group with
// the clients that are members at the end.
func (w *World) engineGhosts() {
	want := map[string][]*api.Address{}
	names := map[string]bool{}
	for _, g := range w.groups {
		names[string(g)] = true
	}
	for _, n := range w.nodes {
		for _, c := range n.clients {
			if c != nil && c.state == joined {
				k := string(c.group)
				want[k] = append(want[k], &api.Address{Nodeid: c.proc.Node, Pid: c.proc.Pid})
			}
		}
		if n.up {
			for _, g := range n.eng.GroupNames() {
				names[string(g)] = true
			}
		}
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		exp := want[k]
		slices.SortFunc(exp, api.CompareAddresses)
		for _, n := range w.nodes {
			if !n.up {
				continue
			}
			got := n.eng.GroupMembers([]byte(k))
			if !slices.EqualFunc(got, exp, func(a, b *api.Address) bool { return api.CompareAddresses(a, b) == 0 }) {
				w.problem("engine ghost: node %d lists %s members %s, the live joined clients are %s", n.id, k, addrs(got), addrs(exp))
			}
		}
	}
}

func addrs(as []*api.Address) string {
	s := "["
	for i, a := range as {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d/%d", a.Nodeid, a.Pid)
	}
	return s + "]"
}
