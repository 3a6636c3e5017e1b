package cpg

import (
	"context"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
)

// The Context variants of the calls that wait for the node. Each runs the
// call as the plain method does and returns early, with the context's
// error wrapped (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded), when ctx ends first. Like a call that times
// out, a call abandoned this way may still take effect on the node; the
// handle applies its outcome when the node's answer comes (a join that
// succeeds after its caller gave up makes the handle joined), and a later
// call sees it. The node's answer is itself bounded by WithTimeout.

// ctxErr wraps the error of an ended context.
func ctxErr(err error) error { return fmt.Errorf("cpg: call abandoned: %w", err) }

// await runs f and waits for it or for ctx to end.
func await[T any](ctx context.Context, f func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return f()
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, ctxErr(err)
	}
	type out struct {
		v   T
		err error
	}
	ch := make(chan out, 1)
	go func() {
		v, err := f()
		ch <- out{v, err}
	}()
	select {
	case o := <-ch:
		return o.v, o.err
	case <-ctx.Done():
		return zero, ctxErr(ctx.Err())
	}
}

// awaitErr is await for a call with no result.
func awaitErr(ctx context.Context, f func() error) error {
	_, err := await(ctx, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// JoinContext is Join honouring ctx's cancellation and deadline.
func (h *Handle) JoinContext(ctx context.Context, group []byte) error {
	return awaitErr(ctx, func() error { return h.Join(group) })
}

// LeaveContext is Leave honouring ctx's cancellation and deadline.
func (h *Handle) LeaveContext(ctx context.Context, group []byte) error {
	return awaitErr(ctx, func() error { return h.Leave(group) })
}

// McastJoinedContext is McastJoined honouring ctx's cancellation and
// deadline. Only a message above MaxAtomicMsgsizeGet waits (for all its
// parts to be ordered); abandoned, it still travels, and the next large
// message waits for it first.
func (h *Handle) McastJoinedContext(ctx context.Context, guarantee api.Guarantee, iov ...[]byte) error {
	return awaitErr(ctx, func() error { return h.McastJoined(guarantee, iov...) })
}

// FinalizeContext is Finalize honouring ctx's cancellation and deadline.
// The handle is unusable at once whatever the outcome; the node's answer
// only comes late or not at all.
func (h *Handle) FinalizeContext(ctx context.Context) error {
	return awaitErr(ctx, h.Finalize)
}

// MembershipGetContext is MembershipGet honouring ctx's cancellation and
// deadline.
func (h *Handle) MembershipGetContext(ctx context.Context, group []byte) ([]*api.Address, error) {
	return await(ctx, func() ([]*api.Address, error) { return h.MembershipGet(group) })
}

// LocalGetContext is LocalGet honouring ctx's cancellation and deadline.
func (h *Handle) LocalGetContext(ctx context.Context) (uint32, error) {
	return await(ctx, h.LocalGet)
}

// InitializeContext is Initialize honouring ctx's cancellation and
// deadline. A handle the node creates after ctx ended is finalized.
func InitializeContext(ctx context.Context, cb *Callbacks, opts ...Option) (*Handle, error) {
	return openContext(ctx, func() (*Handle, error) { return Initialize(cb, opts...) })
}

// ModelInitializeContext is ModelInitialize honouring ctx's cancellation
// and deadline. A handle the node creates after ctx ended is finalized.
func ModelInitializeContext(ctx context.Context, model api.Model, data *ModelV1Data, userContext any, opts ...Option) (*Handle, error) {
	return openContext(ctx, func() (*Handle, error) { return ModelInitialize(model, data, userContext, opts...) })
}

// InitializeActorContext is InitializeActor honouring ctx's cancellation
// and deadline. A handle the node creates after ctx ended is finalized.
func InitializeActorContext(ctx context.Context, receiver *actor.PID, flags uint32, opts ...Option) (*Handle, error) {
	return openContext(ctx, func() (*Handle, error) { return InitializeActor(receiver, flags, opts...) })
}

// openContext runs open and finalizes the handle it makes if nobody
// waits for it any more.
func openContext(ctx context.Context, open func() (*Handle, error)) (*Handle, error) {
	if ctx.Done() == nil {
		return open()
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(err)
	}
	type out struct {
		h   *Handle
		err error
	}
	var mu sync.Mutex
	abandoned := false
	ch := make(chan out, 1)
	go func() {
		h, err := open()
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if h != nil {
				go func() { _ = h.Finalize() }()
			}
			return
		}
		ch <- out{h, err}
	}()
	select {
	case o := <-ch:
		return o.h, o.err
	case <-ctx.Done():
	}
	mu.Lock()
	abandoned = true
	mu.Unlock()
	select { // it ended before it could see abandoned
	case o := <-ch:
		if o.h != nil {
			_ = o.h.Finalize()
		}
	default:
	}
	return nil, ctxErr(ctx.Err())
}
