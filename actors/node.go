// Package actors is the actor shell of an actorcpg node: the node actor
// (root of one node, hosting the node's cluster.Host: the view, the checks
// and routing of other nodes' messages, links to the other nodes), a group
// actor per group on the node (hosting its cluster.GroupMachine: replica,
// log, sequencer) and the handle actor (one per CPG handle: its queue,
// credits and flow control toward its client). The protocol decisions live
// in the cluster package's state machines, the same the simulator drives
// through cluster.Engine; the actors only feed them events, carry their
// messages to each other and carry out their output.
package actors

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	premote "github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote"
	"github.com/actorcpg/actorcpg/remote/remoting"
)

// RootName is the name of the node actor on every node.
const RootName = "cpg"

// Node is one running actorcpg node: a protoactor ActorSystem with the node
// actor at its root.
type Node struct {
	cfg     remote.Config
	log     zerolog.Logger
	system  *actor.ActorSystem
	remote  *premote.Remote
	peers   remote.Transport // to the other nodes: links, or a MemNetwork
	memnet  *remote.MemNetwork
	sock    net.Listener // the client socket, if any
	addr    string
	root    *actor.PID
	rootPID *actor.PID // the node actor's PID, known before it is spawned (fromPeer)
	start   time.Time
	ringSeq uint64
	view    atomic.Pointer[api.TotemConfchg]
	block   atomic.Pointer[map[uint32]bool]
	// route and groupActors are what the links need to hand a group's
	// messages straight to its group actor (fromPeer): the installed view
	// while no view change is under way (nil during one), and the group
	// actors by group name. The node actor publishes both; each is
	// replaced whole, never changed in place.
	route       atomic.Pointer[peerRoute]
	groupActors atomic.Pointer[map[string]*actor.PID]

	metrics    nodeMetrics     // Metrics
	groupStats groupStatsTable // GroupMetrics (WithGroupMetrics)
	// dispatcher runs the node's actors' mailboxes (dispatcher.go).
	dispatcher *workerDispatcher

	sessMu   sync.Mutex
	sessions map[*session]bool // open client sessions; nil once stopping

	ownSystem bool                      // Stop shuts the system down (Start made it)
	deadSub   *eventstream.Subscription // deadCall on the system's event stream

	// members holds each group's member list, as its group actor last
	// published it (membership_get, iteration).
	membersMu sync.Mutex
	members   map[string][]*api.Address
	// sequencers holds the PID of the sequencer actor of each group this
	// node orders (Sequencers), under membersMu; owners the node that
	// orders each group, as its group actor last published it.
	sequencers map[string]*actor.PID
	owners     map[string]uint32

	stopOnce sync.Once
	done     chan struct{} // closed when the node has stopped
	failure  atomic.Pointer[error]
}

// Option changes how a node starts.
type Option func(*Node)

// WithLogger sets the node's logger (default: zerolog.Nop()).
func WithLogger(l zerolog.Logger) Option { return func(n *Node) { n.log = l } }

// WithNetwork runs the node on an in-memory network instead of sockets:
// it talks to the other nodes of net (the nodes of cfg.Nodes, whose
// addresses are then only names) and opens no listener, so that a whole
// cluster runs in one process, under the race detector, with faults
// (MemNetwork.Cut) on demand. Clients use the node in-process
// (cpg.WithNode), or on its client socket if one is configured.
func WithNetwork(net *remote.MemNetwork) Option { return func(n *Node) { n.memnet = net } }

// WithActorSystem starts the node inside the application's own actor
// system instead of a new one: the node actor is spawned there under
// RootName (its handle, group and sequencer actors under it), so one
// system hosts at most one node. Stop then stops the node's actors (and
// the remoting it started) but leaves the system running. With
// cfg.Listen set the node starts its own remoting on sys, which must not
// have remoting already (Start refuses it: the node's transport needs its
// own gRPC options, security and link handlers).
func WithActorSystem(sys *actor.ActorSystem) Option { return func(n *Node) { n.system = sys } }

// Start starts a node from cfg (validated first). With cfg.Listen set, the
// node accepts attached clients on that address.
func Start(cfg remote.Config, opts ...Option) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: zerolog.Nop(), done: make(chan struct{})}
	for _, o := range opts {
		o(n)
	}
	n.log = n.log.With().Uint32("node", cfg.NodeID).Logger()
	seq, err := nextRingSeq(cfg.StateDir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	n.ringSeq = seq
	n.start = time.Now()
	n.view.Store(&api.TotemConfchg{RingId: &api.RingId{Nodeid: cfg.NodeID, Seq: seq}, Members: []uint32{cfg.NodeID}})
	n.metrics.views.Store(1) // its first view: itself alone
	if n.system == nil {
		n.system = actor.NewActorSystemWithConfig(SystemConfig(n.log))
		n.ownSystem = true
	} else if _, taken := n.system.ProcessRegistry.GetLocal(RootName); taken {
		return nil, fmt.Errorf("actors: the actor system already hosts a node (an actor named %q)", RootName)
	}
	if n.memnet != nil {
		n.rootPID = actor.NewPID(n.system.Address(), RootName)
		n.peers = n.memnet.Join(cfg.NodeID, func(from uint32, m proto.Message) {
			// The network knows the sender, as a TLS link does: a message
			// claiming another is dropped.
			if pm, ok := m.(peerMessage); ok && pm.GetFrom() == from {
				n.fromPeer(m)
			}
		})
	} else if cfg.Listen != "" {
		if hasRemoting(n.system) {
			return nil, errors.New("actors: WithActorSystem: the actor system already has remoting started; " +
				"a listening node starts its own (give a system without remoting, or cfg.Listen = \"\")")
		}
		sec := cfg.Security()
		r, addr, err := remoting.Start(n.system, cfg.Listen, sec)
		if err != nil {
			if n.ownSystem {
				n.system.Shutdown()
			}
			return nil, err
		}
		n.remote, n.addr = r, addr
		n.rootPID = actor.NewPID(n.system.Address(), RootName)
		addrs := make(map[uint32]string, len(cfg.Nodes))
		for _, na := range cfg.Nodes {
			addrs[na.NodeID] = na.Addr
		}
		n.peers = remote.NewPeerTransport(remote.NewPeerLinks(sec, n.nodeAt), RootName, addrs)
		if sec == nil && !isLoopbackListen(cfg.Listen) {
			n.log.Warn().Str("listen", cfg.Listen).Msg("node-to-node traffic is unauthenticated and unencrypted: " +
				"anyone who reaches this port can speak as any node; give totem.crypto_ca, crypto_cert and crypto_key (cpgkeygen)")
		}
		// Frames from clients are bounded by this node's message sizes.
		lim := remote.LinkLimitsFor(&cfg)
		lim.Log = n.log
		remote.SetLinkLimits(n.system, lim)
		// Links come from the other nodes, to this node actor; clients
		// come on sessions, and no link reaches a handle actor. A link's
		// reader hands each message over itself (fromPeer).
		remote.AcceptLinks(n.system, func(target string) bool { return target == RootName })
		remote.HandleLinks(n.system, RootName, n.fromPeer)
	}
	n.dispatcher = newWorkerDispatcher(dispatcherWorkers)
	// A priority mailbox: heartbeats, the clock and the view protocol go
	// ahead of the data backlog (see wire.PeerHeartbeat.GetPriority).
	props := actor.PropsFromProducer(func() actor.Actor { return newNodeActor(n) },
		actor.WithGuardian(n.stopOnPanic()), actor.WithSupervisor(stopHandle), actor.WithMailbox(actor.UnboundedPriority()),
		actor.WithDispatcher(n.dispatcher))
	root, err := n.system.Root.SpawnNamed(props, RootName)
	if err != nil {
		n.Stop()
		return nil, fmt.Errorf("actors: spawn node actor: %w", err)
	}
	n.root = root
	remoting.SetGuardLogger(n.log)
	// Client sessions: on the remoting port (the transport hands them
	// over) and on the client socket. A request whose actor is gone is
	// answered from the dead letters.
	n.sessions = make(map[*session]bool)
	n.deadSub = n.system.EventStream.Subscribe(deadCall)
	remote.ServeClients(n.system, n.serveSession)
	if path := cfg.ClientSocketPath(); path != "" {
		policy := remote.ClientPolicy{UIDs: cfg.ClientUIDs, GIDs: cfg.ClientGIDs}
		ln, err := remote.ListenClientSocket(n.system, path, policy, n.log)
		if err != nil {
			n.Stop()
			return nil, err
		}
		n.sock = ln
	}
	n.log.Info().Str("listen", n.addr).Str("client_socket", cfg.ClientSocketPath()).Uint64("ring_seq", seq).Msg("node started")
	return n, nil
}

// hasRemoting reports whether protoactor remoting was started on sys.
func hasRemoting(sys *actor.ActorSystem) bool {
	var r *premote.Remote // ExtensionID does not read its receiver
	return sys.Extensions.Get(r.ExtensionID()) != nil
}

// peerRoute is the view the links route group messages in (Node.route).
type peerRoute struct {
	ring    *api.RingId
	members []uint32
}

// fromPeer takes a message of another node, on the goroutine of the link
// (or in-memory network) that brought it; the sender is checked (the
// link's certificate, or the network). A Submit, Ordered or Nack of the
// installed view, while no view change is under way, for a group that
// has an actor here, and well formed (cluster.GroupMessage), goes
// straight to the group actor: a group's traffic does not queue behind
// the node's other groups, nor the node's heartbeats behind data.
// Everything else goes to the node actor, whose host checks it, routes it,
// or keeps it for an install.
func (n *Node) fromPeer(m proto.Message) {
	pm, ok := m.(peerMessage)
	if !ok {
		return
	}
	switch m.(type) {
	case *wire.Submit, *wire.Ordered, *wire.Nack:
		if pid := n.groupActorFor(pm.GetFrom(), m); pid != nil {
			n.system.Root.Send(pid, &groupPeer{from: pm.GetFrom(), msg: m})
			return
		}
	}
	n.system.Root.Send(n.rootPID, m)
}

// groupActorFor returns the group actor that takes group message m of node
// from straight from the link, or nil: the node actor must see it.
func (n *Node) groupActorFor(from uint32, m proto.Message) *actor.PID {
	r := n.route.Load()
	if r == nil || n.blocked(from) {
		return nil
	}
	ring := m.(interface{ GetRing() *api.RingId }).GetRing()
	if ring.GetNodeid() != r.ring.GetNodeid() || ring.GetSeq() != r.ring.GetSeq() {
		return nil
	}
	name, ok := cluster.GroupMessage(from, m, r.members)
	if !ok {
		return nil
	}
	if ga := n.groupActors.Load(); ga != nil {
		return (*ga)[string(name)]
	}
	return nil
}

// GroupActors returns the node's group actors now, by group name: one per
// group that has members, local handles or traffic on this node. A group
// that empties is drained and its actor stopped (see cluster.Drained);
// the map is a snapshot.
func (n *Node) GroupActors() map[string]*actor.PID {
	cur := n.groupActors.Load()
	if cur == nil {
		return map[string]*actor.PID{}
	}
	out := make(map[string]*actor.PID, len(*cur))
	for k, v := range *cur {
		out[k] = v
	}
	return out
}

// setGroupActor publishes a group's actor (nil: it has none).
func (n *Node) setGroupActor(name []byte, pid *actor.PID) {
	var next map[string]*actor.PID
	if cur := n.groupActors.Load(); cur != nil {
		next = make(map[string]*actor.PID, len(*cur)+1)
		for k, v := range *cur {
			next[k] = v
		}
	} else {
		next = make(map[string]*actor.PID)
	}
	if pid == nil {
		delete(next, string(name))
	} else {
		next[string(name)] = pid
	}
	n.groupActors.Store(&next)
}

// nodeAt returns the id of the node of the node list at addr, or 0.
func (n *Node) nodeAt(addr string) uint32 {
	for _, na := range n.cfg.Nodes {
		if na.Addr == addr {
			return na.NodeID
		}
	}
	return 0
}

// isLoopbackListen reports whether the listen address host:port is on
// the loopback interface only ("" and unspecified hosts are not).
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PID returns the node actor, where an in-process client's InitRequest,
// MembershipRequest, IterationRequest and LocalGetRequest go.
func (n *Node) PID() *actor.PID { return n.root }

// System returns the node's actor system, so that embedded applications can
// spawn their actors next to it.
func (n *Node) System() *actor.ActorSystem { return n.system }

// Address returns the remoting address attached clients use, or "".
// Clients on this host may use ClientSocket instead.
func (n *Node) Address() string { return n.addr }

// ClientSocket returns the address ("unix:PATH") of the node's client
// socket, or "" if it serves none.
func (n *Node) ClientSocket() string {
	if n.sock == nil {
		return ""
	}
	return "unix:" + n.cfg.ClientSocketPath()
}

// Config returns the node's validated configuration.
func (n *Node) Config() remote.Config { return n.cfg }

// NodeID returns the node's id.
func (n *Node) NodeID() uint32 { return n.cfg.NodeID }

// Ring returns the ring id of the node's current view.
func (n *Node) Ring() *api.RingId { return n.view.Load().RingId }

// View returns the node's current view as a totem confchg: ring id and
// member node ids. The caller must not change it.
func (n *Node) View() *api.TotemConfchg { return n.view.Load() }

func (n *Node) setView(v *api.TotemConfchg) { n.view.Store(v) }

// SetBlocked cuts this node's links to the given nodes (nothing is sent to
// them, and what they send is dropped) and heals every other link. It is
// a test tool: it isolates a node without touching the network.
func (n *Node) SetBlocked(nodes ...uint32) {
	m := make(map[uint32]bool, len(nodes))
	for _, id := range nodes {
		m[id] = true
	}
	n.block.Store(&m)
}

func (n *Node) blocked(id uint32) bool {
	m := n.block.Load()
	return m != nil && (*m)[id]
}

// clock is the engine's time: the time since the node started.
func (n *Node) clock() time.Duration { return time.Since(n.start) }

// tickEvery is how often the node actor ticks the engine: often enough
// for the shortest of the view timings.
func (n *Node) tickEvery() time.Duration {
	c := &n.cfg
	return max(min(c.Heartbeat, c.Join, c.Token/8, c.ClientHeartbeat)/2, time.Millisecond)
}

// engineConfig is the protocol engine's configuration for this node.
func (n *Node) engineConfig() cluster.Config {
	c := &n.cfg
	return cluster.Config{
		NodeID:      c.NodeID,
		Nodes:       c.Peers(),
		RingSeq:     n.ringSeq,
		Incarnation: uint64(n.start.UnixNano()),
		Token:       c.Token,
		Heartbeat:   c.Heartbeat,
		Join:        c.Join,
		Consensus:   c.Consensus,
		Retransmit:  max(c.Token/4, 2*c.Heartbeat),
		Fragment:    int(c.MaxAtomicMsgsize),
		FrameBytes:  int(c.LinkFragment),
		Window:      int(c.GroupWindow),
		Handoff:     c.SequencerHandoff,
	}
}

// Logger returns the node's logger.
func (n *Node) Logger() zerolog.Logger { return n.log }

// Stop stops the node: its handles end (attached clients see the link
// close) and its listener closes. Stopping twice does nothing more.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		defer close(n.done)
		remote.ServeClients(n.system, nil)
		remote.AcceptLinks(n.system, nil)
		if n.sock != nil {
			n.sock.Close()
		}
		if n.root != nil {
			_ = n.system.Root.StopFuture(n.root).Wait()
		}
		n.closeSessions()
		if n.peers != nil {
			n.peers.Close()
		}
		if n.memnet != nil {
			n.memnet.Leave(n.cfg.NodeID)
		}
		if n.remote != nil {
			remoting.Shutdown(n.remote)
		}
		if n.deadSub != nil {
			n.system.EventStream.Unsubscribe(n.deadSub)
		}
		if n.ownSystem {
			n.system.Shutdown()
		}
		if n.dispatcher != nil {
			n.dispatcher.stop()
		}
	})
}

// setGroupMembers publishes a group's member list (nil: none).
func (n *Node) setGroupMembers(name []byte, list []*api.Address) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if len(list) == 0 {
		delete(n.members, string(name))
		return
	}
	if n.members == nil {
		n.members = make(map[string][]*api.Address)
	}
	n.members[string(name)] = list
}

// setSequencer publishes the sequencer actor of a group this node orders
// (nil: it orders the group no more).
func (n *Node) setSequencer(name []byte, pid *actor.PID) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if pid == nil {
		delete(n.sequencers, string(name))
		return
	}
	if n.sequencers == nil {
		n.sequencers = make(map[string]*actor.PID)
	}
	n.sequencers[string(name)] = pid
}

// Sequencers returns the sequencer actor of each group whose agreed order
// this node assigns now, by group name. A node runs a group's sequencer
// actor while the view places the group on it and it has something to
// order, or a handoff moved the group to it; the map is a snapshot.
func (n *Node) Sequencers() map[string]*actor.PID {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	out := make(map[string]*actor.PID, len(n.sequencers))
	for k, v := range n.sequencers {
		out[k] = v
	}
	return out
}

// setGroupSequencer publishes the node that orders a group (0: forget it).
func (n *Node) setGroupSequencer(name []byte, node uint32) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if node == 0 {
		delete(n.owners, string(name))
		return
	}
	if n.owners == nil {
		n.owners = make(map[string]uint32)
	}
	n.owners[string(name)] = node
}

// groupSequencer returns the node that orders a group, as its group actor
// last published it (0: unknown).
func (n *Node) groupSequencer(name []byte) uint32 {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	return n.owners[string(name)]
}

// groupMembers returns a group's member list (sorted by nodeid, pid), or
// nil for a group with none.
func (n *Node) groupMembers(name []byte) []*api.Address {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	return n.members[string(name)]
}

// groupNames returns the names of the groups with members, in
// api.CompareNames order.
func (n *Node) groupNames() [][]byte {
	n.membersMu.Lock()
	out := make([][]byte, 0, len(n.members))
	for k := range n.members {
		out = append(out, []byte(k))
	}
	n.membersMu.Unlock()
	slices.SortFunc(out, api.CompareNames)
	return out
}

// nextRingSeq reads the persisted ring sequence of nodeID from dir, adds
// one, and writes it back, like Corosync's ringid_<nodeid> file. With no
// dir the first ring is 1.
func nextRingSeq(dir string, nodeID uint32) (uint64, error) {
	if dir == "" {
		return 1, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("actors: state dir: %w", err)
	}
	path := filepath.Join(dir, "ringid_"+strconv.FormatUint(uint64(nodeID), 10))
	var seq uint64
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		seq, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("actors: %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("actors: %s: %w", path, err)
	}
	seq++
	return seq, writeRingSeq(dir, nodeID, seq)
}

// writeRingSeq persists the highest ring seq of nodeID in dir (atomically:
// a crash leaves the old or the new value).
func writeRingSeq(dir string, nodeID uint32, seq uint64) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, "ringid_"+strconv.FormatUint(uint64(nodeID), 10))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(seq, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("actors: %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("actors: %s: %w", path, err)
	}
	return nil
}

// pidOf converts an api.Pid to an actor PID; a nil or empty Pid gives nil.
func pidOf(p *api.Pid) *actor.PID {
	if p == nil || p.Id == "" {
		return nil
	}
	return actor.NewPID(p.Address, p.Id)
}

// apiPid converts an actor PID to an api.Pid.
func apiPid(p *actor.PID) *api.Pid {
	if p == nil {
		return nil
	}
	return &api.Pid{Address: p.Address, Id: p.Id}
}

// ToPID converts an api.Pid to an actor PID (nil for an empty Pid).
func ToPID(p *api.Pid) *actor.PID { return pidOf(p) }

// FromPID converts an actor PID to an api.Pid.
func FromPID(p *actor.PID) *api.Pid { return apiPid(p) }

// RequestTimeout bounds a request to the node (remote.Config's); with
// System, PID and Done it makes a Node a cpg.Node.
func (n *Node) RequestTimeout() time.Duration { return n.cfg.RequestTimeout }

func init() {
	// Linking the node's engine gives the cpg package its embedded
	// default node (cpg.DefaultNode).
	cpg.RegisterDefaultNode(func(logger zerolog.Logger) (cpg.Node, error) {
		n, err := Start(remote.DefaultConfig(), WithLogger(logger))
		if err != nil {
			return nil, err // not a nil *Node in a non-nil interface
		}
		return n, nil
	})
}

// sendPeers sends a machine's messages for other nodes on the node's
// transport, marshaling a message sent to several nodes once. Messages to
// this node, or to a node cut off (SetBlocked), are dropped.
func (n *Node) sendPeers(msgs []cluster.Outbound) {
	if n.peers == nil {
		return
	}
	var last proto.Message
	var frame *remote.Frame
	for _, o := range msgs {
		if o.To == n.cfg.NodeID || n.blocked(o.To) {
			continue
		}
		if o.Msg != last {
			last, frame = o.Msg, remote.NewFrame(o.Msg)
		}
		if frame != nil {
			n.peers.Send(o.To, frame)
		}
	}
}
