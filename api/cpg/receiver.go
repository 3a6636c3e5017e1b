package cpg

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
)

// The actor face's delivery path, and how it stays bounded.
//
// Each handle of InitializeActor has a courier: a small actor spawned in
// the receiver's own actor system. The library hands it the handle's
// events (and its FlowControl notices) in order; the courier sends them on
// to the receiver and, every touchEvents events or touchBytes bytes (and
// after the last of a batch), sends the receiver an *actor.Touch with
// itself as the sender. protoactor answers a Touch by itself
// (*actor.Touched) once the receiver's Receive has returned from it, and a
// mailbox is FIFO, so the answer proves that the receiver has processed
// every event sent before it. Only then does the courier return the
// credit of those events to the node. The node pushes a handle at most its
// credit window (CreditEvents / CreditBytes) beyond the credit returned,
// so the receiver's mailbox never holds more than one window of events;
// the rest waits in the node's handle actor, under the same bounds as a
// Dispatch client's queue: above QueueHighBytes the group is
// flow-controlled (senders get CS_ERR_TRY_AGAIN), above QueueLimitBytes,
// or with no credit back for StallTimeout, the member is evicted with
// PROCDOWN. Touches are small and frequent so that a receiver that is
// slow but moving returns credit well within StallTimeout.
//
// The courier also watches the receiver: when it stops, the handle is
// finalized, and its group sees the member leave with PROCDOWN, as when a
// process exits.

// touchEvents and touchBytes are how many events, or event bytes, the
// courier sends at most between two Touches.
const (
	touchEvents = 16
	touchBytes  = 256 << 10
)

// courierBatch is what the library hands the courier: messages for the
// receiver, in order.
type courierBatch struct {
	items []courierItem
}

// courierItem is a message for the receiver; an event carries credit
// (its size as the node counted it), a FlowControl notice none.
type courierItem struct {
	msg   proto.Message // nil for an event the receiver is not shown
	event bool
	bytes uint64
}

// courierStart tells the courier that the handle exists on its node: it
// starts watching the receiver.
type courierStart struct{}

// courier forwards a handle's events to its receiver and returns their
// credit once the receiver has processed them (see above).
type courier struct {
	h        *Handle
	receiver *actor.PID

	touched     []credit // the credit each outstanding Touch covers, in order
	sinceEvents uint32   // credit of the events sent since the last Touch
	sinceBytes  uint64
}

// credit is an amount of credit window.
type credit struct {
	events uint32
	bytes  uint64
}

// Receive implements actor.Actor.
func (c *courier) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *courierStart:
		ctx.Watch(c.receiver)
	case *courierBatch:
		for _, it := range m.items {
			if it.msg != nil {
				ctx.Send(c.receiver, it.msg)
			}
			if it.event {
				c.sinceEvents++
				c.sinceBytes += it.bytes
			}
			if c.sinceEvents >= touchEvents || c.sinceBytes >= touchBytes {
				c.touch(ctx)
			}
		}
		if len(c.touched) == 0 {
			c.touch(ctx)
		}
	case *actor.Touched:
		if len(c.touched) > 0 {
			cr := c.touched[0]
			c.touched = c.touched[1:]
			c.h.returnCredit(cr.events, cr.bytes)
		}
		if len(c.touched) == 0 {
			c.touch(ctx)
		}
	case *actor.Terminated:
		if m.Who.Equal(c.receiver) && !c.h.finalized.Load() {
			// Finalize waits for the node: not on this actor.
			go func() { _ = c.h.Finalize() }()
		}
	}
}

// touch asks the receiver for proof that it processed the events sent
// since the last Touch, if any.
func (c *courier) touch(ctx actor.Context) {
	if c.sinceEvents == 0 && c.sinceBytes == 0 {
		return
	}
	c.touched = append(c.touched, credit{c.sinceEvents, c.sinceBytes})
	c.sinceEvents, c.sinceBytes = 0, 0
	ctx.Request(c.receiver, &actor.Touch{})
}

// checkReceiver refuses a receiver that could not get its events from sys:
// events are sent through sys's root, so the receiver must be a live
// actor registered in sys, under sys's address.
func checkReceiver(sys *actor.ActorSystem, receiver *actor.PID) error {
	if receiver.Id == "" {
		return fmt.Errorf("cpg: receiver %v has no id: %w", receiver, api.ErrInvalidParam)
	}
	if receiver.Address != sys.Address() {
		return fmt.Errorf("cpg: receiver %v is not in the actor system its events are sent from (address %s; "+
			"give the receiver's system with WithActorSystem): %w", receiver, sys.Address(), api.ErrInvalidParam)
	}
	if _, ok := sys.ProcessRegistry.GetLocal(receiver.Id); !ok {
		return fmt.Errorf("cpg: receiver %v is no actor of the actor system its events are sent from "+
			"(never spawned, stopped, or in another system: give it with WithActorSystem): %w", receiver, api.ErrInvalidParam)
	}
	return nil
}

// startCourier spawns the handle's courier in sys.
func (h *Handle) startCourier(sys *actor.ActorSystem) {
	h.recvSystem = sys
	h.courier = sys.Root.SpawnPrefix(actor.PropsFromProducer(func() actor.Actor {
		return &courier{h: h, receiver: h.receiver}
	}), "cpg-courier")
}

// stopCourier stops the courier, if any; what it already sent stays in
// the receiver's mailbox.
func (h *Handle) stopCourier() {
	if h.courier != nil {
		h.recvSystem.Root.Stop(h.courier)
	}
}

// returnCredit gives the node back room in the handle's credit window.
func (h *Handle) returnCredit(events uint32, bytes uint64) {
	if h.closed.Load() || h.finalized.Load() {
		return
	}
	h.conn.send(h, &api.Credit{Events: events, Bytes: bytes})
}

// forward hands events for the receiver to the courier, with the flow
// control notice their own deliveries cause. fwdMu is held.
func (h *Handle) forward(events []*api.Event) {
	b := &courierBatch{items: make([]courierItem, 0, len(events))}
	for _, ev := range events {
		it := courierItem{event: true, bytes: uint64(api.EventSize(ev))}
		switch {
		case ev.Deliver != nil:
			it.msg = ev.Deliver
		case ev.Confchg != nil:
			it.msg = ev.Confchg
		case ev.TotemConfchg != nil:
			it.msg = ev.TotemConfchg
		}
		b.items = append(b.items, it)
		if d := ev.Deliver; d != nil && d.Nodeid == h.nodeid && d.Pid == h.pid {
			h.unsend(1, int64(len(d.Data)))
			b.items = h.appendFlow(b.items)
		}
	}
	h.recvSystem.Root.Send(h.courier, b)
}

// appendFlow appends a FlowControl notice to items if the handle's flow
// control state changed since the last one. fwdMu is held.
func (h *Handle) appendFlow(items []courierItem) []courierItem {
	fc := h.flowControlled()
	if fc == h.fcShown {
		return items
	}
	h.fcShown = fc
	return append(items, courierItem{msg: &api.FlowControl{Enabled: fc}})
}

// noteFlow tells the receiver, in order with its events, when the
// handle's multicasts start or stop being refused with ErrTryAgain.
func (h *Handle) noteFlow() {
	if h.courier == nil {
		return
	}
	h.fwdMu.Lock()
	defer h.fwdMu.Unlock()
	if items := h.appendFlow(nil); len(items) > 0 {
		h.recvSystem.Root.Send(h.courier, &courierBatch{items: items})
	}
}
