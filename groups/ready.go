package groups

import (
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// Delivery is the events one local handle must receive, in order.
type Delivery struct {
	Handle HandleID
	// Events are shared with other handles and must not be changed.
	Events []*api.Event
}

// Left says a local handle's membership ended with its own leave confchg.
type Left struct {
	Handle HandleID
	Reason api.Reason
}

// Rejected counts multicasts refused because the handle is not a member.
type Rejected struct {
	Handle HandleID
	Count  uint32
	Bytes  uint64
}

// Ready is the output of a Group since the last Advance. The caller carries
// it out in field order: Submit to the sequencer, Deliveries to the handles,
// then Left (after the handle's deliveries, which end with its own leave
// confchg), Rejected, the flow-control change and the member list.
type Ready struct {
	// Submit are new events for the group's sequencer, in order.
	Submit []*wire.GroupEvent
	// Deliveries are the events for each local handle.
	Deliveries []*Delivery
	// Left names local handles whose membership ended.
	Left []Left
	// Rejected counts refused multicasts per handle.
	Rejected []Rejected
	// FlowChanged says FlowControlled() changed; tell every local member.
	FlowChanged bool
	// MembersChanged says the member list changed; publish Members().
	MembersChanged bool
}

// HasReady reports whether Ready has anything to carry out.
func (g *Group) HasReady() bool {
	r := &g.ready
	return len(r.Submit) > 0 || len(r.Deliveries) > 0 || len(r.Left) > 0 ||
		len(r.Rejected) > 0 || r.FlowChanged || r.MembersChanged
}

// Ready returns the pending output. Call Advance once it is carried out.
func (g *Group) Ready() Ready { return g.ready }

// Advance clears the output returned by Ready.
func (g *Group) Advance() {
	for _, d := range g.ready.Deliveries {
		if m, ok := g.byHandle[d.Handle]; ok {
			m.out = nil
		}
	}
	g.ready = Ready{}
}
