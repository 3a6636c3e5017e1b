//go:build !race

package multinode

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// floodGroup is a group with, on each given node, one sender and one
// receiver that never sends.
type floodGroup struct {
	name      string
	senders   map[uint32]*member
	receivers map[uint32]*member
}

func newFloodGroup(t *testing.T, c *testCluster, name string, nodes ...uint32) *floodGroup {
	t.Helper()
	g := &floodGroup{name: name, senders: map[uint32]*member{}, receivers: map[uint32]*member{}}
	for _, id := range nodes {
		g.senders[id] = newMember(t, c, id, fmt.Sprintf("S%d", id))
		g.senders[id].join(t, name)
		g.receivers[id] = newMember(t, c, id, fmt.Sprintf("R%d", id))
		g.receivers[id].join(t, name)
	}
	all := g.on(nodes...)
	waitMembers(t, name, addrsOf(0, all...), all...)
	return g
}

// on returns the senders and receivers of the given nodes.
func (g *floodGroup) on(nodes ...uint32) []*member {
	var out []*member
	for _, id := range nodes {
		out = append(out, g.senders[id], g.receivers[id])
	}
	return out
}

// floods runs m.flood for each sender until stop is closed; wait returns
// the senders' errors.
type floods struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs map[*member]error
}

func startFloods(size, limit int, senders ...*member) *floods {
	f := &floods{stop: make(chan struct{}), errs: map[*member]error{}}
	for _, s := range senders {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := s.flood(f.stop, size, limit); err != nil {
				f.mu.Lock()
				f.errs[s] = err
				f.mu.Unlock()
			}
		}()
	}
	return f
}

func (f *floods) wait() map[*member]error {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
	return f.errs
}

// countFrom returns how many messages of node in evs.
func countFrom(evs []event, node uint32) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kDeliver && e.From.Nodeid == node {
			n++
		}
	}
	return n
}

// isNodeDown reports whether e is a confchg whose left list has the
// processes of node with reason NODEDOWN.
func isNodeDown(node uint32) func(event) bool {
	return func(e event) bool {
		return e.Kind == kConfchg && slices.ContainsFunc(e.Left, func(a addr) bool {
			return a.Nodeid == node && a.Reason == uint32(api.ReasonNodeDown)
		})
	}
}

// waitAllDelivered waits until every message each sender sent with CS_OK
// is delivered to every receiver.
func waitAllDelivered(t *testing.T, group string, senders, receivers []*member) {
	t.Helper()
	waitFor(t, "every message sent with CS_OK delivered to every survivor", func() bool {
		for _, r := range receivers {
			got := make(map[msgID]bool)
			for _, id := range delivered(r.snapshot(), group) {
				got[id] = true
			}
			for _, s := range senders {
				for _, seq := range s.sentOK() {
					if !got[msgID{s.h.NodeID(), s.h.Pid(), seq}] {
						return false
					}
				}
			}
		}
		return true
	}, func() string {
		out := ""
		for _, r := range receivers {
			got := make(map[msgID]bool)
			for _, id := range delivered(r.snapshot(), group) {
				got[id] = true
			}
			for _, s := range senders {
				missing := 0
				var first msgID
				for _, seq := range s.sentOK() {
					id := msgID{s.h.NodeID(), s.h.Pid(), seq}
					if !got[id] {
						if missing == 0 {
							first = id
						}
						missing++
					}
				}
				if missing > 0 {
					out += fmt.Sprintf("\n  %s misses %d messages of %s, first %v", r.name, missing, s.name, first)
				}
			}
		}
		return out + dumpEvents(receivers...)
	})
}

// allDelivered reports whether every message each sender sent with CS_OK
// is delivered to every receiver.
func allDelivered(group string, senders, receivers []*member) bool {
	for _, r := range receivers {
		got := make(map[msgID]bool)
		for _, id := range delivered(r.snapshot(), group) {
			got[id] = true
		}
		for _, s := range senders {
			for _, seq := range s.sentOK() {
				if !got[msgID{s.h.NodeID(), s.h.Pid(), seq}] {
					return false
				}
			}
		}
	}
	return true
}

// strayViews returns the views (totem confchgs after each member's mark)
// in which the given nodes were not all together: load on the machine
// can starve a node past the token and split nodes that the scenario
// keeps together.
func strayViews(marks map[*member]int, nodes []uint32, ms ...*member) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for _, e := range eventsAfter(m, marks[m]) {
			if e.Kind != kTotem {
				continue
			}
			together := true
			for _, n := range nodes {
				together = together && slices.Contains(e.TotemMemb, n)
			}
			if r := fmt.Sprintf("%s %v", ringString(e.Ring), e.TotemMemb); !together && !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// checkOwed checks that the receivers delivered what they owe the
// senders, and nothing else. When the nodes stayed together, every
// message sent with CS_OK reaches every receiver exactly once. When load
// split them anyway (strayViews), a message sent in one side's view is
// owed only there: each sender delivers its own messages, a receiver
// that went through the view in which the sender delivered one and on to
// the sender's next view delivers it too (virtual synchrony), and no
// receiver delivers one twice or one that did not return CS_OK.
func checkOwed(t *testing.T, group string, marks map[*member]int, together []uint32, senders, receivers []*member) {
	t.Helper()
	if poll(waitTimeout, func() bool { return allDelivered(group, senders, receivers) }) {
		checkExactlyOnce(t, group, senders, receivers)
		return
	}
	stray := strayViews(marks, together, receivers...)
	if len(stray) == 0 {
		waitAllDelivered(t, group, senders, receivers) // fails, and says what is missing
		return
	}
	t.Logf("nodes %v were split by load (views %v): checking what each receiver owes by its views", together, stray)
	for _, r := range receivers {
		count := make(map[msgID]int)
		for _, id := range delivered(r.snapshot(), group) {
			count[id]++
		}
		missing := 0
		for _, s := range senders {
			ok := make(map[uint64]bool)
			for _, seq := range s.sentOK() {
				ok[seq] = true
				id := msgID{s.h.NodeID(), s.h.Pid(), seq}
				ring, next := segmentOf(s, group, id)
				switch {
				case ring == "":
					if r == s {
						t.Errorf("%s: its own message #%d (sent with CS_OK) not delivered to it", s.name, seq)
					}
				case count[id] > 1:
					t.Errorf("%s: %v delivered %d times", r.name, id, count[id])
				case count[id] == 0 && inView(r, group, ring) && nextAfter(r, group, ring) == next:
					if missing++; missing <= 5 {
						t.Errorf("%s: %v, delivered by %s in view %s before view %q, is missing though %s went the same way",
							r.name, id, s.name, ring, next, r.name)
					}
				}
			}
			for id, n := range count {
				if id.Nodeid == s.h.NodeID() && id.Pid == s.h.Pid() && !ok[id.Seq] {
					t.Errorf("%s: %v delivered %d times, but its McastJoined did not return CS_OK", r.name, id, n)
				}
			}
		}
	}
	checkVirtualSynchrony(t, group, receivers...)
}

// checkExactlyOnce checks that each receiver delivered, of each sender's
// messages, exactly those sent with CS_OK, each once.
func checkExactlyOnce(t *testing.T, group string, senders, receivers []*member) {
	t.Helper()
	for _, r := range receivers {
		count := make(map[msgID]int)
		for _, id := range delivered(r.snapshot(), group) {
			count[id]++
		}
		for _, s := range senders {
			ok := make(map[uint64]bool)
			for _, seq := range s.sentOK() {
				ok[seq] = true
				if n := count[msgID{s.h.NodeID(), s.h.Pid(), seq}]; n != 1 {
					t.Errorf("%s: %s's message #%d (sent with CS_OK) delivered %d times", r.name, s.name, seq, n)
				}
			}
			for id, n := range count {
				if id.Nodeid == s.h.NodeID() && id.Pid == s.h.Pid() && !ok[id.Seq] {
					t.Errorf("%s: %v delivered %d times, but its McastJoined did not return CS_OK", r.name, id, n)
				}
			}
		}
	}
}

// Rule 18: the messages delivered before a NODEDOWN confchg are the same
// set, in the same order, at all survivors; nothing from the departed
// node is delivered after its NODEDOWN; the totem confchg follows the
// NODEDOWN confchg, with only the survivors' own old-view messages
// between them (a transitional configuration), the same at both. All
// three nodes flood while node 3 crashes.
func TestRule18_SurvivorsDeliverTheSameMessagesBeforeNodeDown(t *testing.T) {
	attempts(t, testSurvivorsDeliverTheSame)
}

func testSurvivorsDeliverTheSame(t *testing.T) (void string) {
	c := startCluster(t, 3, nil)
	const group = "rule18"
	g := newFloodGroup(t, c, group, 1, 2, 3)
	survivors := g.on(1, 2)
	marks := make(map[*member]int)
	waitFor(t, "every member saw the 6 members", func() bool {
		for _, m := range survivors {
			evs := m.snapshot()
			i := lastIndex(evs, func(e event) bool { return e.Kind == kConfchg })
			if i < 0 || len(evs[i].Members) != 6 {
				return false
			}
			marks[m] = len(evs)
		}
		return true
	}, func() string { return dumpEvents(survivors...) })

	fl := startFloods(256, 0, g.senders[1], g.senders[2], g.senders[3])
	waitFor(t, "the flood from node 3 reaching node 1", func() bool {
		return countFrom(g.receivers[1].snapshot(), 3) >= 200
	}, func() string { return dumpEvents(g.receivers[1]) })
	c.crash(3)
	waitFor(t, "the survivors' NODEDOWN and more messages after it", func() bool {
		for _, m := range survivors {
			evs := eventsAfter(m, marks[m])
			i := slices.IndexFunc(evs, isNodeDown(3))
			if i < 0 || countFrom(evs[i:], 1) < 200 || countFrom(evs[i:], 2) < 200 {
				return false
			}
		}
		return true
	}, func() string { return dumpEvents(survivors...) })
	errs := fl.wait()
	for s, err := range errs {
		if s != g.senders[3] {
			t.Errorf("%s: McastJoined: %v", s.name, err)
		} else if !errors.Is(err, api.ErrLibrary) {
			t.Errorf("%s (stopped node): McastJoined: %v, want ErrLibrary", s.name, err)
		}
	}
	if v := unplannedViews(marks, [][]uint32{{1, 2}}, survivors...); v != "" {
		return v
	}
	checkOwed(t, group, marks, []uint32{1, 2}, []*member{g.senders[1], g.senders[2]}, survivors)

	var ref, refView []event
	var refName string
	for _, m := range survivors {
		evs := eventsAfter(m, marks[m])
		i := slices.IndexFunc(evs, isNodeDown(3))
		j := i + 1 + slices.IndexFunc(evs[i+1:], func(e event) bool { return e.Kind != kDeliver })
		if j <= i || evs[j].Kind != kTotem {
			next := "nothing"
			if j > i {
				next = evs[j].String()
			}
			t.Errorf("%s: after the NODEDOWN confchg came %s, want the totem confchg", m.name, next)
			continue
		}
		// Between the NODEDOWN confchg and the totem confchg: the rest
		// of the old view's events of the survivors' own nodes, when
		// the flush skipped an event of node 3 that no survivor's
		// origin held (Totem's transitional configuration, README
		// "Virtual synchrony"). Both survivors deliver the same ones.
		before, view := evs[:i+1], evs[:j+1]
		if ref == nil {
			ref, refView, refName = before, view, m.name
			t.Logf("%d events up to the NODEDOWN, %d of them from node 3; %d deliveries between it and the totem confchg",
				len(before), countFrom(before, 3), j-i-1)
		} else {
			if !sameEvents(ref, before) {
				t.Errorf("%s and %s delivered different events before the NODEDOWN confchg: %s", refName, m.name, firstDiff(ref, before))
			}
			if !sameEvents(refView, view) {
				t.Errorf("%s and %s delivered different events before the new view: %s", refName, m.name, firstDiff(refView, view))
			}
		}
		if n := countFrom(evs[i:], 3); n != 0 {
			t.Errorf("%s: %d messages from node 3 after its NODEDOWN confchg", m.name, n)
		}
	}
	checkStreams(t, survivors...)
	return ""
}

func sameEvents(a, b []event) bool {
	return len(a) == len(b) && firstDiffIndex(a, b) < 0
}

func firstDiffIndex(a, b []event) int {
	for i := range min(len(a), len(b)) {
		if a[i].String() != b[i].String() {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func firstDiff(a, b []event) string {
	i := firstDiffIndex(a, b)
	at := func(evs []event) string {
		if i < len(evs) {
			return evs[i].String()
		}
		return "(end)"
	}
	return fmt.Sprintf("lengths %d and %d, first difference at event %d: %s / %s", len(a), len(b), i, at(a), at(b))
}

// Rule 19: during a membership sync, mcast, join and leave may return
// TRY_AGAIN; retrying succeeds, without loss or duplication. Nodes 1 and
// 2 flood and churn (join, leave, join, ...) while node 3 is stopped,
// restarted, isolated and healed: four view changes.
func TestRule19_TryAgainDuringViewChangeThenSuccess(t *testing.T) {
	c := startCluster(t, 3, nil)
	const group, churnGroup = "rule19", "rule19-churn"
	g := newFloodGroup(t, c, group, 1, 2, 3)
	survivors := g.on(1, 2)
	survivorSenders := []*member{g.senders[1], g.senders[2]}
	marks := make(map[*member]int)
	for _, m := range survivors {
		marks[m] = m.count()
	}

	// Churners: join and leave churnGroup in a loop, retrying TRY_AGAIN.
	var joinTA, leaveTA, cycles atomic.Int64
	churnStop := make(chan struct{})
	churnErr := make(chan error, 4)
	var churnWG sync.WaitGroup
	for _, id := range []uint32{1, 2} {
		m := newMember(t, c, id, fmt.Sprintf("C%d", id))
		churnWG.Add(1)
		go func() {
			defer churnWG.Done()
			churnErr <- churn(m, churnGroup, churnStop, &joinTA, &leaveTA, &cycles)
		}()
	}

	fl := startFloods(200, 0, g.senders[1], g.senders[2], g.senders[3])
	waitFor(t, "the flood under way", func() bool {
		return countFrom(g.receivers[1].snapshot(), 3) >= 100
	}, nil)
	c.stop(3)
	c.waitView(1, 2)
	c.start(3)
	c.waitView(1, 2, 3)
	c.isolate(3)
	c.waitView(1, 2)
	c.heal()
	c.waitView(1, 2, 3)
	base := len(g.senders[1].sentOK())
	waitFor(t, "more messages after the last view change", func() bool {
		return countFrom(g.receivers[2].snapshot(), 1) >= base+100
	}, nil)
	close(churnStop)
	churnWG.Wait()
	close(churnErr)
	for err := range churnErr {
		if err != nil {
			t.Error(err)
		}
	}
	errs := fl.wait()
	for _, s := range survivorSenders {
		if err := errs[s]; err != nil {
			t.Errorf("%s: McastJoined: %v", s.name, err)
		}
	}
	mcastTA := g.senders[1].tryAgains.Load() + g.senders[2].tryAgains.Load()
	t.Logf("TRY_AGAIN seen: %d by mcast, %d by join, %d by leave; %d join/leave cycles; %d and %d messages sent",
		mcastTA, joinTA.Load(), leaveTA.Load(), cycles.Load(), len(g.senders[1].sentOK()), len(g.senders[2].sentOK()))
	// Rule 19 says each of the three MAY return TRY_AGAIN during a sync;
	// which does depends on when a call meets the (short) sync window.
	// Since the group actors, a flood's multicasts fall into it less often
	// (one run in three had none), so the test asks that the TRY_AGAIN path
	// was taken and retried at all, by any of them; that every retried
	// call succeeded without loss or duplication is checked below.
	if mcastTA+joinTA.Load()+leaveTA.Load() == 0 {
		t.Errorf("no McastJoined, Join or Leave returned TRY_AGAIN during four view changes under a flood")
	}
	checkOwed(t, group, marks, []uint32{1, 2}, survivorSenders, survivors)
	checkStreams(t, survivors...)
}

// churn joins and leaves group until stop, retrying TRY_AGAIN and waiting
// for its own confchg each time.
func churn(m *member, group string, stop <-chan struct{}, joinTA, leaveTA, cycles *atomic.Int64) error {
	self := func(r api.Reason) addr { return m.addr(r) }
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		from := m.count()
		if err := retry(joinTA, func() error { return m.joinGroup(group) }); err != nil {
			return fmt.Errorf("%s: Join: %w", m.name, err)
		}
		if !waitOwn(m, from, group, self(api.ReasonJoin), true) {
			return fmt.Errorf("%s: no own JOIN confchg:%s", m.name, dumpEvents(m))
		}
		from = m.count()
		if err := retry(leaveTA, func() error { return m.h.Leave([]byte(group)) }); err != nil {
			return fmt.Errorf("%s: Leave: %w", m.name, err)
		}
		if !waitOwn(m, from, group, self(api.ReasonLeave), false) {
			return fmt.Errorf("%s: no own LEAVE confchg:%s", m.name, dumpEvents(m))
		}
		cycles.Add(1)
	}
}

// waitOwn waits for m's own confchg (joined or left = self) after event
// index from.
func waitOwn(m *member, from int, group string, self addr, joined bool) bool {
	return poll(waitTimeout, func() bool {
		return slices.ContainsFunc(eventsAfter(m, from), func(e event) bool {
			if e.Kind != kConfchg || e.Group != group {
				return false
			}
			if joined {
				return slices.Contains(e.Joined, self)
			}
			return slices.Contains(e.Left, self)
		})
	})
}
