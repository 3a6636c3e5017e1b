package cpg

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
)

// The message form of the calls, for actors: nothing blocks in Receive.
// Each ...Async method starts the call and returns at once; its outcome
// arrives later at the calling actor (ctx.Self()) as a *Reply carrying
// the caller's correlation id. A handle's asynchronous calls run one at a
// time, in the order they were made, on one goroutine of the handle (a
// multicast above MaxAtomicMsgsizeGet holds the later calls until it is
// ordered), so their Replies come in that order too. At most
// asyncQueueLimit calls wait per handle; beyond, the Reply says
// ErrTryAgain at once. A Reply is a Go message of this process; it never
// travels.

// Op names the call a Reply answers.
type Op string

// The calls with a message form.
const (
	OpInitialize Op = "initialize"
	OpJoin       Op = "join"
	OpLeave      Op = "leave"
	OpMcast      Op = "mcast"
	OpFinalize   Op = "finalize"
	OpMembership Op = "membership"
)

// Reply is the outcome of an asynchronous call, sent to the calling actor.
type Reply struct {
	Corr    uint64         // the caller's correlation id
	Op      Op             // the call it answers
	Err     error          // what the blocking method would return: nil, or an api error
	Handle  *Handle        // OpInitialize: the new handle (nil on error)
	Members []*api.Address // OpMembership: the group's members
}

// asyncQueueLimit bounds the asynchronous calls waiting per handle.
const asyncQueueLimit = 256

// asyncCall is one asynchronous call waiting for its turn.
type asyncCall struct {
	sys  *actor.ActorSystem
	to   *actor.PID
	op   Op
	corr uint64
	run  func(*Reply)
}

// async queues a call of the handle; its Reply goes to ctx.Self().
func (h *Handle) async(ctx actor.Context, op Op, corr uint64, run func(*Reply)) {
	c := asyncCall{sys: ctx.ActorSystem(), to: ctx.Self(), op: op, corr: corr, run: run}
	if h == nil {
		c.sys.Root.Send(c.to, &Reply{Corr: corr, Op: op, Err: api.ErrBadHandle})
		return
	}
	h.asyncOnce.Do(func() {
		h.asyncQ = make(chan asyncCall, asyncQueueLimit)
		go h.runAsync()
	})
	select {
	case h.asyncQ <- c:
	default:
		c.sys.Root.Send(c.to, &Reply{Corr: corr, Op: op, Err: api.ErrTryAgain})
	}
}

// runAsync runs the handle's asynchronous calls in order until the handle
// ends; those still waiting then get ErrBadHandle.
func (h *Handle) runAsync() {
	for {
		select {
		case c := <-h.asyncQ:
			r := &Reply{Corr: c.corr, Op: c.op}
			c.run(r)
			c.sys.Root.Send(c.to, r)
		case <-h.done:
			for {
				select {
				case c := <-h.asyncQ:
					c.sys.Root.Send(c.to, &Reply{Corr: c.corr, Op: c.op, Err: api.ErrBadHandle})
				default:
					return
				}
			}
		}
	}
}

// InitializeActorAsync is InitializeActor in message form: the calling
// actor gets a *Reply with Op OpInitialize and the Handle. receiver is
// usually ctx.Self().
func InitializeActorAsync(ctx actor.Context, receiver *actor.PID, flags uint32, corr uint64, opts ...Option) {
	sys, self := ctx.ActorSystem(), ctx.Self()
	go func() {
		h, err := InitializeActor(receiver, flags, opts...)
		sys.Root.Send(self, &Reply{Corr: corr, Op: OpInitialize, Err: err, Handle: h})
	}()
}

// JoinAsync is Join in message form: the calling actor gets a *Reply with
// Op OpJoin.
func (h *Handle) JoinAsync(ctx actor.Context, group []byte, corr uint64) {
	h.async(ctx, OpJoin, corr, func(r *Reply) { r.Err = h.Join(group) })
}

// LeaveAsync is Leave in message form: the calling actor gets a *Reply
// with Op OpLeave.
func (h *Handle) LeaveAsync(ctx actor.Context, group []byte, corr uint64) {
	h.async(ctx, OpLeave, corr, func(r *Reply) { r.Err = h.Leave(group) })
}

// McastJoinedAsync is McastJoined in message form: the calling actor gets
// a *Reply with Op OpMcast. The data is gathered before it returns (iov
// may be reused at once).
func (h *Handle) McastJoinedAsync(ctx actor.Context, guarantee api.Guarantee, corr uint64, iov ...[]byte) {
	var data []byte
	for _, b := range iov {
		data = append(data, b...)
	}
	h.async(ctx, OpMcast, corr, func(r *Reply) { r.Err = h.McastJoined(guarantee, data) })
}

// FinalizeAsync is Finalize in message form: the calling actor gets a
// *Reply with Op OpFinalize. The handle ends when its turn comes, after
// the asynchronous calls made before it.
func (h *Handle) FinalizeAsync(ctx actor.Context, corr uint64) {
	h.async(ctx, OpFinalize, corr, func(r *Reply) { r.Err = h.Finalize() })
}

// MembershipGetAsync is MembershipGet in message form: the calling actor
// gets a *Reply with Op OpMembership and the Members.
func (h *Handle) MembershipGetAsync(ctx actor.Context, group []byte, corr uint64) {
	h.async(ctx, OpMembership, corr, func(r *Reply) { r.Members, r.Err = h.MembershipGet(group) })
}
