package cluster

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// Host is a node's side of the engine without its group machines: the
// ViewMachine and the node-level duties (see the package doc). It drops
// messages of nodes outside the node list, checks a group message (ring,
// sender, well-formed events) and names the group machine it is for,
// keeps the messages of an accepted ring that come before its install and
// gives them again right after it, batches the groups' acks into one
// wire.Ack per node, and remembers the last event id of the groups whose
// machines were dropped.
//
// Its messages for the group machines (GroupRoute) it returns, and the
// groups' answers (Frozen, Installed) and acks it takes: how they travel
// is the caller's. New's Engine carries them through a FIFO queue within
// each call, NewAsync's through mailboxes its caller runs; the actor shell
// sends them as actor messages between the node actor and the group
// actors. No goroutines, clocks or randomness; not safe for concurrent
// use.
type Host struct {
	cfg Config
	now time.Duration

	vm *ViewMachine
	// open names the groups that have a machine (Open, Close).
	open map[string]bool
	// msgIDs keeps the last event id of groups dropped while idle.
	msgIDs map[string]uint64
	// resume keeps where the groups dropped drained in the view
	// resumeRing ended (Drop), for their next machine in that view.
	resume     map[string]Drained
	resumeRing ringID
	// acks are the groups' acknowledgements since the last SendAcks, for
	// every other node of the view.
	acks []*wire.GroupAck
	// early holds group messages of the accepted ring (earlyRing) that
	// arrived before its install (nodes install at slightly different
	// times); replay says to take them now that it is installed.
	early     []envelope
	earlyRing ringID
	replay    bool
	// held keeps the messages of other nodes that come while the view
	// machine waits for its groups' Installed (only an asynchronous caller
	// sees that: New's Engine's calls always end with the install done), and
	// Tick does nothing then: the install is one step for the view
	// machine, as in the Engine.
	held []envelope

	// ready is the node's output. The Engine adds its groups' output to
	// it; the actor shell's group actors carry out their own.
	ready Ready
}

// GroupRoute is a message of the host for the machine of one group.
// IfOpen: only if the group has a machine (a Nack is for a group the node
// holds; it starts none).
type GroupRoute struct {
	Group  []byte
	Msg    GroupInput
	IfOpen bool
}

// envelope is a message from another node, kept for later.
type envelope struct {
	from uint32
	msg  proto.Message
}

// maxEarlyMessages bounds the messages kept for a view not yet installed.
const maxEarlyMessages = 1 << 14

// withDefaults fills in a Config's defaults.
func withDefaults(cfg Config) Config {
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
	return cfg
}

// NewHost returns the host of node cfg.NodeID, alone in its first view.
func NewHost(cfg Config) *Host {
	cfg = withDefaults(cfg)
	return &Host{
		cfg:    cfg,
		vm:     NewViewMachine(cfg),
		open:   make(map[string]bool),
		msgIDs: make(map[string]uint64),
	}
}

// Config returns the node's configuration, with its defaults.
func (h *Host) Config() Config { return h.cfg }

// NodeID returns the host's node.
func (h *Host) NodeID() uint32 { return h.cfg.NodeID }

// Ring returns the installed view's ring id.
func (h *Host) Ring() *api.RingId { return h.vm.Ring().api() }

// Members returns the installed view's node ids, ascending.
func (h *Host) Members() []uint32 { return slices.Clone(h.vm.Members()) }

// Syncing reports whether a view change is in progress on this node: from
// the proposal it accepted until the new view's totem confchg.
func (h *Host) Syncing() bool { return h.vm.Syncing() || h.installing() }

// installing: the view machine installed a view and waits for its groups'
// Installed.
func (h *Host) installing() bool { return h.vm.installing != nil }

// Now returns the time of the last Tick.
func (h *Host) Now() time.Duration { return h.now }

// IsOpen reports whether the group has a machine.
func (h *Host) IsOpen(name []byte) bool { return h.open[string(name)] }

// Open records that the caller starts a machine for the group (tells the
// view machine) and returns the machine's configuration. The group must
// not be open.
func (h *Host) Open(name []byte) GroupConfig {
	key := string(name)
	cfg := GroupConfig{Config: h.cfg, Name: name, Ring: h.vm.Ring(), Members: h.vm.Members(),
		Now: h.now, LastMsgID: h.msgIDs[key]}
	if r, ok := h.resume[key]; ok {
		if h.resumeRing == h.vm.Ring() {
			cfg.Resume = &r
		}
		delete(h.resume, key)
	}
	h.open[key] = true
	h.vm.StepLocal(GroupOpened{Group: slices.Clone(name)})
	return cfg
}

// Close records that the caller dropped the group's machine, idle (its
// Installed said so), whose last event id was lastMsgID.
func (h *Host) Close(name []byte, lastMsgID uint64) {
	key := string(name)
	// The group's event ids go on where they stopped if it is used again:
	// the others remember the last one delivered.
	h.msgIDs[key] = lastMsgID
	delete(h.open, key)
}

// Drop closes a group whose machine said it is drained (Drained), in the
// installed view and while no view change is under way; the caller then
// drops the machine, and the group's next machine in this view resumes
// where it ended. It returns false otherwise: keep the machine (the next
// view change finds it idle, see Installed).
func (h *Host) Drop(d Drained) bool {
	if h.Syncing() || d.Ring != h.vm.Ring() || !h.open[string(d.Group)] {
		return false
	}
	// Not Close: the view machine still counts the group (see Drained).
	h.msgIDs[string(d.Group)] = d.LastMsgID
	delete(h.open, string(d.Group))
	if h.resumeRing != d.Ring {
		clear(h.resume) // of an earlier view: no use any more
		h.resumeRing = d.Ring
	}
	if h.resume == nil {
		h.resume = make(map[string]Drained)
	}
	h.resume[string(d.Group)] = d
	return true
}

// Ready returns the node's pending output (no deliveries: those are the
// groups'). Call Advance once it is carried out.
func (h *Host) Ready() Ready { return h.ready }

// HasReady reports whether Ready has anything to carry out.
func (h *Host) HasReady() bool { return h.ready.has() }

// Advance clears the output returned by Ready.
func (h *Host) Advance() { h.ready = Ready{} }

func (r *Ready) has() bool {
	return r.PersistSeq != 0 || len(r.Messages) > 0 || len(r.Deliveries) > 0 || len(r.Left) > 0 ||
		len(r.Rejected) > 0 || len(r.Flow) > 0 || len(r.Interrupted) > 0 || r.Totem != nil || r.SyncChanged
}

// Step takes a message from node from and returns the group messages it
// makes (see Route). Messages from nodes outside the node list are
// dropped. The view machine's output is taken with TakeView.
func (h *Host) Step(from uint32, m proto.Message) []GroupRoute {
	if !h.vm.isNode(from) {
		return nil
	}
	if h.installing() {
		if len(h.held) < maxEarlyMessages {
			h.held = append(h.held, envelope{from, m})
		}
		return nil
	}
	h.vm.Step(from, m)
	return h.Route(from, m, nil)
}

// StepLocal takes a group machine's answer (Frozen, Installed).
func (h *Host) StepLocal(m ViewInput) { h.vm.StepLocal(m) }

// Tick tells the view machine the time. The groups are ticked by the
// caller (after TakeView).
func (h *Host) Tick(now time.Duration) {
	h.now = now
	if !h.installing() {
		h.vm.Tick(now)
	}
}

// TakeView moves the view machine's output into Ready and returns its
// messages for the group machines, in order. With a new view's totem
// confchg, Ready.TotemAt is set to deliveries (the number of deliveries
// that go before it) and Replay gives the messages kept for the view.
func (h *Host) TakeView(deliveries int) []ToGroup {
	if !h.vm.HasReady() {
		return nil
	}
	rd := h.vm.Ready()
	if rd.PersistSeq != 0 {
		h.ready.PersistSeq = rd.PersistSeq
	}
	h.ready.Messages = append(h.ready.Messages, rd.Messages...)
	h.ready.SyncChanged = h.ready.SyncChanged || rd.SyncChanged
	if rd.Totem != nil {
		// Every group installed the view: the totem confchg goes after
		// what they delivered doing it.
		h.ready.Totem = rd.Totem
		h.ready.TotemAt = deliveries
		h.replay = true
	}
	h.vm.Advance()
	return rd.ToGroups
}

// Replay returns, once after a new view's totem confchg, the routes of
// the messages of the view that came before its install (see Route).
func (h *Host) Replay() []GroupRoute {
	if !h.replay {
		return nil
	}
	h.replay = false
	early := h.early
	h.early = nil
	if h.earlyRing != h.vm.Ring() {
		return nil
	}
	var out []GroupRoute
	for _, env := range early {
		out = h.Route(env.from, env.msg, out)
	}
	return out
}

// PeerMessage is a message of node From.
type PeerMessage struct {
	From uint32
	Msg  proto.Message
}

// TakeHeld returns, once the install is done, the messages that came
// while the groups installed it, in order: step each again (Step).
func (h *Host) TakeHeld() []PeerMessage {
	if h.installing() || len(h.held) == 0 {
		return nil
	}
	out := make([]PeerMessage, len(h.held))
	for i, e := range h.held {
		out[i] = PeerMessage{From: e.from, Msg: e.msg}
	}
	h.held = nil
	return out
}

// AddAcks takes a group's acknowledgements for the next SendAcks.
func (h *Host) AddAcks(acks []*wire.GroupAck) { h.acks = append(h.acks, acks...) }

// SendAcks sends the groups' acknowledgements to every other node of the
// view, in one message per node.
func (h *Host) SendAcks() {
	if len(h.acks) == 0 {
		return
	}
	acks := h.acks
	h.acks = nil
	ring := h.vm.Ring().api()
	for _, to := range h.vm.Members() {
		if to != h.cfg.NodeID {
			h.ready.Messages = append(h.ready.Messages, Outbound{To: to, Msg: &wire.Ack{From: h.cfg.NodeID, Ring: ring, Groups: acks}})
		}
	}
}

// Route appends to out the routes of a group message from node from, if
// it is of the installed ring and well formed (GroupMessage); one of the
// accepted ring, not installed yet, it keeps for the install (Replay).
func (h *Host) Route(from uint32, m proto.Message, out []GroupRoute) []GroupRoute {
	switch m := m.(type) {
	case *wire.Submit, *wire.Ordered, *wire.Nack:
		ring := m.(interface{ GetRing() *api.RingId }).GetRing()
		if h.keepForInstall(from, ring, m) || !h.current(ring) {
			return out
		}
		name, ok := GroupMessage(from, m, h.vm.Members())
		if !ok {
			return out
		}
		_, nack := m.(*wire.Nack)
		out = append(out, GroupRoute{Group: name, Msg: PeerMsg{From: from, Msg: m}, IfOpen: nack})
	case *wire.Ack:
		if h.keepForInstall(from, m.Ring, m) || !h.current(m.Ring) || m.From != from {
			return out
		}
		for _, a := range m.Groups {
			if a == nil || api.CheckName(a.Group) != nil {
				continue
			}
			out = append(out, GroupRoute{Group: a.Group, Msg: AckPart{From: from, Ack: a}})
		}
	}
	return out
}

// GroupMessage checks a message of one group (Submit, Ordered or Nack)
// from node from, of a view of members, as Route does, except for its
// ring: it claims its sender, names a valid group, and carries only
// events of the kinds such a message may (a Submit: joins, leaves and
// multicasts; an Ordered: those and handoffs, of nodes of the view, and
// only from a node of the view). It returns the group. Safe for
// concurrent use: a node's links check the messages they hand straight to
// a group actor with it.
func GroupMessage(from uint32, m proto.Message, members []uint32) ([]byte, bool) {
	switch m := m.(type) {
	case *wire.Submit:
		if m.From != from || api.CheckName(m.Group) != nil {
			return nil, false
		}
		for _, ev := range m.Events {
			if ev != nil && !validSubmitted(ev) {
				return nil, false
			}
		}
		return m.Group, true
	case *wire.Ordered:
		// Any node of the view: each seq is given by one sequencer only
		// (the view's first, then each handoff's target from the seq
		// after it), and any replica may send again what it holds
		// (onNack).
		if m.From != from || api.CheckName(m.Group) != nil || !slices.Contains(members, from) {
			return nil, false
		}
		for _, ev := range m.Events {
			if ev != nil && !validOrdered(ev, members) {
				return nil, false // malformed: none of the frame is taken
			}
		}
		return m.Group, true
	case *wire.Nack:
		if m.From != from {
			return nil, false
		}
		return m.Group, true
	}
	return nil, false
}

// current: ring is the installed view's, and no view change is under way.
func (h *Host) current(ring *api.RingId) bool {
	return !h.vm.Syncing() && ringOf(ring) == h.vm.Ring()
}

// keepForInstall keeps a message of the accepted, not yet installed ring
// (its sender installed first); it is taken right after the install.
func (h *Host) keepForInstall(from uint32, ring *api.RingId, m proto.Message) bool {
	if !h.vm.Syncing() || ringOf(ring) != h.vm.Accepted() {
		return false
	}
	if h.earlyRing != h.vm.Accepted() {
		h.early, h.earlyRing = nil, h.vm.Accepted() // of an attempt that failed
	}
	if len(h.early) >= maxEarlyMessages {
		return false
	}
	h.early = append(h.early, envelope{from, m})
	return true
}
