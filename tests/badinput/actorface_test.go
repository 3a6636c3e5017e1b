package badinput

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// crashes records the supervision failures (actor panics) of a node's
// actor system.
type crashes struct {
	mu   sync.Mutex
	seen []string
}

func watchCrashes(t *testing.T, f *fixture) *crashes {
	c := &crashes{}
	es := f.node.System().EventStream
	sub := es.Subscribe(func(evt any) {
		if se, ok := evt.(*actor.SupervisorEvent); ok {
			c.mu.Lock()
			c.seen = append(c.seen, fmt.Sprintf("%v: %v", se.Child, se.Reason))
			c.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		c.check(t)
		es.Unsubscribe(sub)
	})
	return c
}

func (c *crashes) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.seen {
		t.Errorf("actor crashed: %s", s)
	}
}

// ask sends msg to pid as an application actor would and returns the reply.
func (f *fixture) ask(pid *actor.PID, msg any) any {
	f.t.Helper()
	res, err := f.node.System().Root.RequestFuture(pid, msg, patience).Result()
	if err != nil {
		f.t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

// askStatus sends a request answered with *api.Status and returns its code.
func (f *fixture) askStatus(pid *actor.PID, msg any) api.Code {
	f.t.Helper()
	res := f.ask(pid, msg)
	st, ok := res.(*api.Status)
	if !ok {
		f.t.Fatalf("%T answered with %T, want *api.Status", msg, res)
	}
	return api.Code(st.Code)
}

// noGhosts checks with an ALL iteration that the node knows exactly the
// fixture's group with exactly members.
func (f *fixture) noGhosts(members ...*peer) {
	f.t.Helper()
	it, err := f.by.h.IterationInitialize(api.IterationAll, nil)
	if err != nil {
		f.t.Fatalf("IterationInitialize: %v", err)
	}
	defer it.Finalize()
	var got []*api.Address
	for {
		d, err := it.Next()
		if err != nil {
			if api.CodeOf(err) != api.CodeNoSections {
				f.t.Fatalf("Next: %v", err)
			}
			break
		}
		if !bytes.Equal(d.Group, f.group) {
			f.t.Errorf("ghost group %q (member %d/%d)", d.Group, d.Nodeid, d.Pid)
			continue
		}
		got = append(got, &api.Address{Nodeid: d.Nodeid, Pid: d.Pid})
	}
	if g, want := addrs(got), f.members(members...); g != want {
		f.t.Errorf("iteration lists %s, want %s", g, want)
	}
}

// Malformed join and leave requests sent straight to a handle actor get
// their CS code in the Status reply, and leave no ghost member.
func TestHostileJoinAndLeaveRequests(t *testing.T) {
	f := newFixture(t, nil)
	crashed := watchCrashes(t, f)
	fresh := newPeer(t, f.node, "fresh")
	huge := bytes.Repeat([]byte("h"), 500)
	for _, c := range []struct {
		what string
		to   *peer
		msg  any
		want api.Code
	}{
		{"join, nil name", fresh, &api.JoinRequest{}, api.CodeInvalidParam},
		{"join, empty name", fresh, &api.JoinRequest{Group: []byte{}}, api.CodeInvalidParam},
		{"join, 500-byte name", fresh, &api.JoinRequest{Group: huge}, api.CodeNameTooLong},
		{"join, 129-byte name", fresh, &api.JoinRequest{Group: huge[:129]}, api.CodeNameTooLong},
		{"join while joined", f.sub, &api.JoinRequest{Group: f.group}, api.CodeExist},
		{"join of another group while joined", f.sub, &api.JoinRequest{Group: []byte("other")}, api.CodeExist},
		{"leave, 500-byte name", f.sub, &api.LeaveRequest{Group: huge}, api.CodeNameTooLong},
		{"leave, wrong name", f.sub, &api.LeaveRequest{Group: []byte("other")}, api.CodeNotExist},
		{"leave, nil name", f.sub, &api.LeaveRequest{}, api.CodeNotExist},
		{"leave while not joined", fresh, &api.LeaveRequest{Group: f.group}, api.CodeNotExist},
	} {
		if got := f.askStatus(c.to.h.ActorPID(), c.msg); got != c.want {
			t.Errorf("%s: %v, want %v", c.what, got, c.want)
		}
	}
	for _, g := range [][]byte{huge[:api.MaxNameLength], []byte("other")} {
		if ms, err := f.by.h.MembershipGet(g); err != nil || len(ms) != 0 {
			t.Errorf("MembershipGet(%q) = %s, %v; want no members", g, addrs(ms), err)
		}
	}
	f.noGhosts(f.by, f.sub)
	f.unchanged(f.by, f.sub)
	// The fresh handle is unharmed: it joins through the library.
	cc := fresh.join(f.group)
	f.by.expect(cc)
	f.sub.expect(cc)
	f.noGhosts(f.by, f.sub, fresh)
	crashed.check(t)
}

// Malformed multicasts sent straight to a handle actor are never
// delivered, in whole or in part; valid ones around them are, in order.
func TestHostileMcastRequests(t *testing.T) {
	f := newFixture(t, nil)
	crashed := watchCrashes(t, f)
	root := f.node.System().Root
	to := f.sub.h.ActorPID()
	for _, m := range []any{
		// A continuation part with no first part.
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("orphan part"), More: true},
		// Unknown guarantees.
		&api.McastRequest{Guarantee: 9, Data: []byte("guarantee 9")},
		&api.McastRequest{Guarantee: 0xffffffff, Data: []byte("guarantee max")},
		// A first part announcing far more than the maximum message size,
		// then its last part.
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), TotalLength: 1 << 40, Data: []byte("huge"), More: true},
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("huge end")},
		// Parts longer than the announced total.
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), TotalLength: 3, Data: []byte("abcdef"), More: true},
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("g")},
		// A first part with a bad guarantee, then its last part.
		&api.McastRequest{Guarantee: 9, TotalLength: 4, Data: []byte("ab"), More: true},
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("cd")},
		// A batch mixing a bad and a good message.
		&api.McastBatch{Msgs: []*api.McastRequest{
			{Guarantee: 9, Data: []byte("bad in batch")},
			{Guarantee: uint32(api.TypeAgreed), Data: []byte("good in batch")},
		}},
		// A well-formed message in two parts.
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), TotalLength: 5, Data: []byte("whol"), More: true},
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("e")},
		&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("marker")},
	} {
		root.Send(to, m)
	}
	var want []string
	for _, m := range []string{"good in batch", "whole", "marker"} {
		want = append(want, fmt.Sprintf("deliver %s %q", f.sub.addr(), m))
	}
	f.by.expect(want...)
	f.sub.expect(want...)
	f.noGhosts(f.by, f.sub)
	f.unchanged(f.by, f.sub)

	// A handle that is not joined has its multicasts refused.
	fresh := newPeer(t, f.node, "fresh")
	root.Send(fresh.h.ActorPID(), &api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("not joined")})
	f.noGhosts(f.by, f.sub)
	f.unchanged(f.by, f.sub)
	crashed.check(t)
}

// Malformed requests to the node actor get their CS code and create
// neither handles nor members.
func TestHostileRequestsToNodeActor(t *testing.T) {
	f := newFixture(t, nil)
	crashed := watchCrashes(t, f)
	client := f.node.System().Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	defer f.node.System().Root.Stop(client)
	huge := bytes.Repeat([]byte("h"), 500)
	code := func(res any) api.Code {
		switch r := res.(type) {
		case *api.InitReply:
			return api.Code(r.Code)
		case *api.MembershipReply:
			return api.Code(r.Code)
		case *api.IterationReply:
			return api.Code(r.Code)
		}
		t.Fatalf("unexpected reply %T", res)
		return 0
	}
	for _, c := range []struct {
		what string
		msg  any
		want api.Code
	}{
		{"init, no client", &api.InitRequest{}, api.CodeInvalidParam},
		{"init, client with no id", &api.InitRequest{Client: &api.Pid{Address: client.Address}}, api.CodeInvalidParam},
		{"init, flags 0x2", &api.InitRequest{Client: &api.Pid{Address: client.Address, Id: client.Id}, Flags: 0x2}, api.CodeInvalidParam},
		{"membership, 500-byte name", &api.MembershipRequest{Group: huge}, api.CodeNameTooLong},
		{"iteration, type 9", &api.IterationRequest{Type: 9}, api.CodeInvalidParam},
		{"iteration, type 0", &api.IterationRequest{}, api.CodeInvalidParam},
		{"iteration, ONE_GROUP without a group", &api.IterationRequest{Type: uint32(api.IterationOneGroup)}, api.CodeInvalidParam},
		{"iteration, ALL with a group", &api.IterationRequest{Type: uint32(api.IterationAll), Group: f.group}, api.CodeInvalidParam},
		{"iteration, NAME_ONLY with a 500-byte group", &api.IterationRequest{Type: uint32(api.IterationNameOnly), Group: huge}, api.CodeNameTooLong},
	} {
		if got := code(f.ask(f.node.PID(), c.msg)); got != c.want {
			t.Errorf("%s: %v, want %v", c.what, got, c.want)
		}
	}
	f.noGhosts(f.by, f.sub)
	f.unchanged(f.by, f.sub)
	crashed.check(t)
}

// A typed nil request (an application bug, possible only in-process) must
// not crash the handle actor it is sent to: protoactor would drop the
// message and restart the actor.
func TestTypedNilRequestsDoNotCrashHandleActor(t *testing.T) {
	f := newFixture(t, nil)
	watchCrashes(t, f)
	root := f.node.System().Root
	for _, m := range []any{
		(*api.JoinRequest)(nil),
		(*api.LeaveRequest)(nil),
		(*api.McastRequest)(nil),
		(*api.McastBatch)(nil),
		&api.McastBatch{Msgs: []*api.McastRequest{nil}},
		(*api.Credit)(nil),
	} {
		root.Send(f.sub.h.ActorPID(), m)
	}
	// Both members still work, with the same membership.
	f.unchanged(f.by, f.sub)
	f.noGhosts(f.by, f.sub)
}

// A typed nil request must not crash the node actor: protoactor restarts
// a crashed node actor with empty state (a new nodeActor) and stops all
// its children, every handle, group and sequencer actor of the node.
func TestTypedNilRequestsDoNotCrashNodeActor(t *testing.T) {
	f := newFixture(t, nil)
	watchCrashes(t, f)
	root := f.node.System().Root
	for _, m := range []any{
		(*api.InitRequest)(nil),
		(*api.MembershipRequest)(nil),
		(*api.IterationRequest)(nil),
		(*api.Heartbeat)(nil),
	} {
		root.Send(f.node.PID(), m)
	}
	// The node and both members still work, with the same membership.
	f.unchanged(f.by, f.sub)
	f.noGhosts(f.by, f.sub)
}

// README "Flow control": a handle has at most SendWindow multicasts in
// flight. Multicasts sent straight to the handle actor (documented for
// application actors) and refused ones (bad guarantee) were never counted
// in the library's window, so they must not widen it when they come back
// or are refused. With CreditEvents = 1 and no dispatch, at most one of
// the handle's own messages can come back, so at most SendWindow + 1 sends
// succeed before TRY_AGAIN.
func TestActorFaceSendsDoNotWidenSendWindow(t *testing.T) {
	const window = 4
	for _, direct := range []int{0, 10} {
		t.Run(fmt.Sprintf("%d direct sends", direct), func(t *testing.T) {
			f := newFixture(t, func(c *remote.Config) {
				c.SendWindow = window
				c.CreditEvents = 1
			})
			root := f.node.System().Root
			var want []string
			for i := range direct {
				root.Send(f.sub.h.ActorPID(), &api.McastRequest{Guarantee: 9, Data: []byte("refused")})
				msg := fmt.Sprintf("direct %d", i)
				root.Send(f.sub.h.ActorPID(), &api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte(msg)})
				want = append(want, fmt.Sprintf("deliver %s %q", f.sub.addr(), msg))
			}
			f.by.expect(want...)
			f.sub.expect(want...)
			// The probe passes the same path as the refusals' notices:
			// once the subject has it, the library has seen them all.
			f.unchanged(f.by, f.sub)

			sent := 0
			for ; sent < 10*window; sent++ {
				err := f.sub.h.McastJoined(api.TypeAgreed, []byte("window"))
				if errors.Is(err, api.ErrTryAgain) {
					break
				}
				if err != nil {
					t.Fatalf("McastJoined: %v", err)
				}
			}
			if sent > window+1 {
				t.Errorf("%d sends succeeded without a dispatch, want at most SendWindow+1 = %d", sent, window+1)
			}
			w := fmt.Sprintf("deliver %s %q", f.sub.addr(), "window")
			for _, p := range []*peer{f.by, f.sub} {
				for range sent {
					p.expect(w)
				}
			}
		})
	}
}
