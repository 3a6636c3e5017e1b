package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// send multicasts msg, retrying TRY_AGAIN; safe off the test goroutine.
func send(h *cpg.Handle, msg string) error {
	for {
		err := h.McastJoined(api.TypeAgreed, []byte(msg))
		if !errors.Is(err, api.ErrTryAgain) {
			return err
		}
		time.Sleep(time.Millisecond) // back off before retrying; not an assertion
	}
}

// sendAll runs one goroutine per sender, each multicasting n messages
// "<name>-<i>", and reports the first error.
func sendAll(t *testing.T, n int, senders ...*client) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(senders))
	for _, s := range senders {
		wg.Add(1)
		go func(s *client) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := send(s.h, fmt.Sprintf("%s-%d", s.name, i)); err != nil {
					errs <- fmt.Errorf("%s: mcast %d: %w", s.name, i, err)
					return
				}
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Rule 11: for any two members, the sequence of (confchg, message) events
// in a group is identical while both are in it. Here two members watch
// concurrent senders and members that join, send and leave or finalize.
func TestRule11_SameEventSequenceAtAllMembers(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule11"
	a := newClient(t, "A", 0, cpg.WithNode(node))
	b := newClient(t, "B", 0, cpg.WithNode(node))
	join(t, a, g)
	join(t, b, g)

	var wg sync.WaitGroup
	churnErr := make(chan error, 10)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := cpg.Initialize(nil, cpg.WithNode(node))
			if err != nil {
				churnErr <- err
				return
			}
			defer h.Finalize()
			if err := h.Join([]byte(g)); err != nil {
				churnErr <- err
				return
			}
			for j := 0; j < 10; j++ {
				if err := send(h, fmt.Sprintf("C%d-%d", i, j)); err != nil {
					churnErr <- err
					return
				}
			}
			if i%2 == 0 { // half leave, half finalize (PROCDOWN)
				if err := h.Leave([]byte(g)); err != nil {
					churnErr <- fmt.Errorf("leave: %w", err)
				}
			}
		}(i)
	}
	sendAll(t, 100, a, b)
	wg.Wait()
	close(churnErr)
	for err := range churnErr {
		t.Fatal(err)
	}
	mcast(t, a, "end-A")
	mcast(t, b, "end-B")
	waitAll(t, "both end markers at both", func() bool {
		for _, c := range []*client{a, b} {
			evs := c.events()
			if !hasDeliver(g, "end-A")(evs) || !hasDeliver(g, "end-B")(evs) {
				return false
			}
		}
		return true
	}, a, b)
	// Wait until each churn member's leave confchg arrived at both.
	waitAll(t, "the churn members' leave confchgs", func() bool {
		for _, c := range []*client{a, b} {
			evs := c.events()
			if n := countLeft(evs, g); n < 4 {
				return false
			}
		}
		return true
	}, a, b)

	aev, bev := groupEvents(a.events(), g), groupEvents(b.events(), g)
	i := indexOf(aev, func(e event) bool { return joinedIs(e, g, b.self(api.ReasonJoin)) })
	if i < 0 {
		t.Fatalf("A never saw B join")
	}
	aSeq, bSeq := aev[i:], bev
	n := min(len(aSeq), len(bSeq))
	for k := 0; k < n; k++ {
		if !equalEvent(aSeq[k], bSeq[k]) {
			t.Fatalf("event %d differs:\n  A: %v\n  B: %v", k, aSeq[k], bSeq[k])
		}
	}
	if len(aSeq) != len(bSeq) {
		t.Fatalf("A has %d events since B joined, B has %d", len(aSeq), len(bSeq))
	}
	// The churn members show up with the right reasons.
	var leaves, procdowns int
	for _, e := range aSeq {
		for _, l := range e.Left {
			switch api.Reason(l.Reason) {
			case api.ReasonLeave:
				leaves++
			case api.ReasonProcDown:
				procdowns++
			}
		}
	}
	if leaves != 2 || procdowns != 2 {
		t.Errorf("churn left with %d LEAVE and %d PROCDOWN, want 2 and 2", leaves, procdowns)
	}
}

func countLeft(evs []event, group string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kConfchg && e.Group == group {
			n += len(e.Left)
		}
	}
	return n
}

func equalEvent(a, b event) bool {
	return a.Kind == b.Kind && a.Group == b.Group && a.Nodeid == b.Nodeid && a.Pid == b.Pid && a.Data == b.Data &&
		slices.Equal(a.Members, b.Members) && slices.Equal(a.Left, b.Left) && slices.Equal(a.Joined, b.Joined) &&
		a.Ring == b.Ring && a.RingSeq == b.RingSeq && slices.Equal(a.TotemMemb, b.TotemMemb)
}

// Rule 12: messages of different senders are totally ordered, consistently
// at all receivers, including across different groups seen by one process
// through two handles.
func TestRule12_TotalOrderAcrossSendersAndGroups(t *testing.T) {
	t.Run("WithinGroup", func(t *testing.T) {
		node := startNode(t, nil)
		const g = "rule12"
		var senders, all []*client
		for i := 0; i < 3; i++ {
			c := newClient(t, fmt.Sprintf("S%d", i), 0, cpg.WithNode(node))
			join(t, c, g)
			senders = append(senders, c)
		}
		for i := 0; i < 2; i++ {
			c := newClient(t, fmt.Sprintf("R%d", i), 0, cpg.WithNode(node))
			join(t, c, g)
			all = append(all, c)
		}
		all = append(all, senders...)
		const n = 150
		sendAll(t, n, senders...)
		waitAll(t, "every message at every member", func() bool {
			for _, c := range all {
				if len(delivered(c.events(), g)) < n*len(senders) {
					return false
				}
			}
			return true
		}, all...)
		ref := delivered(all[0].events(), g)
		checkFIFO(t, all[0].name, ref)
		for _, c := range all[1:] {
			if got := delivered(c.events(), g); !slices.Equal(got, ref) {
				t.Errorf("%s delivered a different order than %s (first difference at %d)", c.name, all[0].name, firstDiff(got, ref))
			}
		}
	})

	// Two receiver processes, each one actor that receives the events of
	// two handles, one in G1 and one in G2, while a sender floods each
	// group. Both must see the same merged order of G1 and G2 messages.
	t.Run("AcrossGroupsThroughTwoHandles", func(t *testing.T) {
		node := startNode(t, nil)
		const g1, g2 = "rule12-G1", "rule12-G2"
		s1 := newClient(t, "S1", 0, cpg.WithNode(node))
		s2 := newClient(t, "S2", 0, cpg.WithNode(node))
		join(t, s1, g1)
		join(t, s2, g2)
		var procs []*client // per receiver process: its G1 handle (rec shared)
		for i := 0; i < 2; i++ {
			pid, rec := spawnReceiver(t, node.System())
			h1 := newActorClient(t, fmt.Sprintf("P%d-G1", i), node, pid, rec, 0)
			h2 := newActorClient(t, fmt.Sprintf("P%d-G2", i), node, pid, rec, 0)
			join(t, h1, g1)
			join(t, h2, g2)
			procs = append(procs, h1)
		}
		merged := func(c *client) []string {
			var out []string
			for _, e := range c.events() {
				if e.Kind == kDeliver {
					out = append(out, e.Group+":"+e.Data)
				}
			}
			return out
		}
		// Rounds of one concurrent send per sender; each round is an
		// independent chance for the two processes' merged orders to differ.
		const rounds = 300
		for r := 0; r < rounds; r++ {
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, s := range []*client{s1, s2} {
				wg.Add(1)
				go func(s *client) {
					defer wg.Done()
					if err := send(s.h, fmt.Sprintf("%s-r%d", s.name, r)); err != nil {
						errs <- err
					}
				}(s)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			waitAll(t, fmt.Sprintf("round %d at both receiver processes", r), func() bool {
				for _, p := range procs {
					if len(merged(p)) < 2*(r+1) {
						return false
					}
				}
				return true
			}, procs...)
		}
		// Deliberate difference (README, "Deliberate differences"): each
		// group has its own sequencer, so groups scale out over nodes.
		// Corosync's totem orders all groups in one sequence; actorcpg
		// promises one agreed order per group. What a process sees through
		// two handles is therefore each group in the same order as every
		// other process, but not one interleaving of the two groups.
		inGroup := func(msgs []string, g string) []string {
			var out []string
			for _, m := range msgs {
				if strings.HasPrefix(m, g+":") {
					out = append(out, m)
				}
			}
			return out
		}
		p0, p1 := merged(procs[0]), merged(procs[1])
		for _, g := range []string{g1, g2} {
			a, b := inGroup(p0, g), inGroup(p1, g)
			if len(a) != rounds || !slices.Equal(a, b) {
				i := firstDiff(a, b)
				t.Errorf("group %s: the two receiver processes disagree (%d vs %d messages); first difference at %d: %q vs %q",
					g, len(a), len(b), i, at(a, i), at(b, i))
			}
		}
	})
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<none>"
}

func firstDiff(a, b []string) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// checkFIFO checks that each sender's "<name>-<i>" messages come in order.
func checkFIFO(t *testing.T, who string, msgs []string) {
	t.Helper()
	next := map[string]int{}
	for _, m := range msgs {
		data := m[strings.Index(m, ":")+1:]
		k := strings.LastIndex(data, "-")
		i, err := strconv.Atoi(data[k+1:])
		if err != nil {
			continue
		}
		if i != next[data[:k]] {
			t.Errorf("%s: %q out of FIFO order (want index %d)", who, data, next[data[:k]])
			return
		}
		next[data[:k]]++
	}
}

// Rule 13: leave while joined -> OK, then a confchg with left ==
// [{self, LEAVE}] and member ∌ self, delivered to self and to all members.
// actorcpg (CPG-SPEC 8.1, where Corosync keeps a "ghost listener"): after
// that confchg the handle receives nothing more of G and may join again.
func TestRule13_LeaveConfchgThenSilenceAndRejoin(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule13"
	a := newClient(t, "A", 0, cpg.WithNode(node))
	b := newClient(t, "B", 0, cpg.WithNode(node))
	c := newClient(t, "C", 0, cpg.WithNode(node))
	for _, x := range []*client{a, b, c} {
		join(t, x, g)
	}
	wantCode(t, "Leave", b.h.Leave([]byte(g)), nil)
	self := b.self(api.ReasonLeave)
	waitSeen(t, "B's LEAVE confchg at A, B and C", func(e event) bool { return leftIs(e, g, self) }, a, b, c)
	wantMembers := sortedAddrs(noReason(a.self(0), c.self(0))...)
	for _, x := range []*client{a, b, c} {
		evs := x.events()
		e := evs[indexOf(evs, func(e event) bool { return leftIs(e, g, self) })]
		if !slices.Equal(e.Members, wantMembers) {
			t.Errorf("%s: LEAVE confchg members = %v, want %v (without the leaver)", x.name, e.Members, wantMembers)
		}
	}
	if m := membership(t, a, g); !slices.Equal(m, wantMembers) {
		t.Errorf("MembershipGet after leave = %v, want %v", m, wantMembers)
	}
	// Ours: the left handle cannot send to G (Corosync drops silently).
	wantCode(t, "mcast after leave", b.h.McastJoined(api.TypeAgreed, []byte("ghost")), api.ErrNotExist)

	// Traffic and a membership change in G while B is out.
	mcast(t, a, "while-B-out")
	d := newClient(t, "D", 0, cpg.WithNode(node))
	join(t, d, g)
	waitFor(t, a, "the message sent while B was out", hasDeliver(g, "while-B-out"))

	// Ours: B rejoins, and its next event after its LEAVE confchg is its new
	// JOIN confchg: it heard nothing of G in between (no ghost listener).
	if err := b.h.Join([]byte(g)); err != nil {
		t.Fatalf("rejoin after leave: %v (Corosync: EXIST; actorcpg must allow it)", err)
	}
	waitJoined(t, b, g)
	evs := b.events()
	i := indexOf(evs, func(e event) bool { return leftIs(e, g, self) })
	rest := after(evs, i)
	if len(rest) == 0 || !joinedIs(rest[0], g, b.self(api.ReasonJoin)) {
		t.Fatalf("after its LEAVE confchg B got %v, want its new JOIN confchg first", rest)
	}
	want := sortedAddrs(noReason(a.self(0), b.self(0), c.self(0), d.self(0))...)
	if !slices.Equal(rest[0].Members, want) {
		t.Errorf("rejoin confchg members = %v, want %v", rest[0].Members, want)
	}
	// And it is a full member again.
	mcast(t, b, "back")
	waitSeen(t, "B's message after rejoin", func(e event) bool { return e.Kind == kDeliver && e.Data == "back" }, a, b, c, d)

	// Leave right after join (Corosync: the library retries BUSY until the
	// join completes, then OK): both confchgs come, in order.
	e := newClient(t, "E", 0, cpg.WithNode(node))
	wantCode(t, "Join", e.h.Join([]byte(g)), nil)
	wantCode(t, "Leave right after Join", e.h.Leave([]byte(g)), nil)
	evs = waitFor(t, e, "own LEAVE confchg", has(func(x event) bool { return leftIs(x, g, e.self(api.ReasonLeave)) }))
	if len(evs) < 2 || !joinedIs(evs[0], g, e.self(api.ReasonJoin)) {
		t.Errorf("join+leave events = %v, want own JOIN confchg first", evs)
	}
}

// Rule 14: leave while not joined -> NOT_EXIST. actorcpg also answers
// NOT_EXIST to a leave naming another group than the handle's (CPG-SPEC
// 8.2: Corosync trusts the name and corrupts both groups).
func TestRule14_LeaveNotJoinedGivesNotExist(t *testing.T) {
	node := startNode(t, nil)
	a := newClient(t, "A", 0, cpg.WithNode(node))
	other := newClient(t, "O", 0, cpg.WithNode(node))
	if api.CodeOf(api.ErrNotExist) != 12 {
		t.Errorf("NOT_EXIST is code %d, want 12", api.CodeOf(api.ErrNotExist))
	}
	wantCode(t, "leave, never joined", a.h.Leave([]byte("G")), api.ErrNotExist)
	join(t, other, "H")
	join(t, a, "G")

	// Ours: a wrong name is refused, and neither group changes.
	wantCode(t, "leave of another group (joined to G)", a.h.Leave([]byte("H")), api.ErrNotExist)
	wantCode(t, "leave of an unknown group (joined to G)", a.h.Leave([]byte("nope")), api.ErrNotExist)
	if m := membership(t, a, "G"); !slices.Equal(m, noReason(a.self(0))) {
		t.Errorf("G members after wrong-name leaves = %v, want [%v]", m, a.self(0))
	}
	if m := membership(t, a, "H"); !slices.Equal(m, noReason(other.self(0))) {
		t.Errorf("H members after wrong-name leaves = %v, want [%v]", m, other.self(0))
	}
	mcast(t, other, "h-marker")
	oev := waitFor(t, other, "own marker", hasDeliver("H", "h-marker"))
	for _, e := range oev {
		if e.Kind == kConfchg && len(e.Left) > 0 {
			t.Errorf("H got a bogus LEAVE confchg: %v", e)
		}
	}

	wantCode(t, "leave", a.h.Leave([]byte("G")), nil)
	wantCode(t, "leave while leaving", a.h.Leave([]byte("G")), api.ErrNotExist)
	waitFor(t, a, "own LEAVE confchg", has(func(e event) bool { return leftIs(e, "G", a.self(api.ReasonLeave)) }))
	wantCode(t, "leave after the leave completed", a.h.Leave([]byte("G")), api.ErrNotExist)
	if m := membership(t, a, "G"); len(m) != 0 {
		t.Errorf("G members after leave = %v, want none", m)
	}
}

// Rule 15: a process exiting or being killed while joined -> every other
// member sees left == [{nodeid, pid, PROCDOWN}]; the same for finalize
// without leave. The member runs in its own OS process attached to a
// cpgnode process; the observers are attached clients of this process.
func TestRule15_ProcessDeathGivesProcdown(t *testing.T) {
	_, nodeAddr := startCpgnode(t)
	for _, mode := range []string{"block", "exit", "finalize"} {
		name := map[string]string{"block": "SIGKILL", "exit": "ExitWithoutFinalize", "finalize": "FinalizeWithoutLeave"}[mode]
		t.Run(name, func(t *testing.T) {
			g := "rule15-" + mode
			o1 := newClient(t, "O1", 0, cpg.WithAddress(nodeAddr))
			o2 := newClient(t, "O2", 0, cpg.WithAddress(nodeAddr))
			join(t, o1, g)
			join(t, o2, g)

			child := startHelperClient(t, nodeAddr, g, mode)
			var nodeid, pid uint32
			line := child.expectLine(t, "JOINED ")
			if _, err := fmt.Sscanf(line, "JOINED %d %d", &nodeid, &pid); err != nil {
				t.Fatalf("helper said %q", line)
			}
			if pid != uint32(child.cmd.Process.Pid) || nodeid != o1.h.NodeID() {
				t.Fatalf("helper member %d/%d, want %d/%d", nodeid, pid, o1.h.NodeID(), child.cmd.Process.Pid)
			}
			joined := addr15(nodeid, pid, api.ReasonJoin)
			waitSeen(t, "the helper's JOIN confchg", func(e event) bool { return joinedIs(e, g, joined) }, o1, o2)

			switch mode {
			case "block":
				child.kill() // kill -9
			case "exit":
				<-child.done
			case "finalize":
				// The process stays alive: the PROCDOWN comes from finalize.
				if l := child.expectLine(t, "FINALIZED "); l != "FINALIZED 1" {
					t.Errorf("helper: %q, want Finalize to return CS_OK (1)", l)
				}
			}
			gone := addr15(nodeid, pid, api.ReasonProcDown)
			waitSeen(t, "the helper's PROCDOWN confchg", func(e event) bool {
				return e.Kind == kConfchg && e.Group == g && len(e.Left) > 0
			}, o1, o2)
			want := sortedAddrs(noReason(o1.self(0), o2.self(0))...)
			for _, o := range []*client{o1, o2} {
				evs := o.events()
				i := indexOf(evs, func(e event) bool { return e.Kind == kConfchg && e.Group == g && len(e.Left) > 0 })
				e := evs[i]
				if !slices.Equal(e.Left, []addr{gone}) || len(e.Joined) != 0 || !slices.Equal(e.Members, want) {
					t.Errorf("%s: confchg %v, want left=[%v] joined=[] members=%v", o.name, e, gone, want)
				}
			}
			if m := membership(t, o1, g); !slices.Equal(m, want) {
				t.Errorf("MembershipGet after the helper's death = %v, want %v", m, want)
			}
		})
	}
}

func addr15(nodeid, pid uint32, r api.Reason) addr { return addr{nodeid, pid, uint32(r)} }
