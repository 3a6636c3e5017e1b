package cpgtest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// ProbeOptions configures a probe; the zero value is fine.
type ProbeOptions struct {
	// Name names the probe in failures (default "probe N/P": its member
	// address).
	Name string
	// Timeout bounds its expectations and retried calls (default: the
	// cluster's, WithTimeout).
	Timeout time.Duration
	// Pid gives its handle this pid (cpg.WithPid) instead of one the node
	// picks.
	Pid uint32
}

// Probe is a CPG process for tests: a handle of the actor face
// (cpg.InitializeActor, with api.ModelV1DeliverInitialTotemConf) whose
// receiver is a small actor in its node's actor system. The actor records
// every event it gets (Deliver, Confchg, TotemConfchg, FlowControl) for
// the Expect methods and for the property checker (Check). Join, Leave,
// Mcast and Finalize fail the test given to NewProbe on error, so call
// them from that test's goroutine (TryMcast returns its error instead).
type Probe struct {
	c       *Cluster
	t       testing.TB
	name    string
	node    *actors.Node
	h       *cpg.Handle
	pid     *actor.PID // the recording actor
	proc    checker.Proc
	timeout time.Duration
	log     *eventLog

	mu    sync.Mutex // orders sends; guards group, seq
	group string     // the group it last joined
	seq   uint64     // its last message's seq

	ended atomic.Bool // its end is recorded: nothing more goes to the checker
}

// NewProbe creates a probe on running node id. It is finalized when the
// test ends.
func (c *Cluster) NewProbe(t testing.TB, id uint32, opts ProbeOptions) *Probe {
	t.Helper()
	n := c.Node(id)
	p := &Probe{c: c, t: t, node: n, timeout: opts.Timeout, log: newEventLog()}
	if p.timeout <= 0 {
		p.timeout = c.set.timeout
	}
	sys := n.System()
	p.pid = sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &probeActor{p: p} }))
	copts := []cpg.Option{cpg.WithNode(n), cpg.WithTimeout(p.timeout)}
	if opts.Pid != 0 {
		copts = append(copts, cpg.WithPid(opts.Pid))
	}
	h, err := cpg.InitializeActor(p.pid, api.ModelV1DeliverInitialTotemConf, copts...)
	if err != nil {
		sys.Root.Stop(p.pid)
		t.Fatalf("cpgtest: NewProbe on node %d: InitializeActor: %v", id, err)
	}
	p.h = h
	c.mu.Lock()
	c.incs++
	p.proc = checker.Proc{Node: id, Pid: h.Pid(), Inc: c.incs}
	c.probes = append(c.probes, p)
	c.mu.Unlock()
	p.name = opts.Name
	if p.name == "" {
		p.name = fmt.Sprintf("probe %d/%d", id, h.Pid())
	}
	sys.Root.Send(p.pid, probeReady{})
	t.Cleanup(p.close)
	return p
}

// Address returns the probe's member address (node id, pid).
func (p *Probe) Address() Addr { return Addr{p.proc.Node, p.proc.Pid} }

// Handle returns the probe's handle, for the calls the probe has no
// method for (MembershipGet, FlowControlStateGet, ...).
func (p *Probe) Handle() *cpg.Handle { return p.h }

// String returns the probe's name.
func (p *Probe) String() string { return p.name }

// Events returns every event the probe received so far, taken by an
// expectation or not.
func (p *Probe) Events() []Event { return p.log.all() }

// Join joins group, retrying while the node answers api.ErrTryAgain (a
// view change); any other error fails the test. It returns when the call
// does (the join is queued), not when the probe's own JOIN confchg
// arrives: expect that with ExpectConfchg.
func (p *Probe) Join(group string) {
	p.t.Helper()
	if err := p.retry(func() error { return p.h.Join([]byte(group)) }); err != nil {
		p.t.Fatalf("cpgtest: %s: Join(%q): %v", p.name, group, err)
	}
	p.mu.Lock()
	p.group = group
	p.mu.Unlock()
}

// Leave leaves the group the probe last joined, retrying api.ErrTryAgain;
// any other error fails the test.
func (p *Probe) Leave() {
	p.t.Helper()
	p.mu.Lock()
	group := p.group
	p.mu.Unlock()
	if err := p.retry(func() error { return p.h.Leave([]byte(group)) }); err != nil {
		p.t.Fatalf("cpgtest: %s: Leave(%q): %v", p.name, group, err)
	}
}

// Mcast multicasts data to the probe's group (AGREED), retrying
// api.ErrTryAgain; any other error fails the test. The message carries
// the kit's header (sender and seq, for the checker) before data; a
// probe's Deliver shows data alone.
func (p *Probe) Mcast(data []byte) {
	p.t.Helper()
	if err := p.retry(func() error { return p.TryMcast(data) }); err != nil {
		p.t.Fatalf("cpgtest: %s: Mcast(%s): %v", p.name, shortBytes(data), err)
	}
}

// TryMcast is Mcast's one attempt: it returns McastJoined's error (nil,
// api.ErrTryAgain, ...) and fails nothing, so any goroutine may call it.
func (p *Probe) TryMcast(data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	err := p.h.McastJoined(api.TypeAgreed, checker.EncodeMsgPayload(p.proc, p.seq, data))
	if err == nil {
		p.record(checker.SentRecord(p.proc, []byte(p.group), p.seq, true))
	}
	return err
}

// Finalize ends the probe's handle (its group sees it leave with
// PROCDOWN). An error other than api.ErrBadHandle fails the test.
func (p *Probe) Finalize() {
	p.t.Helper()
	err := p.h.Finalize()
	p.finalized()
	if err != nil && !errors.Is(err, api.ErrBadHandle) {
		p.t.Fatalf("cpgtest: %s: Finalize: %v", p.name, err)
	}
}

// retry calls f until it returns something other than api.ErrTryAgain,
// or the probe's timeout passes.
func (p *Probe) retry(f func() error) error {
	deadline := time.Now().Add(p.timeout)
	for {
		err := f()
		if !errors.Is(err, api.ErrTryAgain) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond) // back off before retrying; not an assertion
	}
}

// record adds r to the cluster's history, unless the probe ended.
func (p *Probe) record(r checker.Record) {
	if !p.ended.Load() {
		p.c.hist.Add(r)
	}
}

// end records the probe's end (r is an end record), once.
func (p *Probe) end(r checker.Record) {
	if p.ended.CompareAndSwap(false, true) {
		p.c.hist.Add(r)
	}
}

// killed ends the probe with its node (Kill).
func (p *Probe) killed() { p.end(checker.EndRecord(p.proc, true)) }

// finalized ends the probe while its node runs on; a probe of a node
// that is down ended with it.
func (p *Probe) finalized() {
	if p.c.isRunning(p.node) {
		p.end(checker.FinalizedRecord(p.proc))
	}
}

// close finalizes the probe and stops its actor (the test's cleanup).
func (p *Probe) close() {
	_ = p.h.Finalize()
	p.finalized()
	if p.c.isRunning(p.node) {
		p.node.System().Root.Stop(p.pid)
	}
}

// probeActor is a probe's receiver: it records what the handle sends.
// What comes before probeReady (the probe's identity is known only once
// InitializeActor returned) waits in early.
type probeActor struct {
	p     *Probe
	ready bool
	early []any
}

// probeReady tells the probe's actor that the probe is complete.
type probeReady struct{}

// Receive implements actor.Actor.
func (a *probeActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case probeReady:
		a.ready = true
		for _, e := range a.early {
			a.take(e)
		}
		a.early = nil
	case *api.Deliver, *api.Confchg, *api.TotemConfchg, *api.FlowControl:
		if !a.ready {
			a.early = append(a.early, m)
			return
		}
		a.take(m)
	}
}

// take records one event.
func (a *probeActor) take(m any) {
	p := a.p
	switch m := m.(type) {
	case *api.Deliver:
		r, payload := deliverRecord(p.proc, m)
		p.record(r)
		p.log.add(Event{Deliver: &api.Deliver{Group: m.Group, Nodeid: m.Nodeid, Pid: m.Pid, Data: payload}})
	case *api.Confchg:
		p.record(checker.ConfchgRecord(p.proc, m))
		p.log.add(Event{Confchg: m})
	case *api.TotemConfchg:
		p.record(checker.TotemRecord(p.proc, m))
		p.log.add(Event{Totem: m})
	case *api.FlowControl:
		p.log.add(Event{Flow: m})
	}
}

// deliverRecord is the checker's record of a delivery, and the payload
// the sender gave. A message without the kit's header (a handle that is
// no probe sent it) is recorded without an identity: the checker then
// checks membership and NODEDOWN for it, not order or integrity.
func deliverRecord(p checker.Proc, d *api.Deliver) (checker.Record, []byte) {
	_, _, err := checker.DecodeMsg(d.Data)
	if errors.Is(err, checker.ErrShort) || errors.Is(err, checker.ErrMagic) {
		return checker.Record{Proc: p, Kind: checker.KindDeliver, Group: string(d.Group),
			Node: d.Nodeid, Pid: d.Pid, OK: true, Len: len(d.Data)}, d.Data
	}
	return checker.DeliverRecord(p, d), d.Data[checker.HeaderSize:]
}
