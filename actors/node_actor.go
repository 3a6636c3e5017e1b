package actors

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote"
)

// firstAssignedPid is the first pid a node assigns to a handle that did not
// choose one: above Linux's largest pid_max (4194304), so assigned pids never
// collide with real process ids chosen by other handles.
const firstAssignedPid = 1<<22 + 1

// groupRef is the node actor's record of a group actor: sent counts the
// messages it sent it that the group must take before it may be dropped
// (groupIn, groupJoin).
type groupRef struct {
	pid  *actor.PID
	sent uint64
}

type handleRef struct {
	pid          *actor.PID
	sess         *session // the session that created it; nil in-process
	clientHandle uint64
}

// clientLease tracks an attached client process: one session.
type clientLease struct {
	lastSeen time.Duration // on the node's awake clock (nodeActor.awake)
	handles  map[groups.HandleID]bool
}

// nodeActor is the root of a node. It hosts the node's cluster.Host (the
// view machine and the node-level duties) and a group actor per group
// (group_actor.go), each hosting the group's machine: it feeds the host
// the other nodes' messages and the clock, routes the group messages the
// host lets through to their group actors (spawning them), takes the
// groups' answers and acks, and carries out the host's Ready (view
// messages to nodes, the totem confchg to handles). It also creates
// handles, routes their joins, answers membership_get and iteration from
// the groups' member lists, and finalizes the handles of attached clients
// that die or go silent.
type nodeActor struct {
	node *Node
	log  zerolog.Logger
	host *cluster.Host

	groups    map[string]*groupRef
	nextGroup uint64

	nextHandle groups.HandleID
	nextPid    uint32
	handles    map[groups.HandleID]*handleRef
	byActor    map[string]groups.HandleID
	clients    map[*session]*clientLease
	peers      map[uint32]*actor.PID
	stopTicker func()
	lastLease  time.Time
	syncing    bool      // as last told the handles
	syncStart  time.Time // when the view change under way started (Metrics.ViewChange)

	// awake is the time the node was scheduled: it grows with each tick,
	// by at most a few tick periods, so that a stall of the process (a
	// long GC pause, SIGSTOP, swap) does not count as its clients'
	// silence.
	awake    time.Duration
	lastTick time.Time
}

func newNodeActor(n *Node) *nodeActor {
	a := &nodeActor{
		node:    n,
		log:     n.log.With().Str("actor", "node").Logger(),
		host:    cluster.NewHost(n.engineConfig()),
		groups:  make(map[string]*groupRef),
		nextPid: firstAssignedPid,
		handles: make(map[groups.HandleID]*handleRef),
		byActor: make(map[string]groups.HandleID),
		clients: make(map[*session]*clientLease),
		peers:   make(map[uint32]*actor.PID),
	}
	for _, na := range n.cfg.Nodes {
		if na.NodeID != n.cfg.NodeID {
			a.peers[na.NodeID] = actor.NewPID(na.Addr, RootName)
		}
	}
	return a
}

// peerMessage is a message from another node; From names it.
type peerMessage interface {
	GetFrom() uint32
}

// panicHook, set by tests only, makes the node and handle actors panic
// on the messages it reports: the way to test supervision (supervise.go).
var panicHook atomic.Pointer[func(who string, m any) bool]

// panicking reports whether the test hook wants who to panic on m.
func panicking(who string, m any) bool {
	h := panicHook.Load()
	return h != nil && (*h)(who, m)
}

// Receive implements actor.Actor.
func (a *nodeActor) Receive(ctx actor.Context) {
	if nilMessage(ctx.Message()) {
		return
	}
	if panicking("node", ctx.Message()) {
		panic("test panic in the node actor")
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stopTicker = startTicker(ctx.ActorSystem(), ctx.Self(), a.node.tickEvery())
		a.tick(ctx)
		a.publishRoute()
	case *actor.Stopping:
		if a.stopTicker != nil {
			a.stopTicker()
		}
	case *actor.Stopped, *actor.Restarting:
	case *api.InitRequest:
		a.initHandle(ctx, m)
	case *sessionInit:
		a.initSession(ctx, m)
	case *sessionCall:
		a.sessionCall(m)
	case *sessionClosed:
		a.dropSession(ctx, m.sess, "client session closed")
	case *wire.JoinGroup:
		a.join(ctx, m)
	case *wire.LeaveGroup:
		if m.Gone {
			// A handle actor that stopped without saying it (a panic):
			// its group, whichever it is, hears it is gone.
			for _, g := range a.groups {
				g.sent++
				ctx.Send(g.pid, &groupIn{msg: cluster.GoneReq{Handle: groups.HandleID(m.HandleId)}})
			}
		} else {
			reply(ctx, status(api.CodeNotExist)) // leaves go to the group actor
		}
	case *groupDrained:
		a.drained(ctx, m)
	case *groupAnswer:
		a.answered(ctx, m)
	case *groupAcks:
		a.host.AddAcks(m.acks)
		a.host.SendAcks()
	case *wire.LinkControl:
		if !a.node.cfg.TestLinkControl {
			a.log.Warn().Msg("link control refused: the node was not started for fault tests")
			reply(ctx, status(api.CodeAccess))
			return
		}
		a.log.Info().Interface("blocked", m.Blocked).Msg("link control")
		a.node.SetBlocked(m.Blocked...)
		reply(ctx, status(api.CodeOK))
	case peerMessage:
		from := m.GetFrom()
		if a.node.blocked(from) {
			return
		}
		if e := a.log.Debug(); e.Enabled() && isViewMessage(m) {
			e.Uint32("from", from).Str("type", typeName(m)).Msg("view message in")
		}
		a.stepPeer(ctx, from, m.(proto.Message))
	case *api.MembershipRequest:
		reply(ctx, a.membership(m))
	case *api.IterationRequest:
		reply(ctx, a.iterate(m))
	case *api.LocalGetRequest:
		reply(ctx, a.localGet())
	case *wire.Tick:
		now := time.Now()
		a.advanceAwake(now)
		a.tick(ctx)
		if now.Sub(a.lastLease) >= a.node.cfg.ClientHeartbeat {
			a.lastLease = now
			a.expireClients(ctx)
		}
	case *actor.Terminated:
		a.terminated(ctx, m)
	default:
		unexpected.Drop(a.log, "unexpected messages dropped", typeName(m))
		return
	}
	a.carryOut(ctx)
}

// installView records a new view and sends its totem confchg to every
// local handle, at its place among the Ready's deliveries.
func (a *nodeActor) installView(ctx actor.Context, t *api.TotemConfchg) {
	a.node.setView(t)
	a.node.metrics.views.Add(1)
	if !a.syncStart.IsZero() {
		a.node.metrics.observeViewChange(time.Since(a.syncStart))
		a.syncStart = time.Time{}
	}
	a.log.Info().Uint32("ring_node", t.RingId.Nodeid).Uint64("ring_seq", t.RingId.Seq).
		Interface("members", t.Members).Msg("view installed")
	for _, ref := range a.handles {
		ctx.Send(ref.pid, t)
	}
}

// tick gives the host and every group the time.
func (a *nodeActor) tick(ctx actor.Context) {
	now := a.node.clock()
	a.host.Tick(now)
	a.pump(ctx)
	for _, g := range a.groups {
		ctx.Send(g.pid, &groupTick{now: now})
	}
	a.host.SendAcks()
}

// join routes a local handle's join to its group actor (spawned if need
// be), which answers the handle.
func (a *nodeActor) join(ctx actor.Context, m *wire.JoinGroup) {
	if err := api.CheckName(m.Group); err != nil {
		reply(ctx, &wire.JoinResult{Code: int32(api.CodeOf(err))})
		return
	}
	if a.host.Syncing() {
		reply(ctx, &wire.JoinResult{Code: int32(api.CodeTryAgain)})
		return
	}
	ref, ok := a.handles[groups.HandleID(m.HandleId)]
	if !ok {
		reply(ctx, &wire.JoinResult{Code: int32(api.CodeBadHandle)})
		return
	}
	g := a.group(ctx, m.Group)
	if g == nil {
		reply(ctx, &wire.JoinResult{Code: int32(api.CodeNoResources)})
		return
	}
	g.sent++
	ctx.Send(g.pid, &groupJoin{req: m, handle: ref.pid, replyTo: ctx.Sender()})
}

// group returns the actor of the group named name, spawning it (and
// opening the group in the host) if there is none; nil if it could not
// be spawned.
func (a *nodeActor) group(ctx actor.Context, name []byte) *groupRef {
	if g, ok := a.groups[string(name)]; ok {
		return g
	}
	cfg := a.host.Open(name)
	ga := &groupActor{
		node:    a.node,
		nodePID: ctx.Self(),
		name:    slices.Clone(name),
		gm:      cluster.NewGroupMachine(cfg),
		handles: make(map[groups.HandleID]*actor.PID),
		stats:   a.node.groupStats.countersFor(name),
		// Spawned during a view change (by its Install): it waits for the
		// totem confchg like the others.
		held: a.host.Syncing(),
	}
	a.nextGroup++
	// A panic in its sequencer actor (its child) stops the node, as its own.
	props := actor.PropsFromProducer(func() actor.Actor { return ga }, actor.WithSupervisor(a.node.stopOnPanic()),
		actor.WithDispatcher(a.node.dispatcher))
	pid, err := ctx.SpawnNamed(props, "g-"+itoa(a.nextGroup))
	if err != nil {
		// Not expected (the names are the node's own): the host closes the
		// group again, which the view machine forgets at its next install.
		a.log.Error().Err(err).Msg("spawn group actor")
		a.host.Close(name, 0)
		return nil
	}
	g := &groupRef{pid: pid}
	a.groups[string(name)] = g
	a.node.setGroupActor(name, pid)
	return g
}

// route sends the host's routes to their group actors, in order.
func (a *nodeActor) route(ctx actor.Context, routes []cluster.GroupRoute) {
	for _, r := range routes {
		var g *groupRef
		if r.IfOpen {
			g = a.groups[string(r.Group)]
		} else {
			g = a.group(ctx, r.Group)
		}
		if g != nil {
			g.sent++
			ctx.Send(g.pid, &groupIn{msg: r.Msg})
		}
	}
}

// pump sends the view machine's messages to the group actors, and carries
// out the host's output.
func (a *nodeActor) pump(ctx actor.Context) {
	for _, m := range a.host.TakeView(0) {
		if g := a.group(ctx, m.Group); g != nil {
			g.sent++
			ctx.Send(g.pid, &groupIn{msg: m.Msg})
		}
	}
	a.carryOut(ctx)
}

// answered takes a group's answer to the view machine. An idle group's
// actor is stopped, unless the node sent it something since (then the
// machine, which took it, goes on as the group's).
func (a *nodeActor) answered(ctx actor.Context, m *groupAnswer) {
	a.host.StepLocal(m.msg)
	if in, ok := m.msg.(cluster.Installed); ok && in.Idle {
		if g, ok := a.groups[string(m.name)]; ok {
			if g.sent == m.got {
				a.host.Close(m.name, in.LastMsgID)
				delete(a.groups, string(m.name))
				a.node.setGroupActor(m.name, nil)
				a.node.setGroupSequencer(m.name, 0)
				a.node.setGroupMembers(m.name, nil)
				ctx.Stop(g.pid)
			} else {
				a.host.Open(m.name)
			}
		}
	}
	a.pump(ctx)
}

// drained stops the actor of a drained group (cluster.Drained), if the
// host agrees (no view change is under way) and nothing the node sent is
// still on its way to it. A later message of the group starts a new one,
// resumed where this one ended.
func (a *nodeActor) drained(ctx actor.Context, m *groupDrained) {
	// The news must be the current actor's: a group actor reports drained
	// at every tick while it is, and a later actor of the group (started
	// by a join or a peer's message after the stop) may have taken as
	// many of the node's messages as the stopped one had.
	g, ok := a.groups[string(m.d.Group)]
	if !ok || !g.pid.Equal(m.from) || g.sent != m.got || !a.host.Drop(m.d) {
		return
	}
	a.node.setGroupActor(m.d.Group, nil)
	a.node.setGroupSequencer(m.d.Group, 0)
	delete(a.groups, string(m.d.Group))
	a.node.setGroupMembers(m.d.Group, nil)
	ctx.Stop(g.pid)
}

// carryOut performs the host's Ready in its documented order: after a new
// view's totem confchg, the groups go on (resume), and the messages of the
// view that came before it reach them.
func (a *nodeActor) carryOut(ctx actor.Context) {
	if !a.host.HasReady() {
		return
	}
	rd := a.host.Ready()
	a.host.Advance()
	if rd.PersistSeq != 0 {
		if err := writeRingSeq(a.node.cfg.StateDir, a.node.cfg.NodeID, rd.PersistSeq); err != nil {
			a.log.Error().Err(err).Msg("persist ring seq")
		}
	}
	var last proto.Message
	var frame *remote.Frame
	for _, o := range rd.Messages {
		if e := a.log.Debug(); e.Enabled() && isViewMessage(o.Msg) {
			e.Uint32("to", o.To).Str("type", typeName(o.Msg)).Msg("view message out")
		}
		if _, ok := a.peers[o.To]; !ok || a.node.blocked(o.To) || a.node.peers == nil {
			continue
		}
		if o.Msg != last { // the same message to many nodes is marshaled once
			last, frame = o.Msg, remote.NewFrame(o.Msg)
		}
		if frame != nil { // every peer message travels on links
			a.node.peers.Send(o.To, frame)
		}
	}
	if rd.Totem != nil {
		a.installView(ctx, rd.Totem)
	}
	// Syncing lasts from the proposal accepted to the totem confchg of the
	// view installed (the groups install it in between).
	if syncing := a.host.Syncing(); syncing != a.syncing {
		a.syncing = syncing
		if syncing {
			a.syncStart = time.Now()
			a.log.Info().Msg("view change started")
		}
		fc := &wire.FlowControl{Syncing: true, Enabled: syncing}
		for _, ref := range a.handles {
			ctx.Send(ref.pid, fc)
		}
		if !syncing {
			// The totem confchg is out: the groups go on, with the messages
			// of the view that came before its install, then those that
			// came while the groups installed it.
			for _, g := range a.groups {
				ctx.Send(g.pid, &groupResume{})
			}
			a.route(ctx, a.host.Replay())
			for _, pm := range a.host.TakeHeld() {
				a.stepPeer(ctx, pm.From, pm.Msg)
			}
		}
	}
	a.publishRoute()
}

// publishRoute tells the links (Node.fromPeer) the view in which they
// may hand group messages straight to the group actors: the installed
// one, once its totem confchg is out; none while a view change is under
// way (the host must see those messages, to keep them for the install or
// drop them).
func (a *nodeActor) publishRoute() {
	cur := a.node.route.Load()
	if a.host.Syncing() {
		if cur != nil {
			a.node.route.Store(nil)
		}
		return
	}
	ring := a.host.Ring()
	if cur != nil && cur.ring.GetNodeid() == ring.GetNodeid() && cur.ring.GetSeq() == ring.GetSeq() {
		return
	}
	a.node.route.Store(&peerRoute{ring: ring, members: a.host.Members()})
}

// stepPeer takes a message of node from.
func (a *nodeActor) stepPeer(ctx actor.Context, from uint32, m proto.Message) {
	a.route(ctx, a.host.Step(from, m))
	a.pump(ctx)
	a.host.SendAcks()
}

// initHandle creates a handle for an in-process client: its events go to
// the client actor, which must be in this process.
func (a *nodeActor) initHandle(ctx actor.Context, m *api.InitRequest) {
	client := pidOf(m.Client)
	if client == nil {
		reply(ctx, &api.InitReply{Code: int32(api.CodeInvalidParam)})
		return
	}
	if client.Address != ctx.Self().Address || ctx.Sender() != nil && ctx.Sender().Address != ctx.Self().Address {
		// Remote clients open a session (remote/session.go); remoting
		// creates no handle.
		reply(ctx, &api.InitReply{Code: int32(api.CodeAccess)})
		return
	}
	r, _ := a.newHandle(ctx, m, client, nil, m.Handle)
	reply(ctx, r)
}

// initSession creates a handle bound to a session: its events go on the
// session, and only that session may name it.
func (a *nodeActor) initSession(ctx actor.Context, m *sessionInit) {
	r, pid := a.newHandle(ctx, m.req, nil, m.sess, m.handle)
	m.sess.bind(m.handle, pid)
	if pid != nil {
		l, ok := a.clients[m.sess]
		if !ok {
			l = &clientLease{handles: make(map[groups.HandleID]bool)}
			a.clients[m.sess] = l
		}
		l.lastSeen = a.awake
		l.handles[a.byActor[pid.Id]] = true
		r.HandleActor = nil // a session names its handles by its own ids
	}
	m.sess.reply(m.corr, r)
}

// newHandle spawns a handle actor for a client actor (in-process) or a
// session, and returns the InitReply and the actor (nil if refused).
func (a *nodeActor) newHandle(ctx actor.Context, m *api.InitRequest, client *actor.PID, sess *session, clientHandle uint64) (*api.InitReply, *actor.PID) {
	// A chosen pid (cpg.WithPid: a real process id) must stay below the
	// pids the node assigns, or it could take one a later handle gets.
	if m.Flags&^api.ModelV1DeliverInitialTotemConf != 0 || m.Pid >= firstAssignedPid {
		return &api.InitReply{Code: int32(api.CodeInvalidParam)}, nil
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
	h := &handleActor{
		node:         a.node,
		nodePID:      ctx.Self(),
		id:           id,
		pid:          pid,
		flags:        m.Flags,
		client:       client,
		sess:         sess,
		clientHandle: clientHandle,
	}
	// The handle actor's name holds 128 random bits: its PID is a
	// capability that only an in-process client learns.
	hpid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return h }, actor.WithDispatcher(a.node.dispatcher)),
		"h-"+itoa(uint64(id))+"-"+randomName())
	if err != nil {
		a.log.Error().Err(err).Msg("spawn handle actor")
		return &api.InitReply{Code: int32(api.CodeNoResources)}, nil
	}
	a.handles[id] = &handleRef{pid: hpid, sess: sess, clientHandle: clientHandle}
	a.node.metrics.handles.Add(1)
	a.byActor[hpid.Id] = id
	return &api.InitReply{
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
		PatienceMs:      uint32(min(cfg.ClientPatience().Milliseconds(), 1<<31)),
	}, hpid
}

// sessionCall answers a session's request to the node.
func (a *nodeActor) sessionCall(m *sessionCall) {
	var r proto.Message
	switch q := m.msg.(type) {
	case *api.MembershipRequest:
		r = a.membership(q)
	case *api.IterationRequest:
		r = a.iterate(q)
	case *api.LocalGetRequest:
		r = a.localGet()
	case *api.Heartbeat:
		if l, ok := a.clients[m.sess]; ok {
			l.lastSeen = a.awake
		}
		r = &api.HeartbeatAck{}
	default:
		r = status(api.CodeInvalidParam)
	}
	m.sess.reply(m.corr, r)
}

func (a *nodeActor) localGet() *api.LocalGetReply {
	v := a.node.View()
	return &api.LocalGetReply{Code: int32(api.CodeOK), Nodeid: a.node.cfg.NodeID, Ring: v.RingId, Members: v.Members}
}

func (a *nodeActor) membership(m *api.MembershipRequest) *api.MembershipReply {
	if len(m.Group) > api.MaxNameLength {
		return &api.MembershipReply{Code: int32(api.CodeNameTooLong)}
	}
	return &api.MembershipReply{Code: int32(api.CodeOK), Members: a.node.groupMembers(m.Group)}
}

func (a *nodeActor) iterate(m *api.IterationRequest) *api.IterationReply {
	t := api.IterationType(m.Type)
	switch {
	case len(m.Group) > api.MaxNameLength:
		return &api.IterationReply{Code: int32(api.CodeNameTooLong)}
	case t == api.IterationOneGroup && len(m.Group) == 0,
		(t == api.IterationAll || t == api.IterationNameOnly) && len(m.Group) != 0,
		t < api.IterationNameOnly || t > api.IterationAll:
		return &api.IterationReply{Code: int32(api.CodeInvalidParam)}
	}
	var out []*api.IterationEntry
	for _, name := range a.node.groupNames() {
		if t == api.IterationOneGroup && !bytes.Equal(name, m.Group) {
			continue
		}
		if t == api.IterationNameOnly {
			out = append(out, &api.IterationEntry{Group: name})
			continue
		}
		seq := a.node.groupSequencer(name)
		for _, addr := range a.node.groupMembers(name) {
			out = append(out, &api.IterationEntry{Group: name, Nodeid: addr.Nodeid, Pid: addr.Pid, Sequencer: seq})
		}
	}
	return &api.IterationReply{Code: int32(api.CodeOK), Entries: out}
}

// advanceAwake moves the awake clock to now. A tick that finds far more
// time gone than its period means the node was not scheduled (Corosync
// warns "not scheduled for N ms"): only a couple of periods count, since
// the node could not hear its clients meanwhile and their heartbeats wait
// in its mailbox.
func (a *nodeActor) advanceAwake(now time.Time) {
	if a.lastTick.IsZero() {
		a.lastTick = now
		return
	}
	gap := now.Sub(a.lastTick)
	a.lastTick = now
	every := a.node.tickEvery()
	if gap > 4*every+50*time.Millisecond {
		if gap > a.node.cfg.Token*4/5 {
			a.log.Warn().Dur("gap", gap).Msg("not scheduled: the node's process was stopped or starved; its clients keep their handles")
		}
		gap = 2 * every
	}
	a.awake += gap
}

// expireClients finalizes the handles of sessions not heard from within
// ClientTimeout of the node's awake time: their connection dropped
// without closing. A session on the client socket (this host) is kept
// while its connection is open: it closes when the process ends, however
// it ends.
func (a *nodeActor) expireClients(ctx actor.Context) {
	limit := a.node.cfg.ClientTimeout
	for s, l := range a.clients {
		if !s.local && a.awake-l.lastSeen > limit {
			a.dropSession(ctx, s, "client silent: finalizing its handles")
		}
	}
}

// dropSession closes a session and finalizes its handles (PROCDOWN to
// their groups), behind everything the session sent.
func (a *nodeActor) dropSession(ctx actor.Context, s *session, why string) {
	s.sc.Close()
	l, ok := a.clients[s]
	if !ok {
		return
	}
	delete(a.clients, s)
	a.log.Info().Str("client", s.id.String()).Int("handles", len(l.handles)).Msg(why)
	for id := range l.handles {
		if ref, ok := a.handles[id]; ok {
			ctx.Send(ref.pid, &api.FinalizeRequest{}) // no sender: no reply
		}
	}
}

func (a *nodeActor) terminated(ctx actor.Context, m *actor.Terminated) {
	if id, ok := a.byActor[m.Who.Id]; ok && m.Who.Address == ctx.Self().Address {
		// The handle actor's last messages (its leave, its multicasts) may
		// still be queued here; the PROCDOWN goes behind them.
		ctx.Send(ctx.Self(), &wire.LeaveGroup{HandleId: uint64(id), Reason: uint32(api.ReasonProcDown), Gone: true})
		delete(a.byActor, m.Who.Id)
		if ref, ok := a.handles[id]; ok {
			if ref.sess != nil {
				ref.sess.unbind(ref.clientHandle)
				if l, ok := a.clients[ref.sess]; ok {
					delete(l.handles, id)
				}
			}
			delete(a.handles, id)
			a.node.metrics.handles.Add(-1)
		}
	}
}

// isViewMessage reports whether m belongs to the view protocol (logged at
// debug level; heartbeats and data are not).
func isViewMessage(m any) bool {
	switch m.(type) {
	case *wire.ViewPropose, *wire.ViewReject, *wire.ViewState, *wire.ViewInstall:
		return true
	}
	return false
}

// startTicker sends self a wire.Tick every interval until the returned
// func is called. (protoactor's scheduler reads its cancel flag without
// synchronization, a data race the race detector reports when a node
// stops while a tick is due.)
func startTicker(sys *actor.ActorSystem, self *actor.PID, every time.Duration) func() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sys.Root.Send(self, &wire.Tick{})
			case <-stop:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}
