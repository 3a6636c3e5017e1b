package conformance

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// Rule 1: initialize with model != V1 -> INVALID_PARAM; flags other than
// 0x1 -> INVALID_PARAM.
func TestRule01_InitializeRejectsBadModelAndFlags(t *testing.T) {
	node := startNode(t, nil)
	for _, model := range []api.Model{0, 2, 0xffffffff} {
		h, err := cpg.ModelInitialize(model, &cpg.ModelV1Data{}, nil, cpg.WithNode(node))
		wantCode(t, "ModelInitialize(model "+itoa(uint64(model))+")", err, api.ErrInvalidParam)
		if h != nil {
			t.Errorf("model %d: got a handle with the error", model)
		}
	}
	receiver, _ := spawnReceiver(t, node.System())
	for _, flags := range []uint32{0x2, 0x3, 0x80, 0xffffffff} {
		h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{Flags: flags}, nil, cpg.WithNode(node))
		wantCode(t, "ModelInitialize(flags "+hexs(flags)+")", err, api.ErrInvalidParam)
		if h != nil {
			t.Errorf("flags %#x: got a handle with the error", flags)
		}
		ha, err := cpg.InitializeActor(receiver, flags, cpg.WithNode(node))
		wantCode(t, "InitializeActor(flags "+hexs(flags)+")", err, api.ErrInvalidParam)
		if ha != nil {
			t.Errorf("actor flags %#x: got a handle with the error", flags)
		}
	}
	if api.CodeOf(api.ErrInvalidParam) != 7 {
		t.Errorf("INVALID_PARAM is code %d, want 7", api.CodeOf(api.ErrInvalidParam))
	}
	// The valid combinations succeed: flags 0 and 0x1, nil model data, and
	// the deprecated Initialize with nil callbacks (as corosync-cpgtool).
	for _, flags := range []uint32{0, api.ModelV1DeliverInitialTotemConf} {
		h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{Flags: flags}, nil, cpg.WithNode(node))
		if err != nil {
			t.Fatalf("ModelInitialize(V1, flags %#x): %v", flags, err)
		}
		wantCode(t, "Finalize", h.Finalize(), nil)
	}
	h, err := cpg.ModelInitialize(api.ModelV1, nil, nil, cpg.WithNode(node))
	if err != nil {
		t.Fatalf("ModelInitialize(V1, nil data): %v", err)
	}
	wantCode(t, "Finalize", h.Finalize(), nil)
	h, err = cpg.Initialize(nil, cpg.WithNode(node))
	if err != nil {
		t.Fatalf("Initialize(nil callbacks): %v", err)
	}
	wantCode(t, "Finalize", h.Finalize(), nil)
}

// Rule 2: initialize when the node is unreachable -> LIBRARY; any call on
// that (failed, nil) handle -> BAD_HANDLE. Also, with the node in a real
// separate process: when that process dies, the calls of an attached
// handle fail with LIBRARY, a new initialize fails with LIBRARY, and once
// the handle is finalized every call gives BAD_HANDLE.
func TestRule02_UnreachableNodeGivesLibraryThenBadHandle(t *testing.T) {
	t.Run("NothingListening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		deadAddr := l.Addr().String()
		l.Close()
		h, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithAddress(deadAddr))
		wantCode(t, "Initialize(unreachable)", err, api.ErrLibrary)
		if api.CodeOf(err) != 2 {
			t.Errorf("LIBRARY is code %d, want 2", api.CodeOf(err))
		}
		if h != nil {
			t.Fatalf("Initialize(unreachable) returned a handle")
		}
		h, err = cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{}, "ctx", cpg.WithAddress(deadAddr))
		wantCode(t, "ModelInitialize(unreachable)", err, api.ErrLibrary)
		assertAllBadHandle(t, h)
	})

	t.Run("NodeProcessKilled", func(t *testing.T) {
		nodeProc, addr := startCpgnode(t)
		c := newClient(t, "attached", 0, cpg.WithAddress(addr), cpg.WithTimeout(3e9))
		id, err := c.h.LocalGet()
		if err != nil || id != 1 {
			t.Fatalf("LocalGet on the live node: %d, %v", id, err)
		}
		join(t, c, "rule02")

		killed := time.Now()
		nodeProc.kill()

		// The handle notices the node is gone: Dispatch returns LIBRARY
		// once its queue is empty (corosync: CS_ERR_LIBRARY, repeatedly).
		waitLibrary(t, c)
		t.Logf("LIBRARY %v after the kill", time.Since(killed))
		wantCode(t, "Dispatch after node death (again)", c.h.Dispatch(api.DispatchAll), api.ErrLibrary)
		_, err = c.h.LocalGet()
		wantCode(t, "LocalGet after node death", err, api.ErrLibrary)
		wantCode(t, "McastJoined after node death", c.h.McastJoined(api.TypeAgreed, []byte("x")), api.ErrLibrary)
		wantCode(t, "Join after node death", c.h.Join([]byte("other")), api.ErrLibrary)
		_, err = c.h.MembershipGet([]byte("rule02"))
		wantCode(t, "MembershipGet after node death", err, api.ErrLibrary)

		h2, err := cpg.Initialize(nil, cpg.WithAddress(addr))
		wantCode(t, "Initialize after node death", err, api.ErrLibrary)
		if h2 != nil {
			t.Errorf("Initialize after node death returned a handle")
		}

		// Finalize destroys the handle whatever the result; afterwards
		// every call is BAD_HANDLE.
		if err := c.h.Finalize(); err != nil && !errors.Is(err, api.ErrLibrary) {
			t.Errorf("Finalize after node death: %v, want CS_OK or LIBRARY", err)
		}
		assertAllBadHandle(t, c.h)
	})

	// As after a corosync restart (CPG-SPEC 12, feature 30): the client
	// got LIBRARY, and initializes and joins again once a node is back.
	t.Run("ReinitializeAfterNodeRestart", func(t *testing.T) {
		nodeProc, addr := startCpgnode(t)
		c := newClient(t, "first", 0, cpg.WithAddress(addr))
		join(t, c, "rule02")
		nodeProc.kill()
		waitLibrary(t, c)
		wantCode(t, "Finalize after node death", ignoreLibrary(c.h.Finalize()), nil)

		_, addr2 := startCpgnode(t)
		again := newClient(t, "reattached", 0, cpg.WithAddress(addr2))
		cc := join(t, again, "rule02")
		if !slices.Equal(cc.Members, noReason(again.self(0))) {
			t.Errorf("members on the new node = %v, want [%v]", cc.Members, again.self(0))
		}
		mcast(t, again, "back")
		waitFor(t, again, "own message after reattaching", hasDeliver("rule02", "back"))
	})
}

// ignoreLibrary maps LIBRARY to nil: finalize on a handle whose node died
// may report the transport error (libcpg returns the IPC-level result).
func ignoreLibrary(err error) error {
	if errors.Is(err, api.ErrLibrary) {
		return nil
	}
	return err
}

// waitLibrary dispatches c until Dispatch returns LIBRARY.
func waitLibrary(t *testing.T, c *client) {
	t.Helper()
	timeout := newDeadline()
	defer timeout.Stop()
	for {
		err := c.h.Dispatch(api.DispatchAll)
		if errors.Is(err, api.ErrLibrary) {
			return
		}
		if err != nil {
			t.Fatalf("Dispatch while waiting for LIBRARY: %v", err)
		}
		select {
		case <-c.ready:
		case <-timeout.C:
			t.Fatalf("Dispatch did not report LIBRARY within %v of the node's death", waitTimeout)
		}
	}
}

// assertAllBadHandle checks that every call on h gives BAD_HANDLE.
func assertAllBadHandle(t *testing.T, h *cpg.Handle) {
	t.Helper()
	wantCode(t, "Finalize", h.Finalize(), api.ErrBadHandle)
	_, err := h.FdGet()
	wantCode(t, "FdGet", err, api.ErrBadHandle)
	_, err = h.MaxAtomicMsgsizeGet()
	wantCode(t, "MaxAtomicMsgsizeGet", err, api.ErrBadHandle)
	_, err = h.ContextGet()
	wantCode(t, "ContextGet", err, api.ErrBadHandle)
	wantCode(t, "ContextSet", h.ContextSet(1), api.ErrBadHandle)
	for _, f := range []api.DispatchFlag{api.DispatchOne, api.DispatchAll, api.DispatchBlocking, api.DispatchOneNonblocking} {
		wantCode(t, "Dispatch", h.Dispatch(f), api.ErrBadHandle)
	}
	wantCode(t, "Join", h.Join([]byte("g")), api.ErrBadHandle)
	wantCode(t, "Leave", h.Leave([]byte("g")), api.ErrBadHandle)
	wantCode(t, "McastJoined", h.McastJoined(api.TypeAgreed, []byte("m")), api.ErrBadHandle)
	_, err = h.MembershipGet([]byte("g"))
	wantCode(t, "MembershipGet", err, api.ErrBadHandle)
	_, err = h.LocalGet()
	wantCode(t, "LocalGet", err, api.ErrBadHandle)
	_, err = h.FlowControlStateGet()
	wantCode(t, "FlowControlStateGet", err, api.ErrBadHandle)
	_, err = h.IterationInitialize(api.IterationAll, nil)
	wantCode(t, "IterationInitialize", err, api.ErrBadHandle)
	_, err = h.ZcbAlloc(16)
	wantCode(t, "ZcbAlloc", err, api.ErrBadHandle)
	wantCode(t, "ZcbFree", h.ZcbFree(make([]byte, 16)), api.ErrBadHandle)
	wantCode(t, "ZcbMcastJoined", h.ZcbMcastJoined(api.TypeAgreed, []byte("m")), api.ErrBadHandle)
}

// Rule 3: context_get right after model_initialize(ctx) returns ctx; after
// context_set(x) it returns x. Initialize (no context) starts with nil.
func TestRule03_ContextGetSet(t *testing.T) {
	node := startNode(t, nil)
	type ctxT struct{ n int }
	ctx := &ctxT{1}
	h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{}, ctx, cpg.WithNode(node))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Finalize()
	other, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{}, "other", cpg.WithNode(node))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Finalize()

	got, err := h.ContextGet()
	if err != nil || got != any(ctx) {
		t.Errorf("ContextGet after ModelInitialize(ctx) = %v, %v; want %p", got, err, ctx)
	}
	x := &ctxT{2}
	wantCode(t, "ContextSet", h.ContextSet(x), nil)
	if got, err := h.ContextGet(); err != nil || got != any(x) {
		t.Errorf("ContextGet after ContextSet(x) = %v, %v; want %p", got, err, x)
	}
	if got, err := other.ContextGet(); err != nil || got != "other" {
		t.Errorf("the other handle's context = %v, %v; want %q (contexts are per handle)", got, err, "other")
	}
	wantCode(t, "ContextSet(nil)", h.ContextSet(nil), nil)
	if got, err := h.ContextGet(); err != nil || got != nil {
		t.Errorf("ContextGet after ContextSet(nil) = %v, %v; want nil", got, err)
	}

	plain, err := cpg.Initialize(nil, cpg.WithNode(node))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := plain.ContextGet(); err != nil || got != nil {
		t.Errorf("ContextGet after Initialize = %v, %v; want nil", got, err)
	}
	wantCode(t, "Finalize", plain.Finalize(), nil)
	_, err = plain.ContextGet()
	wantCode(t, "ContextGet after Finalize", err, api.ErrBadHandle)
	wantCode(t, "ContextSet after Finalize", plain.ContextSet(1), api.ErrBadHandle)
}

// Rule 4: max_atomic_msgsize_get = 1,047,552 by default; configurable per
// node, and constant for the life of a handle.
func TestRule04_MaxAtomicMsgsize(t *testing.T) {
	node := startNode(t, nil)
	c := newClient(t, "a", 0, cpg.WithNode(node))
	size, err := c.h.MaxAtomicMsgsizeGet()
	if err != nil || size != 1047552 {
		t.Fatalf("MaxAtomicMsgsizeGet = %d, %v; want 1047552", size, err)
	}
	join(t, c, "rule04")
	// A message of exactly the atomic size travels and is delivered whole.
	msg := string(make([]byte, size))
	mcast(t, c, msg)
	waitFor(t, c, "the max-atomic-size message", hasDeliver("rule04", msg))
	if again, err := c.h.MaxAtomicMsgsizeGet(); err != nil || again != size {
		t.Errorf("MaxAtomicMsgsizeGet after join and mcast = %d, %v; want %d (constant per handle)", again, err, size)
	}

	small := startNode(t, func(cfg *remote.Config) { cfg.MaxAtomicMsgsize = 4096 })
	d := newClient(t, "small", 0, cpg.WithNode(small))
	if size, err := d.h.MaxAtomicMsgsizeGet(); err != nil || size != 4096 {
		t.Errorf("configured MaxAtomicMsgsizeGet = %d, %v; want 4096", size, err)
	}
	if size, err := c.h.MaxAtomicMsgsizeGet(); err != nil || size != 1047552 {
		t.Errorf("default node's handle after another node started = %d, %v; want 1047552", size, err)
	}
}

// Rule 5: join or leave with a name longer than 128 bytes ->
// NAME_TOO_LONG, with no side effects. 128 bytes is accepted.
func TestRule05_NameTooLongWithoutSideEffects(t *testing.T) {
	node := startNode(t, nil)
	a := newClient(t, "a", 0, cpg.WithNode(node))
	long := nameOf(129)

	wantCode(t, "Join(129 bytes)", a.h.Join([]byte(long)), api.ErrNameTooLong)
	wantCode(t, "Join(1000 bytes)", a.h.Join([]byte(nameOf(1000))), api.ErrNameTooLong)
	wantCode(t, "Leave(129 bytes) while not joined", a.h.Leave([]byte(long)), api.ErrNameTooLong)
	if api.CodeOf(api.ErrNameTooLong) != 13 {
		t.Errorf("NAME_TOO_LONG is code %d, want 13", api.CodeOf(api.ErrNameTooLong))
	}
	// No side effects: no group, no member, no event, and the handle can
	// still join (a failed join left it unjoined).
	_, err := a.h.MembershipGet([]byte(long))
	wantCode(t, "MembershipGet(129 bytes)", err, api.ErrNameTooLong)
	it, err := a.h.IterationInitialize(api.IterationNameOnly, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := it.Next(); !errors.Is(err, api.ErrNoSections) {
		t.Errorf("a group exists after the failed join: %q, %v", d.Group, err)
	}
	it.Finalize()
	wantCode(t, "Dispatch(ONE_NONBLOCKING) after failed join", a.h.Dispatch(api.DispatchOneNonblocking), api.ErrTryAgain)
	wantCode(t, "McastJoined after failed join", a.h.McastJoined(api.TypeAgreed, []byte("m")), api.ErrNotExist)

	g128 := nameOf(128)
	cc := join(t, a, g128)
	if !slices.Equal(cc.Members, noReason(a.self(0))) {
		t.Errorf("128-byte group members = %v, want [%v]", cc.Members, a.self(0))
	}

	// While joined: a too-long leave (or join) fails and changes nothing.
	wantCode(t, "Leave(129 bytes) while joined", a.h.Leave([]byte(long)), api.ErrNameTooLong)
	wantCode(t, "Join(129 bytes) while joined", a.h.Join([]byte(long)), api.ErrNameTooLong)
	if m := membership(t, a, g128); !slices.Equal(m, noReason(a.self(0))) {
		t.Errorf("members after the failed leave = %v, want [%v]", m, a.self(0))
	}
	mcast(t, a, "still-joined")
	evs := waitFor(t, a, "own message after the failed leave", hasDeliver(g128, "still-joined"))
	for _, e := range evs {
		if e.Kind == kConfchg && len(e.Left) > 0 {
			t.Errorf("a failed leave produced a confchg: %v", e)
		}
	}
	// The real leave still works.
	wantCode(t, "Leave(128 bytes)", a.h.Leave([]byte(g128)), nil)
	waitFor(t, a, "own LEAVE confchg", has(func(e event) bool { return leftIs(e, g128, a.self(api.ReasonLeave)) }))
}
