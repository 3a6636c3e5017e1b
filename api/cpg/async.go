package cpg

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
)

// The message form of the calls, for actors: nothing blocks in Receive.
// Each ...Async method starts the call and returns at once; its outcome
// arrives later at the calling actor (ctx.Self()) as a *Reply carrying
// the caller's correlation id. Replies of concurrent calls may arrive in
// any order: match them by Corr. A Reply is a Go message of this process;
// it never travels.

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

// async runs f off the actor and sends its Reply to ctx.Self().
func async(ctx actor.Context, f func() *Reply) {
	sys, self := ctx.ActorSystem(), ctx.Self()
	go func() { sys.Root.Send(self, f()) }()
}

// InitializeActorAsync is InitializeActor in message form: the calling
// actor gets a *Reply with Op OpInitialize and the Handle. receiver is
// usually ctx.Self().
func InitializeActorAsync(ctx actor.Context, receiver *actor.PID, flags uint32, corr uint64, opts ...Option) {
	async(ctx, func() *Reply {
		h, err := InitializeActor(receiver, flags, opts...)
		return &Reply{Corr: corr, Op: OpInitialize, Err: err, Handle: h}
	})
}

// JoinAsync is Join in message form: the calling actor gets a *Reply with
// Op OpJoin.
func (h *Handle) JoinAsync(ctx actor.Context, group []byte, corr uint64) {
	async(ctx, func() *Reply { return &Reply{Corr: corr, Op: OpJoin, Err: h.Join(group)} })
}

// LeaveAsync is Leave in message form: the calling actor gets a *Reply
// with Op OpLeave.
func (h *Handle) LeaveAsync(ctx actor.Context, group []byte, corr uint64) {
	async(ctx, func() *Reply { return &Reply{Corr: corr, Op: OpLeave, Err: h.Leave(group)} })
}

// McastJoinedAsync is McastJoined in message form: the calling actor gets
// a *Reply with Op OpMcast. The data is gathered before it returns (iov
// may be reused at once). A handle's asynchronous multicasts are sent one
// at a time, in the order of the calls, by one goroutine of the handle;
// a message above MaxAtomicMsgsizeGet holds the later ones until it is
// ordered. At most asyncMcastQueue wait: beyond, the Reply says
// ErrTryAgain at once.
func (h *Handle) McastJoinedAsync(ctx actor.Context, guarantee api.Guarantee, corr uint64, iov ...[]byte) {
	var data []byte
	for _, b := range iov {
		data = append(data, b...)
	}
	m := asyncMcast{sys: ctx.ActorSystem(), to: ctx.Self(), guarantee: guarantee, data: data, corr: corr}
	h.asyncOnce.Do(func() {
		h.asyncQ = make(chan asyncMcast, asyncMcastQueue)
		go h.sendAsync()
	})
	select {
	case h.asyncQ <- m:
	default:
		m.sys.Root.Send(m.to, &Reply{Corr: corr, Op: OpMcast, Err: api.ErrTryAgain})
	}
}

// asyncMcastQueue bounds the asynchronous multicasts waiting per handle.
const asyncMcastQueue = 256

// asyncMcast is one McastJoinedAsync call waiting for its turn.
type asyncMcast struct {
	sys       *actor.ActorSystem
	to        *actor.PID
	guarantee api.Guarantee
	data      []byte
	corr      uint64
}

// sendAsync sends the handle's asynchronous multicasts in order until the
// handle ends; those still waiting then get ErrBadHandle.
func (h *Handle) sendAsync() {
	for {
		select {
		case m := <-h.asyncQ:
			err := h.McastJoined(m.guarantee, m.data)
			m.sys.Root.Send(m.to, &Reply{Corr: m.corr, Op: OpMcast, Err: err})
		case <-h.done:
			for {
				select {
				case m := <-h.asyncQ:
					m.sys.Root.Send(m.to, &Reply{Corr: m.corr, Op: OpMcast, Err: api.ErrBadHandle})
				default:
					return
				}
			}
		}
	}
}

// FinalizeAsync is Finalize in message form: the calling actor gets a
// *Reply with Op OpFinalize. The handle is unusable at once.
func (h *Handle) FinalizeAsync(ctx actor.Context, corr uint64) {
	if !h.finalizeBegin() {
		ctx.Send(ctx.Self(), &Reply{Corr: corr, Op: OpFinalize, Err: api.ErrBadHandle})
		return
	}
	async(ctx, func() *Reply { return &Reply{Corr: corr, Op: OpFinalize, Err: h.finalizeEnd()} })
}

// MembershipGetAsync is MembershipGet in message form: the calling actor
// gets a *Reply with Op OpMembership and the Members.
func (h *Handle) MembershipGetAsync(ctx actor.Context, group []byte, corr uint64) {
	async(ctx, func() *Reply {
		ms, err := h.MembershipGet(group)
		return &Reply{Corr: corr, Op: OpMembership, Err: err, Members: ms}
	})
}
