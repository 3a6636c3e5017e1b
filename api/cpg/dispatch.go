package cpg

import (
	"sync"
	"sync/atomic"

	"github.com/actorcpg/actorcpg/api"
)

// eventQueue holds a handle's events between their arrival from the node
// and Dispatch. The node bounds it through credits: it pushes at most the
// credit window, and the queue returns credit as events are dispatched.
type eventQueue struct {
	mu    sync.Mutex
	items []*api.Event
	head  int
	// ready holds a token while events are queued (the readiness channel).
	ready chan struct{}
	// credit not yet returned to the node.
	credEvents uint32
	credBytes  uint64
}

func (q *eventQueue) init() { q.ready = make(chan struct{}, 1) }

func (q *eventQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// wake unblocks a waiting Dispatch.
func (q *eventQueue) wake() { q.signal() }

// pop takes the next event, or nil.
func (q *eventQueue) pop() *api.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil
	}
	ev := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		select { // empty: no token left behind
		case <-q.ready:
		default:
		}
	} else {
		q.signal()
	}
	return ev
}

// receive takes events from the node (on the client actor, or on the
// session's reading goroutine; one at a time either way): it gives the
// send window back for the handle's own messages, and queues the events
// for Dispatch, or hands them to the receiver's courier (receiver.go).
// Deliveries come whole.
func (h *Handle) receive(events []*api.Event) {
	if h.finalized.Load() {
		return
	}
	if h.courier != nil {
		h.fwdMu.Lock()
		h.forward(events)
		h.fwdMu.Unlock()
		return
	}
	h.q.mu.Lock()
	for _, ev := range events {
		if d := ev.Deliver; d != nil && d.Nodeid == h.nodeid && d.Pid == h.pid {
			h.unsend(1, int64(len(d.Data)))
		}
		h.q.items = append(h.q.items, ev)
	}
	h.q.mu.Unlock()
	if len(events) > 0 {
		h.q.signal()
	}
}

// largeOutcome hands the outcome of a large multicast to its waiting sender.
func (h *Handle) largeOutcome(err error) {
	select {
	case h.large <- err:
	default:
	}
}

// control applies a node's control message to the handle.
func (h *Handle) control(m *api.Control) {
	switch m.FlowControl {
	case 1:
		h.groupFC.Store(false)
	case 2:
		h.groupFC.Store(true)
	}
	if m.Rejected > 0 {
		h.unsend(int64(m.Rejected), int64(m.RejectedBytes))
		if h.largeWaiting.Load() {
			h.largeOutcome(api.ErrNotExist)
		}
	}
	if m.LargeDone > 0 {
		h.largeOutcome(nil)
	}
	if m.Interrupted > 0 {
		h.largeOutcome(api.ErrInterrupt)
	}
	if m.LeftEpoch != 0 && h.joinEpoch.CompareAndSwap(m.LeftEpoch, 0) {
		h.leaving.Store(false)
	}
	if m.Closed {
		h.close()
	}
	if m.FlowControl != 0 || m.Rejected > 0 {
		h.noteFlow()
	}
}

// FdGet returns the handle's readiness channel, in place of cpg_fd_get: it
// holds a token while events wait for Dispatch, and is stable for the
// handle's life. After a wake-up, Dispatch(DispatchAll) or
// Dispatch(DispatchOneNonblocking) delivers what is queued; a wake-up with
// nothing queued can happen and is harmless.
func (h *Handle) FdGet() (<-chan struct{}, error) {
	if h == nil || h.finalized.Load() {
		return nil, api.ErrBadHandle
	}
	if h.receiver != nil {
		return nil, api.ErrNotSupported
	}
	return h.q.ready, nil
}

// Dispatch runs the callbacks of queued events on the calling goroutine
// (cpg_dispatch):
//   - DispatchOne waits for one event and delivers it;
//   - DispatchAll delivers what is queued and returns CS_OK, even if nothing;
//   - DispatchBlocking delivers events until the handle is finalized;
//   - DispatchOneNonblocking delivers one event, or returns ErrTryAgain.
//
// If a callback finalizes the handle, Dispatch returns ErrBadHandle after
// it. Once the node is gone and the queue is empty, it returns ErrLibrary.
func (h *Handle) Dispatch(flag api.DispatchFlag) error {
	if h == nil || h.finalized.Load() {
		return api.ErrBadHandle
	}
	if flag < api.DispatchOne || flag > api.DispatchOneNonblocking {
		return api.ErrInvalidParam
	}
	if h.receiver != nil {
		return api.ErrNotSupported
	}
	wait := flag == api.DispatchOne || flag == api.DispatchBlocking
	for {
		ev := h.q.pop()
		if ev == nil {
			if h.finalized.Load() {
				return api.ErrBadHandle
			}
			if h.closed.Load() {
				h.flushCredit()
				return api.ErrLibrary
			}
			if !wait {
				h.flushCredit()
				if flag == api.DispatchOneNonblocking {
					return api.ErrTryAgain
				}
				return nil
			}
			select {
			case <-h.q.ready:
			case <-h.done:
			}
			continue
		}
		h.run(ev)
		h.consumed(ev)
		if h.finalized.Load() {
			return api.ErrBadHandle
		}
		if flag == api.DispatchOne || flag == api.DispatchOneNonblocking {
			return nil
		}
	}
}

func (h *Handle) run(ev *api.Event) {
	m := &h.model
	switch {
	case ev.Deliver != nil:
		if m.Deliver != nil {
			d := ev.Deliver
			m.Deliver(h, d.Group, d.Nodeid, d.Pid, d.Data)
		}
	case ev.Confchg != nil:
		if m.Confchg != nil {
			c := ev.Confchg
			m.Confchg(h, c.Group, c.Members, c.Left, c.Joined)
		}
	case ev.TotemConfchg != nil:
		if m.TotemConfchg != nil {
			t := ev.TotemConfchg
			m.TotemConfchg(h, t.RingId, t.Members)
		}
	}
}

// consumed records a dispatched event and returns credit to the node in
// batches of a quarter window.
func (h *Handle) consumed(ev *api.Event) {
	h.q.mu.Lock()
	h.q.credEvents++
	h.q.credBytes += uint64(api.EventSize(ev))
	due := h.q.credEvents >= h.creditEvents/4 || h.q.credBytes >= h.creditBytes/4 || h.q.head == len(h.q.items)
	h.q.mu.Unlock()
	if due {
		h.flushCredit()
	}
}

func (h *Handle) flushCredit() {
	h.q.mu.Lock()
	events, bytes := h.q.credEvents, h.q.credBytes
	h.q.credEvents, h.q.credBytes = 0, 0
	h.q.mu.Unlock()
	if events == 0 && bytes == 0 || h.closed.Load() || h.finalized.Load() {
		return
	}
	h.conn.send(h, &api.Credit{Events: events, Bytes: bytes})
}

// unsend gives send-window room back for messages delivered back or
// refused. The counts never go below zero: messages an actor sent straight
// to the handle actor were never counted, and must not widen the window.
func (h *Handle) unsend(n, bytes int64) {
	decr(&h.inflight, n)
	decr(&h.inflightBytes, bytes)
}

func decr(v *atomic.Int64, d int64) {
	for {
		old := v.Load()
		nv := max(old-d, 0)
		if v.CompareAndSwap(old, nv) {
			return
		}
	}
}
