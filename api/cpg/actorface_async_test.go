package cpg_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// asyncMember is an actor that uses only the message form: each step
// starts the next call when the Reply of the previous one arrives, and
// nothing in its Receive waits for the node.
type asyncMember struct {
	node *actors.Node
	rec  *record
	h    *cpg.Handle
}

// Receive implements actor.Actor.
func (a *asyncMember) Receive(ctx actor.Context) {
	group := []byte("async")
	switch m := ctx.Message().(type) {
	case *actor.Started:
		cpg.InitializeActorAsync(ctx, ctx.Self(), 0, 1, cpg.WithNode(a.node))
	case *cpg.Reply:
		a.rec.add(fmt.Sprintf("reply %d %s %v", m.Corr, m.Op, m.Err))
		switch m.Op {
		case cpg.OpInitialize:
			a.h = m.Handle
			a.h.JoinAsync(ctx, group, 2)
			a.h.JoinAsync(ctx, group, 3) // after the first: refused (EXIST)
		case cpg.OpJoin:
			if m.Corr == 2 {
				a.h.McastJoinedAsync(ctx, api.TypeAgreed, 4, []byte("one"))
				a.h.McastJoinedAsync(ctx, api.TypeAgreed, 5, []byte("two"))
			}
		case cpg.OpMembership:
			a.rec.add("members " + addrs(m.Members))
			a.h.LeaveAsync(ctx, group, 7)
		case cpg.OpLeave:
			a.h.FinalizeAsync(ctx, 8)
			a.h.FinalizeAsync(ctx, 9) // already finalized
		}
	case *api.Deliver:
		a.rec.add(describe(m))
		if string(m.Data) == "two" { // both came back: go on
			a.h.MembershipGetAsync(ctx, group, 6)
		}
	default:
		if s := describe(m); s != "" {
			a.rec.add(s)
		}
	}
}

// The message form answers every call with a *cpg.Reply carrying the
// caller's correlation id, as a message to the calling actor.
func TestActorFaceAsyncCallsAnswerWithCorrelation(t *testing.T) {
	node := startNode(t, nil)
	rec := newRecord()
	pid := node.System().Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &asyncMember{node: node, rec: rec} }))
	defer node.System().Root.Stop(pid)
	got := rec.waitSeen(t, "reply 8 finalize <nil>", "reply 9 finalize "+api.ErrBadHandle.Error())
	find := func(prefix string) int {
		for i, g := range got {
			if strings.HasPrefix(g, prefix) {
				return i
			}
		}
		t.Errorf("no %q in\n  %s", prefix, strings.Join(got, "\n  "))
		return -1
	}
	for _, w := range []string{"reply 1 initialize <nil>", "reply 2 join <nil>", "reply 4 mcast <nil>", "reply 5 mcast <nil>", "reply 7 leave <nil>"} {
		find(w)
	}
	if i := find("reply 3 join "); i >= 0 && !strings.HasSuffix(got[i], api.ErrExist.Error()) {
		t.Errorf("the second join: %s, want CS_ERR_EXIST", got[i])
	}
	// The Replies come in the order of the calls.
	var corrs []string
	for _, g := range got {
		if strings.HasPrefix(g, "reply ") {
			corrs = append(corrs, strings.Fields(g)[1])
		}
	}
	if c := strings.Join(corrs, " "); c != "1 2 3 4 5 6 7 8 9" {
		t.Errorf("replies in the order %s, want 1 2 ... 9", c)
	}
	one, two := find(`deliver `), find("members [")
	if one < 0 || two < 0 || !strings.Contains(got[one], `"one"`) || !strings.Contains(got[one+1], `"two"`) {
		t.Errorf("the asynchronous multicasts were not delivered in order:\n  %s", strings.Join(got, "\n  "))
	}
	if i := find("members ["); i >= 0 && strings.Count(got[i], "/") != 1 {
		t.Errorf("membership %s, want the member itself", got[i])
	}
}

// The Context variants return the context's error when it ends first,
// and work as the plain calls otherwise.
func TestActorFaceContextVariants(t *testing.T) {
	node := startNode(t, nil)
	recv, rec := spawnRecorder(t, node.System(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	h, err := cpg.InitializeActorContext(ctx, recv, 0, cpg.WithNode(node))
	if err != nil {
		t.Fatalf("InitializeActorContext: %v", err)
	}
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if err := h.JoinContext(done, []byte("ctx")); !errors.Is(err, context.Canceled) {
		t.Errorf("JoinContext with a cancelled context = %v", err)
	}
	if _, err := cpg.InitializeActorContext(done, recv, 0, cpg.WithNode(node)); !errors.Is(err, context.Canceled) {
		t.Errorf("InitializeActorContext with a cancelled context = %v", err)
	}
	past, cancelPast := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelPast()
	if err := h.LeaveContext(past, []byte("ctx")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LeaveContext past its deadline = %v", err)
	}
	if err := h.JoinContext(ctx, []byte("ctx")); err != nil {
		t.Fatalf("JoinContext: %v", err)
	}
	if err := h.McastJoinedContext(ctx, api.TypeAgreed, []byte("m")); err != nil {
		t.Fatalf("McastJoinedContext: %v", err)
	}
	rec.waitSeen(t, fmt.Sprintf("deliver %s %q", addrOf(h), "m"))
	if ms, err := h.MembershipGetContext(ctx, []byte("ctx")); err != nil || len(ms) != 1 {
		t.Errorf("MembershipGetContext = %v, %v", addrs(ms), err)
	}
	if err := h.LeaveContext(ctx, []byte("ctx")); err != nil {
		t.Errorf("LeaveContext: %v", err)
	}
	if err := h.FinalizeContext(ctx); err != nil {
		t.Errorf("FinalizeContext: %v", err)
	}
}
