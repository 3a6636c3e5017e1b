package cpg

import (
	"fmt"
	"sync"

	"github.com/actorcpg/actorcpg/api"
)

// MembershipGet returns the members of any group, joined or not, sorted by
// (nodeid, pid) with reason 0 (cpg_membership_get). An unknown group has no
// members. There is no capacity limit.
func (h *Handle) MembershipGet(group []byte) ([]*api.Address, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	if len(group) > api.MaxNameLength {
		return nil, api.ErrNameTooLong
	}
	res, err := h.conn.nodeRequest(&api.MembershipRequest{Group: group})
	if err != nil {
		return nil, asLibrary(err)
	}
	r, ok := res.(*api.MembershipReply)
	if !ok {
		return nil, fmt.Errorf("cpg: unexpected reply %T: %w", res, api.ErrLibrary)
	}
	if err := api.Code(r.Code).Err(); err != nil {
		return nil, err
	}
	out := make([]*api.Address, len(r.Members))
	for i, a := range r.Members {
		out[i] = &api.Address{Nodeid: a.Nodeid, Pid: a.Pid}
	}
	return out, nil
}

// IterationDescription is one row of an iteration
// (cpg_iteration_description_t). With IterationNameOnly, Nodeid and Pid
// are 0.
type IterationDescription struct {
	Group  []byte
	Nodeid uint32
	Pid    uint32
	// Sequencer is the node that assigns the group's agreed order now,
	// as the handle's node knows it (0: not known). Not in Corosync,
	// where one totem order covers every group.
	Sequencer uint32
}

// Iteration walks a snapshot of groups and members
// (cpg_iteration_handle_t).
type Iteration struct {
	h       *Handle
	mu      sync.Mutex
	entries []*api.IterationEntry
	next    int
	done    bool
}

// IterationInitialize takes a snapshot (cpg_iteration_initialize):
// IterationNameOnly lists each group once, IterationOneGroup the members of
// group, IterationAll every (group, nodeid, pid). group must be nil except
// with IterationOneGroup, where it is required (ErrInvalidParam otherwise).
func (h *Handle) IterationInitialize(t api.IterationType, group []byte) (*Iteration, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	switch {
	case group != nil && len(group) > api.MaxNameLength:
		return nil, api.ErrNameTooLong
	case t < api.IterationNameOnly || t > api.IterationAll,
		t == api.IterationOneGroup && len(group) == 0,
		t != api.IterationOneGroup && group != nil:
		return nil, api.ErrInvalidParam
	}
	res, err := h.conn.nodeRequest(&api.IterationRequest{Type: uint32(t), Group: group})
	if err != nil {
		return nil, asLibrary(err)
	}
	r, ok := res.(*api.IterationReply)
	if !ok {
		return nil, fmt.Errorf("cpg: unexpected reply %T: %w", res, api.ErrLibrary)
	}
	if err := api.Code(r.Code).Err(); err != nil {
		return nil, err
	}
	it := &Iteration{h: h, entries: r.Entries}
	h.itMu.Lock()
	if h.iterations == nil {
		h.iterations = map[*Iteration]bool{}
	}
	h.iterations[it] = true
	h.itMu.Unlock()
	return it, nil
}

// Next returns the next row (cpg_iteration_next), and ErrNoSections after
// the last. A finalized iteration (or handle) gives ErrBadHandle.
func (it *Iteration) Next() (IterationDescription, error) {
	if it == nil {
		return IterationDescription{}, api.ErrBadHandle
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done {
		return IterationDescription{}, api.ErrBadHandle
	}
	if it.next >= len(it.entries) {
		return IterationDescription{}, api.ErrNoSections
	}
	e := it.entries[it.next]
	it.next++
	return IterationDescription{Group: append([]byte(nil), e.Group...), Nodeid: e.Nodeid, Pid: e.Pid, Sequencer: e.Sequencer}, nil
}

// Finalize ends the iteration (cpg_iteration_finalize).
func (it *Iteration) Finalize() error {
	if it == nil {
		return api.ErrBadHandle
	}
	it.mu.Lock()
	if it.done {
		it.mu.Unlock()
		return api.ErrBadHandle
	}
	it.done = true
	it.mu.Unlock()
	it.h.itMu.Lock()
	delete(it.h.iterations, it)
	it.h.itMu.Unlock()
	return nil
}

// endIterations finalizes the handle's iterations, as cpg_finalize does.
func (h *Handle) endIterations() {
	h.itMu.Lock()
	its := h.iterations
	h.iterations = nil
	h.itMu.Unlock()
	for it := range its {
		it.mu.Lock()
		it.done = true
		it.mu.Unlock()
	}
}
