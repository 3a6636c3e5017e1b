package actors

import (
	"bytes"
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// handleActor is one CPG handle on its node (Corosync's per-connection
// cpg_pd). It holds the handle's join state, forwards its multicasts to its
// group actor, and queues the group's events for the client that owns the
// handle, pushing them within the client's credit window. The queue is
// bounded: above QueueHighBytes the group is flow-controlled, above
// QueueLimitBytes (or stalled for StallTimeout) the member is evicted.
type handleActor struct {
	node         *Node
	nodePID      *actor.PID
	id           groups.HandleID
	pid          uint32
	flags        uint32
	client       *actor.PID // an in-process client's actor
	sess         *session   // or the client session that owns the handle
	clientHandle uint64

	group       *actor.PID
	groupName   []byte
	joinPending bool
	leaving     bool
	groupFC     bool
	syncFC      bool
	epoch       uint64
	initialSent bool
	finalized   bool

	queue       []*api.Event
	qhead       int
	queuedBytes uint64
	outEvents   uint32
	outBytes    uint64
	congested   bool
	creditGen   uint64

	partial *partialMcast
}

// partialMcast is a multicast arriving in parts from a remote client.
type partialMcast struct {
	guarantee uint32
	total     uint64
	data      []byte
}

// Receive implements actor.Actor.
func (a *handleActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	if panicking("handle", ctx.Message()) {
		panic("test panic in a handle actor")
	}
	switch m := ctx.Message().(type) {
	case *api.McastRequest:
		a.mcast(ctx, []*api.McastRequest{m})
	case *api.McastBatch:
		a.mcast(ctx, withoutNil(m.Msgs))
	case *wire.LocalEvents:
		a.enqueue(ctx, m.Events)
	case *api.Credit:
		a.credit(ctx, m)
	case *api.JoinRequest:
		a.join(ctx, m, replyTo{pid: ctx.Sender()})
	case *api.LeaveRequest:
		a.leave(ctx, m, replyTo{pid: ctx.Sender()})
	case *sessionCall:
		a.call(ctx, m)
	case *wire.MemberLeft:
		a.group, a.groupName, a.leaving, a.groupFC = nil, nil, false, false
		a.setCongested(ctx, false)
		a.control(ctx, &api.Control{LeftEpoch: a.epoch})
	case *wire.McastRejected:
		a.node.metrics.rejected.Add(uint64(m.Count))
		a.control(ctx, &api.Control{Rejected: m.Count, RejectedBytes: m.Bytes})
	case *wire.FlowControl:
		if m.Syncing {
			a.syncFC = m.Enabled
		} else {
			a.groupFC = m.Enabled
		}
		fc := int32(1)
		if a.groupFC || a.syncFC {
			fc = 2
		}
		if m.Enabled && !m.Syncing {
			a.node.metrics.flowOn.Add(1)
		}
		a.control(ctx, &api.Control{FlowControl: fc})
	case *wire.McastInterrupted:
		a.control(ctx, &api.Control{Interrupted: m.Count})
	case *api.TotemConfchg:
		a.enqueue(ctx, []*api.Event{{TotemConfchg: m}})
	case *wire.Tick:
		a.stallCheck(ctx, m.Gen)
	case *api.FinalizeRequest:
		a.finalize(ctx, replyTo{pid: ctx.Sender()})
	case *actor.Stopping:
		if !a.finalized {
			a.finalized = true
			a.dropMembership(ctx)
			a.control(ctx, &api.Control{Closed: true})
		}
	case *actor.Stopped:
		a.node.metrics.queueBytes.Add(-int64(a.queuedBytes)) // its queue goes with it
		a.queuedBytes = 0
	case *actor.Started, *actor.Restarting:
	default:
		unexpected.Drop(a.node.log, "handle: unexpected messages dropped", typeName(m))
	}
}

func reply(ctx actor.Context, msg any) {
	if ctx.Sender() != nil {
		ctx.Respond(msg)
	}
}

func status(c api.Code) *api.Status { return &api.Status{Code: int32(c)} }

// call serves a request from the handle's session: the session checked
// that it owns the handle; the answer goes back on it.
func (a *handleActor) call(ctx actor.Context, c *sessionCall) {
	rt := replyTo{sess: c.sess, corr: c.corr}
	switch m := c.msg.(type) {
	case *api.JoinRequest:
		a.join(ctx, m, rt)
	case *api.LeaveRequest:
		a.leave(ctx, m, rt)
	case *api.FinalizeRequest:
		a.finalize(ctx, rt)
	default:
		rt.send(ctx, status(api.CodeInvalidParam))
	}
}

func (a *handleActor) join(ctx actor.Context, m *api.JoinRequest, rt replyTo) {
	if err := api.CheckName(m.Group); err != nil {
		rt.send(ctx, status(api.CodeOf(err)))
		return
	}
	switch {
	case a.finalized:
		rt.send(ctx, status(api.CodeBadHandle))
		return
	case a.joinPending, a.group != nil && a.leaving:
		// A join in flight, or the previous membership still ending:
		// Corosync answers BUSY and its library spins; we let the caller retry.
		a.node.metrics.tryAgain.Add(1)
		rt.send(ctx, status(api.CodeTryAgain))
		return
	case a.group != nil:
		rt.send(ctx, status(api.CodeExist))
		return
	}
	a.joinPending = true
	name := slices.Clone(m.Group)
	f := ctx.RequestFuture(a.nodePID, &wire.JoinGroup{
		Group: name, HandleId: uint64(a.id), Pid: a.pid, HandleActor: apiPid(ctx.Self()),
	}, a.node.cfg.RequestTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		a.joinPending = false
		r, ok := res.(*wire.JoinResult)
		if err != nil || !ok {
			a.node.log.Error().Err(err).Msg("handle: join routing failed")
			rt.send(ctx, status(api.CodeLibrary))
			if a.finalized {
				ctx.Stop(ctx.Self())
			}
			return
		}
		code := api.Code(r.Code)
		if code == api.CodeTryAgain {
			a.node.metrics.tryAgain.Add(1)
		}
		if code == api.CodeOK {
			a.group, a.groupName, a.leaving = pidOf(r.GroupActor), name, false
			a.epoch++
			a.initialSent = false
		}
		if a.finalized { // finalized while the join was routed
			a.dropMembership(ctx)
			if code == api.CodeOK {
				code = api.CodeBadHandle
			}
		}
		st := &api.Status{Code: int32(code), Epoch: a.epoch}
		if code == api.CodeOK && a.sess == nil {
			st.GroupActor = r.GroupActor // public: an embedded application may watch it
		}
		rt.send(ctx, st)
		if a.finalized {
			ctx.Stop(ctx.Self())
		}
	})
}

func (a *handleActor) leave(ctx actor.Context, m *api.LeaveRequest, rt replyTo) {
	if len(m.Group) > api.MaxNameLength {
		rt.send(ctx, status(api.CodeNameTooLong))
		return
	}
	switch {
	case a.finalized:
		rt.send(ctx, status(api.CodeBadHandle))
	case a.joinPending:
		a.node.metrics.tryAgain.Add(1)
		rt.send(ctx, status(api.CodeTryAgain))
	case a.group == nil || a.leaving || !bytes.Equal(m.Group, a.groupName):
		// Not in that group. Corosync trusts the name and corrupts the
		// membership (CPG-SPEC 8.2); we check it.
		rt.send(ctx, status(api.CodeNotExist))
	default:
		// Sent behind the handle's earlier multicasts, which stay ahead of
		// it in the agreed order. During a view change the node keeps it
		// for the new view.
		a.leaving = true
		ctx.Send(a.group, &wire.LeaveGroup{HandleId: uint64(a.id), Reason: uint32(api.ReasonLeave)})
		rt.send(ctx, status(api.CodeOK))
	}
}

func (a *handleActor) mcast(ctx actor.Context, msgs []*api.McastRequest) {
	whole := msgs
	var rejected uint32
	if a.partial != nil || hasParts(msgs) {
		whole, rejected = a.reassemble(msgs)
	}
	ok := a.group != nil && !a.leaving && !a.finalized
	var valid []*api.McastRequest // nil until a message is refused
	var rejectedBytes, validBytes uint64
	for i, r := range whole {
		if ok && uint64(len(r.Data)) <= a.node.cfg.MaxMessageSize && api.Guarantee(r.Guarantee).Valid() {
			validBytes += uint64(len(r.Data))
			if valid != nil {
				valid = append(valid, r)
			}
			continue
		}
		if valid == nil {
			valid = append(make([]*api.McastRequest, 0, len(whole)), whole[:i]...)
		}
		rejected++
		rejectedBytes += uint64(len(r.Data))
	}
	if valid == nil {
		valid = whole
	}
	if len(valid) > 0 {
		ctx.Send(a.group, &wire.HandleMcast{HandleId: uint64(a.id), Msgs: valid})
		a.node.metrics.mcastMsgs.Add(uint64(len(valid)))
		a.node.metrics.mcastBytes.Add(validBytes)
	}
	if rejected > 0 {
		a.node.metrics.rejected.Add(uint64(rejected))
		a.control(ctx, &api.Control{Rejected: rejected, RejectedBytes: rejectedBytes})
	}
}

func hasParts(msgs []*api.McastRequest) bool {
	for _, r := range msgs {
		if r.More || r.TotalLength > 0 {
			return true
		}
	}
	return false
}

// reassemble joins multicast parts into whole messages and counts the
// whole messages it refuses (larger than MaxMessageSize). A new first part
// drops an unfinished one (as libcpg does on FIRST); a part with no message
// started is dropped.
func (a *handleActor) reassemble(msgs []*api.McastRequest) (out []*api.McastRequest, tooBig uint32) {
	out = make([]*api.McastRequest, 0, len(msgs))
	for _, r := range msgs {
		switch {
		case r.TotalLength > 0:
			a.partial = &partialMcast{guarantee: r.Guarantee, total: r.TotalLength}
			if r.TotalLength <= a.node.cfg.MaxMessageSize {
				a.partial.data = make([]byte, 0, r.TotalLength)
				a.partial.data = append(a.partial.data, r.Data...)
			}
		case a.partial != nil:
			if a.partial.data != nil && uint64(len(a.partial.data)+len(r.Data)) <= a.partial.total {
				a.partial.data = append(a.partial.data, r.Data...)
			}
		default:
			if !r.More {
				out = append(out, r)
			}
			continue
		}
		if r.More {
			continue
		}
		p := a.partial
		a.partial = nil
		switch {
		case p.data == nil:
			tooBig++
		case uint64(len(p.data)) == p.total:
			out = append(out, &api.McastRequest{Guarantee: p.guarantee, Data: p.data})
		}
	}
	return out, tooBig
}

// enqueue adds events for the client, and after the first confchg of a
// membership the initial totem confchg when the model flags ask for it.
func (a *handleActor) enqueue(ctx actor.Context, events []*api.Event) {
	if a.finalized {
		return
	}
	before := a.queuedBytes
	for _, ev := range events {
		a.push(ev)
		if ev.Confchg != nil && !a.initialSent && a.flags&api.ModelV1DeliverInitialTotemConf != 0 {
			a.initialSent = true
			a.push(&api.Event{TotemConfchg: a.node.View()})
		}
		if d := ev.Deliver; d != nil && d.Pid == a.pid && d.Nodeid == a.node.cfg.NodeID && len(d.Data) > int(a.node.cfg.MaxAtomicMsgsize) {
			// The handle's own large message is in the agreed order: its
			// sender may stop waiting.
			a.control(ctx, &api.Control{LargeDone: 1})
		}
	}
	a.node.metrics.queueBytes.Add(int64(a.queuedBytes - before)) // once per batch; pump takes its part off
	a.pump(ctx)
}

func (a *handleActor) push(ev *api.Event) {
	a.queue = append(a.queue, ev)
	a.queuedBytes += uint64(api.EventSize(ev))
}

func (a *handleActor) credit(ctx actor.Context, m *api.Credit) {
	a.outEvents -= min(a.outEvents, m.Events)
	a.outBytes -= min(a.outBytes, m.Bytes)
	a.creditGen++
	a.pump(ctx)
}

// pump sends queued events to the client while its credit window has room.
// At least one event is always in flight, so a message larger than the
// window still moves. Every client is windowed, the actor face too: its
// client library returns credit once the receiving actor has processed the
// events (api/cpg/receiver.go), so a slow receiver holds its backlog here,
// under the queue bounds, and not in its mailbox.
func (a *handleActor) pump(ctx actor.Context) {
	cfg := &a.node.cfg
	for a.qhead < len(a.queue) {
		if a.outEvents > 0 && (a.outEvents >= cfg.CreditEvents || a.outBytes >= cfg.CreditBytes) {
			break
		}
		batch := &api.EventBatch{Handle: a.clientHandle}
		var batchBytes, delivMsgs, delivBytes uint64
		for a.qhead < len(a.queue) {
			if a.outEvents > 0 && (a.outEvents >= cfg.CreditEvents || a.outBytes >= cfg.CreditBytes) {
				break
			}
			if a.sess != nil && batchBytes > 0 && batchBytes >= uint64(cfg.LinkFragment) {
				break // a session frame stays within frameBound
			}
			ev := a.queue[a.qhead]
			a.queue[a.qhead] = nil
			a.qhead++
			size := uint64(api.EventSize(ev))
			a.queuedBytes -= size
			if d := ev.Deliver; d != nil {
				delivMsgs++
				delivBytes += uint64(len(d.Data))
			}
			batch.Events = append(batch.Events, ev)
			batchBytes += size
			a.outEvents++
			a.outBytes += size
		}
		if len(batch.Events) > 0 {
			m := &a.node.metrics
			m.queueBytes.Add(-int64(batchBytes))
			if delivMsgs > 0 {
				m.delivMsgs.Add(delivMsgs)
				m.delivBytes.Add(delivBytes)
			}
			a.toClient(ctx, batch)
		}
	}
	if a.qhead == len(a.queue) {
		a.queue, a.qhead = a.queue[:0], 0
	} else if a.qhead > 1024 && a.qhead > len(a.queue)/2 {
		a.queue = append(a.queue[:0], a.queue[a.qhead:]...)
		a.qhead = 0
	}
	a.checkQueue(ctx)
}

// checkQueue applies the receive-queue bounds: flow control above the
// high-water mark, eviction above the limit.
func (a *handleActor) checkQueue(ctx actor.Context) {
	cfg := &a.node.cfg
	level := a.queuedBytes + a.outBytes
	switch {
	case level > cfg.QueueLimitBytes:
		a.evict(ctx, "receive queue above its limit")
	case level > cfg.QueueHighBytes:
		a.setCongested(ctx, true)
	case level < cfg.QueueHighBytes/2:
		a.setCongested(ctx, false)
	}
}

func (a *handleActor) setCongested(ctx actor.Context, on bool) {
	if on == a.congested {
		return
	}
	a.congested = on
	if a.group != nil {
		ctx.Send(a.group, &wire.Congestion{HandleId: uint64(a.id), Congested: on})
	}
	if on {
		a.armStallCheck(ctx)
	}
}

func (a *handleActor) armStallCheck(ctx actor.Context) {
	scheduler.NewTimerScheduler(ctx).SendOnce(a.node.cfg.StallTimeout, ctx.Self(), &wire.Tick{Gen: a.creditGen})
}

func (a *handleActor) stallCheck(ctx actor.Context, gen uint64) {
	if !a.congested || a.finalized {
		return
	}
	if gen == a.creditGen {
		a.evict(ctx, "no dispatch while congested")
		return
	}
	a.armStallCheck(ctx)
}

// evict removes a member that fell too far behind from its group with
// reason PROCDOWN. The handle stays valid: it receives its queued events,
// then the confchg that removes it, and may join again.
func (a *handleActor) evict(ctx actor.Context, why string) {
	if a.group == nil || a.leaving || a.finalized {
		return
	}
	a.node.log.Warn().Uint64("handle", uint64(a.id)).Uint32("pid", a.pid).Str("why", why).Msg("evicting member")
	a.node.metrics.evictions.Add(1)
	a.leaving = true
	ctx.Send(a.group, &wire.LeaveGroup{HandleId: uint64(a.id), Reason: uint32(api.ReasonProcDown)})
}

func (a *handleActor) control(ctx actor.Context, c *api.Control) {
	c.Handle = a.clientHandle
	a.toClient(ctx, c)
}

// toClient sends an event batch or a control message to the handle's
// client: on its session (in order, payloads copied once), or as an
// actor message in-process. The session's bound on what it queues holds
// whatever the client does; the credit window bounds each handle within
// it (pump).
func (a *handleActor) toClient(ctx actor.Context, m proto.Message) {
	if a.sess != nil {
		a.sess.send(a.clientHandle, m)
		return
	}
	ctx.Send(a.client, m)
}

func (a *handleActor) finalize(ctx actor.Context, rt replyTo) {
	if a.finalized {
		rt.send(ctx, status(api.CodeBadHandle))
		return
	}
	a.finalized = true
	a.dropMembership(ctx)
	rt.send(ctx, status(api.CodeOK))
	if rt.none() {
		// The node finalized it (its client went silent): should the
		// client still be there, it learns that the handle is gone.
		a.control(ctx, &api.Control{Closed: true})
	}
	if !a.joinPending {
		ctx.Stop(ctx.Self())
	}
	// else: the join's continuation drops the membership it created and
	// stops the actor; stopping now would leave a ghost member.
}

// dropMembership tells the group the handle is gone: the other members see
// PROCDOWN unless its leave is already in flight.
func (a *handleActor) dropMembership(ctx actor.Context) {
	if a.group != nil {
		ctx.Send(a.group, &wire.LeaveGroup{HandleId: uint64(a.id), Reason: uint32(api.ReasonProcDown), Gone: true})
		a.group = nil
	}
	a.node.metrics.queueBytes.Add(-int64(a.queuedBytes))
	a.queue, a.qhead, a.queuedBytes = nil, 0, 0
}

// withoutNil drops nil entries that an in-process sender may put in a batch.
func withoutNil(msgs []*api.McastRequest) []*api.McastRequest {
	for i, r := range msgs {
		if r == nil {
			out := append([]*api.McastRequest(nil), msgs[:i]...)
			for _, r := range msgs[i+1:] {
				if r != nil {
					out = append(out, r)
				}
			}
			return out
		}
	}
	return msgs
}
