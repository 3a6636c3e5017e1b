package sim

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// cstate is where a client is in its membership.
type cstate int

const (
	idle    cstate = iota // in no group
	joining               // Join returned OK, its own JOIN confchg not yet seen
	joined                // a member
	leaving               // Leave returned OK, its membership not yet ended
	dead                  // finalized, or its node crashed
)

func (s cstate) String() string {
	return [...]string{"idle", "joining", "joined", "leaving", "dead"}[s]
}

// client is one simulated CPG process: a handle on a node, used the way
// the handle API allows. Join and Leave answered TRY_AGAIN are retried;
// McastJoined is refused (TRY_AGAIN, retried) while the node syncs, the
// group is flow-controlled or the send window is full; a large message
// blocks the client until its own delivery (sent ok) or Ready.Interrupted
// (not ok). Every event it sees goes to the run's History, in order.
type client struct {
	w      *World
	n      *node
	slot   int
	gen    int // the node generation it lives in
	proc   checker.Proc
	handle groups.HandleID
	state  cstate
	group  []byte
	seq    uint64

	inflight  int  // own messages sent and not yet delivered back
	syncFC    bool // the node is syncing (as last told)
	groupFC   bool // the group is flow-controlled (as last told)
	congested bool
	lastNote  time.Duration // notes from the node arrive in order

	// What the client wants and was told TRY_AGAIN for, and since when.
	wantJoin  []byte
	wantLeave bool
	wantSend  *outMsg
	since     time.Duration
	tries     int
	// large is the large message waiting for its outcome.
	large *outMsg
	// seen holds, in a scripted run (Script), every event the client
	// got, in order: its Deliver, Confchg and TotemConfchg messages.
	seen []proto.Message
}

// outMsg is a message the client sends: its seq, size and guarantee, and
// in a scripted run the payload it carries (checker.EncodeMsgPayload;
// else EncodeMsg's filler).
type outMsg struct {
	seq       uint64
	size      int
	guarantee api.Guarantee
	payload   []byte
}

// newClient starts a new incarnation of slot s on node n. In a scripted
// run its pid is new on the node (1000 + the handle's number).
func (w *World) newClient(n *node, s int) *client {
	n.slotInc[s]++
	n.handles++
	c := &client{
		w: w, n: n, slot: s, gen: n.gen, handle: n.handles,
		proc: checker.Proc{Node: n.id, Pid: uint32(1001 + s), Inc: n.slotInc[s]},
	}
	switch {
	case w.scripted:
		c.proc.Pid = 1000 + uint32(n.handles)
	case w.p.Features&Reuse == 0:
		c.proc.Pid += uint32(16 * (n.slotInc[s] - 1))
	}
	c.syncFC = n.eng.Syncing()
	n.clients[s] = c
	// The view the node is in, as CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF
	// gives it: the last one whose totem confchg the node gave out (the
	// shell's node view; with Interleave the engine's ring is the next
	// one already while its groups install it). The checker tells
	// recurring confchgs apart by ring.
	c.totem(n.view)
	w.tracef("c %s: new handle h%d", c.proc, c.handle)
	c.schedule(time.Duration(5+w.cliRand.Intn(200)) * time.Millisecond)
	return c
}

// totem gives the client a view's totem confchg.
func (c *client) totem(t *api.TotemConfchg) {
	c.record(checker.TotemRecord(c.proc, t))
	c.see(t)
}

// see keeps an event the client got, in a scripted run.
func (c *client) see(m proto.Message) {
	if c.w.scripted {
		c.seen = append(c.seen, m)
	}
}

func (c *client) record(r checker.Record) { c.w.hist.Add(r) }

func (c *client) tracef(format string, args ...any) {
	if c.w.opt.Trace != nil {
		c.w.tracef("c %s: %s", c.proc, fmt.Sprintf(format, args...))
	}
}

// alive reports whether the client still runs on its node.
func (c *client) alive() bool { return c.state != dead && c.n.gen == c.gen && c.n.up }

// schedule runs the client's next action after d.
func (c *client) schedule(d time.Duration) {
	c.w.at(c.w.now+d, c.act)
}

// note applies a notification from the node after a short local delay,
// in order (the handle actor's mailbox).
func (c *client) note(fn func()) {
	t := max(c.w.now+time.Duration(c.w.cliRand.Intn(1000))*time.Microsecond, c.lastNote)
	c.lastNote = t
	c.w.at(t, func() {
		if c.alive() {
			fn()
		}
	})
}

// busy reports whether the client waits for something: a retry, its
// membership to start or end, or a large message's outcome.
func (c *client) busy() bool {
	if c.state == dead {
		return false
	}
	return c.wantJoin != nil || c.wantLeave || c.wantSend != nil || c.large != nil || c.state == joining || c.state == leaving
}

func (c *client) waiting() string {
	switch {
	case c.wantJoin != nil:
		return fmt.Sprintf("still retrying a join of %s (TRY_AGAIN since %v, %d tries)", c.wantJoin, c.since, c.tries)
	case c.wantLeave:
		return fmt.Sprintf("still retrying a leave (TRY_AGAIN since %v, %d tries)", c.since, c.tries)
	case c.wantSend != nil:
		return fmt.Sprintf("still retrying message %d (TRY_AGAIN since %v, %d tries; syncing=%v flow=%v inflight=%d/%d)",
			c.wantSend.seq, c.since, c.tries, c.syncFC, c.groupFC, c.inflight, c.w.p.Window)
	case c.large != nil:
		return fmt.Sprintf("large message %d has no outcome (neither its own delivery nor an interrupt)", c.large.seq)
	case c.state == joining:
		return fmt.Sprintf("joined %s but never saw its own JOIN confchg", c.group)
	case c.state == leaving:
		return fmt.Sprintf("left %s but its membership never ended", c.group)
	}
	return "nothing"
}

// act is the client's main loop: retry what was refused, else (while the
// run is active) pick a new action.
func (c *client) act() {
	w := c.w
	if !c.alive() {
		return
	}
	if c.n.stalled() {
		w.at(c.n.paused, c.act)
		return
	}
	switch {
	case c.wantJoin != nil:
		c.tries++
		c.join(c.wantJoin)
	case c.wantLeave:
		c.tries++
		c.leave()
	case c.wantSend != nil:
		c.tries++
		c.send(c.wantSend)
	case w.acting():
		c.choose()
	default:
		return // quiet: nothing new
	}
	if !c.alive() {
		return
	}
	if c.wantJoin != nil || c.wantLeave || c.wantSend != nil {
		c.schedule(time.Duration(1+w.cliRand.Intn(10)) * time.Millisecond)
	} else if w.acting() {
		c.schedule(time.Duration(w.cliRand.ExpFloat64()*float64(w.p.Think)) + 100*time.Microsecond)
	}
}

// choose picks a new action by state.
func (c *client) choose() {
	w, r := c.w, c.w.cliRand
	churn := w.p.Features&Churn != 0
	switch c.state {
	case idle:
		if r.Intn(4) != 0 {
			c.join(w.groups[r.Intn(len(w.groups))])
		}
	case joining, joined:
		x := r.Intn(1000)
		switch {
		case churn && x < 15:
			c.leave()
		case churn && x < 25:
			c.finalize()
		case w.p.Features&Congest != 0 && x < 40 && !c.congested:
			c.congest()
		case c.large != nil:
			// blocked in McastJoined until the outcome
		default:
			c.send(c.newMsg())
		}
	}
}

func (c *client) newMsg() *outMsg {
	r := c.w.cliRand
	c.seq++
	m := &outMsg{seq: c.seq, guarantee: api.TypeAgreed}
	switch x := r.Intn(100); {
	case x < 70:
		m.size = checker.HeaderSize + r.Intn(200)
	case x < 90 || c.w.p.Features&Large == 0:
		m.size = 200 + r.Intn(fragment-200+1)
	default:
		m.size = fragment + 1 + r.Intn(5*fragment)
	}
	switch x := r.Intn(100); {
	case x < 10 && c.w.p.Features&Safe != 0:
		m.guarantee = api.TypeSafe
	case x < 13:
		m.guarantee = api.TypeUnordered
	case x < 16:
		m.guarantee = api.TypeFIFO
	}
	return m
}

func (c *client) retryLater() {
	if c.tries == 0 {
		c.since = c.w.now
	}
}

func (c *client) resolved() { c.tries = 0 }

func (c *client) join(g []byte) {
	if c.state != idle {
		c.wantJoin = nil
		return
	}
	code := c.n.eng.Join(g, c.handle, c.proc.Pid)
	c.tracef("join %s -> %s", g, code)
	switch code {
	case api.CodeOK:
		c.wantJoin = nil
		c.resolved()
		c.state, c.group = joining, g
	case api.CodeTryAgain:
		c.retryLater()
		c.wantJoin = g
	default:
		c.wantJoin = nil
		c.w.problem("%s: join %s: unexpected %s", c.proc, g, code)
	}
	c.w.carryOut(c.n, "join")
}

func (c *client) leave() {
	if c.state != joining && c.state != joined {
		c.wantLeave = false
		return
	}
	code := c.n.eng.Leave(c.handle, api.ReasonLeave)
	c.tracef("leave %s -> %s", c.group, code)
	switch code {
	case api.CodeOK:
		c.wantLeave = false
		c.wantSend = nil // McastJoined now gives NOT_EXIST
		c.resolved()
		c.state = leaving
	case api.CodeTryAgain:
		c.retryLater()
		c.wantLeave = true
	default:
		c.wantLeave = false
		c.w.problem("%s: leave %s: unexpected %s", c.proc, c.group, code)
	}
	c.w.carryOut(c.n, "leave")
}

// finalize ends the process mid-run (Finalize): the engine hears Gone,
// the process ends finalized (a PROCDOWN while its node goes on, CPG-SPEC
// 3.3: what it delivered to itself is still owed to its peers), and a new
// incarnation of its slot starts later.
func (c *client) finalize() {
	c.tracef("finalize")
	c.end(checker.FinalizedRecord(c.proc))
	c.n.eng.Gone(c.handle)
	c.w.carryOut(c.n, "gone")
	n, s, gen := c.n, c.slot, c.gen
	c.w.at(c.w.now+time.Duration(1+c.w.cliRand.Intn(100))*time.Millisecond, func() {
		if c.w.acting() && n.gen == gen && n.clients[s] == c {
			c.w.newClient(n, s)
		}
	})
}

// kill ends the process abruptly with its node (a crash).
func (c *client) kill() { c.end(checker.EndRecord(c.proc, true)) }

// end ends the process with its end record.
func (c *client) end(r checker.Record) {
	if c.state == dead {
		return
	}
	c.record(r)
	c.state = dead
	c.wantJoin, c.wantLeave, c.wantSend, c.large = nil, false, nil, nil
}

// congest reports the client's receive queue above its high-water mark
// for a while: its group is flow-controlled on its node until it drains.
func (c *client) congest() {
	c.congested = true
	c.tracef("congested")
	c.n.eng.Congestion(c.handle, true)
	c.w.carryOut(c.n, "congestion")
	var drain func()
	drain = func() {
		if !c.alive() || !c.congested {
			return
		}
		if c.n.stalled() {
			c.w.at(c.n.paused, drain)
			return
		}
		c.congested = false
		c.tracef("drained")
		c.n.eng.Congestion(c.handle, false)
		c.w.carryOut(c.n, "congestion")
	}
	c.w.at(c.w.now+time.Duration(1+c.w.cliRand.Intn(30))*time.Millisecond, drain)
}

// send is McastJoined: refused with TRY_AGAIN (kept for a retry) while
// flow control is on, else handed to the engine.
func (c *client) send(m *outMsg) {
	if c.state != joining && c.state != joined {
		c.wantSend = nil
		return
	}
	if c.syncFC || c.groupFC || c.inflight >= c.w.p.Window {
		c.retryLater()
		c.wantSend = m
		return
	}
	c.wantSend = nil
	c.resolved()
	data := checker.EncodeMsg(c.proc, m.seq, m.size)
	if m.payload != nil {
		data = checker.EncodeMsgPayload(c.proc, m.seq, m.payload)
	}
	c.inflight++
	c.tracef("mcast %d (%dB, %d)", m.seq, m.size, m.guarantee)
	c.n.eng.Mcast(c.handle, []*api.McastRequest{{Guarantee: uint32(m.guarantee), Data: data}})
	if m.size > fragment {
		c.large = m
	} else {
		c.record(c.sentRecord(m, true))
	}
	c.w.carryOut(c.n, "mcast")
}

// sentRecord is the sent record of m (SafeSentRecord for a SAFE one).
func (c *client) sentRecord(m *outMsg, ok bool) checker.Record {
	if m.guarantee == api.TypeSafe {
		return checker.SafeSentRecord(c.proc, c.group, m.seq, ok)
	}
	return checker.SentRecord(c.proc, c.group, m.seq, ok)
}

// events takes the events the engine delivered to the client's handle.
func (c *client) events(evs []*api.Event) {
	for _, ev := range evs {
		switch {
		case ev.Deliver != nil:
			d := ev.Deliver
			r := checker.DeliverRecord(c.proc, d)
			c.record(r)
			c.see(d)
			if c.w.opt.Trace != nil {
				c.tracef("deliver %s:%d (%dB) from %d/%d", r.From, r.Seq, r.Len, d.Nodeid, d.Pid)
			}
			if r.Len > fragment {
				c.w.large[msgKey{r.From, r.Seq}] = true
			}
			if r.From == c.proc {
				c.inflight--
				if c.large != nil && r.Seq == c.large.seq {
					c.record(c.sentRecord(c.large, true))
					c.large = nil
				}
			}
		case ev.Confchg != nil:
			cc := ev.Confchg
			c.record(checker.ConfchgRecord(c.proc, cc))
			c.see(cc)
			if c.w.opt.Trace != nil {
				c.tracef("confchg %s members=%v left=%v joined=%v", cc.Group, checker.Members(cc.Members),
					checker.Members(cc.Left), checker.Members(cc.Joined))
			}
			if c.state == joining {
				for _, a := range cc.Joined {
					if a.Nodeid == c.proc.Node && a.Pid == c.proc.Pid && api.Reason(a.Reason) == api.ReasonJoin {
						c.state = joined
					}
				}
			}
		}
	}
}

// left ends the client's membership (its own LEAVE confchg came first).
func (c *client) left(reason api.Reason) {
	c.tracef("left (%s)", reason)
	c.state, c.group = idle, nil
	c.inflight, c.congested = 0, false
	c.wantSend = nil
	// Behind the flow-control notes already on their way, as the handle
	// actor's mailbox keeps them.
	c.note(func() { c.groupFC = false })
}

// interrupted is the outcome ErrInterrupt of the large message in flight:
// no member may deliver any of it.
func (c *client) interrupted() {
	if c.large == nil {
		c.tracef("interrupted, with no large message waiting")
		return
	}
	c.tracef("large message %d interrupted", c.large.seq)
	c.record(c.sentRecord(c.large, false))
	c.w.interrupted = append(c.w.interrupted, msgKey{c.proc, c.large.seq})
	c.inflight--
	c.large = nil
}
