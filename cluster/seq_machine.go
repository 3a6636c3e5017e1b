package cluster

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/sequencer"
)

// SequencerMachine assigns one group's agreed order in one view, on the
// node that orders the group (its owner): it takes the submissions of
// every node of the view (this node's own group machine among them),
// numbers them with a sequencer.Sequencer, sends them to every other node
// of the view and to this node's group machine, announces the stable
// point as the nodes acknowledge, and hands the group over to a node that
// alone has been submitting for Config.Handoff. A pure state machine (see
// the package doc); not safe for concurrent use.
//
// The group machine starts it (SeqStart) when the view places the group
// here and something is submitted, or when a handoff in the group's log
// moves the group here, and stops it (SeqStop) when a handoff moves the
// group away, at Freeze and at Install: a new view starts a new one.
type SequencerMachine struct {
	cfg     Config
	now     time.Duration
	name    []byte
	ring    ringID
	members []uint32
	seq     *sequencer.Sequencer

	// out are ordered events not yet sent; stableChanged says the stable
	// point moved since the last send; lastBeat is when it last sent.
	out           []*wire.GroupEvent
	stableChanged bool
	lastBeat      time.Duration
	// acks is the highest seq each node acknowledged: an ack that is not
	// higher says the node still sees the stable point lag.
	acks map[uint32]uint64
	// sole is the only node whose events were ordered since soleSince,
	// soleEvents of them (see Config.Handoff).
	sole       uint32
	soleSince  time.Duration
	soleEvents int

	wantFlush bool
	ready     SeqReady
}

// SeqConfig starts a SequencerMachine (the group machine's SeqStart).
type SeqConfig struct {
	// Config is the node's; a sequencer machine uses NodeID, FrameBytes,
	// Retransmit and Handoff.
	Config Config
	// Name is the group's; Ring and Members its view; Now the time.
	Name    []byte
	Ring    ringID
	Members []uint32
	Now     time.Duration
	// Resume is the handoff event that moved the group here (nil: the
	// view's first sequencer of the group, numbering from 1); Acks what
	// each node was known to hold when this node took it.
	Resume *wire.GroupEvent
	Acks   map[uint32]uint64
}

// SeqInput is a message for a SequencerMachine, from its group machine.
type SeqInput interface{ seqInput() }

// SeqStart asks the host to start the group's sequencer machine (a
// running one is replaced).
type SeqStart struct{ Config SeqConfig }

// SeqStop asks the host to stop the group's sequencer machine: the group
// left this node, or the view ends.
type SeqStop struct{}

// SeqSubmit is a submission of node From's events for ordering (From is
// this node for its own, whose events are copies the machine may
// number). Restart: Events[0] is the oldest event From has not seen
// ordered.
type SeqSubmit struct {
	From    uint32
	Restart bool
	Events  []*wire.GroupEvent
}

// SeqAck says node From holds every event of the group up to Seq.
type SeqAck struct {
	From uint32
	Seq  uint64
}

// SeqFlush asks the machine to send what it ordered since the last flush
// (SeqReady.Flush).
type SeqFlush struct{}

// SeqDrain asks the machine to stop ordering, for a group that looks
// drained (see Drained) with High the highest seq its group machine
// holds: if it ordered nothing beyond High and every node holds all of
// it, it sends what it has to send, closes and answers SeqDrained;
// otherwise it goes on and answers SeqDrained with Refused.
type SeqDrain struct{ High uint64 }

func (SeqStart) seqInput()  {}
func (SeqStop) seqInput()   {}
func (SeqSubmit) seqInput() {}
func (SeqAck) seqInput()    {}
func (SeqFlush) seqInput()  {}
func (SeqDrain) seqInput()  {}

// SeqOrdered is what the group's sequencer on this node ordered, for this
// node's group machine: the events, in order, and the stable point and
// highest seq.
type SeqOrdered struct {
	Ring   ringID
	Events []*wire.GroupEvent
	Stable uint64
	High   uint64
}

// SeqDrained is a sequencer machine's answer to SeqDrain: it ordered
// events up to High and orders nothing more; Origins is what it knew of
// each origin, for the sequencer that goes on after it in the view.
type SeqDrained struct {
	Ring    ringID
	High    uint64
	Origins []*wire.SeqOrigin
	Refused bool
}

func (SeqOrdered) groupInput() {}
func (SeqDrained) groupInput() {}

// SeqReady is a SequencerMachine's output since the last Advance.
type SeqReady struct {
	// Messages are for other nodes of the view, in order per destination.
	Messages []Outbound
	// ToGroup are for this node's group machine, in order.
	ToGroup []GroupInput
	// Flush: the machine has something to send; step it a SeqFlush when
	// the node flushes.
	Flush bool
}

// NewSequencerMachine returns the sequencer machine cfg describes.
func NewSequencerMachine(cfg SeqConfig) *SequencerMachine {
	s := &SequencerMachine{
		cfg:       withDefaults(cfg.Config),
		now:       cfg.Now,
		name:      slices.Clone(cfg.Name),
		ring:      cfg.Ring,
		members:   slices.Clone(cfg.Members),
		acks:      make(map[uint32]uint64, len(cfg.Members)),
		soleSince: cfg.Now,
		lastBeat:  cfg.Now,
	}
	if cfg.Resume != nil {
		s.seq = sequencer.Resume(s.members, cfg.Resume, cfg.Acks)
		for _, m := range s.members {
			s.acks[m] = min(cfg.Acks[m], cfg.Resume.GetSeq())
		}
		// Announce where the stable point is (the old sequencer may not
		// have announced the last of it).
		s.stableChanged = true
		s.wantFlush = true
	} else {
		s.seq = sequencer.New(s.members)
		for _, m := range s.members {
			s.acks[m] = 0
		}
	}
	return s
}

// Name returns the group's name.
func (s *SequencerMachine) Name() []byte { return s.name }

// Ring returns the view the machine orders in.
func (s *SequencerMachine) Ring() ringID { return s.ring }

// Step takes one input: SeqSubmit, SeqAck, SeqFlush or SeqDrain (SeqStart
// and SeqStop are the host's).
func (s *SequencerMachine) Step(in SeqInput) {
	switch m := in.(type) {
	case SeqSubmit:
		s.submit(m.From, m.Restart, m.Events)
	case SeqAck:
		s.ack(m.From, m.Seq)
	case SeqFlush:
		s.flush()
	case SeqDrain:
		s.flush()
		if s.seq.High() != m.High || s.seq.Stable() < m.High || s.seq.Closed() {
			// Its group machine has not seen all of it yet, or some node
			// may still ask for it: a sequencer must be there to answer.
			s.ready.ToGroup = append(s.ready.ToGroup, SeqDrained{Ring: s.ring, High: s.seq.High(), Refused: true})
			break
		}
		origins := s.seq.Close()
		s.ready.ToGroup = append(s.ready.ToGroup, SeqDrained{Ring: s.ring, High: s.seq.High(), Origins: origins})
	}
}

// Tick tells the machine the time: while some node lags behind the highest
// seq, it repeats the stable point every half Retransmit.
func (s *SequencerMachine) Tick(now time.Duration) {
	s.now = now
	if s.seq.High() > s.seq.Stable() && s.now-s.lastBeat >= s.cfg.Retransmit/2 {
		s.stableChanged = true
		s.wantFlush = true
	}
}

// HasReady reports whether Ready has anything to carry out.
func (s *SequencerMachine) HasReady() bool {
	return len(s.ready.Messages) > 0 || len(s.ready.ToGroup) > 0 || s.wantFlush
}

// Ready returns the pending output. Call Advance once it is carried out.
func (s *SequencerMachine) Ready() SeqReady {
	r := s.ready
	r.Flush = s.wantFlush
	return r
}

// Advance clears the output returned by Ready.
func (s *SequencerMachine) Advance() {
	clear(s.ready.Messages)
	clear(s.ready.ToGroup)
	s.ready = SeqReady{Messages: s.ready.Messages[:0], ToGroup: s.ready.ToGroup[:0]}
	s.wantFlush = false
}

func (s *SequencerMachine) send(to uint32, m proto.Message) {
	s.ready.Messages = append(s.ready.Messages, Outbound{To: to, Msg: m})
}

// submit orders a submission, and hands the group over to the submitting
// node if it has been the only one for Config.Handoff (never in the
// middle of a large message).
func (s *SequencerMachine) submit(from uint32, restart bool, evs []*wire.GroupEvent) {
	before := s.seq.NextSeq()
	s.seq.Submit(from, restart, evs)
	if n := s.seq.NextSeq() - before; n > 0 {
		if from != s.sole {
			s.sole, s.soleSince, s.soleEvents = from, s.now, 0
		}
		s.soleEvents += int(n)
		last := s.seq.Ready().Ordered
		if s.cfg.Handoff > 0 && from != s.cfg.NodeID && s.now-s.soleSince >= s.cfg.Handoff &&
			s.soleEvents >= handoffEvents && len(last) > 0 && !last[len(last)-1].More {
			s.seq.HandOff(s.cfg.NodeID, from)
		}
	}
	s.take()
}

// handoffEvents is how many events in a row from one other node, at
// least, move a group's sequencer there (with Config.Handoff): a node
// that sends now and then after a quiet spell does not move it.
const handoffEvents = 16

// ack records node from's acknowledgement. A node acknowledges what it
// already did only while it sees the stable point lag: the announcement
// may have been lost, so it is sent to that node again.
func (s *SequencerMachine) ack(from uint32, seq uint64) {
	prev, ok := s.acks[from]
	if !ok {
		return // not a node of the view
	}
	repeat := seq <= prev
	if !repeat {
		s.acks[from] = seq
	}
	s.seq.Ack(from, seq)
	s.take()
	if repeat && from != s.cfg.NodeID && s.seq.Stable() > 0 {
		s.send(from, &wire.Ordered{Group: s.name, Ring: s.ring.api(), Stable: s.seq.Stable(), High: s.seq.High(), From: s.cfg.NodeID})
	}
}

func (s *SequencerMachine) take() {
	if !s.seq.HasReady() {
		return
	}
	rd := s.seq.Ready()
	s.out = append(s.out, rd.Ordered...)
	s.stableChanged = s.stableChanged || rd.StableChanged
	s.seq.Advance()
	s.wantFlush = true
}

// flush sends the events ordered since the last flush, with the stable
// point, to every other node of the view (in frames of at most
// Config.FrameBytes, each node's own payloads left out) and to this
// node's group machine.
func (s *SequencerMachine) flush() {
	if len(s.out) == 0 && !s.stableChanged {
		return
	}
	out := s.out
	s.out, s.stableChanged = nil, false
	stable, high := s.seq.Stable(), s.seq.High()
	s.lastBeat = s.now
	evs := out
	for {
		n := 0
		if len(evs) > 0 {
			n = frameCount(evs, s.cfg.FrameBytes)
		}
		m := &wire.Ordered{Group: s.name, Events: evs[:n:n], Ring: s.ring.api(), Stable: stable, High: high, From: s.cfg.NodeID}
		for _, to := range s.members {
			if to == s.cfg.NodeID {
				continue
			}
			if el := elideFor(to, m); el != nil {
				s.send(to, el) // the origin has its own payloads
			} else {
				s.send(to, m)
			}
		}
		evs = evs[n:]
		if len(evs) == 0 {
			break
		}
	}
	s.ready.ToGroup = append(s.ready.ToGroup, SeqOrdered{Ring: s.ring, Events: out, Stable: stable, High: high})
}
