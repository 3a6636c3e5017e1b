package actors

import (
	"encoding/hex"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/groups"
)

// firstAssignedPid is the first pid a node assigns to a handle that did not
// choose one: above Linux's largest pid_max (4194304), so assigned pids never
// collide with real process ids chosen by other handles.
const firstAssignedPid = 1<<22 + 1

type handleRef struct {
	pid    *actor.PID
	client string // the client's actor-system address
}

type groupRef struct {
	actor *actor.PID
	seq   *actor.PID
}

// clientLease tracks an attached client process.
type clientLease struct {
	lastSeen time.Time
	handles  map[groups.HandleID]bool
}

// nodeActor is the root of a node: it creates handles, routes joins to the
// group actors (creating them), keeps the member-list mirror that
// membership_get and iteration read, and finalizes the handles of attached
// clients that die or go silent.
type nodeActor struct {
	node *Node
	log  zerolog.Logger

	nextHandle groups.HandleID
	nextPid    uint32
	handles    map[groups.HandleID]*handleRef
	byActor    map[string]groups.HandleID
	groups     map[string]*groupRef
	members    map[string][]*api.Address
	clients    map[string]*clientLease
	stopTicker scheduler.CancelFunc
}

func newNodeActor(n *Node) *nodeActor {
	return &nodeActor{
		node:    n,
		log:     n.log.With().Str("actor", "node").Logger(),
		nextPid: firstAssignedPid,
		handles: make(map[groups.HandleID]*handleRef),
		byActor: make(map[string]groups.HandleID),
		groups:  make(map[string]*groupRef),
		members: make(map[string][]*api.Address),
		clients: make(map[string]*clientLease),
	}
}

// Receive implements actor.Actor.
func (a *nodeActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		every := a.node.cfg.ClientHeartbeat
		a.stopTicker = scheduler.NewTimerScheduler(ctx).SendRepeatedly(every, every, ctx.Self(), &wire.Tick{})
	case *actor.Stopping:
		if a.stopTicker != nil {
			a.stopTicker()
		}
	case *actor.Stopped, *actor.Restarting:
	case *api.InitRequest:
		a.initHandle(ctx, m)
	case *wire.JoinGroup:
		a.routeJoin(ctx, m)
	case *wire.GroupMembers:
		a.setMembers(m)
	case *api.MembershipRequest:
		a.membership(ctx, m)
	case *api.IterationRequest:
		a.iterate(ctx, m)
	case *api.LocalGetRequest:
		ctx.Respond(&api.LocalGetReply{Code: int32(api.CodeOK), Nodeid: a.node.cfg.NodeID})
	case *api.Heartbeat:
		a.heartbeat(ctx, m)
	case *wire.Tick:
		a.expireClients(ctx)
	case *actor.Terminated:
		a.terminated(ctx, m)
	default:
		a.log.Warn().Str("type", typeName(m)).Msg("unexpected message dropped")
	}
}

func (a *nodeActor) initHandle(ctx actor.Context, m *api.InitRequest) {
	client := pidOf(m.Client)
	if client == nil || m.Flags&^api.ModelV1DeliverInitialTotemConf != 0 {
		ctx.Respond(&api.InitReply{Code: int32(api.CodeInvalidParam)})
		return
	}
	a.nextHandle++
	id := a.nextHandle
	pid := m.Pid
	if pid == 0 {
		pid = a.nextPid
		a.nextPid++
		if a.nextPid == 0 {
			a.nextPid = firstAssignedPid
		}
	}
	cfg := &a.node.cfg
	remoteClient := client.Address != ctx.Self().Address
	h := &handleActor{
		node:         a.node,
		nodePID:      ctx.Self(),
		id:           id,
		pid:          pid,
		flags:        m.Flags,
		client:       client,
		clientHandle: m.Handle,
		autoCredit:   m.AutoCredit,
		remoteClient: remoteClient,
	}
	hpid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return h }), "h-"+itoa(uint64(id)))
	if err != nil {
		a.log.Error().Err(err).Msg("spawn handle actor")
		ctx.Respond(&api.InitReply{Code: int32(api.CodeNoResources)})
		return
	}
	a.handles[id] = &handleRef{pid: hpid, client: client.Address}
	a.byActor[hpid.Id] = id
	if remoteClient {
		l, ok := a.clients[client.Address]
		if !ok {
			l = &clientLease{handles: make(map[groups.HandleID]bool)}
			a.clients[client.Address] = l
			ctx.Watch(client)
		}
		l.lastSeen = time.Now()
		l.handles[id] = true
	}
	ctx.Respond(&api.InitReply{
		Code:            int32(api.CodeOK),
		HandleActor:     apiPid(hpid),
		Nodeid:          cfg.NodeID,
		Pid:             pid,
		MaxAtomic:       cfg.MaxAtomicMsgsize,
		MaxMessage:      cfg.MaxMessageSize,
		SendWindow:      cfg.SendWindow,
		SendWindowBytes: cfg.SendWindowBytes,
		CreditEvents:    cfg.CreditEvents,
		CreditBytes:     cfg.CreditBytes,
		LinkFragment:    cfg.LinkFragment,
		HeartbeatMs:     uint32(cfg.ClientHeartbeat.Milliseconds()),
	})
}

// routeJoin hands a join to its group actor, creating the group's actors on
// first use. The group actor answers the original requester.
func (a *nodeActor) routeJoin(ctx actor.Context, m *wire.JoinGroup) {
	if err := api.CheckName(m.Group); err != nil {
		ctx.Respond(&wire.JoinResult{Code: int32(api.CodeOf(err))})
		return
	}
	key := string(m.Group)
	ref, ok := a.groups[key]
	if !ok {
		var err error
		ref, err = a.spawnGroup(ctx, m.Group)
		if err != nil {
			a.log.Error().Err(err).Msg("spawn group actors")
			ctx.Respond(&wire.JoinResult{Code: int32(api.CodeNoResources)})
			return
		}
		a.groups[key] = ref
	}
	ctx.Forward(ref.actor)
}

func (a *nodeActor) spawnGroup(ctx actor.Context, name []byte) (*groupRef, error) {
	suffix := hex.EncodeToString(name)
	groupPID := actor.NewPID(ctx.Self().Address, ctx.Self().Id+"/g-"+suffix)
	seqProps := actor.PropsFromProducer(func() actor.Actor {
		return newSequencerActor(a.node, name, []*actor.PID{groupPID})
	})
	seq, err := ctx.SpawnNamed(seqProps, "s-"+suffix)
	if err != nil {
		return nil, err
	}
	gProps := actor.PropsFromProducer(func() actor.Actor {
		return newGroupActor(a.node, name, ctx.Self(), seq)
	})
	g, err := ctx.SpawnNamed(gProps, "g-"+suffix)
	if err != nil {
		ctx.Stop(seq)
		return nil, err
	}
	return &groupRef{actor: g, seq: seq}, nil
}

func (a *nodeActor) setMembers(m *wire.GroupMembers) {
	if len(m.Members) == 0 {
		delete(a.members, string(m.Group))
		return
	}
	a.members[string(m.Group)] = m.Members
}

func (a *nodeActor) membership(ctx actor.Context, m *api.MembershipRequest) {
	if len(m.Group) > api.MaxNameLength {
		ctx.Respond(&api.MembershipReply{Code: int32(api.CodeNameTooLong)})
		return
	}
	ctx.Respond(&api.MembershipReply{Code: int32(api.CodeOK), Members: a.members[string(m.Group)]})
}

func (a *nodeActor) iterate(ctx actor.Context, m *api.IterationRequest) {
	t := api.IterationType(m.Type)
	switch {
	case len(m.Group) > api.MaxNameLength:
		ctx.Respond(&api.IterationReply{Code: int32(api.CodeNameTooLong)})
		return
	case t == api.IterationOneGroup && len(m.Group) == 0,
		(t == api.IterationAll || t == api.IterationNameOnly) && len(m.Group) != 0,
		t < api.IterationNameOnly || t > api.IterationAll:
		ctx.Respond(&api.IterationReply{Code: int32(api.CodeInvalidParam)})
		return
	}
	names := make([]string, 0, len(a.members))
	for k := range a.members {
		if t == api.IterationOneGroup && k != string(m.Group) {
			continue
		}
		names = append(names, k)
	}
	slices.SortFunc(names, func(x, y string) int { return api.CompareNames([]byte(x), []byte(y)) })
	var out []*api.IterationEntry
	for _, k := range names {
		if t == api.IterationNameOnly {
			out = append(out, &api.IterationEntry{Group: []byte(k)})
			continue
		}
		for _, addr := range a.members[k] {
			out = append(out, &api.IterationEntry{Group: []byte(k), Nodeid: addr.Nodeid, Pid: addr.Pid})
		}
	}
	ctx.Respond(&api.IterationReply{Code: int32(api.CodeOK), Entries: out})
}

func (a *nodeActor) heartbeat(ctx actor.Context, m *api.Heartbeat) {
	if c := pidOf(m.Client); c != nil {
		if l, ok := a.clients[c.Address]; ok {
			l.lastSeen = time.Now()
		}
	}
	if ctx.Sender() != nil {
		ctx.Respond(&api.HeartbeatAck{})
	}
}

// expireClients finalizes the handles of attached clients not heard from
// within ClientTimeout: the link dropped without closing.
func (a *nodeActor) expireClients(ctx actor.Context) {
	limit := a.node.cfg.ClientTimeout
	now := time.Now()
	for addr, l := range a.clients {
		if now.Sub(l.lastSeen) > limit {
			a.log.Info().Str("client", addr).Msg("client silent: finalizing its handles")
			a.dropClient(ctx, addr)
		}
	}
}

func (a *nodeActor) dropClient(ctx actor.Context, addr string) {
	l, ok := a.clients[addr]
	if !ok {
		return
	}
	delete(a.clients, addr)
	for id := range l.handles {
		if ref, ok := a.handles[id]; ok {
			ctx.Send(ref.pid, &api.FinalizeRequest{}) // no sender: no reply
		}
	}
}

func (a *nodeActor) terminated(ctx actor.Context, m *actor.Terminated) {
	if id, ok := a.byActor[m.Who.Id]; ok && m.Who.Address == ctx.Self().Address {
		delete(a.byActor, m.Who.Id)
		if ref, ok := a.handles[id]; ok {
			if l, ok := a.clients[ref.client]; ok {
				delete(l.handles, id)
			}
			delete(a.handles, id)
		}
		return
	}
	if _, ok := a.clients[m.Who.Address]; ok {
		a.log.Info().Str("client", m.Who.Address).Str("why", m.Why.String()).Msg("client gone: finalizing its handles")
		a.dropClient(ctx, m.Who.Address)
	}
}
