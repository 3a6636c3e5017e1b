package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// Script is a run of the simulator that a test drives step by step: the
// same World as Run (every node the real cluster engine, by default
// cluster.NewAsync's interleaving of a node's own actor messages, the
// seeded network and clock, the checks at the end), with no client and no
// fault of its own. The test adds processes (NewProc) and calls their
// Join, Leave, Mcast and Finalize, makes faults (Partition, DropLink,
// Heal, Crash, Restart, Stall) and advances simulated time (Run,
// RunUntil); Finish ends the run as Run does (heal, restart, settle) and
// checks it. The seed decides what Run's seeds decide but the faults and
// the clients: the nodes' start times, the network's delays, the
// interleaving of local messages, the ticks' jitter. A Script is not safe
// for concurrent use; the same seed and the same script replay the same
// run.
type Script struct {
	w        *World
	finished bool
}

// ScriptNetwork is the network faults a Script may have (Options.Enable):
// loss and duplication of data messages, reordering and delay spikes,
// which the protocol masks.
const ScriptNetwork = Loss | Dup | Reorder | Spikes

// scriptPatience bounds, in simulated time, how long a process's call
// retries api.ErrTryAgain.
const scriptPatience = 10 * time.Second

// Errors of a Script's processes.
var (
	// ErrEnded: the process was finalized or its node crashed.
	ErrEnded = errors.New("sim: the process ended (finalized, or its node crashed)")
	// ErrRefused: the engine answered something other than OK or
	// TRY_AGAIN; the run's problems say what.
	ErrRefused = errors.New("sim: the node refused the call (see the run's problems)")
)

// NewScript starts a scripted run of seed on nodes nodes (1 to 7). Of o,
// the network features of Enable (ScriptNetwork), Disable of Interleave
// (the node is then cluster.New's engine), Bug (to show that a check
// catches it), Trace and TraceAll apply.
func NewScript(seed int64, nodes int, o Options) *Script {
	p, r := derive(seed, Options{Nodes: max(nodes, 1)})
	p.Clients, p.Groups, p.Active = 0, 0, 0
	p.Features = (Interleave | o.Enable&ScriptNetwork) &^ (o.Disable & Interleave)
	w := buildWorld(seed, Options{Trace: o.Trace, TraceAll: o.TraceAll, Bug: o.Bug}, p, r)
	w.scripted = true
	return &Script{w: w}
}

// Seed returns the run's seed.
func (s *Script) Seed() int64 { return s.w.seed }

// Params returns what the run does: its nodes and features (the faults
// the script made so far among them).
func (s *Script) Params() Params { return s.w.p }

// Now returns the simulated time.
func (s *Script) Now() time.Duration { return s.w.now }

// Run advances simulated time by d.
func (s *Script) Run(d time.Duration) { s.runUntil(s.w.now+d, nil) }

// RunUntil advances simulated time until cond holds (it is checked
// before each event) or limit passes, and reports whether cond held.
func (s *Script) RunUntil(cond func() bool, limit time.Duration) bool {
	return s.runUntil(s.w.now+limit, cond)
}

func (s *Script) runUntil(end time.Duration, cond func() bool) bool {
	w := s.w
	for {
		if cond != nil && cond() {
			return true
		}
		if w.done || w.q.Len() == 0 || w.q.h[0].at > end {
			break
		}
		w.runNext()
	}
	w.now = max(w.now, end)
	return cond != nil && cond()
}

// View returns the view node id last gave its processes (its ring and
// member nodes), and whether the node is up.
func (s *Script) View(id uint32) (ring *api.RingId, members []uint32, up bool) {
	n := s.w.node(id)
	if !n.up {
		return nil, nil, false
	}
	return n.view.GetRingId(), slices.Clone(n.view.GetMembers()), true
}

// Partition cuts every direction between two sides and heals every
// other one; a node on no side keeps its links.
func (s *Script) Partition(sides ...[]uint32) {
	w := s.w
	w.tracef("SCRIPT PARTITION %v", sides)
	w.p.Features |= Partition
	w.cut = [maxNodes + 1][maxNodes + 1]bool{}
	for i, a := range sides {
		for j, b := range sides {
			if i == j {
				continue
			}
			for _, x := range a {
				for _, y := range b {
					w.cut[x][y] = true
				}
			}
		}
	}
}

// DropLink loses what node from sends to node to while on.
func (s *Script) DropLink(from, to uint32, on bool) {
	s.w.tracef("SCRIPT DROPLINK %d -> %d %v", from, to, on)
	s.w.p.Features |= Partition
	s.w.cut[from][to] = on
}

// Heal ends every cut.
func (s *Script) Heal() {
	s.w.tracef("SCRIPT HEAL")
	s.w.cut = [maxNodes + 1][maxNodes + 1]bool{}
}

// Crash crashes node id: its engine is dropped, its processes end killed.
func (s *Script) Crash(id uint32) {
	s.w.p.Features |= Crash
	s.w.crash(s.w.node(id))
}

// Restart starts crashed node id again, with a new engine whose ring seq
// is above its last one; it has no process.
func (s *Script) Restart(id uint32) error {
	n := s.w.node(id)
	if n.up {
		return fmt.Errorf("sim: restart node %d: it is up", id)
	}
	s.w.start(n)
	return nil
}

// Stall stalls node id for d, from now: no ticks, what arrives waits;
// then it wakes to a tick (its clock jumped) and its backlog.
func (s *Script) Stall(id uint32, d time.Duration) {
	s.w.p.Features |= Slow
	s.w.pause(s.w.node(id), d)
}

// Finish ends the run as Run ends its active part (every cut heals,
// crashed nodes restart, stalled ones resume, and the run settles), runs
// the checks and returns the result. The Script is done with.
func (s *Script) Finish() Result {
	if !s.finished {
		s.finished = true
		s.w.quiet()
		s.w.run()
	}
	return s.w.result()
}

// ScriptProc is a process of a Script: one handle on one node, used the
// way the handle API allows. Its calls advance simulated time while they
// wait, as the blocking API would: a call answered TRY_AGAIN is retried,
// and a message above the fragment size waits for its outcome.
type ScriptProc struct {
	s *Script
	c *client
}

// NewProc starts a process on node id.
func (s *Script) NewProc(id uint32) (*ScriptProc, error) {
	n := s.w.node(id)
	if !n.up {
		return nil, fmt.Errorf("sim: new process on node %d: the node is down", id)
	}
	slot := len(n.clients)
	n.clients = append(n.clients, nil)
	if slot >= len(n.slotInc) {
		n.slotInc = append(n.slotInc, 0)
	}
	return &ScriptProc{s: s, c: s.w.newClient(n, slot)}, nil
}

// Proc returns the process's name in the checker's records.
func (p *ScriptProc) Proc() checker.Proc { return p.c.proc }

// Alive reports whether the process runs (not finalized, its node not
// crashed).
func (p *ScriptProc) Alive() bool { return p.c.alive() }

// Seen returns the events the process got, in order, from the from-th
// on (0: all): *api.Deliver, *api.Confchg and *api.TotemConfchg (the
// first one: its node's view when it started). Deliveries carry the test
// message (checker.DecodeMsg).
func (p *ScriptProc) Seen(from int) []proto.Message {
	if from >= len(p.c.seen) {
		return nil
	}
	return slices.Clone(p.c.seen[from:])
}

// awake waits until the process's node runs (not stalled).
func (p *ScriptProc) awake() {
	n := p.c.n
	if n.stalled() {
		p.s.runUntil(n.paused, nil)
	}
}

// wait retries while want holds (the client's act retries, every 1-10
// ms), for at most scriptPatience.
func (p *ScriptProc) wait(want func() bool) {
	if want() {
		p.c.schedule(time.Millisecond)
		p.s.RunUntil(func() bool { return !want() || !p.c.alive() }, scriptPatience)
	}
}

// Join joins group, retrying TRY_AGAIN; it returns once the node
// accepted the join (the process's own JOIN confchg comes later).
func (p *ScriptProc) Join(group string) error {
	c := p.c
	if !c.alive() {
		return ErrEnded
	}
	if c.state != idle {
		return fmt.Errorf("sim: %s: join %q while in %s (%s): %w", c.proc, group, c.group, c.state, api.ErrExist)
	}
	p.awake()
	c.join([]byte(group))
	p.wait(func() bool { return c.wantJoin != nil })
	switch {
	case !c.alive():
		return ErrEnded
	case c.wantJoin != nil:
		return fmt.Errorf("sim: %s: join %q: %w for %v", c.proc, group, api.ErrTryAgain, scriptPatience)
	case c.state == joining || c.state == joined:
		return nil
	}
	return ErrRefused
}

// Leave leaves the process's group, retrying TRY_AGAIN.
func (p *ScriptProc) Leave() error {
	c := p.c
	if !c.alive() {
		return ErrEnded
	}
	if c.state != joining && c.state != joined {
		return fmt.Errorf("sim: %s: leave while %s: %w", c.proc, c.state, api.ErrNotExist)
	}
	p.awake()
	c.leave()
	p.wait(func() bool { return c.wantLeave })
	switch {
	case !c.alive():
		return ErrEnded
	case c.wantLeave:
		return fmt.Errorf("sim: %s: leave: %w for %v", c.proc, api.ErrTryAgain, scriptPatience)
	case c.state == leaving || c.state == idle:
		return nil
	}
	return ErrRefused
}

// Mcast multicasts payload (AGREED) in a test message of the process
// (checker.EncodeMsgPayload), retrying TRY_AGAIN; a message above the
// fragment size (512 bytes with the header) waits until it is ordered
// (nil) or a view change cut it (api.ErrInterrupt).
func (p *ScriptProc) Mcast(payload []byte) error {
	c := p.c
	if !c.alive() {
		return ErrEnded
	}
	if c.state != joining && c.state != joined {
		return fmt.Errorf("sim: %s: mcast while %s: %w", c.proc, c.state, api.ErrNotExist)
	}
	p.awake()
	c.seq++
	m := &outMsg{seq: c.seq, size: checker.HeaderSize + len(payload), guarantee: api.TypeAgreed,
		payload: append([]byte{}, payload...)}
	c.send(m)
	p.wait(func() bool { return c.wantSend == m || c.large == m })
	switch {
	case !c.alive():
		return ErrEnded
	case c.wantSend == m:
		return fmt.Errorf("sim: %s: mcast: %w for %v", c.proc, api.ErrTryAgain, scriptPatience)
	case c.large == m:
		return fmt.Errorf("sim: %s: a large message has no outcome after %v", c.proc, scriptPatience)
	case slices.Contains(p.s.w.interrupted, msgKey{c.proc, m.seq}):
		return api.ErrInterrupt
	}
	return nil
}

// Finalize ends the process while its node runs on: its group sees it
// leave with PROCDOWN.
func (p *ScriptProc) Finalize() {
	if p.c.alive() {
		p.c.finalize()
	}
}
