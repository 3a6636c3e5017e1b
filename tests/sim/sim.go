package sim

import (
	"fmt"
	"io"
	"math/rand"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cluster"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// Feature is one kind of fault or client behaviour a run may have. The seed
// picks which are on; Options.Disable turns some off (the minimizer does).
type Feature uint32

// The features.
const (
	Loss      Feature = 1 << iota // data messages (Submit, Ordered, Ack, Nack) are lost
	Dup                           // data messages are duplicated
	All                           // loss and duplication hit every message kind
	Reorder                       // per-message delays: links are not FIFO
	Spikes                        // some messages are delayed up to most of Token
	Crash                         // nodes crash and restart
	Partition                     // the network splits in two or three, or one way
	Slow                          // nodes stall (no ticks, inputs queue)
	Large                         // messages above Config.Fragment (sent in parts)
	Churn                         // clients leave, finalize and join again
	Congest                       // clients report a congested receive queue
	Safe                          // some messages are CPG_TYPE_SAFE
	// Reuse gives a new incarnation of a client (after Finalize or a
	// restart) its slot's old pid, as cpg.WithPid(os.Getpid()) does;
	// without it each incarnation gets a new pid, as the node assigns by
	// default. The seed never picks it: the checker then mistakes one
	// incarnation for another (same nodeid/pid, same member list) and
	// reports liveness and no-loss violations that are not there.
	Reuse
	// Interleave runs each node on cluster.NewAsync: the messages between
	// a node's own machines (its host's and its groups', as between the
	// shell's node actor and group actors) wait in their mailboxes and are
	// delivered one at a time after a small delay, interleaved with peers'
	// messages, ticks and client calls. Without it the node is
	// cluster.New, which delivers them within each call. The seed turns it
	// on in 7 runs of 8.
	Interleave

	// faults are the fault features: the seed draws them (one seed in
	// five has none).
	faults = Loss | Dup | All | Spikes | Crash | Partition | Slow
	// hardFaults are the faults the protocol cannot mask: a run without
	// them is fault-free (Params.FaultFree). Loss, duplication,
	// reordering and delay spikes it masks (retransmission, dedup,
	// ordering, timeouts above the spikes).
	hardFaults = Crash | Partition | Slow
)

type featureName struct {
	f    Feature
	name string
}

var featureNames = []featureName{
	{Loss, "loss"}, {Dup, "dup"}, {All, "all"}, {Reorder, "reorder"}, {Spikes, "spikes"},
	{Crash, "crash"}, {Partition, "partition"}, {Slow, "slow"}, {Large, "large"},
	{Churn, "churn"}, {Congest, "congest"}, {Safe, "safe"}, {Reuse, "reuse"},
	{Interleave, "interleave"},
}

// String lists the features by name, comma-separated ("none" when empty).
func (f Feature) String() string {
	var s []string
	for _, n := range featureNames {
		if f&n.f != 0 {
			s = append(s, n.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// ParseFeatures reads a comma-separated list of feature names.
func ParseFeatures(s string) (Feature, error) {
	var f Feature
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" || part == "none" {
			continue
		}
		i := slices.IndexFunc(featureNames, func(n featureName) bool { return n.name == part })
		if i < 0 {
			return 0, fmt.Errorf("sim: unknown feature %q", part)
		}
		f |= featureNames[i].f
	}
	return f, nil
}

// Options overrides what the seed decides; zero fields keep the seed's
// choice.
type Options struct {
	Nodes   int           // 3..7
	Clients int           // client slots per node
	Groups  int           // groups the clients pick from
	Active  time.Duration // the faulty, busy part of the run
	Disable Feature       // features turned off
	Enable  Feature       // features turned on (after Disable)
	Bug     Bug           // a bug to inject (see Bug)
	// Trace, when set, receives one line per input and output.
	Trace io.Writer
	// TraceAll adds ticks without output and heartbeats to the trace.
	TraceAll bool
	// CheckSent checks that no data message changes between its engine
	// handing it out and its arrival; with KeepSent, that no message
	// changes until the end. Off by default: the engine does change
	// Submit messages it sent (TestRegression/sent-submit-changed-afterwards).
	CheckSent, KeepSent bool
}

// Params is what a run does, derived from its seed and Options.
type Params struct {
	Nodes, Clients, Groups int
	Active                 time.Duration
	Features               Feature

	LossData, LossAll float64 // per-message loss probability
	DupData, DupAll   float64 // per-message duplication probability
	DelayMean         time.Duration
	SpikeProb         float64
	Crashes           int           // crash episodes
	Partitions        int           // partition episodes
	Pauses            int           // slow-node episodes
	Think             time.Duration // mean time between a client's actions
	Window            int           // a client's send window (messages in flight)
	// LocalMax bounds the delay of a local message (Interleave), but for
	// the rare stalls (localStall).
	LocalMax time.Duration
}

// FaultFree reports whether the run has no fault the protocol cannot
// mask: no crash, partition or stall, and no loss of view traffic (All:
// lost heartbeats make a node leave the view for a while, as a partition
// does); loss and duplication of data messages, reordering and delay
// spikes it masks. The checker then checks no-loss, and the simulator
// that the first full view lasts to the end (KeepsView).
func (p Params) FaultFree() bool { return p.Features&(hardFaults|All) == 0 }

// KeepsView reports whether the run's first full view must last to the
// end: in a fault-free run (FaultFree) nothing may split it.
func (p Params) KeepsView() bool { return p.FaultFree() }

// String is a one-line summary.
func (p Params) String() string {
	return fmt.Sprintf("nodes=%d clients=%d groups=%d active=%v features=%s", p.Nodes, p.Clients, p.Groups, p.Active, p.Features)
}

// The engines' timing (as in the cluster tests) and the simulator's.
const (
	token       = 100 * time.Millisecond
	heartbeat   = 20 * time.Millisecond
	joinWait    = 20 * time.Millisecond
	consensus   = 200 * time.Millisecond
	retransmit  = 30 * time.Millisecond
	handoff     = 20 * time.Millisecond // below the default, to move sequencers often
	tickEvery   = 5 * time.Millisecond
	fragment    = 512
	frameBytes  = 2048
	maxNodes    = 7
	localStall  = 30 * time.Millisecond  // the longest delay of a local message (Interleave)
	quietWindow = 300 * time.Millisecond // no data traffic this long: settled
	maxQuiet    = 6 * time.Second        // settling longer than this is a failure
)

// derive picks a run's parameters from its seed.
func derive(seed int64, o Options) (Params, *rand.Rand) {
	r := rand.New(rand.NewSource(seed))
	p := Params{
		Nodes:   3 + r.Intn(5),
		Clients: 1 + r.Intn(4),
		Groups:  1 + r.Intn(3),
		Active:  time.Duration(1000+r.Intn(2000)) * time.Millisecond,
		Think:   time.Duration(5+r.Intn(30)) * time.Millisecond,
		Window:  4 + r.Intn(60),
	}
	p.Features = Large | Churn | Safe | Congest
	if r.Intn(4) == 0 {
		p.Features &^= Congest
	}
	if r.Intn(2) == 0 {
		p.Features |= Reorder
	}
	if r.Intn(5) != 0 { // 1 seed in 5 is fault-free
		for _, f := range []Feature{Loss, Dup, All, Spikes, Crash, Partition, Slow} {
			if r.Intn(2) == 0 {
				p.Features |= f
			}
		}
		if p.Features&faults == 0 {
			p.Features |= []Feature{Crash, Partition, Loss}[r.Intn(3)]
		}
	}
	p.DelayMean = []time.Duration{100 * time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond}[r.Intn(3)]
	p.LossData = []float64{0.01, 0.05, 0.2}[r.Intn(3)]
	p.LossAll = []float64{0.005, 0.02, 0.05}[r.Intn(3)]
	p.DupData = []float64{0.01, 0.05, 0.2}[r.Intn(3)]
	p.DupAll = []float64{0.005, 0.02, 0.05}[r.Intn(3)]
	p.SpikeProb = []float64{0.001, 0.01}[r.Intn(2)]
	p.Crashes = 1 + r.Intn(4)
	p.Partitions = 1 + r.Intn(4)
	p.Pauses = 1 + r.Intn(6)
	if r.Intn(8) != 0 {
		p.Features |= Interleave
	}
	p.LocalMax = []time.Duration{200 * time.Microsecond, time.Millisecond, 2 * time.Millisecond}[r.Intn(3)]
	if o.Nodes > 0 {
		p.Nodes = min(max(o.Nodes, 1), maxNodes)
	}
	if o.Clients > 0 {
		p.Clients = o.Clients
	}
	if o.Groups > 0 {
		p.Groups = o.Groups
	}
	if o.Active > 0 {
		p.Active = o.Active
	}
	p.Features &^= o.Disable
	p.Features |= o.Enable
	return p, r
}

// World is one simulated run: the nodes (each a real cluster.Engine), the
// clients, the network and the clock, driven by one event queue in one
// goroutine.
type World struct {
	seed int64
	p    Params
	opt  Options

	safe safeOracle // what SAFE means, checked from outside the engines

	now    time.Duration
	q      eventQueue
	events int64
	// handoffs counts sequencer handoffs, at their target.
	handoffs int
	done     bool

	// One random source per concern, all from the seed, so that turning
	// one feature off disturbs the others less. localRand draws the
	// delays of local messages (Interleave).
	sched, netRand, cliRand, localRand *rand.Rand

	nodes  []*node
	groups [][]byte

	cut    [maxNodes + 1][maxNodes + 1]bool
	lastAt [maxNodes + 1][maxNodes + 1]time.Duration
	active bool // faults and new client actions happen
	// scripted: a Script drives the run: no planned faults, no client
	// acts on its own (see acting), pids are new per node.
	scripted bool

	hist     *checker.History
	problems []string
	// lastData is when a message other than a heartbeat was last sent,
	// and which.
	lastData                 time.Duration
	lastDataMsg              proto.Message
	lastDataFrom, lastDataTo uint32
	// quietAt is when the active part ended; fullView when every node
	// first shared one view (fault-free runs must keep it).
	quietAt  time.Duration
	fullView bool
	ring     *api.RingId

	large       map[msgKey]bool // large messages delivered somewhere
	interrupted []msgKey        // large messages whose sender got ErrInterrupt

	pkt  packetCache
	sent []sentMsg // with Options.KeepSent: every message handed out

	tamperer *tamperer // the shell bug (Options.Bug), if any
}

type msgKey struct {
	proc checker.Proc
	seq  uint64
}

// node is one simulated node: its engine while it is up.
type node struct {
	w        *World
	id       uint32
	eng      *cluster.Engine
	gen      int // grows at every start: messages to an older gen are lost
	inc      uint64
	persist  uint64
	up       bool
	paused   time.Duration // stalled until then
	inbox    []*packet     // messages that arrived while stalled
	flushing bool
	// view is the last view whose totem confchg the node gave its
	// clients (at start, its first view): what a new client is told.
	view    *api.TotemConfchg
	handles groups.HandleID // the last handle id given out
	clients []*client       // the current client of each slot
	slotInc []uint64        // the last incarnation of each slot
}

// Result is the outcome of one run.
type Result struct {
	Seed     int64
	Params   Params
	Report   checker.Report
	Problems []string // simulator checks: TRY_AGAIN resolution, settling, buffers, ghosts in engines
	Events   int64
	Handoffs int // sequencer handoffs within a view (Config.Handoff)
	SimTime  time.Duration
}

// Violations counts the checker's violations and the simulator's problems.
func (r Result) Violations() int { return r.Report.Count() + len(r.Problems) }

// Failed reports whether the run found any violation.
func (r Result) Failed() bool { return r.Violations() > 0 }

// String is the report: the parameters, the checker's report and the
// simulator's problems.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (%s): %d events, %v simulated\n%s", r.Seed, r.Params, r.Events, r.SimTime, r.Report)
	for _, p := range r.Problems {
		b.WriteString("\n  sim: ")
		b.WriteString(p)
	}
	return b.String()
}

// Run simulates one seed and checks it.
func Run(seed int64, o Options) Result {
	w := newWorld(seed, o)
	w.run()
	return w.result()
}

func newWorld(seed int64, o Options) *World {
	p, r := derive(seed, o)
	w := buildWorld(seed, o, p, r)
	w.plan()
	w.at(p.Active, w.quiet)
	return w
}

// buildWorld builds a run of p, its random sources drawn from r, and
// schedules its nodes' starts.
func buildWorld(seed int64, o Options, p Params, r *rand.Rand) *World {
	w := &World{
		seed: seed, p: p, opt: o,
		sched:     rand.New(rand.NewSource(r.Int63())),
		netRand:   rand.New(rand.NewSource(r.Int63())),
		cliRand:   rand.New(rand.NewSource(r.Int63())),
		localRand: rand.New(rand.NewSource(r.Int63())),
		hist:      checker.NewHistory(),
		active:    true,
		large:     map[msgKey]bool{},
	}
	w.tamperer = newTamperer(seed, o.Bug)
	for g := range p.Groups {
		w.groups = append(w.groups, []byte(fmt.Sprintf("g%d", g)))
	}
	for i := 1; i <= p.Nodes; i++ {
		n := &node{w: w, id: uint32(i), persist: 1, slotInc: make([]uint64, p.Clients)}
		w.nodes = append(w.nodes, n)
		w.at(time.Duration(w.sched.Intn(50))*time.Millisecond, func() { w.start(n) })
	}
	return w
}

func (w *World) tracef(format string, args ...any) {
	if w.opt.Trace == nil {
		return
	}
	fmt.Fprintf(w.opt.Trace, "%10.3f ", float64(w.now)/float64(time.Millisecond))
	fmt.Fprintf(w.opt.Trace, format, args...)
	io.WriteString(w.opt.Trace, "\n")
}

func (w *World) problem(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	w.tracef("PROBLEM %s", s)
	w.problems = append(w.problems, s)
}

// at schedules fn at time t (not before now).
func (w *World) at(t time.Duration, fn func()) { w.q.push(max(t, w.now), fn) }

func (w *World) run() {
	for !w.done && w.q.Len() > 0 {
		w.runNext()
	}
}

// runNext runs the next scheduled event.
func (w *World) runNext() {
	ev := w.q.pop()
	w.now = ev.at
	w.events++
	ev.fn()
}

// acting reports whether clients pick new actions of their own: in the
// active part of a run that no Script drives.
func (w *World) acting() bool { return w.active && !w.scripted }

func (w *World) nodeIDs() []uint32 {
	ids := make([]uint32, len(w.nodes))
	for i, n := range w.nodes {
		ids[i] = n.id
	}
	return ids
}

func (w *World) node(id uint32) *node { return w.nodes[id-1] }

// start starts (or restarts) node n with a new engine and new clients.
func (w *World) start(n *node) {
	n.gen++
	n.inc++
	n.up, n.paused, n.inbox, n.flushing = true, 0, nil, false
	cfg := cluster.Config{
		NodeID: n.id, Nodes: w.nodeIDs(), RingSeq: n.persist + 1, Incarnation: n.inc,
		Token: token, Heartbeat: heartbeat, Join: joinWait, Consensus: consensus, Retransmit: retransmit,
		Handoff: handoff, Fragment: fragment, FrameBytes: frameBytes, Bug: w.opt.Bug.Engine(),
	}
	if w.p.Features&Interleave != 0 {
		n.eng = cluster.NewAsync(cfg)
	} else {
		n.eng = cluster.New(cfg)
	}
	n.view = &api.TotemConfchg{RingId: n.eng.Ring(), Members: n.eng.Members()}
	n.persist++
	w.tracef("n%d start inc=%d ringseq=%d", n.id, n.inc, n.persist)
	n.clients = make([]*client, w.p.Clients)
	for s := range n.clients {
		w.newClient(n, s)
	}
	gen := n.gen
	w.at(w.now, func() { w.tick(n, gen) })
}

// crash drops node n's engine; its clients end killed.
func (w *World) crash(n *node) {
	if !n.up {
		return
	}
	w.tracef("n%d CRASH", n.id)
	for _, c := range n.clients {
		if c != nil {
			c.kill()
		}
	}
	n.up, n.eng, n.inbox, n.flushing = false, nil, nil, false
	n.gen++
}

// pause stalls node n for d: no ticks, its inputs wait.
func (w *World) pause(n *node, d time.Duration) {
	if !n.up {
		return
	}
	w.tracef("n%d STALL for %v", n.id, d)
	until := w.now + d
	if until <= n.paused {
		return
	}
	n.paused = until
	gen := n.gen
	w.at(until, func() { w.resume(n, gen, until) })
}

func (w *World) resume(n *node, gen int, until time.Duration) {
	if n.gen != gen || n.paused != until {
		return
	}
	n.paused = 0
	inbox := n.inbox
	n.inbox = nil
	w.tracef("n%d resumes (%d queued messages)", n.id, len(inbox))
	// A stalled process wakes up to one pending timer tick, then reads
	// what its peers sent meanwhile.
	n.eng.Tick(w.now)
	w.carryOut(n, "tick")
	for _, p := range inbox {
		if n.gen != gen {
			return
		}
		w.step(n, p)
	}
}

func (n *node) stalled() bool { return n.paused > n.w.now }

// tick drives node n's clock, every tickEvery with a little jitter.
func (w *World) tick(n *node, gen int) {
	if n.gen != gen {
		return
	}
	next := w.now + tickEvery + time.Duration(w.sched.Intn(200))*time.Microsecond
	if n.stalled() {
		next = max(next, n.paused)
	} else {
		n.eng.Tick(w.now)
		w.carryOut(n, "tick")
	}
	w.at(next, func() { w.tick(n, gen) })
}

// carryOut performs the engine's Ready like the node actor does (in field
// order), then schedules a Flush behind the inputs queued at this instant.
func (w *World) carryOut(n *node, cause string) {
	e := n.eng
	if e.HasReady() {
		rd := e.Ready()
		// With Interleave, a view change's deliveries (the old view's
		// cut, the confchgs) come while the node installs it, in Readys
		// before the one with its totem confchg.
		installing := e.Installing()
		if w.opt.Trace != nil && (w.opt.TraceAll || cause != "tick" || len(rd.Deliveries)+len(rd.Left)+len(rd.Interrupted) > 0 ||
			rd.Totem != nil || rd.SyncChanged || hasNonHeartbeat(rd.Messages)) {
			w.tracef("n%d %s: out %s", n.id, cause, describeReady(rd))
		}
		if rd.PersistSeq != 0 {
			n.persist = rd.PersistSeq
		}
		w.sendAll(n, rd.Messages)
		rd.InOrder(func(d *groups.Delivery, flush bool) {
			if !flush && !installing {
				w.safeDelivered(n, d.Events)
			}
			if c := n.client(d.Handle); c != nil {
				c.events(w.tamper(c, d.Events))
			} else {
				w.tracef("n%d h%d: %d events for no live client", n.id, d.Handle, len(d.Events))
			}
		}, func(t *api.TotemConfchg) { w.totem(n, t) })
		for _, l := range rd.Left {
			if c := n.client(l.Handle); c != nil {
				c.left(l.Reason)
			}
		}
		for _, r := range rd.Rejected {
			if c := n.client(r.Handle); c != nil {
				w.problem("%s: %d multicasts rejected while joined (state %s)", c.proc, r.Count, c.state)
			}
		}
		for _, f := range rd.Flow {
			if c := n.client(f.Handle); c != nil {
				c.note(func() { c.groupFC = f.Enabled })
			}
		}
		for _, h := range rd.Interrupted {
			if c := n.client(h); c != nil {
				c.interrupted()
			}
		}
		if rd.SyncChanged {
			on := e.Syncing()
			for _, c := range n.clients {
				if c != nil && c.state != dead {
					c.note(func() { c.syncFC = on })
				}
			}
		}
		e.Advance()
	}
	for _, mb := range e.Wakeups() {
		w.schedLocal(n, mb, w.localDelay())
	}
	if !n.flushing && e.NeedsFlush() {
		n.flushing = true
		gen := n.gen
		w.at(w.now, func() {
			if n.gen != gen {
				return
			}
			n.flushing = false
			if n.stalled() {
				w.at(n.paused, func() { w.flushLater(n, gen) })
				n.flushing = true
				return
			}
			n.eng.Flush()
			w.carryOut(n, "flush")
		})
	}
}

// schedLocal runs the next message of node n's mailbox mb after d
// (Interleave): as the dispatcher runs an actor whose mailbox got a
// message. A stalled node runs it once it resumes.
func (w *World) schedLocal(n *node, mb cluster.Mailbox, d time.Duration) {
	gen := n.gen
	w.at(w.now+d, func() {
		if n.gen != gen {
			return
		}
		if n.stalled() {
			w.schedLocal(n, mb, n.paused-w.now)
			return
		}
		if n.eng.RunLocal(mb) {
			w.carryOut(n, "local")
		}
	})
}

// localDelay draws the delay of a local message: none one time in four,
// else up to the run's LocalMax; and one time in 64 a stall of up to
// localStall (the machine's actor not scheduled for a while: the messages
// behind it in its mailbox wait too).
func (w *World) localDelay() time.Duration {
	r := w.localRand
	switch {
	case r.Intn(64) == 0:
		return time.Duration(r.Int63n(int64(localStall)))
	case r.Intn(4) == 0:
		return 0
	}
	return time.Duration(r.Int63n(int64(w.p.LocalMax)))
}

func (w *World) flushLater(n *node, gen int) {
	if n.gen != gen {
		return
	}
	n.flushing = false
	n.eng.Flush()
	w.carryOut(n, "flush")
}

// client returns the live client of handle h on n.
func (n *node) client(h groups.HandleID) *client {
	for _, c := range n.clients {
		if c != nil && c.handle == h && c.state != dead {
			return c
		}
	}
	return nil
}

// totem hands a view's totem confchg to every live client of n, and
// checks that a fault-free run keeps its first full view.
func (w *World) totem(n *node, t *api.TotemConfchg) {
	n.view = t
	for _, c := range n.clients {
		if c != nil && c.state != dead {
			c.totem(t)
		}
	}
	if len(t.Members) == len(w.nodes) && !w.fullView {
		w.fullView, w.ring = true, t.RingId
	} else if w.fullView && w.p.KeepsView() && (t.RingId.Seq != w.ring.Seq || t.RingId.Nodeid != w.ring.Nodeid) {
		w.problem("fault-free run: node %d installed ring %d.%d %v after the full view %d.%d",
			n.id, t.RingId.Nodeid, t.RingId.Seq, t.Members, w.ring.Nodeid, w.ring.Seq)
	}
}

// quiet ends the active part: every fault stops and heals, crashed nodes
// restart, clients only finish what they started; then the run waits
// until it settles.
func (w *World) quiet() {
	w.active = false
	w.quietAt = w.now
	w.tracef("QUIET: heal, restart, stop new actions")
	w.cut = [maxNodes + 1][maxNodes + 1]bool{}
	for _, n := range w.nodes {
		if !n.up {
			w.start(n)
			continue
		}
		if n.stalled() {
			w.resume(n, n.gen, n.paused)
		}
	}
	w.lastData, w.lastDataMsg = w.now, nil
	w.at(w.now+50*time.Millisecond, w.settleCheck)
}

// settleCheck ends the run once it has settled: one view of every node,
// no view change running, no client waiting, and no data traffic for
// quietWindow (no retransmit, nothing unstable, nothing unordered).
func (w *World) settleCheck() {
	why := w.unsettled()
	if why == "" {
		w.tracef("SETTLED")
		w.done = true
		return
	}
	if w.now-w.quietAt > maxQuiet {
		var views []string
		for _, n := range w.nodes {
			if n.up {
				views = append(views, fmt.Sprintf("n%d ring=%s members=%v syncing=%v", n.id, ring(n.eng.Ring()), n.eng.Members(), n.eng.Syncing()))
			}
		}
		w.problem("not settled %v after the faults stopped: %s (%s)", maxQuiet, why, strings.Join(views, "; "))
		w.done = true
		return
	}
	w.at(w.now+50*time.Millisecond, w.settleCheck)
}

func (w *World) unsettled() string {
	var ring *api.RingId
	for _, n := range w.nodes {
		switch {
		case !n.up:
			return fmt.Sprintf("node %d down", n.id)
		case n.eng.Syncing():
			return fmt.Sprintf("node %d syncing", n.id)
		case len(n.eng.Members()) != len(w.nodes):
			return fmt.Sprintf("node %d in view %v", n.id, n.eng.Members())
		case ring != nil && (ring.Seq != n.eng.Ring().Seq || ring.Nodeid != n.eng.Ring().Nodeid):
			return fmt.Sprintf("nodes in rings %d.%d and %d.%d", ring.Nodeid, ring.Seq, n.eng.Ring().Nodeid, n.eng.Ring().Seq)
		}
		ring = n.eng.Ring()
		for _, c := range n.clients {
			if c != nil && c.busy() {
				return fmt.Sprintf("client %s %s", c.proc, c.waiting())
			}
		}
	}
	if d := w.now - w.lastData; d < quietWindow {
		return fmt.Sprintf("data traffic %v ago, the last n%d -> n%d %s", d, w.lastDataFrom, w.lastDataTo, describeMsg(w.lastDataMsg))
	}
	return ""
}

// plan schedules the run's faults over its active part.
func (w *World) plan() {
	p, r := w.p, w.sched
	span := func() time.Duration { return time.Duration(r.Int63n(int64(p.Active))) }
	if p.Features&Crash != 0 {
		for range p.Crashes {
			id := uint32(1 + r.Intn(p.Nodes))
			t := 100*time.Millisecond + span()
			down := time.Duration(30+r.Intn(600)) * time.Millisecond
			w.at(t, func() {
				n := w.node(id)
				if !w.active || !n.up {
					return
				}
				w.crash(n)
				gen := n.gen
				w.at(w.now+down, func() {
					if w.active && n.gen == gen && !n.up {
						w.start(n)
					}
				})
			})
		}
	}
	if p.Features&Partition != 0 {
		t := time.Duration(0)
		for range p.Partitions {
			t += time.Duration(50+r.Intn(400)) * time.Millisecond
			d := time.Duration(50+r.Intn(500)) * time.Millisecond
			cuts := w.partition()
			w.at(t, func() {
				if !w.active {
					return
				}
				w.tracef("PARTITION %s", describeCuts(cuts))
				for _, c := range cuts {
					w.cut[c[0]][c[1]] = true
				}
			})
			t += d
			w.at(t, func() {
				if !w.active {
					return
				}
				w.tracef("HEAL")
				w.cut = [maxNodes + 1][maxNodes + 1]bool{}
			})
		}
	}
	if p.Features&Slow != 0 {
		// One long stall of 2 to 10 tokens (a GC pause, SIGSTOP, swap):
		// the others form a view without the node, which on resume must
		// tell the same story to its clients (NODEDOWN, then NODEUP).
		// Drawn from a source of its own, so the other draws stay put.
		lr := rand.New(rand.NewSource(w.seed ^ 0x5a11))
		if lr.Intn(2) == 0 {
			id := uint32(1 + lr.Intn(p.Nodes))
			t := time.Duration(lr.Int63n(int64(p.Active)))
			d := time.Duration(2+lr.Intn(9)) * token
			w.at(t, func() {
				if w.active {
					w.pause(w.node(id), d)
				}
			})
		}
		for range p.Pauses {
			id := uint32(1 + r.Intn(p.Nodes))
			t := span()
			d := time.Duration(10+r.Intn(240)) * time.Millisecond
			w.at(t, func() {
				if w.active {
					w.pause(w.node(id), d)
				}
			})
		}
	}
}

// partition draws a cut: two or three sides, or one node deaf or mute to
// another, or to all.
func (w *World) partition() [][2]uint32 {
	r := w.sched
	ids := w.nodeIDs()
	var cuts [][2]uint32
	switch r.Intn(4) {
	case 0: // one direction of one link
		a := ids[r.Intn(len(ids))]
		b := ids[r.Intn(len(ids))]
		if a == b {
			b = ids[(int(a))%len(ids)]
		}
		cuts = append(cuts, [2]uint32{a, b})
	case 1: // one node deaf to everyone
		a := ids[r.Intn(len(ids))]
		for _, b := range ids {
			if b != a {
				cuts = append(cuts, [2]uint32{b, a})
			}
		}
	default: // two or three sides
		k := 2 + r.Intn(2)
		side := make(map[uint32]int, len(ids))
		for i, id := range ids {
			side[id] = r.Intn(k)
			if i < k { // no side empty when there are enough nodes
				side[id] = i
			}
		}
		r.Shuffle(len(ids), func(i, j int) { side[ids[i]], side[ids[j]] = side[ids[j]], side[ids[i]] })
		for _, a := range ids {
			for _, b := range ids {
				if side[a] != side[b] {
					cuts = append(cuts, [2]uint32{a, b})
				}
			}
		}
	}
	return cuts
}

func (w *World) result() Result {
	w.release()
	w.finalChecks()
	rep := checker.Check(w.hist, checker.Options{Quiet: true, FaultFree: w.p.FaultFree()})
	return Result{Seed: w.seed, Params: w.p, Report: rep, Problems: w.problems, Events: w.events, Handoffs: w.handoffs, SimTime: w.now}
}

// event is one scheduled action; seq breaks ties in scheduling order.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

// eventQueue is a binary min-heap of events by (at, seq).
type eventQueue struct {
	h   []event
	seq uint64
}

func (q *eventQueue) Len() int { return len(q.h) }

func (q *eventQueue) less(i, j int) bool {
	a, b := &q.h[i], &q.h[j]
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (q *eventQueue) push(at time.Duration, fn func()) {
	q.seq++
	q.h = append(q.h, event{at: at, seq: q.seq, fn: fn})
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	top := q.h[0]
	last := len(q.h) - 1
	q.h[0] = q.h[last]
	q.h[last] = event{}
	q.h = q.h[:last]
	i := 0
	for {
		l, m := 2*i+1, i
		if l < len(q.h) && q.less(l, m) {
			m = l
		}
		if r := l + 1; r < len(q.h) && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}
