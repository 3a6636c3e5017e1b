package conformance

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// Rule 21: membership_get of an unknown group -> OK with 0 entries; of G
// -> the same list as the last confchg's member_list (reason 0), for any
// handle, joined or not.
func TestRule21_MembershipGetMatchesLastConfchg(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule21"
	outsider := newClient(t, "outsider", 0, cpg.WithNode(node))
	m, err := outsider.h.MembershipGet([]byte("unknown"))
	if err != nil || len(m) != 0 {
		t.Fatalf("MembershipGet(unknown) = %v, %v; want OK with 0 entries", m, err)
	}

	a := newClient(t, "a", 0, cpg.WithNode(node), cpg.WithPid(700))
	b := newClient(t, "b", 0, cpg.WithNode(node), cpg.WithPid(300))
	c := newClient(t, "c", 0, cpg.WithNode(node), cpg.WithPid(500))
	check := func(step string, cc event) {
		t.Helper()
		for _, x := range []*client{outsider, a} {
			got := membership(t, x, g)
			if !slices.Equal(got, cc.Members) {
				t.Errorf("%s: %s MembershipGet = %v, last confchg members = %v", step, x.name, got, cc.Members)
			}
			for _, e := range got {
				if e.Reason != 0 {
					t.Errorf("%s: member %v has reason %d, want 0", step, e, e.Reason)
				}
			}
		}
	}
	check("a joined", join(t, a, g))
	join(t, b, g)
	waitSeen(t, "b's join at a", func(e event) bool { return joinedIs(e, g, b.self(api.ReasonJoin)) }, a)
	check("b joined", lastConfchg(a.events(), g))
	join(t, c, g)
	waitSeen(t, "c's join at a", func(e event) bool { return joinedIs(e, g, c.self(api.ReasonJoin)) }, a)
	check("c joined", lastConfchg(a.events(), g))
	if got := membership(t, a, g); !slices.Equal(got, []addr{{1, 300, 0}, {1, 500, 0}, {1, 700, 0}}) {
		t.Errorf("members = %v, want sorted [1/300 1/500 1/700]", got)
	}

	wantCode(t, "b leaves", b.h.Leave([]byte(g)), nil)
	waitSeen(t, "b's leave at a", func(e event) bool { return leftIs(e, g, b.self(api.ReasonLeave)) }, a)
	check("b left", lastConfchg(a.events(), g))
	wantCode(t, "c finalizes", c.h.Finalize(), nil)
	waitSeen(t, "c's PROCDOWN at a", func(e event) bool { return leftIs(e, g, c.self(api.ReasonProcDown)) }, a)
	check("c finalized", lastConfchg(a.events(), g))

	wantCode(t, "a leaves", a.h.Leave([]byte(g)), nil)
	waitFor(t, a, "own leave", has(func(e event) bool { return leftIs(e, g, a.self(api.ReasonLeave)) }))
	if got := membership(t, outsider, g); len(got) != 0 {
		t.Errorf("MembershipGet of the emptied group = %v, want 0 entries", got)
	}
}

func lastConfchg(evs []event, group string) event {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kConfchg && evs[i].Group == group {
			return evs[i]
		}
	}
	return event{}
}

type row struct {
	Group       string
	Nodeid, Pid uint32
}

// iterate runs an iteration to its end and checks that the end is
// NO_SECTIONS.
func iterate(t *testing.T, h *cpg.Handle, typ api.IterationType, group []byte) []row {
	t.Helper()
	it, err := h.IterationInitialize(typ, group)
	if err != nil {
		t.Fatalf("IterationInitialize(%d, %q): %v", typ, group, err)
	}
	defer it.Finalize()
	var out []row
	for {
		d, err := it.Next()
		if errors.Is(err, api.ErrNoSections) {
			if api.CodeOf(err) != 27 {
				t.Errorf("NO_SECTIONS is code %d, want 27", api.CodeOf(err))
			}
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, row{string(d.Group), d.Nodeid, d.Pid})
		if len(out) > 1000 {
			t.Fatalf("iteration does not end")
		}
	}
}

// Rule 22: iteration ALL lists every (group, nodeid, pid); NAME_ONLY each
// group once with nodeid = pid = 0; ONE_GROUP filters; the end is
// NO_SECTIONS. ONE_GROUP with no group, or another type with a group ->
// INVALID_PARAM. The iteration after iteration_finalize -> BAD_HANDLE.
func TestRule22_Iteration(t *testing.T) {
	node := startNode(t, nil)
	h := newClient(t, "iter", 0, cpg.WithNode(node)) // not joined: iteration needs no membership
	a1 := newClient(t, "a1", 0, cpg.WithNode(node), cpg.WithPid(20))
	a2 := newClient(t, "a2", 0, cpg.WithNode(node), cpg.WithPid(10))
	b1 := newClient(t, "b1", 0, cpg.WithNode(node), cpg.WithPid(30))
	join(t, a1, "A")
	join(t, a2, "A")
	join(t, b1, "B")
	waitSeen(t, "a2 at a1", func(e event) bool { return joinedIs(e, "A", a2.self(api.ReasonJoin)) }, a1)

	if got := iterate(t, h.h, api.IterationAll, nil); !sameRows(got, []row{{"A", 1, 10}, {"A", 1, 20}, {"B", 1, 30}}) {
		t.Errorf("ALL = %v", got)
	}
	if got := iterate(t, h.h, api.IterationNameOnly, nil); !sameRows(got, []row{{"A", 0, 0}, {"B", 0, 0}}) {
		t.Errorf("NAME_ONLY = %v, want each group once with 0/0", got)
	}
	if got := iterate(t, h.h, api.IterationOneGroup, []byte("A")); !sameRows(got, []row{{"A", 1, 10}, {"A", 1, 20}}) {
		t.Errorf("ONE_GROUP(A) = %v", got)
	}
	if got := iterate(t, h.h, api.IterationOneGroup, []byte("unknown")); len(got) != 0 {
		t.Errorf("ONE_GROUP(unknown) = %v, want nothing", got)
	}

	for _, bad := range []struct {
		what  string
		typ   api.IterationType
		group []byte
		want  error
	}{
		{"ONE_GROUP with a nil group", api.IterationOneGroup, nil, api.ErrInvalidParam},
		{"NAME_ONLY with a group", api.IterationNameOnly, []byte("A"), api.ErrInvalidParam},
		{"ALL with a group", api.IterationAll, []byte("A"), api.ErrInvalidParam},
		{"unknown type 0", 0, nil, api.ErrInvalidParam},
		{"unknown type 4", 4, nil, api.ErrInvalidParam},
		{"ONE_GROUP with a 129-byte name", api.IterationOneGroup, []byte(nameOf(129)), api.ErrNameTooLong},
	} {
		it, err := h.h.IterationInitialize(bad.typ, bad.group)
		wantCode(t, "IterationInitialize: "+bad.what, err, bad.want)
		if it != nil {
			t.Errorf("%s: got an iteration with the error", bad.what)
		}
	}

	// A snapshot: later joins do not show in an iteration already taken.
	it, err := h.h.IterationInitialize(api.IterationAll, nil)
	if err != nil {
		t.Fatal(err)
	}
	join(t, newClient(t, "late", 0, cpg.WithNode(node), cpg.WithPid(40)), "B")
	var got []row
	for {
		d, err := it.Next()
		if err != nil {
			wantCode(t, "end of snapshot", err, api.ErrNoSections)
			break
		}
		got = append(got, row{string(d.Group), d.Nodeid, d.Pid})
	}
	if !sameRows(got, []row{{"A", 1, 10}, {"A", 1, 20}, {"B", 1, 30}}) {
		t.Errorf("snapshot = %v, want the membership when it was taken", got)
	}
	wantCode(t, "iteration Finalize", it.Finalize(), nil)
	_, err = it.Next()
	wantCode(t, "Next after iteration Finalize", err, api.ErrBadHandle)
	wantCode(t, "iteration Finalize twice", it.Finalize(), api.ErrBadHandle)

	// Iterations belong to the handle: finalizing it ends them.
	it2, err := h.h.IterationInitialize(api.IterationNameOnly, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "handle Finalize", h.h.Finalize(), nil)
	_, err = it2.Next()
	wantCode(t, "Next after the handle's Finalize", err, api.ErrBadHandle)
}

// sameRows compares as multisets: Corosync gives no order across groups.
func sameRows(got, want []row) bool {
	cmp := func(a, b row) int {
		switch {
		case a.Group != b.Group:
			return api.CompareNames([]byte(a.Group), []byte(b.Group))
		case a.Nodeid != b.Nodeid:
			return int(a.Nodeid) - int(b.Nodeid)
		}
		return int(a.Pid) - int(b.Pid)
	}
	g, w := slices.Clone(got), slices.Clone(want)
	slices.SortFunc(g, cmp)
	slices.SortFunc(w, cmp)
	return slices.Equal(g, w)
}

// Rule 23: dispatch(ONE_NONBLOCKING) with nothing queued -> TRY_AGAIN;
// dispatch(ALL) with nothing queued -> OK. ONE and ONE_NONBLOCKING handle
// exactly one event per call.
func TestRule23_DispatchWithNothingQueued(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule23"
	a := newClient(t, "a", 0, cpg.WithNode(node))
	if api.CodeOf(api.ErrTryAgain) != 6 {
		t.Errorf("TRY_AGAIN is code %d, want 6", api.CodeOf(api.ErrTryAgain))
	}
	// A fresh, unjoined handle has nothing queued.
	wantCode(t, "ONE_NONBLOCKING, fresh handle", a.h.Dispatch(api.DispatchOneNonblocking), api.ErrTryAgain)
	wantCode(t, "ALL, fresh handle", a.h.Dispatch(api.DispatchAll), nil)
	for _, f := range []api.DispatchFlag{0, 5, -1} {
		wantCode(t, fmt.Sprintf("Dispatch(%d)", f), a.h.Dispatch(f), api.ErrInvalidParam)
	}

	join(t, a, g)
	b := newClient(t, "b", 0, cpg.WithNode(node))
	join(t, b, g)
	waitSeen(t, "b's join at a", func(e event) bool { return joinedIs(e, g, b.self(api.ReasonJoin)) }, a)
	wantCode(t, "ONE_NONBLOCKING, all dispatched", a.h.Dispatch(api.DispatchOneNonblocking), api.ErrTryAgain)
	wantCode(t, "ALL, all dispatched", a.h.Dispatch(api.DispatchAll), nil)

	for i := 1; i <= 3; i++ {
		mcast(t, b, fmt.Sprintf("m%d", i))
	}
	base := len(a.events())
	for i := 1; i <= 3; i++ {
		wantCode(t, "Dispatch(ONE)", a.h.Dispatch(api.DispatchOne), nil)
		evs := a.events()
		if len(evs) != base+i || evs[len(evs)-1].Data != fmt.Sprintf("m%d", i) {
			t.Fatalf("after ONE #%d: %d events (want %d), last %v", i, len(evs), base+i, evs[len(evs)-1])
		}
	}
	wantCode(t, "ONE_NONBLOCKING after the messages", a.h.Dispatch(api.DispatchOneNonblocking), api.ErrTryAgain)

	// Queue two messages; ONE_NONBLOCKING takes one per call.
	mcast(t, b, "n1")
	mcast(t, b, "n2")
	waitFor(t, b, "b's own n2", hasDeliver(g, "n2"))
	base = len(a.events())
	deadline := newDeadline()
	defer deadline.Stop()
	for got := 0; got < 2; {
		err := a.h.Dispatch(api.DispatchOneNonblocking)
		switch {
		case err == nil:
			got++
			if n := len(a.events()); n != base+got {
				t.Fatalf("ONE_NONBLOCKING handled %d events, want 1", n-base-got+1)
			}
		case errors.Is(err, api.ErrTryAgain):
			select {
			case <-a.ready:
			case <-deadline.C:
				t.Fatalf("n1/n2 never arrived")
			}
		default:
			t.Fatal(err)
		}
	}
	wantCode(t, "ONE_NONBLOCKING, drained", a.h.Dispatch(api.DispatchOneNonblocking), api.ErrTryAgain)
	wantCode(t, "ALL, drained", a.h.Dispatch(api.DispatchAll), nil)
}

// Rule 24: finalize -> OK; a second finalize or a dispatch -> BAD_HANDLE.
// Finalize inside a callback makes dispatch return BAD_HANDLE after that
// callback, and no further callback runs.
func TestRule24_FinalizeThenBadHandle(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule24"

	t.Run("Twice", func(t *testing.T) {
		h, err := cpg.Initialize(nil, cpg.WithNode(node))
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, "Finalize", h.Finalize(), nil)
		wantCode(t, "second Finalize", h.Finalize(), api.ErrBadHandle)
		wantCode(t, "Dispatch(ALL) after Finalize", h.Dispatch(api.DispatchAll), api.ErrBadHandle)
		wantCode(t, "Dispatch(ONE_NONBLOCKING) after Finalize", h.Dispatch(api.DispatchOneNonblocking), api.ErrBadHandle)
		wantCode(t, "Dispatch(ONE) after Finalize", h.Dispatch(api.DispatchOne), api.ErrBadHandle)
		_, err = h.FdGet()
		wantCode(t, "FdGet after Finalize", err, api.ErrBadHandle)
		wantCode(t, "Join after Finalize", h.Join([]byte(g)), api.ErrBadHandle)
	})

	// BLOCKING returns only on error or finalize: a finalize from another
	// goroutine ends it with BAD_HANDLE.
	t.Run("FinalizeEndsBlockingDispatch", func(t *testing.T) {
		c := newClient(t, "blocked", 0, cpg.WithNode(node))
		join(t, c, g+"-blocking")
		done := make(chan error, 1)
		go func() { done <- c.h.Dispatch(api.DispatchBlocking) }()
		mcast(t, newClientJoined(t, node, g+"-blocking"), "wake")
		wantCode(t, "Finalize from another goroutine", c.h.Finalize(), nil)
		select {
		case err := <-done:
			wantCode(t, "Dispatch(BLOCKING) after Finalize", err, api.ErrBadHandle)
		case <-newDeadline().C:
			t.Fatalf("Dispatch(BLOCKING) did not return after Finalize")
		}
	})

	for _, flag := range []api.DispatchFlag{api.DispatchAll, api.DispatchBlocking, api.DispatchOne} {
		t.Run(fmt.Sprintf("InsideDeliverCallback/Dispatch%d", flag), func(t *testing.T) {
			group := fmt.Sprintf("%s-%d", g, flag)
			peer := newClient(t, "peer", 0, cpg.WithNode(node))
			c := newClient(t, "c", 0, cpg.WithNode(node))
			join(t, peer, group)
			join(t, c, group)
			var calls int
			var finErr error
			c.onDeliver = func(c *client, e event) {
				calls++
				finErr = c.h.Finalize()
			}
			for i := 0; i < 3; i++ {
				mcast(t, peer, fmt.Sprintf("m%d", i))
			}
			// All three reach the peer, so they were ordered for c too.
			waitFor(t, peer, "m2 at the peer", hasDeliver(group, "m2"))
			if flag == api.DispatchAll {
				<-c.ready
			}
			wantCode(t, "Dispatch with Finalize in the callback", c.h.Dispatch(flag), api.ErrBadHandle)
			wantCode(t, "Finalize inside the callback", finErr, nil)
			if calls != 1 {
				t.Errorf("deliver callback ran %d times, want 1 (none after finalize)", calls)
			}
			wantCode(t, "Dispatch after", c.h.Dispatch(api.DispatchAll), api.ErrBadHandle)
			wantCode(t, "Finalize after", c.h.Finalize(), api.ErrBadHandle)
			// Finalize without leave: the peer sees PROCDOWN.
			waitFor(t, peer, "PROCDOWN of c", has(func(e event) bool { return leftIs(e, group, c.self(api.ReasonProcDown)) }))
		})
	}
}

// newClientJoined returns a new handle joined to group.
func newClientJoined(t *testing.T, node *actors.Node, group string) *client {
	t.Helper()
	c := newClient(t, "helper", 0, cpg.WithNode(node))
	join(t, c, group)
	return c
}
