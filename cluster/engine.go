package cluster

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/groups"
)

// Config configures an Engine.
type Config struct {
	// NodeID is this node.
	NodeID uint32
	// Nodes is the node list, this node included. Messages from other
	// nodes are ignored.
	Nodes []uint32
	// RingSeq is the ring seq of the node's first (singleton) view, above
	// every seq the node used before; the caller has persisted it.
	RingSeq uint64
	// Incarnation tells this run of the node from earlier ones: it must
	// grow across restarts. It is stamped on every event the node submits.
	Incarnation uint64

	// Token: a node not heard from this long is out of the view.
	Token time.Duration
	// Heartbeat: how often the node tells the others it is alive.
	Heartbeat time.Duration
	// Join: how long a needed view change must persist before the
	// coordinator proposes it.
	Join time.Duration
	// Consensus bounds a view-change attempt.
	Consensus time.Duration
	// Retransmit: a gap or an unordered submission older than this is
	// asked for or sent again.
	Retransmit time.Duration

	// Fragment is the largest message sent as one event; larger ones go
	// in parts (Corosync's max atomic message size).
	Fragment int
	// FrameBytes bounds the payload of one Submit or Ordered message.
	FrameBytes int
	// Window bounds the bytes of a group's ordered events that this node
	// holds and some node of the view may not (above the stable point):
	// above it the group's local handles are flow-controlled (multicasts
	// get CodeTryAgain) until the backlog falls to half. It keeps every
	// node within reach of the fastest sender, and memory bounded.
	// Default 8 MiB.
	Window int
	// Handoff: when one other node alone has submitted a group's events
	// for this long, the group's sequencer hands the group over to that
	// node, within the view, so that a lone sender's messages are ordered
	// where they are sent (one network hop less per message, and a
	// round trip less before the sender's own delivery). Default
	// DefaultHandoff; negative: never.
	Handoff time.Duration

	// Bug injects a known protocol bug, so that tests can show that the
	// simulator and the property checker catch it. Never set it otherwise.
	Bug Bug
}

// Bug names a protocol bug that Config.Bug injects.
type Bug int

const (
	// NoBug is the correct protocol.
	NoBug Bug = iota
	// BugSkipFlush installs a new view without delivering the old view's
	// cut: survivors no longer deliver the same messages before a view
	// change (virtual synchrony breaks).
	BugSkipFlush
	// BugNoDedup delivers an event again: at a view change, the flush
	// does not skip what the node delivered already, and an event re-sent
	// in a later view is not recognized (integrity breaks).
	BugNoDedup
	// BugNoOriginHeld delivers another node's event without waiting until
	// its origin holds it: a message delivered on one side of a split may
	// be sent again and ordered elsewhere on the other (agreed order
	// breaks).
	BugNoOriginHeld
	// BugGhost takes every old view's member list whole at a view change,
	// not only the processes of its own nodes: the processes of a node
	// that left the view (crashed, cut off) stay members for good (ghost).
	BugGhost
	// BugSafeEarly delivers a SAFE message as if AGREED, without waiting
	// until every node of the view holds it: a node cut off right after
	// may be the only one that ever delivers it (SAFE breaks).
	BugSafeEarly
)

// DefaultWindow is Config.Window's default.
const DefaultWindow = 8 << 20

// DefaultHandoff is Config.Handoff's default.
const DefaultHandoff = 50 * time.Millisecond

// Outbound is a message for another node.
type Outbound struct {
	To  uint32
	Msg proto.Message
}

// FlowChange says a local handle's group became flow-controlled or not.
type FlowChange struct {
	Handle  groups.HandleID
	Enabled bool
}

// Ready is the engine's output since the last Advance. The caller carries
// it out in field order.
type Ready struct {
	// PersistSeq, when not 0, is a new highest ring seq: persist it
	// before sending Messages.
	PersistSeq uint64
	// Messages are for other nodes, in order per destination.
	Messages []Outbound
	// Deliveries are events for local handles, in order.
	Deliveries []*groups.Delivery
	// Left names local handles whose membership ended.
	Left []groups.Left
	// Rejected counts refused multicasts per handle.
	Rejected []groups.Rejected
	// Flow lists flow-control changes per local handle.
	Flow []FlowChange
	// Interrupted names local handles whose large message a view change
	// cut: no member delivers it.
	Interrupted []groups.HandleID
	// Totem is a new view: send it to every local handle after
	// Deliveries[:TotemAt] (the old view's cut and the view change's group
	// confchgs) and before Deliveries[TotemAt:] (events of the new view
	// that the same step delivered), so that every member of a ring gets
	// the ring's totem confchg at the same place (CPG-SPEC 4.4, rule 26).
	Totem *api.TotemConfchg
	// TotemAt is the place of Totem among Deliveries (see InOrder).
	TotemAt int
	// SyncChanged says Syncing() changed.
	SyncChanged bool
}

// InOrder hands out a Ready's deliveries and its totem confchg in the one
// order every member must see them: deliver for each of Deliveries, with
// flush true for those a view change delivers before its totem confchg
// (the old view's cut and the view change's group confchgs), and totem,
// if there is one, at its place among them.
func (r *Ready) InOrder(deliver func(d *groups.Delivery, flush bool), totem func(t *api.TotemConfchg)) {
	at := len(r.Deliveries)
	if r.Totem != nil {
		at = min(r.TotemAt, at)
	}
	for i, d := range r.Deliveries {
		if i == at {
			totem(r.Totem)
		}
		deliver(d, i < at && r.Totem != nil)
	}
	if r.Totem != nil && at == len(r.Deliveries) {
		totem(r.Totem)
	}
}

type ringID struct {
	node uint32
	seq  uint64
}

func ringOf(r *api.RingId) ringID {
	if r == nil {
		return ringID{}
	}
	return ringID{r.Nodeid, r.Seq}
}

func (r ringID) api() *api.RingId { return &api.RingId{Nodeid: r.node, Seq: r.seq} }

// Engine is one node's protocol state. Not safe for concurrent use.
type Engine struct {
	cfg Config
	now time.Duration

	// The installed view.
	ring    ringID
	members []uint32

	// maxSeq is the highest ring seq this node has used or accepted
	// (persisted); seenSeq the highest it has heard of.
	maxSeq  uint64
	seenSeq uint64
	// promised is the seq of the last proposal accepted: older ones are
	// refused.
	promised uint64

	// syncing: a proposal was accepted and its install is awaited. The
	// node takes nothing more from its old view meanwhile.
	syncing         bool
	accepted        ringID
	acceptedMembers []uint32
	acceptedAt      time.Duration

	heard  map[uint32]time.Duration
	hbSeq  uint64               // this node's last heartbeat
	peerHB map[uint32][2]uint64 // the newest (incarnation, seq) heard per peer
	// What each peer is known to be in: its installed ring and the
	// proposal it accepted and has not installed (none: not syncing), as
	// far as peerStep, the newest step of it known, goes (see learnPeer).
	peerRing      map[uint32]ringID
	peerAccepted  map[uint32]ringID
	peerStep      map[uint32]viewStep
	lastHeartbeat time.Duration
	changeSince   time.Duration // when a view change became needed; -1: none
	coord         *attempt
	installedAt   time.Duration
	// early holds messages of the accepted ring that arrived before its
	// install (nodes install at slightly different times).
	early []envelope

	groups  map[string]*group
	handles map[groups.HandleID]*group
	// msgIDs keeps the last event id of groups dropped while idle.
	msgIDs  map[string]uint64
	dirty   []*group
	flushes []*group // groups with something for Flush

	ready Ready
}

// envelope is a message from another node, kept for later.
type envelope struct {
	from uint32
	msg  proto.Message
}

// maxEarlyMessages bounds the messages kept for a view not yet installed.
const maxEarlyMessages = 1 << 14

// attempt is a view change this node coordinates.
type attempt struct {
	ring    ringID
	members []uint32
	states  map[uint32]*wire.ViewState
	started time.Duration
}

// New returns the engine of node cfg.NodeID, alone in its first view.
func New(cfg Config) *Engine {
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []uint32{cfg.NodeID}
	}
	cfg.Nodes = slices.Clone(cfg.Nodes)
	slices.Sort(cfg.Nodes)
	if cfg.FrameBytes <= 0 {
		cfg.FrameBytes = 1 << 20
	}
	if cfg.Retransmit <= 0 {
		cfg.Retransmit = max(cfg.Heartbeat, time.Millisecond)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Handoff == 0 {
		cfg.Handoff = DefaultHandoff
	}
	return &Engine{
		cfg:          cfg,
		ring:         ringID{cfg.NodeID, cfg.RingSeq},
		members:      []uint32{cfg.NodeID},
		maxSeq:       cfg.RingSeq,
		seenSeq:      cfg.RingSeq,
		promised:     cfg.RingSeq,
		heard:        make(map[uint32]time.Duration),
		peerHB:       make(map[uint32][2]uint64),
		peerRing:     make(map[uint32]ringID),
		peerAccepted: make(map[uint32]ringID),
		peerStep:     make(map[uint32]viewStep),
		changeSince:  -1,
		groups:       make(map[string]*group),
		handles:      make(map[groups.HandleID]*group),
		msgIDs:       make(map[string]uint64),
	}
}

// NodeID returns the engine's node.
func (e *Engine) NodeID() uint32 { return e.cfg.NodeID }

// Ring returns the installed view's ring id.
func (e *Engine) Ring() *api.RingId { return e.ring.api() }

// Members returns the installed view's node ids, ascending.
func (e *Engine) Members() []uint32 { return slices.Clone(e.members) }

// Syncing reports whether a view change is in progress on this node:
// joins and leaves get CodeTryAgain and multicasts wait for the new view.
func (e *Engine) Syncing() bool { return e.syncing }

// GroupMembers returns a group's member list (sorted by nodeid, pid), or
// nil for a group with none.
func (e *Engine) GroupMembers(name []byte) []*api.Address {
	if gr, ok := e.groups[string(name)]; ok {
		return gr.g.Members()
	}
	return nil
}

// GroupNames returns the names of the groups with members, in
// api.CompareNames order.
func (e *Engine) GroupNames() [][]byte {
	var out [][]byte
	for _, gr := range e.groups {
		if len(gr.g.Members()) > 0 {
			out = append(out, gr.name)
		}
	}
	slices.SortFunc(out, api.CompareNames)
	return out
}

// Owner returns the node that sequences the group in the installed view,
// as far as this node knows: where a view starts it (see owner), or the
// node a handoff moved it to since.
func (e *Engine) Owner(name []byte) uint32 {
	if gr, ok := e.groups[string(name)]; ok {
		return gr.owner
	}
	return owner(name, e.members)
}

// owner places a group's sequencer at the start of a view by rendezvous
// hashing of the group name over the view's nodes: the same answer on
// every node of the view, and different groups spread over different
// nodes. Within the view, a handoff may move it (Config.Handoff).
func owner(name []byte, members []uint32) uint32 {
	var best uint32
	var bestScore uint64
	for _, m := range members {
		h := fnv.New64a()
		h.Write(name)
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], m)
		h.Write(b[:])
		s := mix(h.Sum64())
		if best == 0 || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

// mix is splitmix64's finalizer: it spreads FNV's output over all bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// HasReady reports whether Ready has anything to carry out.
func (e *Engine) HasReady() bool {
	r := &e.ready
	return r.PersistSeq != 0 || len(r.Messages) > 0 || len(r.Deliveries) > 0 || len(r.Left) > 0 ||
		len(r.Rejected) > 0 || len(r.Flow) > 0 || len(r.Interrupted) > 0 || r.Totem != nil || r.SyncChanged
}

// Ready returns the pending output. Call Advance once it is carried out.
func (e *Engine) Ready() Ready { return e.ready }

// Advance clears the output returned by Ready.
func (e *Engine) Advance() { e.ready = Ready{} }

// NeedsFlush reports whether Flush has something to send.
func (e *Engine) NeedsFlush() bool { return len(e.flushes) > 0 && !e.syncing }

func (e *Engine) send(to uint32, m proto.Message) {
	e.ready.Messages = append(e.ready.Messages, Outbound{To: to, Msg: m})
}

func (e *Engine) setMaxSeq(seq uint64) {
	if seq > e.maxSeq {
		e.maxSeq = seq
		e.ready.PersistSeq = seq
	}
	e.seenSeq = max(e.seenSeq, seq)
}

func (e *Engine) isNode(id uint32) bool {
	_, ok := slices.BinarySearch(e.cfg.Nodes, id)
	return ok && id != e.cfg.NodeID
}

func (e *Engine) inView(id uint32) bool {
	_, ok := slices.BinarySearch(e.members, id)
	return ok
}

// Join asks to add local handle h (with pid) to group name; see
// groups.Group.Join. During a view change it gives CodeTryAgain.
func (e *Engine) Join(name []byte, h groups.HandleID, pid uint32) api.Code {
	if err := api.CheckName(name); err != nil {
		return api.CodeOf(err)
	}
	if e.syncing {
		return api.CodeTryAgain
	}
	if _, ok := e.handles[h]; ok {
		return api.CodeExist
	}
	gr := e.group(name)
	code := gr.g.Join(h, pid)
	if code == api.CodeOK {
		e.handles[h] = gr
	}
	e.touch(gr)
	e.collect()
	return code
}

// Leave asks to remove local handle h from its group with reason (LEAVE,
// or PROCDOWN for an eviction). CodeNotExist if it is in none. During a
// view change the leave waits and is sent in the new view.
func (e *Engine) Leave(h groups.HandleID, reason api.Reason) api.Code {
	gr, ok := e.handles[h]
	if !ok {
		return api.CodeNotExist
	}
	code := gr.g.Leave(h, reason)
	e.touch(gr)
	e.collect()
	return code
}

// Gone says local handle h was finalized or its client died: the others
// see it leave (PROCDOWN) unless its leave is in flight. Accepted during a
// view change too (the leave is sent in the new view).
func (e *Engine) Gone(h groups.HandleID) {
	gr, ok := e.handles[h]
	if !ok {
		return
	}
	delete(e.handles, h)
	gr.g.Gone(h)
	e.touch(gr)
	e.collect()
}

// Mcast submits local handle h's messages to its group. A handle in no
// group has them refused (Ready.Rejected). During a view change they wait
// and are sent in the new view.
func (e *Engine) Mcast(h groups.HandleID, msgs []*api.McastRequest) {
	gr, ok := e.handles[h]
	if !ok {
		var n uint64
		for _, r := range msgs {
			n += uint64(len(r.Data))
		}
		e.ready.Rejected = append(e.ready.Rejected, groups.Rejected{Handle: h, Count: uint32(len(msgs)), Bytes: n})
		return
	}
	gr.g.Mcast(h, msgs)
	e.touch(gr)
	e.collect()
}

// Congestion records whether local handle h's receive queue is above its
// high-water mark (its group becomes flow-controlled).
func (e *Engine) Congestion(h groups.HandleID, congested bool) {
	gr, ok := e.handles[h]
	if !ok {
		return
	}
	gr.g.Congestion(h, congested)
	e.touch(gr)
	e.collect()
	if gr.g.LocalCongested() != gr.sentCong && !e.syncing {
		acks := make(map[uint32][]*wire.GroupAck)
		e.ack(gr, acks)
		e.sendAcks(acks)
	}
}

// Step takes a message from node from. Messages from nodes outside the
// node list, of the wrong type, or malformed are dropped.
func (e *Engine) Step(from uint32, m proto.Message) {
	if !e.isNode(from) {
		return
	}
	// Any message proves its sender alive, even when a flood delays its
	// heartbeats behind data on the link, or its first heartbeat comes
	// after its proposal (links reorder): a node that took a proposal
	// counts its coordinator reachable, and does not propose a view
	// without it.
	e.heard[from] = e.now
	e.step(from, m)
	e.collect()
}

func (e *Engine) step(from uint32, m proto.Message) {
	switch m := m.(type) {
	case *wire.PeerHeartbeat:
		e.onHeartbeat(from, m)
	case *wire.ViewPropose:
		e.onPropose(from, m)
	case *wire.ViewReject:
		e.onReject(from, m)
	case *wire.ViewState:
		e.onState(from, m)
	case *wire.ViewInstall:
		e.onInstall(from, m)
	case *wire.Submit:
		e.onSubmit(from, m)
	case *wire.Ordered:
		e.onOrdered(from, m)
	case *wire.Ack:
		e.onAck(from, m)
	case *wire.Nack:
		e.onNack(from, m)
	}
}

// keepForInstall keeps a message of the accepted, not yet installed ring
// (its sender installed first); it is taken right after the install.
func (e *Engine) keepForInstall(from uint32, ring *api.RingId, m proto.Message) bool {
	if !e.syncing || ringOf(ring) != e.accepted || len(e.early) >= maxEarlyMessages {
		return false
	}
	e.early = append(e.early, envelope{from, m})
	return true
}

// Tick tells the engine the time (any monotonic clock; only differences
// matter): it sends heartbeats, detects failures, drives view changes,
// acknowledges, and asks for or re-sends what went missing.
func (e *Engine) Tick(now time.Duration) {
	e.now = now
	if now-e.lastHeartbeat >= e.cfg.Heartbeat {
		e.sendHeartbeats()
	}
	e.checkView()
	if !e.syncing {
		e.tickGroups()
	}
	e.collect()
}
