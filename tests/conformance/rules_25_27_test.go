package conformance

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// Rule 25: every initialized handle (joined or not) receives a totem
// confchg on each ring change.
//
// actorcpg runs single-node rings only: a node's ring forms when it starts
// (ring id = (nodeid, persisted seq + 1)) and never changes while it runs.
// So the rule is checked in that form: while the ring does not change, no
// handle gets a totem confchg other than the initial one its model flags
// ask for, and that one carries the node's current ring; a restarted node
// forms a new ring with a higher seq, which its handles are told.
func TestRule25_TotemConfchgOnRingChangeOnly(t *testing.T) {
	stateDir := t.TempDir()
	cfg := func(c *remote.Config) { c.StateDir = stateDir }

	first := startNode(t, cfg)
	ring1 := first.Ring()
	const g = "rule25"
	unjoined := newClient(t, "unjoined", 0, cpg.WithNode(first))
	unjoinedFlag := newClient(t, "unjoined-flag", api.ModelV1DeliverInitialTotemConf, cpg.WithNode(first))
	joined := newClient(t, "joined", 0, cpg.WithNode(first))
	joinedFlag := newClient(t, "joined-flag", api.ModelV1DeliverInitialTotemConf, cpg.WithNode(first))
	join(t, joined, g)
	join(t, joinedFlag, g)
	// Membership churn in G and elsewhere is not a ring change.
	for i := 0; i < 5; i++ {
		x := newClient(t, fmt.Sprintf("churn%d", i), 0, cpg.WithNode(first))
		join(t, x, g)
		join(t, newClient(t, fmt.Sprintf("other%d", i), 0, cpg.WithNode(first)), "other")
		wantCode(t, "churn leave", x.h.Leave([]byte(g)), nil)
	}
	mcast(t, joined, "end")
	waitSeen(t, "end at both members", func(e event) bool { return e.Kind == kDeliver && e.Data == "end" }, joined, joinedFlag)
	if got := first.Ring(); got.GetNodeid() != ring1.GetNodeid() || got.GetSeq() != ring1.GetSeq() {
		t.Fatalf("ring changed without a membership change of nodes: %v -> %v", ring1, got)
	}
	countTotem := func(c *client) (n int, last event) {
		for _, e := range c.events() {
			if e.Kind == kTotem {
				n++
				last = e
			}
		}
		return n, last
	}
	if n, _ := countTotem(joined); n != 0 {
		t.Errorf("joined handle without the flag got %d totem confchgs with no ring change", n)
	}
	if n, e := countTotem(joinedFlag); n != 1 || e.Ring.Nodeid != ring1.GetNodeid() || e.RingSeq != ring1.GetSeq() || !slices.Equal(e.TotemMemb, []uint32{first.NodeID()}) {
		t.Errorf("joined flagged handle: %d totem confchgs, last %v; want exactly the initial one with ring %d.%d [%d]",
			n, e, ring1.GetNodeid(), ring1.GetSeq(), first.NodeID())
	}
	// Unjoined handles have had no ring change and no group confchg: they
	// have nothing at all (a negative check that can only miss, not flake).
	for _, c := range []*client{unjoined, unjoinedFlag} {
		wantCode(t, c.name+": Dispatch(ONE_NONBLOCKING)", c.h.Dispatch(api.DispatchOneNonblocking), api.ErrTryAgain)
		if evs := c.events(); len(evs) != 0 {
			t.Errorf("%s got events without a ring change: %v", c.name, evs)
		}
	}
	stopNode(first)

	// A new ring: the node restarts with the same state dir.
	second := startNode(t, cfg)
	ring2 := second.Ring()
	if ring2.GetNodeid() != second.NodeID() || ring2.GetSeq() <= ring1.GetSeq() {
		t.Fatalf("ring after restart = %v, want nodeid %d and seq > %d", ring2, second.NodeID(), ring1.GetSeq())
	}
	c := newClient(t, "new-ring", api.ModelV1DeliverInitialTotemConf, cpg.WithNode(second))
	join(t, c, g)
	evs := waitFor(t, c, "the totem confchg of the new ring", has(func(e event) bool { return e.Kind == kTotem }))
	e := evs[indexOf(evs, func(e event) bool { return e.Kind == kTotem })]
	if e.Ring.Nodeid != ring2.GetNodeid() || e.RingSeq != ring2.GetSeq() || !slices.Equal(e.TotemMemb, []uint32{second.NodeID()}) {
		t.Errorf("totem confchg on the new ring = %v, want ring %d.%d [%d]", e, ring2.GetNodeid(), ring2.GetSeq(), second.NodeID())
	}
}

// Rule 26: the totem confchg is always after all group confchgs of the
// same membership change. For the initial totem confchg: it comes right
// after the handle's own first confchg, never before it, even while other
// groups' confchgs are processed concurrently (the case where Corosync
// can deliver it first, CPG-SPEC 4.3).
func TestRule26_TotemConfchgAfterGroupConfchgs(t *testing.T) {
	node := startNode(t, nil)
	const g = "rule26"
	var flagged []*client
	for i := 0; i < 8; i++ {
		flagged = append(flagged, newClient(t, fmt.Sprintf("f%d", i), api.ModelV1DeliverInitialTotemConf, cpg.WithNode(node)))
	}
	// Churn in other groups while the flagged handles join G concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := cpg.Initialize(nil, cpg.WithNode(node))
			if err != nil {
				errs <- err
				return
			}
			defer h.Finalize()
			if err := h.Join([]byte(fmt.Sprintf("churn%d", i%4))); err != nil {
				errs <- err
			}
		}(i)
	}
	for _, c := range flagged {
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			if err := c.h.Join([]byte(g)); err != nil {
				errs <- fmt.Errorf("%s: join: %w", c.name, err)
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := flagged[len(flagged)-1]
	for _, c := range flagged {
		waitJoined(t, c, g)
	}
	mcast(t, last, "end")
	waitSeen(t, "end everywhere", func(e event) bool { return e.Kind == kDeliver && e.Data == "end" }, flagged...)

	ring := node.Ring()
	for _, c := range flagged {
		evs := c.events()
		if len(evs) < 2 || evs[0].Kind != kConfchg || !joinedIs(evs[0], g, c.self(api.ReasonJoin)) {
			t.Errorf("%s: first event %v, want own JOIN confchg", c.name, evs)
			continue
		}
		totems := 0
		for i, e := range evs {
			if e.Kind != kTotem {
				continue
			}
			totems++
			if i == 0 || evs[i-1].Kind != kConfchg {
				t.Errorf("%s: totem confchg at %d not right after a group confchg: %v", c.name, i, evs[:i+1])
			}
			if e.Ring.Nodeid != ring.GetNodeid() || e.RingSeq != ring.GetSeq() {
				t.Errorf("%s: totem ring %d.%d, want %d.%d", c.name, e.Ring.Nodeid, e.RingSeq, ring.GetNodeid(), ring.GetSeq())
			}
		}
		if totems != 1 || evs[1].Kind != kTotem {
			t.Errorf("%s: %d totem confchgs, second event %v; want exactly one, right after the own JOIN confchg", c.name, totems, evs[1])
		}
	}
}

// Rule 27: group names are compared by (length, bytes): "x" and "x\0" are
// distinct groups, as are names differing only after an embedded NUL.
// actorcpg refuses an empty name with INVALID_PARAM (Corosync accepts it
// and leaves a ghost member, CPG-SPEC 8.3).
func TestRule27_BinaryGroupNames(t *testing.T) {
	node := startNode(t, nil)
	names := []string{"x", "x\x00", "a\x00b", "a\x00c", "\x00", "\x00\x00"}
	const pid = 4242 // one process: the same pid may be in each distinct group
	var cs []*client
	for _, n := range names {
		c := newClient(t, fmt.Sprintf("%q", n), 0, cpg.WithNode(node), cpg.WithPid(pid))
		cc := join(t, c, n)
		if cc.Group != n {
			t.Errorf("confchg group = %q, want %q", cc.Group, n)
		}
		if want := []addr{{1, pid, 0}}; !slices.Equal(cc.Members, want) {
			t.Errorf("join of %q: members %v, want %v (a distinct group)", n, cc.Members, want)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		mcast(t, c, "to "+c.name)
	}
	for i, c := range cs {
		evs := waitFor(t, c, "own message", hasDeliver(names[i], "to "+c.name))
		for _, e := range evs {
			if e.Group != names[i] || (e.Kind == kDeliver && e.Data != "to "+c.name) || (e.Kind == kConfchg && len(e.Members) != 1) {
				t.Errorf("%s got an event of another group: %v", c.name, e)
			}
		}
		if m := membership(t, c, names[i]); !slices.Equal(m, []addr{{1, pid, 0}}) {
			t.Errorf("MembershipGet(%q) = %v", names[i], m)
		}
	}
	got := iterate(t, cs[0].h, api.IterationNameOnly, nil)
	var want []row
	for _, n := range names {
		want = append(want, row{n, 0, 0})
	}
	if !sameRows(got, want) {
		t.Errorf("NAME_ONLY = %+v, want %+v", got, want)
	}
	if rows := iterate(t, cs[0].h, api.IterationOneGroup, []byte("x\x00")); !sameRows(rows, []row{{"x\x00", 1, pid}}) {
		t.Errorf("ONE_GROUP(\"x\\x00\") = %+v", rows)
	}
	// Leaving with the NUL-less name is not leaving "x\0" (ours: NOT_EXIST).
	wantCode(t, `handle in "x\0" leaves "x"`, cs[1].h.Leave([]byte("x")), api.ErrNotExist)
	wantCode(t, `handle in "x\0" leaves "x\0"`, cs[1].h.Leave([]byte("x\x00")), nil)
	waitFor(t, cs[1], "own leave", has(func(e event) bool { return leftIs(e, "x\x00", cs[1].self(api.ReasonLeave)) }))
	if m := membership(t, cs[0], "x"); !slices.Equal(m, []addr{{1, pid, 0}}) {
		t.Errorf(`"x" members after leaving "x\0" = %v`, m)
	}

	// Ours: the empty name is refused.
	e := newClient(t, "empty", 0, cpg.WithNode(node))
	wantCode(t, "Join(empty name)", e.h.Join(nil), api.ErrInvalidParam)
	wantCode(t, "Join(empty name)", e.h.Join([]byte{}), api.ErrInvalidParam)
	if m := membership(t, e, ""); len(m) != 0 {
		t.Errorf("members of the empty name = %v", m)
	}
}
