package sim

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/tests/checker"
)

var flagRegress = flag.Bool("sim.regress", false, "run the regression seeds of known bugs instead of skipping them")

// regression is a seed that shows a known bug. The seeds hold for this
// version of the simulator: a change to how it draws from its random
// sources moves them.
type regression struct {
	name string
	bug  string // what is wrong, where (skipped with this text)
	seed int64
	opts Options
	// symptom reports whether a run still shows the bug.
	symptom func(Result) bool
}

func hasProblem(s string) func(Result) bool {
	return func(r Result) bool {
		for _, p := range r.Problems {
			if strings.Contains(p, s) {
				return true
			}
		}
		return false
	}
}

func hasViolation(props ...checker.Property) func(Result) bool {
	return func(r Result) bool { return r.Report.Count(props...) > 0 }
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

var regressions = []regression{
	{
		name: "stale-sequencer-orders-resent-events",
		bug: "cluster: an event is delivered in two views in different orders (agreed order breaks). " +
			"Node 1, the sequencer of g0 in ring 1.3, stalls; nodes 2-4 form ring 2.4 without it and re-submit " +
			"there what they had submitted in 1.3 and not seen ordered. When node 1 resumes it still is in 1.3, " +
			"orders the queued 1.3 Submits and delivers them locally (1.3 at node 1, 2.4 elsewhere, other order). " +
			"The same happens when the origin alone misses the Ordered (one-way cut, stall) and re-submits after a merge.",
		seed:    193,
		opts:    Options{Clients: 1, Groups: 1, Active: ms(377), Disable: Loss | Reorder | Spikes | Large | Churn | Safe},
		symptom: hasViolation(checker.PropOrder),
	},
	{
		name: "group-msgid-restarts-after-idle-group-deleted",
		bug: "cluster: Engine.install deletes an idle group; when a handle of the node joins it again the new " +
			"groups.Group numbers its events from msgid 1 under the same node incarnation, and every node that kept " +
			"the group (last[node] in replica.go) drops them as already delivered: JOINs, LEAVEs (ghost members) and " +
			"messages (liveness, virtual synchrony).",
		seed: 227,
		opts: Options{Nodes: 3, Disable: Loss | Large},
		symptom: func(r Result) bool {
			return hasProblem("engine ghost")(r) || hasViolation(checker.PropGhost)(r)
		},
	},
	{
		name: "lost-final-stable-notice",
		bug: "cluster: a replica that misses the sequencer's last Ordered{stable} never learns the stable point: " +
			"the sequencer sends it only when it moves (or while high > stable), so the replica re-acks every " +
			"Retransmit forever, and a SAFE message above its stable point is never delivered there.",
		seed: 197,
		opts: Options{Clients: 1},
		symptom: func(r Result) bool {
			return hasProblem("not settled")(r) && hasProblem(" Ack ")(r)
		},
	},
	{
		name: "view-change-deadlock-after-abandoned-proposal",
		bug: "cluster: node 2 proposes ring 2.8 while node 1 is stalled; nodes 2-6 accept it and sync. Node 1 comes " +
			"back still in ring 1.7; it is the lowest reachable node, so only it may propose, but changeNeeded sees every " +
			"peer report ring 1.7 (peerRing) and ignores that they accepted 2.8 (peerAccepted): nobody proposes, " +
			"nodes 2-6 stay syncing and every client gets TRY_AGAIN forever.",
		seed:    68,
		symptom: hasProblem("syncing=true"),
	},
	{
		name: "interrupt-but-delivered-in-other-partition",
		bug: "cluster: a large message is cut by a partition; the sender's side installs its view first and reports " +
			"Ready.Interrupted (ErrInterrupt: 'no member delivers any of it'), but the other side holds every part " +
			"and delivers the whole message in its flush.",
		seed:    39,
		opts:    Options{Active: ms(1027), Disable: Congest},
		symptom: hasProblem("interrupt:"),
	},
	{
		name: "sent-submit-changed-afterwards",
		bug: "cluster: Submit.Events shares the backing array of group.pending (flushSubmits), and ordered() " +
			"clears those entries once the events come back: the Submit handed out in Ready changes (nil events) " +
			"after the fact. The actor shell's remote send serializes later, in protoactor's endpoint writer: a data " +
			"race, and a Submit that may go out with empty events.",
		seed:    1,
		opts:    Options{CheckSent: true, KeepSent: true},
		symptom: hasProblem("aliasing"),
	},
	{
		name: "checker-liveness-sender-left-during-partition",
		bug: "tests/checker: liveness is judged from the sender's view alone. Node 2 goes deaf; before the others " +
			"notice (Token), 3/1019 sends a message (delivered on nodes 1, 3, 4) and leaves; its LEAVE ends its " +
			"membership with node 2's processes still members in its view, so the checker wants them to deliver a " +
			"message that no protocol without SAFE-only delivery can bring them: their next confchg is NODEDOWN, not " +
			"the sender's LEAVE (virtual synchrony does not ask for it either).",
		seed:    1,
		opts:    Options{Clients: 3, Groups: 1, Disable: Loss | Dup | Reorder | Spikes | Slow | Large},
		symptom: hasViolation(checker.PropLiveness),
	},
	{
		name: "checker-matches-wrong-incarnation",
		bug: "tests/checker: with the same nodeid/pid reused by a new incarnation (Reuse), a member of a view is " +
			"matched to the process that was a member after a confchg with the same member list: the later " +
			"incarnation, which joined after the message. Here no-loss says 4/1001#2 never delivered a message its " +
			"killed predecessor 4/1001#1 sent before it existed (a fault-free run).",
		seed:    156,
		opts:    Options{Enable: Reuse, Disable: faults},
		symptom: hasViolation(checker.PropNoLoss, checker.PropLiveness),
	},
}

// TestRegression replays the seeds of known bugs. Each is skipped with its
// description until the bug is fixed; -sim.regress runs them all. Remove
// the skip once fixed: the seed must then no longer show the bug.
func TestRegression(t *testing.T) {
	for _, rg := range regressions {
		t.Run(rg.name, func(t *testing.T) {
			if !*flagRegress {
				t.Skip(rg.bug)
			}
			r := Run(rg.seed, rg.opts)
			if rg.symptom(r) {
				t.Errorf("%s\n%s\nreplay: %s", rg.bug, r, replay(rg.seed, rg.opts))
			}
		})
	}
}
