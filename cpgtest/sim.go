package cpgtest

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/tests/checker"
	"github.com/actorcpg/actorcpg/tests/sim"
)

// EnvSimTrace names the environment variable that makes every Sim write
// its trace (one line per input and output, in simulated milliseconds)
// to stderr: CPGTEST_SIM_TRACE=1.
const EnvSimTrace = "CPGTEST_SIM_TRACE"

// Sim is a seeded, deterministic cluster for protocol-level tests: the
// simulator of tests/sim (sim.Script) driving the same state machines as
// the nodes (cluster.NewAsync's engine: a node's own actor messages
// interleaved as its mailboxes would), with a simulated network and
// clock, all in the test's goroutine. Everything that varies (start
// times, network delays, the interleaving) comes from the seed, so a
// failing test replays exactly: run it again with the same seed.
//
// It is scripted like a Cluster: processes (NewProc) Join, Leave, Mcast
// and Finalize, faults (Partition, Heal, Crash, Restart, Stall) return
// once the resulting views are installed, and time only moves while the
// kit waits (Run, the faults, expectations, a call retrying TRY_AGAIN).
// When the test ends (or at Check), the run heals, settles and is checked:
// the property checker with liveness and ghosts (the run ends quiet), and
// the simulator's own checks. A failure names the seed.
type Sim struct {
	t       testing.TB
	s       *sim.Script
	ids     []uint32
	side    map[uint32]int // each node's side of the partition; nil: none
	down    map[uint32]bool
	timeout time.Duration // simulated
	procs   []*SimProc
	checked bool
}

// SimOption changes a Sim.
type SimOption func(*sim.Options)

// SimLossyNetwork makes the simulated network lose, duplicate and reorder
// data messages and delay some messages by up to 90 ms (the faults the
// protocol masks), as the seed draws them.
func SimLossyNetwork() SimOption {
	return func(o *sim.Options) { o.Enable |= sim.ScriptNetwork }
}

// SimTrace writes the run's trace to w (see EnvSimTrace).
func SimTrace(w io.Writer) SimOption { return func(o *sim.Options) { o.Trace = w } }

// NewSim starts a simulated cluster of n nodes (1 to 7) from seed and
// runs it until the nodes share one view. It is checked when the test
// ends, unless Check was called.
func NewSim(t testing.TB, seed int64, n int, opts ...SimOption) *Sim {
	t.Helper()
	if n < 1 || n > 7 {
		t.Fatalf("cpgtest: NewSim(seed %d, %d nodes): the simulator runs 1 to 7 nodes", seed, n)
	}
	var o sim.Options
	if os.Getenv(EnvSimTrace) != "" {
		o.Trace = os.Stderr
	}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Sim{t: t, s: sim.NewScript(seed, n, o), down: map[uint32]bool{}, timeout: DefaultTimeout}
	for id := uint32(1); id <= uint32(n); id++ {
		s.ids = append(s.ids, id)
	}
	t.Cleanup(func() {
		if !s.checked {
			s.Check()
		}
	})
	s.waitViews("NewSim")
	return s
}

// Seed returns the run's seed.
func (s *Sim) Seed() int64 { return s.s.Seed() }

// Now returns the simulated time since the run started.
func (s *Sim) Now() time.Duration { return s.s.Now() }

// Run advances simulated time by d.
func (s *Sim) Run(d time.Duration) { s.s.Run(d) }

// Partition cuts every direction between two sides; nodes no side names
// form one more side together (as Cluster.Partition). It returns once
// each side's up nodes installed a view of exactly themselves.
func (s *Sim) Partition(sides ...[]uint32) {
	s.t.Helper()
	all, err := completeSides(s.ids, sides)
	if err != nil {
		s.fatalf("Partition%v: %v", sides, err)
	}
	side := map[uint32]int{}
	for i, sd := range all {
		for _, id := range sd {
			side[id] = i
		}
	}
	s.side = side
	s.s.Partition(all...)
	s.waitViews(fmt.Sprintf("Partition%v", sides))
}

// Heal ends every cut and returns once the up nodes share one view.
func (s *Sim) Heal() {
	s.t.Helper()
	s.side = nil
	s.s.Heal()
	s.waitViews("Heal()")
}

// DropLink loses what node from sends to node to while on. It returns at
// once; Heal ends it too.
func (s *Sim) DropLink(from, to uint32, on bool) { s.s.DropLink(from, to, on) }

// Crash crashes node id (its processes end killed) and returns once the
// others installed their views without it.
func (s *Sim) Crash(id uint32) {
	s.t.Helper()
	s.s.Crash(id)
	s.down[id] = true
	s.waitViews(fmt.Sprintf("Crash(%d)", id))
}

// Restart starts crashed node id again (its ring seq above its last
// one; no process) and returns once the views include it.
func (s *Sim) Restart(id uint32) {
	s.t.Helper()
	if err := s.s.Restart(id); err != nil {
		s.fatalf("Restart(%d): %v", id, err)
	}
	delete(s.down, id)
	s.waitViews(fmt.Sprintf("Restart(%d)", id))
}

// Stall stalls node id for d (no ticks; what arrives waits), runs d, and
// returns once the views are back to what the partition calls for.
func (s *Sim) Stall(id uint32, d time.Duration) {
	s.t.Helper()
	s.s.Stall(id, d)
	s.s.Run(d)
	s.waitViews(fmt.Sprintf("Stall(%d, %v)", id, d))
}

// Check ends the run (every cut heals, crashed nodes restart, the run
// settles), checks it and fails the test with the report, the seed and
// how to replay it. The Sim is done with; it returns the result.
func (s *Sim) Check() sim.Result {
	s.t.Helper()
	s.checked = true
	r := s.s.Finish()
	if r.Failed() {
		s.t.Errorf("cpgtest: simulated run failed: %s\n%s", r, s.replay())
	} else {
		s.t.Logf("cpgtest: simulated run: %s", r)
	}
	return r
}

// replay says how to replay the run.
func (s *Sim) replay() string {
	return fmt.Sprintf("replay: seed %d; the same seed and script replay this run exactly: go test -run '^%s$' "+
		"(%s=1 prints every input and output)", s.Seed(), strings.ReplaceAll(s.t.Name(), "/", "$/^"), EnvSimTrace)
}

// fatalf fails the test, naming the seed.
func (s *Sim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("cpgtest: sim seed %d: %s\n%s", s.Seed(), fmt.Sprintf(format, args...), s.replay())
}

// expectedViews is the views the up nodes must install: the up nodes of
// each side of the partition, or all of them.
func (s *Sim) expectedViews() [][]uint32 {
	bySide := map[int][]uint32{}
	var sides []int
	for _, id := range s.ids {
		if s.down[id] {
			continue
		}
		k := 0
		if s.side != nil {
			k = s.side[id]
		}
		if _, ok := bySide[k]; !ok {
			sides = append(sides, k)
		}
		bySide[k] = append(bySide[k], id)
	}
	slices.Sort(sides)
	var out [][]uint32
	for _, k := range sides {
		out = append(out, bySide[k])
	}
	return out
}

// waitViews runs the simulation until the expected views are installed.
func (s *Sim) waitViews(what string) {
	s.t.Helper()
	views := s.expectedViews()
	installed := func() bool {
		for _, v := range views {
			var ring *api.RingId
			for _, id := range v {
				r, m, up := s.s.View(id)
				if !up || !slices.Equal(m, v) || ring != nil && !sameRing(ring, r) {
					return false
				}
				ring = r
			}
		}
		return true
	}
	if !s.s.RunUntil(installed, s.timeout) {
		var b strings.Builder
		for _, id := range s.ids {
			r, m, up := s.s.View(id)
			fmt.Fprintf(&b, "\n  node %d: up %v ring %s members %v", id, up, RingString(r), m)
		}
		s.fatalf("%s: no views %v after %v of simulated time; the nodes' views:%s", what, views, s.timeout, b.String())
	}
}

// SimProc is a simulated CPG process: a handle on one node of a Sim. Its
// calls fail the test on error; they advance simulated time while they
// wait, as the blocking API would.
type SimProc struct {
	s      *Sim
	p      *sim.ScriptProc
	name   string
	log    *eventLog
	pulled int // events of p taken into log
}

// NewProc starts a process on up node id.
func (s *Sim) NewProc(id uint32) *SimProc {
	s.t.Helper()
	p, err := s.s.NewProc(id)
	if err != nil {
		s.fatalf("NewProc(%d): %v", id, err)
	}
	sp := &SimProc{s: s, p: p, log: newEventLog()}
	sp.name = fmt.Sprintf("sim seed %d: process %s", s.Seed(), sp.Address())
	s.procs = append(s.procs, sp)
	return sp
}

// Address returns the process's member address.
func (p *SimProc) Address() Addr {
	pr := p.p.Proc()
	return Addr{pr.Node, pr.Pid}
}

// Join joins group (TRY_AGAIN retried); the process's own JOIN confchg
// comes later.
func (p *SimProc) Join(group string) { p.s.t.Helper(); p.must("Join", p.p.Join(group)) }

// Leave leaves the process's group.
func (p *SimProc) Leave() { p.s.t.Helper(); p.must("Leave", p.p.Leave()) }

// Mcast multicasts data (AGREED) with the kit's header, as a Probe does;
// a message above 512 bytes travels in parts and Mcast waits until it is
// ordered.
func (p *SimProc) Mcast(data []byte) { p.s.t.Helper(); p.must("Mcast", p.p.Mcast(data)) }

// Finalize ends the process while its node runs on (PROCDOWN).
func (p *SimProc) Finalize() { p.p.Finalize() }

// Events returns every event the process received so far.
func (p *SimProc) Events() []Event {
	p.pull()
	return p.log.all()
}

func (p *SimProc) must(what string, err error) {
	p.s.t.Helper()
	if err != nil {
		p.s.fatalf("%s: %s: %v", p.name, what, err)
	}
}

// ExpectConfchg is Probe.ExpectConfchg; it waits in simulated time.
func (p *SimProc) ExpectConfchg(t testing.TB, group string, match ...ConfchgMatch) *api.Confchg {
	t.Helper()
	return expectConfchg(t, p, group, match)
}

// ExpectDeliver is Probe.ExpectDeliver; it waits in simulated time.
func (p *SimProc) ExpectDeliver(t testing.TB, from Process, data []byte) *api.Deliver {
	t.Helper()
	return expectDeliver(t, p, from, data)
}

// ExpectTotem is Probe.ExpectTotem; it waits in simulated time. A
// simulated process gets its node's view when it starts, where a probe
// gets it after its first confchg.
func (p *SimProc) ExpectTotem(t testing.TB, members ...uint32) *api.TotemConfchg {
	t.Helper()
	return expectTotem(t, p, members)
}

// ExpectNoMessage is Probe.ExpectNoMessage; it runs d of simulated time.
func (p *SimProc) ExpectNoMessage(t testing.TB, d time.Duration) {
	t.Helper()
	expectNoMessage(t, p, d)
}

func (p *SimProc) label() string           { return p.name }
func (p *SimProc) events() *eventLog       { return p.log }
func (p *SimProc) patience() time.Duration { return p.s.timeout }

// await runs the simulation until cond holds (with what the process got
// taken into its log) or d of simulated time passed.
func (p *SimProc) await(cond func() bool, d time.Duration) bool {
	return p.s.s.RunUntil(func() bool {
		p.pull()
		return cond()
	}, d)
}

// pull takes what the process got since the last pull into its log.
func (p *SimProc) pull() {
	for _, m := range p.p.Seen(p.pulled) {
		p.pulled++
		p.log.add(simEvent(m))
	}
}

// simEvent is the Event of a simulated process's message; a delivery
// shows the payload without the kit's header.
func simEvent(m proto.Message) Event {
	switch m := m.(type) {
	case *api.Deliver:
		data := m.Data
		if _, _, err := checker.DecodeMsg(data); err == nil {
			data = data[checker.HeaderSize:]
		}
		return Event{Deliver: &api.Deliver{Group: m.Group, Nodeid: m.Nodeid, Pid: m.Pid, Data: data}}
	case *api.Confchg:
		return Event{Confchg: m}
	case *api.TotemConfchg:
		return Event{Totem: m}
	}
	return Event{}
}
