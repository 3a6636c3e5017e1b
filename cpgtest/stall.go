package cpgtest

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
)

// Stall stops node id for d, as a long GC pause or SIGSTOP would: its
// links freeze (nothing it sends leaves, nothing sent to it arrives;
// both wait, in order, and nothing is lost) and its node actor, group
// actors and sequencer actors process nothing (their mailboxes hold what
// comes, their timers' ticks included). Its clients keep running, as the
// application actors of an embedded node would not, and their calls wait.
// After d the node runs on: it wakes to its backlog and a clock that
// jumped. Stall returns once the running nodes have installed the views
// the faults call for (after a stall longer than the token, the others
// formed a view without it meanwhile and it merged back).
func (c *Cluster) Stall(id uint32, d time.Duration) {
	c.t.Helper()
	n := c.Node(id)
	c.net.Hold(id)
	frozen := suspendActors(n)
	c.mu.Lock()
	if c.stalled == nil {
		c.stalled = map[*actors.Node][]*actor.PID{}
	}
	c.stalled[n] = frozen
	c.mu.Unlock()

	timer := time.NewTimer(d)
	<-timer.C

	c.mu.Lock()
	delete(c.stalled, n)
	c.mu.Unlock()
	c.net.Release(id)
	resumeActors(n, frozen)
	c.waitExpected(fmt.Sprintf("Stall(%d, %v)", id, d))
}

// suspendActors suspends the mailboxes of node n's actors (the node
// actor first, so that it spawns no group actor after the list is
// taken) and returns them. An actor spawned while the list is taken
// runs on; the frozen links hold what it sends.
func suspendActors(n *actors.Node) []*actor.PID {
	pids := []*actor.PID{n.PID()}
	sendSystem(n, n.PID(), &actor.SuspendMailbox{})
	for _, pid := range n.GroupActors() {
		pids = append(pids, pid)
	}
	for _, pid := range n.Sequencers() {
		pids = append(pids, pid)
	}
	for _, pid := range pids[1:] {
		sendSystem(n, pid, &actor.SuspendMailbox{})
	}
	return pids
}

// resumeActors resumes the mailboxes suspendActors suspended.
func resumeActors(n *actors.Node, pids []*actor.PID) {
	for _, pid := range pids {
		sendSystem(n, pid, &actor.ResumeMailbox{})
	}
}

// sendSystem sends a system message to an actor of n's system, if it
// still runs.
func sendSystem(n *actors.Node, pid *actor.PID, m any) {
	if p, ok := n.System().ProcessRegistry.GetLocal(pid.Id); ok {
		p.SendSystemMessage(pid, m)
	}
}
