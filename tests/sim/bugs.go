package sim

import (
	"fmt"
	"math/rand"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/cluster"
)

// Bug is a bug the simulator injects into a run (Options.Bug), so that
// TestInjectedBugIsCaught can show that the checks catch every class of
// bug. Engine bugs are protocol bugs in cluster.Engine (cluster.Config.Bug,
// on every node). Shell bugs change what one client receives, where the
// simulator hands the engine's output to its clients, as a broken handle
// layer would: each hits one event of the run, chosen from the seed alone
// (the at-th event that the bug can hit, counted over every client in the
// order they get them), so a seed replays exactly with -sim.bug.
type Bug int

// The bugs.
const (
	NoBug Bug = iota

	// Engine bugs.
	BugSkipFlush    // cluster.BugSkipFlush: no flush at a view change
	BugNoDedup      // cluster.BugNoDedup: an event re-sent after a view change is delivered again
	BugNoOriginHeld // cluster.BugNoOriginHeld: delivery does not wait for the origin to hold the event
	BugGhost        // cluster.BugGhost: processes of a node that left the view stay members
	BugSafeEarly    // cluster.BugSafeEarly: SAFE delivered as AGREED, before it is stable

	// Shell bugs: one event at one client.
	BugDrop        // a delivery (of another process's message) is lost
	BugDup         // a delivery is handed over twice in a row
	BugSwap        // two adjacent deliveries of one sender come the other way round
	BugCorrupt     // a delivery's last payload byte is flipped
	BugWrongPid    // a delivery reports a wrong sender pid
	BugSkipConfchg // a confchg that neither adds nor removes the client itself is lost
)

type bugInfo struct {
	name   string
	engine cluster.Bug
	// lo, hi: the shell bug hits the at-th event it can hit, at drawn
	// from [lo, hi).
	lo, hi int
}

var bugInfos = [...]bugInfo{
	NoBug:           {name: "none"},
	BugSkipFlush:    {name: "skipflush", engine: cluster.BugSkipFlush},
	BugNoDedup:      {name: "nodedup", engine: cluster.BugNoDedup},
	BugNoOriginHeld: {name: "nooriginheld", engine: cluster.BugNoOriginHeld},
	BugGhost:        {name: "ghost", engine: cluster.BugGhost},
	BugSafeEarly:    {name: "safeearly", engine: cluster.BugSafeEarly},
	BugDrop:         {name: "drop", lo: 20, hi: 300},
	BugDup:          {name: "dup", lo: 20, hi: 300},
	BugSwap:         {name: "swap", lo: 20, hi: 300},
	BugCorrupt:      {name: "corrupt", lo: 20, hi: 300},
	BugWrongPid:     {name: "wrongpid", lo: 20, hi: 300},
	BugSkipConfchg:  {name: "skipconfchg", lo: 3, hi: 40},
}

// String returns the bug's -sim.bug name ("none" for NoBug).
func (b Bug) String() string {
	if b < 0 || int(b) >= len(bugInfos) {
		return fmt.Sprintf("bug(%d)", int(b))
	}
	return bugInfos[b].name
}

// Engine returns the engine bug to configure (cluster.NoBug for a shell
// bug).
func (b Bug) Engine() cluster.Bug {
	if b < 0 || int(b) >= len(bugInfos) {
		return cluster.NoBug
	}
	return bugInfos[b].engine
}

func (b Bug) shell() bool { return b >= BugDrop && int(b) < len(bugInfos) }

// BugNames lists the -sim.bug names.
func BugNames() []string {
	var s []string
	for _, i := range bugInfos[1:] {
		s = append(s, i.name)
	}
	return s
}

// ParseBug reads a -sim.bug name ("" or "none" is NoBug).
func ParseBug(s string) (Bug, error) {
	if s == "" {
		return NoBug, nil
	}
	for b, i := range bugInfos {
		if i.name == s {
			return Bug(b), nil
		}
	}
	return 0, fmt.Errorf("sim: unknown bug %q (one of %s)", s, strings.Join(BugNames(), ", "))
}

// tamperer injects a shell bug: it passes the events of every client and
// changes the at-th one that the bug can hit.
type tamperer struct {
	bug  Bug
	at   int // hit the at-th event the bug can hit (from 1)
	seen int // events the bug could have hit so far
	done bool
	// BugSwap: the delivery held back, at client heldBy, until the next
	// event of that client (a delivery of the same sender: swapped).
	held   *api.Event
	heldBy *client
}

// newTamperer draws where a shell bug hits from the seed, with a random
// source of its own: the run's other draws do not change.
func newTamperer(seed int64, b Bug) *tamperer {
	if !b.shell() {
		return nil
	}
	r := rand.New(rand.NewSource(seed ^ 0x7a3be5))
	i := bugInfos[b]
	return &tamperer{bug: b, at: i.lo + r.Intn(i.hi-i.lo)}
}

// tamper passes the events the engine delivered to client c through the
// run's shell bug.
func (w *World) tamper(c *client, evs []*api.Event) []*api.Event {
	t := w.tamperer
	if t == nil || t.done && t.held == nil {
		return evs
	}
	out := make([]*api.Event, 0, len(evs)+1)
	for _, ev := range evs {
		out = t.event(w, c, ev, out)
	}
	return out
}

// fromOther reports whether ev delivers a message of another process
// than c (the bugs leave a client's own messages alone: its send window
// and large messages wait for them).
func fromOther(c *client, ev *api.Event) bool {
	d := ev.Deliver
	return d != nil && (d.Nodeid != c.proc.Node || d.Pid != c.proc.Pid)
}

// aboutOthers reports whether ev is a confchg that neither adds nor
// removes c itself.
func aboutOthers(c *client, ev *api.Event) bool {
	cc := ev.Confchg
	if cc == nil {
		return false
	}
	for _, l := range [][]*api.Address{cc.Joined, cc.Left} {
		for _, a := range l {
			if a.Nodeid == c.proc.Node && a.Pid == c.proc.Pid {
				return false
			}
		}
	}
	return true
}

// event appends what c gets for ev to out.
func (t *tamperer) event(w *World, c *client, ev *api.Event, out []*api.Event) []*api.Event {
	if t.held != nil && t.heldBy == c {
		held := t.held
		t.held, t.heldBy = nil, nil
		if fromOther(c, ev) && ev.Deliver.Nodeid == held.Deliver.Nodeid && ev.Deliver.Pid == held.Deliver.Pid {
			w.tracef("BUG swap at %s: %d/%d's next delivery goes first", c.proc, ev.Deliver.Nodeid, ev.Deliver.Pid)
			t.done = true
			return append(out, ev, held)
		}
		out = append(out, held) // not the same sender next: no swap, try the next one
	}
	if t.done {
		return append(out, ev)
	}
	var can bool
	if t.bug == BugSkipConfchg {
		can = aboutOthers(c, ev)
	} else {
		can = fromOther(c, ev)
	}
	if !can {
		return append(out, ev)
	}
	t.seen++
	if t.seen < t.at {
		return append(out, ev)
	}
	switch t.bug {
	case BugDrop:
		w.tracef("BUG drop at %s: the delivery of %s", c.proc, describeDeliver(ev.Deliver))
		t.done = true
		return out
	case BugDup:
		w.tracef("BUG dup at %s: the delivery of %s twice", c.proc, describeDeliver(ev.Deliver))
		t.done = true
		return append(out, ev, ev)
	case BugSwap:
		t.held, t.heldBy = ev, c
		return out
	case BugCorrupt:
		d := proto.Clone(ev.Deliver).(*api.Deliver)
		if len(d.Data) > 0 {
			d.Data[len(d.Data)-1] ^= 0xff
		}
		w.tracef("BUG corrupt at %s: the last byte of %s", c.proc, describeDeliver(ev.Deliver))
		t.done = true
		return append(out, &api.Event{Deliver: d})
	case BugWrongPid:
		d := proto.Clone(ev.Deliver).(*api.Deliver)
		d.Pid += 1000
		w.tracef("BUG wrongpid at %s: %s reported from pid %d", c.proc, describeDeliver(ev.Deliver), d.Pid)
		t.done = true
		return append(out, &api.Event{Deliver: d})
	case BugSkipConfchg:
		w.tracef("BUG skipconfchg at %s: confchg of %s lost", c.proc, ev.Confchg.Group)
		t.done = true
		return out
	}
	return append(out, ev)
}

// release hands a delivery still held back (BugSwap, no event followed at
// its client) to its client at the end of the run, so that the bug is a
// swap or nothing, never a loss.
func (w *World) release() {
	t := w.tamperer
	if t == nil || t.held == nil {
		return
	}
	c, held := t.heldBy, t.held
	t.held, t.heldBy = nil, nil
	if c.alive() {
		c.events([]*api.Event{held})
	}
}

func describeDeliver(d *api.Deliver) string {
	return fmt.Sprintf("%d/%d's %dB message", d.Nodeid, d.Pid, len(d.Data))
}
