package badinput

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// everyCall runs each handle call on h and returns its result by name.
func everyCall(h *cpg.Handle, group []byte) map[string]error {
	res := map[string]error{}
	_, res["FdGet"] = h.FdGet()
	res["Dispatch"] = h.Dispatch(api.DispatchAll)
	res["Join"] = h.Join(group)
	res["Leave"] = h.Leave(group)
	res["McastJoined"] = h.McastJoined(api.TypeAgreed, []byte("x"))
	_, res["MembershipGet"] = h.MembershipGet(group)
	_, res["LocalGet"] = h.LocalGet()
	_, res["FlowControlStateGet"] = h.FlowControlStateGet()
	_, res["ContextGet"] = h.ContextGet()
	res["ContextSet"] = h.ContextSet("ctx")
	_, res["MaxAtomicMsgsizeGet"] = h.MaxAtomicMsgsizeGet()
	_, res["IterationInitialize"] = h.IterationInitialize(api.IterationAll, nil)
	_, res["ZcbAlloc"] = h.ZcbAlloc(16)
	res["ZcbFree"] = h.ZcbFree(make([]byte, 16))
	res["ZcbMcastJoined"] = h.ZcbMcastJoined(api.TypeAgreed, []byte("x"))
	res["Finalize"] = h.Finalize()
	return res
}

// Rule 2 and 24: every call on a nil handle is BAD_HANDLE.
func TestNilHandleIsBadHandle(t *testing.T) {
	var h *cpg.Handle
	for call, err := range everyCall(h, []byte("g")) {
		is(t, "nil handle: "+call, err, api.CodeBadHandle)
	}
	var it *cpg.Iteration
	_, err := it.Next()
	is(t, "nil iteration: Next", err, api.CodeBadHandle)
	is(t, "nil iteration: Finalize", it.Finalize(), api.CodeBadHandle)
}

// The accessors of a nil handle have no error to return; README: "Nothing
// panics on bad input".
func TestNilHandleAccessorsDoNotPanic(t *testing.T) {
	var h *cpg.Handle
	for name, call := range map[string]func(){
		"Pid":            func() { _ = h.Pid() },
		"NodeID":         func() { _ = h.NodeID() },
		"ActorPID":       func() { _ = h.ActorPID() },
		"MaxMessageSize": func() { _ = h.MaxMessageSize() },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("(*cpg.Handle)(nil).%s() panics: %v", name, r)
				}
			}()
			call()
		}()
	}
}

// Rule 24: finalize → OK; a second finalize and any other call on the
// handle → BAD_HANDLE. The other members see PROCDOWN (rule 15) and are
// otherwise unaffected.
func TestCallsAfterFinalizeAreBadHandle(t *testing.T) {
	f := newFixture(t, nil)
	victim := newPeer(t, f.node, "victim")
	cc := victim.join(f.group)
	f.by.expect(cc)
	f.sub.expect(cc)

	is(t, "Finalize", victim.h.Finalize(), api.CodeOK)
	for call, err := range everyCall(victim.h, f.group) {
		is(t, "finalized handle: "+call, err, api.CodeBadHandle)
	}
	left := fmt.Sprintf("confchg members=%s left=[%s PROCDOWN]", f.members(f.by, f.sub), victim.addr())
	f.by.expect(left)
	f.sub.expect(left)
	f.unchanged(f.by, f.sub)
}

// Rule 23 and README: an unknown dispatch flag → INVALID_PARAM (Corosync
// blocks); nothing is consumed.
func TestBadDispatchFlags(t *testing.T) {
	f := newFixture(t, nil)
	f.by.send([]byte("waiting"))
	want := fmt.Sprintf("deliver %s %q", f.by.addr(), "waiting")
	f.by.expect(want)
	for _, flag := range []api.DispatchFlag{0, -1, 5, 100} {
		is(t, fmt.Sprintf("Dispatch(%d)", flag), f.sub.h.Dispatch(flag), api.CodeInvalidParam)
	}
	if len(f.sub.got) != 0 {
		t.Fatalf("a bad Dispatch ran callbacks: %q", f.sub.got)
	}
	f.sub.expect(want)
	is(t, "Dispatch(ONE_NONBLOCKING) on an empty queue", f.sub.h.Dispatch(api.DispatchOneNonblocking), api.CodeTryAgain)
	is(t, "Dispatch(ALL) on an empty queue", f.sub.h.Dispatch(api.DispatchAll), api.CodeOK)
	f.unchanged(f.by, f.sub)
}

// Rule 1: model ≠ V1 → INVALID_PARAM; flags other than 0x1 → INVALID_PARAM;
// no handle is created.
func TestBadModelAndFlags(t *testing.T) {
	node := startNode(t, nil)
	for _, c := range []struct {
		what  string
		model api.Model
		flags uint32
		want  api.Code
	}{
		{"model 2", 2, 0, api.CodeInvalidParam},
		{"model 0", 0, 0, api.CodeInvalidParam},
		{"flags 0x2", api.ModelV1, 0x2, api.CodeInvalidParam},
		{"flags 0x3", api.ModelV1, 0x3, api.CodeInvalidParam},
		{"flags 0x80000000", api.ModelV1, 0x80000000, api.CodeInvalidParam},
		{"flags 0x1", api.ModelV1, api.ModelV1DeliverInitialTotemConf, api.CodeOK},
	} {
		h, err := cpg.ModelInitialize(c.model, &cpg.ModelV1Data{Flags: c.flags}, nil, cpg.WithNode(node))
		is(t, "ModelInitialize "+c.what, err, c.want)
		if c.want != api.CodeOK && h != nil {
			t.Errorf("ModelInitialize %s returned a handle with its error", c.what)
		}
		if h != nil {
			is(t, "Finalize", h.Finalize(), api.CodeOK)
		}
	}
	h, err := cpg.InitializeActor(nil, 0, cpg.WithNode(node))
	is(t, "InitializeActor with a nil receiver", err, api.CodeInvalidParam)
	if h != nil {
		t.Errorf("InitializeActor with a nil receiver returned a handle")
	}
	rcv := node.System().Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	defer node.System().Root.Stop(rcv)
	h, err = cpg.InitializeActor(rcv, 0x2, cpg.WithNode(node))
	is(t, "InitializeActor with flags 0x2", err, api.CodeInvalidParam)
	if h != nil {
		t.Errorf("InitializeActor with flags 0x2 returned a handle")
	}
}

// Rule 5 and §8.3: a name over 128 bytes → NAME_TOO_LONG, an empty one →
// INVALID_PARAM (Corosync accepts it and leaves a ghost), with no side
// effects; a 128-byte name is fine.
func TestBadNameLength(t *testing.T) {
	f := newFixture(t, nil)
	long := bytes.Repeat([]byte("n"), api.MaxNameLength+1)

	// A member of the fixture's group.
	is(t, "Join(129 bytes) while joined", f.sub.h.Join(long), api.CodeNameTooLong)
	is(t, "Leave(129 bytes)", f.sub.h.Leave(long), api.CodeNameTooLong)
	_, err := f.sub.h.MembershipGet(long)
	is(t, "MembershipGet(129 bytes)", err, api.CodeNameTooLong)
	_, err = f.sub.h.IterationInitialize(api.IterationOneGroup, long)
	is(t, "IterationInitialize(ONE_GROUP, 129 bytes)", err, api.CodeNameTooLong)
	is(t, "Leave(empty name)", f.sub.h.Leave(nil), api.CodeNotExist)
	is(t, "Leave(another group's name)", f.sub.h.Leave([]byte("other")), api.CodeNotExist)
	f.unchanged(f.by, f.sub)

	// A handle that is not joined stays unjoined, then joins fine.
	fresh := newPeer(t, f.node, "fresh")
	is(t, "Join(129 bytes)", fresh.h.Join(long), api.CodeNameTooLong)
	is(t, "Join(empty)", fresh.h.Join([]byte{}), api.CodeInvalidParam)
	is(t, "Join(nil)", fresh.h.Join(nil), api.CodeInvalidParam)
	is(t, "McastJoined after refused joins", fresh.h.McastJoined(api.TypeAgreed, []byte("x")), api.CodeNotExist)
	f.unchanged(f.by, f.sub)
	for _, g := range [][]byte{long, {}} {
		ms, err := f.by.h.MembershipGet(g[:min(len(g), api.MaxNameLength)])
		if err != nil || len(ms) != 0 {
			t.Errorf("a refused join left members %s (%v) in %q", addrs(ms), err, g)
		}
	}
	fresh.join(long[:api.MaxNameLength])
	ms, err := f.by.h.MembershipGet(long[:api.MaxNameLength])
	if err != nil || addrs(ms) != "["+fresh.addr()+"]" {
		t.Errorf("MembershipGet(128 bytes) = %s, %v; want [%s]", addrs(ms), err, fresh.addr())
	}
}

// §3.7: a NULL callback consumes its events silently.
func TestNilCallbacksConsumeEventsSilently(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name   string
		open   func() (*cpg.Handle, error)
		events int // JOIN confchg, 3 messages, and the initial totem confchg if asked
	}{
		{"Initialize(nil)", func() (*cpg.Handle, error) { return cpg.Initialize(nil, cpg.WithNode(f.node)) }, 4},
		{"Initialize(empty callbacks)", func() (*cpg.Handle, error) {
			return cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(f.node))
		}, 4},
		{"ModelInitialize(nil data)", func() (*cpg.Handle, error) {
			return cpg.ModelInitialize(api.ModelV1, nil, nil, cpg.WithNode(f.node))
		}, 4},
		{"ModelInitialize(initial totem, no callbacks)", func() (*cpg.Handle, error) {
			return cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{Flags: api.ModelV1DeliverInitialTotemConf}, nil, cpg.WithNode(f.node))
		}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := c.open()
			if err != nil {
				t.Fatalf("%v", err)
			}
			if err := h.Join(f.group); err != nil {
				t.Fatalf("Join: %v", err)
			}
			for range 3 {
				if err := h.McastJoined(api.TypeAgreed, []byte("quiet")); err != nil {
					t.Fatalf("McastJoined: %v", err)
				}
			}
			// The others see the join and the messages.
			self := fmt.Sprintf("%d/%d", h.NodeID(), h.Pid())
			for _, p := range []*peer{f.by, f.sub} {
				if cc := p.next(1)[0]; !strings.Contains(cc, "joined=["+self+" JOIN]") {
					t.Fatalf("%s got %q, want the JOIN of %s", p.name, cc, self)
				}
				msg := fmt.Sprintf("deliver %s %q", self, "quiet")
				p.expect(msg, msg, msg)
			}
			// The silent handle consumes its own copies, one event per
			// ONE_NONBLOCKING call, without callbacks.
			ready, _ := h.FdGet()
			timeout := time.After(patience)
			for n := 0; n < c.events; {
				switch err := h.Dispatch(api.DispatchOneNonblocking); api.CodeOf(err) {
				case api.CodeOK:
					n++
				case api.CodeTryAgain:
					select {
					case <-ready:
					case <-timeout:
						t.Fatalf("consumed %d events, want %d", n, c.events)
					}
				default:
					t.Fatalf("Dispatch: %v", err)
				}
			}
			is(t, "Dispatch(ONE_NONBLOCKING) after everything was consumed", h.Dispatch(api.DispatchOneNonblocking), api.CodeTryAgain)
			if fc, err := h.FlowControlStateGet(); err != nil || fc != api.FlowControlDisabled {
				t.Errorf("FlowControlStateGet = %v, %v after its messages came back; want DISABLED", fc, err)
			}
			is(t, "Finalize", h.Finalize(), api.CodeOK)
			left := fmt.Sprintf("confchg members=%s left=[%s PROCDOWN]", f.members(f.by, f.sub), self)
			f.by.expect(left)
			f.sub.expect(left)
			f.unchanged(f.by, f.sub)
		})
	}
}

// A multicast above the node's maximum message size → TOO_BIG, however it
// is split; nothing is sent.
func TestOversizedMessagesAreTooBig(t *testing.T) {
	const max = 2 << 20
	f := newFixture(t, func(c *remote.Config) { c.MaxMessageSize = max })
	if got := f.sub.h.MaxMessageSize(); got != max {
		t.Fatalf("MaxMessageSize() = %d, want %d", got, max)
	}
	big := make([]byte, max+1)
	is(t, "McastJoined(max+1)", f.sub.h.McastJoined(api.TypeAgreed, big), api.CodeTooBig)
	is(t, "McastJoined(max+1 in 3 pieces)", f.sub.h.McastJoined(api.TypeAgreed, big[:1<<20], big[1<<20:2<<20], big[2<<20:]), api.CodeTooBig)
	is(t, "ZcbMcastJoined(max+1)", f.sub.h.ZcbMcastJoined(api.TypeAgreed, big), api.CodeTooBig)
	_, err := f.sub.h.ZcbAlloc(max + 1)
	is(t, "ZcbAlloc(max+1)", err, api.CodeInvalidParam)
	if fc, err := f.sub.h.FlowControlStateGet(); err != nil || fc != api.FlowControlDisabled {
		t.Errorf("refused sends left flow control %v (%v)", fc, err)
	}
	f.unchanged(f.by, f.sub)
}

// Rule 20 (first part) and 4: messages above the atomic size but within
// the maximum are delivered whole, as one callback, with identical bytes.
func TestLargeMessagesAreDeliveredWhole(t *testing.T) {
	const max = 2 << 20
	f := newFixture(t, func(c *remote.Config) { c.MaxMessageSize = max })
	atomic, err := f.sub.h.MaxAtomicMsgsizeGet()
	if err != nil || atomic != api.DefaultMaxAtomicMsgsize {
		t.Fatalf("MaxAtomicMsgsizeGet() = %d, %v; want %d", atomic, err, api.DefaultMaxAtomicMsgsize)
	}
	for _, size := range []int{int(atomic), int(atomic) + 1, 3 << 19, max} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i*7 + size)
		}
		// Sent in three uneven pieces, gathered like an iovec.
		f.sub.send(msg[:10], msg[10:size/2], msg[size/2:])
		want := describeDeliver(f.sub.h.NodeID(), f.sub.h.Pid(), msg)
		for _, p := range []*peer{f.by, f.sub} {
			p.expect(want)
			if got := p.data[len(p.data)-1]; !bytes.Equal(got, msg) {
				t.Errorf("%s: %d-byte message not byte-identical", p.name, size)
			}
		}
	}
	f.unchanged(f.by, f.sub)
}

// An unknown guarantee → INVALID_PARAM; the four known ones are all
// delivered.
func TestBadGuarantee(t *testing.T) {
	f := newFixture(t, nil)
	for _, g := range []api.Guarantee{4, 7, 0xffffffff} {
		is(t, fmt.Sprintf("McastJoined(guarantee %d)", g), f.sub.h.McastJoined(g, []byte("bad")), api.CodeInvalidParam)
		is(t, fmt.Sprintf("ZcbMcastJoined(guarantee %d)", g), f.sub.h.ZcbMcastJoined(g, []byte("bad")), api.CodeInvalidParam)
	}
	f.unchanged(f.by, f.sub)
	for _, g := range []api.Guarantee{api.TypeUnordered, api.TypeFIFO, api.TypeAgreed, api.TypeSafe} {
		msg := fmt.Sprintf("guarantee %d", g)
		if err := f.sub.h.McastJoined(g, []byte(msg)); err != nil {
			t.Fatalf("McastJoined(guarantee %d): %v", g, err)
		}
		want := fmt.Sprintf("deliver %s %q", f.sub.addr(), msg)
		f.by.expect(want)
		f.sub.expect(want)
	}
}

// Rule 24: finalize inside a callback makes Dispatch return BAD_HANDLE
// after that callback, whatever the flag; no further callback runs; the
// others see PROCDOWN.
func TestFinalizeInsideCallback(t *testing.T) {
	for _, flag := range []api.DispatchFlag{api.DispatchOne, api.DispatchAll, api.DispatchBlocking, api.DispatchOneNonblocking} {
		t.Run(fmt.Sprintf("flag %d", flag), func(t *testing.T) {
			f := newFixture(t, nil)
			var calls int
			var finalizeErr error
			h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
				Deliver: func(h *cpg.Handle, _ []byte, _, _ uint32, msg []byte) {
					calls++
					finalizeErr = h.Finalize()
				},
			}, nil, cpg.WithNode(f.node))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Join(f.group); err != nil {
				t.Fatal(err)
			}
			cc := f.by.next(1)[0]
			f.sub.expect(cc)
			f.by.send([]byte("one"))
			f.by.send([]byte("two"))
			one := fmt.Sprintf("deliver %s %q", f.by.addr(), "one")
			two := fmt.Sprintf("deliver %s %q", f.by.addr(), "two")
			f.by.expect(one, two)
			f.sub.expect(one, two)

			// Both messages are queued for h by now or soon: ONE and
			// ONE_NONBLOCKING first consume the JOIN confchg (no callback).
			ready, _ := h.FdGet()
			timeout := time.After(patience)
			var derr error
			for calls == 0 {
				derr = h.Dispatch(flag)
				if calls == 0 {
					if derr != nil && api.CodeOf(derr) != api.CodeTryAgain {
						t.Fatalf("Dispatch before the callback: %v", derr)
					}
					select {
					case <-ready:
					case <-timeout:
						t.Fatalf("no message reached the handle in %v", patience)
					}
				}
			}
			is(t, "Dispatch that ran the finalizing callback", derr, api.CodeBadHandle)
			is(t, "Finalize inside the callback", finalizeErr, api.CodeOK)
			if calls != 1 {
				t.Errorf("deliver callback ran %d times, want 1", calls)
			}
			is(t, "Dispatch after", h.Dispatch(api.DispatchAll), api.CodeBadHandle)
			is(t, "Finalize after", h.Finalize(), api.CodeBadHandle)
			left := fmt.Sprintf("confchg members=%s left=[%d/%d PROCDOWN]", f.members(f.by, f.sub), h.NodeID(), h.Pid())
			f.by.expect(left)
			f.sub.expect(left)
			f.unchanged(f.by, f.sub)
		})
	}
}

// Rule 22: ONE_GROUP with no group, or another type with a group →
// INVALID_PARAM; unknown types too; Next after the iteration's (or the
// handle's) finalize → BAD_HANDLE.
func TestIterationMisuse(t *testing.T) {
	f := newFixture(t, nil)
	h := f.sub.h
	for _, c := range []struct {
		what  string
		typ   api.IterationType
		group []byte
		want  api.Code
	}{
		{"ONE_GROUP, nil group", api.IterationOneGroup, nil, api.CodeInvalidParam},
		{"ONE_GROUP, empty group", api.IterationOneGroup, []byte{}, api.CodeInvalidParam},
		{"ALL with a group", api.IterationAll, f.group, api.CodeInvalidParam},
		{"ALL with an empty group", api.IterationAll, []byte{}, api.CodeInvalidParam},
		{"NAME_ONLY with a group", api.IterationNameOnly, f.group, api.CodeInvalidParam},
		{"type 0", 0, nil, api.CodeInvalidParam},
		{"type 4", 4, nil, api.CodeInvalidParam},
		{"type 4 with a group", 4, f.group, api.CodeInvalidParam},
	} {
		it, err := h.IterationInitialize(c.typ, c.group)
		is(t, "IterationInitialize "+c.what, err, c.want)
		if it != nil {
			t.Errorf("IterationInitialize %s returned an iteration with its error", c.what)
		}
	}

	it, err := h.IterationInitialize(api.IterationOneGroup, f.group)
	if err != nil {
		t.Fatalf("IterationInitialize(ONE_GROUP): %v", err)
	}
	var rows []string
	for {
		d, err := it.Next()
		if err != nil {
			is(t, "Next at the end", err, api.CodeNoSections)
			break
		}
		rows = append(rows, fmt.Sprintf("%s %d/%d", d.Group, d.Nodeid, d.Pid))
	}
	if len(rows) != 2 {
		t.Errorf("ONE_GROUP listed %q, want the 2 members", rows)
	}
	_, err = it.Next()
	is(t, "Next after the end", err, api.CodeNoSections)
	is(t, "iteration Finalize", it.Finalize(), api.CodeOK)
	_, err = it.Next()
	is(t, "Next after iteration Finalize", err, api.CodeBadHandle)
	is(t, "iteration Finalize twice", it.Finalize(), api.CodeBadHandle)

	// Iterations end with their handle.
	other := newPeer(t, f.node, "other")
	it, err = other.h.IterationInitialize(api.IterationNameOnly, nil)
	if err != nil {
		t.Fatalf("IterationInitialize(NAME_ONLY): %v", err)
	}
	is(t, "handle Finalize", other.h.Finalize(), api.CodeOK)
	_, err = it.Next()
	is(t, "Next after the handle's Finalize", err, api.CodeBadHandle)
	f.unchanged(f.by, f.sub)
}

// ZcbFree of a buffer ZcbAlloc did not return (or returned and was freed)
// → INVALID_PARAM.
func TestZcbFreeOfForeignBuffer(t *testing.T) {
	f := newFixture(t, nil)
	h := f.sub.h
	for _, size := range []int{0, -1} {
		_, err := h.ZcbAlloc(size)
		is(t, fmt.Sprintf("ZcbAlloc(%d)", size), err, api.CodeInvalidParam)
	}
	buf, err := h.ZcbAlloc(64)
	if err != nil {
		t.Fatalf("ZcbAlloc: %v", err)
	}
	is(t, "ZcbFree(foreign buffer)", h.ZcbFree(make([]byte, 64)), api.CodeInvalidParam)
	is(t, "ZcbFree(nil)", h.ZcbFree(nil), api.CodeInvalidParam)
	is(t, "ZcbFree(buf[1:])", h.ZcbFree(buf[1:]), api.CodeInvalidParam)
	copy(buf, strings.Repeat("z", 64))
	if err := h.ZcbMcastJoined(api.TypeAgreed, buf); err != nil {
		t.Fatalf("ZcbMcastJoined: %v", err)
	}
	want := fmt.Sprintf("deliver %s %q", f.sub.addr(), buf)
	f.by.expect(want)
	f.sub.expect(want)
	is(t, "ZcbFree(buf)", h.ZcbFree(buf), api.CodeOK)
	is(t, "ZcbFree(buf) again", h.ZcbFree(buf), api.CodeInvalidParam)
	f.unchanged(f.by, f.sub)
}

// Rule 28 (no ghost members): a handle finalized while its join is still
// being routed must not stay behind as a member. The join request is
// queued at the handle actor before the finalize request, so the join is
// always in flight when the finalize is handled.
func TestFinalizeWhileJoinInFlightLeavesNoGhost(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 5 {
		victim := newPeer(t, f.node, fmt.Sprintf("victim %d", i))
		f.node.System().Root.Send(victim.h.ActorPID(), &api.JoinRequest{Group: f.group})
		is(t, "Finalize with a join in flight", victim.h.Finalize(), api.CodeOK)

		// The join was handed on before the finalize, so the others see
		// the victim join; then they must see it leave with PROCDOWN.
		join := fmt.Sprintf("confchg members=%s joined=[%s JOIN]", f.members(f.by, f.sub, victim), victim.addr())
		left := fmt.Sprintf("confchg members=%s left=[%s PROCDOWN]", f.members(f.by, f.sub), victim.addr())
		for _, p := range []*peer{f.by, f.sub} {
			p.expect(join)
			timeout := time.After(patience)
			for {
				if err := p.h.Dispatch(api.DispatchAll); err != nil {
					t.Fatalf("%s: Dispatch: %v", p.name, err)
				}
				if len(p.got) > 0 {
					break
				}
				select {
				case <-p.ready:
				case <-timeout:
					ms, _ := p.h.MembershipGet(f.group)
					t.Fatalf("victim %d (%s), finalized with its join in flight, never left: %s saw no PROCDOWN in %v; members now %s",
						i, victim.addr(), p.name, patience, addrs(ms))
				}
			}
			p.expect(left)
		}
		f.unchanged(f.by, f.sub)
	}
}

// §3.3: finalize from several goroutines at once: exactly one gets CS_OK,
// the others BAD_HANDLE; the others see one PROCDOWN. A Dispatch(BLOCKING)
// waiting on another goroutine returns BAD_HANDLE.
func TestConcurrentFinalize(t *testing.T) {
	f := newFixture(t, nil)
	victim := newPeer(t, f.node, "victim")
	cc := victim.join(f.group)
	f.by.expect(cc)
	f.sub.expect(cc)

	blocked := make(chan error, 1)
	go func() { blocked <- victim.h.Dispatch(api.DispatchBlocking) }()
	const n = 8
	results := make(chan error, n)
	for range n {
		go func() { results <- victim.h.Finalize() }()
	}
	ok := 0
	for range n {
		switch err := <-results; api.CodeOf(err) {
		case api.CodeOK:
			ok++
		case api.CodeBadHandle:
		default:
			t.Errorf("concurrent Finalize: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent Finalize calls returned CS_OK, want exactly 1", ok, n)
	}
	select {
	case err := <-blocked:
		is(t, "Dispatch(BLOCKING) when another goroutine finalizes", err, api.CodeBadHandle)
	case <-time.After(patience):
		t.Fatalf("Dispatch(BLOCKING) still blocked %v after Finalize", patience)
	}
	left := fmt.Sprintf("confchg members=%s left=[%s PROCDOWN]", f.members(f.by, f.sub), victim.addr())
	f.by.expect(left)
	f.sub.expect(left)
	f.unchanged(f.by, f.sub)
}

// Misuse of the join state: multicast or leave while the own leave is in
// flight → NOT_EXIST; joining twice → EXIST (rule 9).
func TestJoinStateMisuse(t *testing.T) {
	f := newFixture(t, nil)
	is(t, "Join twice, same group", f.sub.h.Join(f.group), api.CodeExist)
	is(t, "Join of another group while joined", f.sub.h.Join([]byte("other")), api.CodeExist)
	f.unchanged(f.by, f.sub)

	is(t, "Leave", f.sub.h.Leave(f.group), api.CodeOK)
	is(t, "McastJoined with the leave in flight", f.sub.h.McastJoined(api.TypeAgreed, []byte("late")), api.CodeNotExist)
	is(t, "Leave with the leave in flight", f.sub.h.Leave(f.group), api.CodeNotExist)
	left := fmt.Sprintf("confchg members=%s left=[%s LEAVE]", f.members(f.by), f.sub.addr())
	f.by.expect(left)
	f.sub.expect(left)
	is(t, "McastJoined after the own LEAVE confchg", f.sub.h.McastJoined(api.TypeAgreed, []byte("late")), api.CodeNotExist)
	is(t, "Leave after the own LEAVE confchg", f.sub.h.Leave(f.group), api.CodeNotExist)
	f.unchanged(f.by)
	// Had the probe reached the leaver, it would come before its new
	// JOIN confchg.
	cc := f.sub.join(f.group)
	f.by.expect(cc)
	f.unchanged(f.by, f.sub)
}

// Edge sizes of a multicast: no piece, empty pieces, and thousands of
// pieces (corosync overflows past 63 iovecs, §8.5) are each one message,
// the concatenation of the pieces.
func TestMulticastPieces(t *testing.T) {
	f := newFixture(t, nil)
	f.sub.send()
	f.sub.send([]byte{}, nil, []byte{})
	pieces := make([][]byte, 5000)
	var whole []byte
	for i := range pieces {
		pieces[i] = []byte{byte(i), byte(i >> 8)}
		whole = append(whole, pieces[i]...)
	}
	f.sub.send(pieces...)
	empty := describeDeliver(f.sub.h.NodeID(), f.sub.h.Pid(), nil)
	many := describeDeliver(f.sub.h.NodeID(), f.sub.h.Pid(), whole)
	f.by.expect(empty, empty, many)
	f.sub.expect(empty, empty, many)
	f.unchanged(f.by, f.sub)
}

// An actor-face handle has no queue: Dispatch and FdGet are
// NOT_SUPPORTED.
func TestDispatchOnActorFaceHandle(t *testing.T) {
	node := startNode(t, nil)
	rcv := node.System().Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	defer node.System().Root.Stop(rcv)
	h, err := cpg.InitializeActor(rcv, 0, cpg.WithNode(node))
	if err != nil {
		t.Fatalf("InitializeActor: %v", err)
	}
	is(t, "Dispatch on an actor-face handle", h.Dispatch(api.DispatchAll), api.CodeNotSupported)
	_, err = h.FdGet()
	is(t, "FdGet on an actor-face handle", err, api.CodeNotSupported)
	is(t, "Finalize", h.Finalize(), api.CodeOK)
}

// The same through the handle API alone: Join and Finalize called at once
// from two goroutines (the methods are safe for concurrent use). Join must
// answer CS_OK or BAD_HANDLE, not wait for the request timeout, and no
// finalized handle may stay a member.
func TestJoinRacingFinalize(t *testing.T) {
	f := newFixture(t, func(c *remote.Config) { c.RequestTimeout = time.Second })
	const rounds = 20
	results := make(chan string, rounds)
	for i := range rounds {
		go func() {
			h, err := cpg.Initialize(nil, cpg.WithNode(f.node))
			if err != nil {
				results <- fmt.Sprintf("round %d: Initialize: %v", i, err)
				return
			}
			joined := make(chan error, 1)
			go func() { joined <- h.Join(f.group) }()
			// Let the join get ahead by a varying head start, so that
			// some rounds finalize while it is in flight.
			time.Sleep(time.Duration(i%10) * 25 * time.Microsecond)
			if c := api.CodeOf(h.Finalize()); c != api.CodeOK {
				results <- fmt.Sprintf("round %d: Finalize = %v, want CS_OK", i, c)
				return
			}
			select {
			case err := <-joined:
				if c := api.CodeOf(err); c != api.CodeOK && c != api.CodeBadHandle {
					results <- fmt.Sprintf("round %d: Join = %v, want CS_OK or CS_ERR_BAD_HANDLE", i, err)
					return
				}
			case <-time.After(patience):
				results <- fmt.Sprintf("round %d: Join still blocked %v after Finalize", i, patience)
				return
			}
			results <- ""
		}()
	}
	for range rounds {
		if r := <-results; r != "" {
			t.Error(r)
		}
	}
	// A join routed after all of theirs: once it is applied, so are all
	// of theirs, and only the PROCDOWNs may still be on their way.
	late := newPeer(t, f.node, "late")
	late.join(f.group)
	want := f.members(f.by, f.sub, late)
	deadline := time.Now().Add(patience)
	for {
		ms, err := f.by.h.MembershipGet(f.group)
		if err != nil {
			t.Fatalf("MembershipGet: %v", err)
		}
		if addrs(ms) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ghost members %v after the finalize races: members %s, want %s", patience, addrs(ms), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Issue 14: a client may not choose (WithPid) a pid from the range the
// node assigns, or a later handle given that pid could not join.
func TestHostileWithPidInTheAssignedRange(t *testing.T) {
	node := startNode(t, nil)
	_, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(node), cpg.WithPid(1<<22+1))
	if !errors.Is(err, api.ErrInvalidParam) {
		t.Fatalf("Initialize with pid 4194305: %v, want ErrInvalidParam", err)
	}
	h, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(node), cpg.WithPid(1<<22))
	if err != nil {
		t.Fatalf("Initialize with pid 4194304 (pid_max): %v", err)
	}
	h.Finalize()
}

// Issue 14: a handle actor's PID is a capability: its name carries 128
// random bits, so a stranger who can reach the node cannot name another
// client's handle to multicast, leave or finalize in its name.
func TestHostileHandleActorNamesAreUnguessable(t *testing.T) {
	node := startNode(t, nil)
	seen := map[string]bool{}
	for range 2 {
		h, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(node))
		if err != nil {
			t.Fatal(err)
		}
		id := h.ActorPID().Id
		i := strings.LastIndexByte(id, '-')
		if i < 0 || len(id)-i-1 != 32 {
			t.Fatalf("handle actor %q: want a 128-bit random suffix", id)
		}
		if _, err := hex.DecodeString(id[i+1:]); err != nil {
			t.Fatalf("handle actor %q: suffix not hex", id)
		}
		if seen[id[i+1:]] {
			t.Fatalf("handle actor %q: suffix repeated", id)
		}
		seen[id[i+1:]] = true
		h.Finalize()
	}
}
