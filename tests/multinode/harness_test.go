//go:build !race

package multinode

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/internal/testport"
	"github.com/actorcpg/actorcpg/remote"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// Short view timings, so that a failure is detected in a second
// (Consensus defaults to 1.2 x Token). A shorter token makes the tests
// faster, but other tests share the machine's two cores: at a load of 20
// a node was starved past a third of a second, and a false NODEDOWN broke
// a scenario that had no such failure in it.
const (
	token     = time.Second
	heartbeat = 100 * time.Millisecond
	joinTime  = 50 * time.Millisecond
)

// waitTimeout bounds every wait. It is generous: it only ends a test that
// would otherwise hang.
const waitTimeout = 20 * time.Second

// maxAttempts bounds the attempts of a scenario that a spurious view
// change spoiled (see attempts).
const maxAttempts = 3

// The attempts of the package run, and how many were void; TestMain
// prints them and fails the run when more than one attempt in three was
// void.
var attemptsRun, attemptsVoid atomic.Int64

// attempt is one run of a scenario: the clusters it started, whose
// histories the property checker reads when it ends.
type attempt struct {
	mu       sync.Mutex
	clusters []*testCluster
}

// running maps a test to its attempt under way; newCluster adds its
// cluster to it.
var running sync.Map // *testing.T -> *attempt

// attempts runs scenario, again when an attempt is void, at most
// maxAttempts times. A scenario that checks exact event sequences
// assumes that the nodes it keeps together stay together; when a view
// change the scenario did not make splits them (a spurious view change: a
// node starved past the token, or a fault of the protocol), the attempt
// returns the stray views (unplannedViews) and skips those assertions.
//
// Nothing else is skipped. Every attempt, void or not, ends with the
// property checker over everything each handle saw (checkHistory); a
// violation fails the test, whatever the attempt's views. A void attempt
// is logged loudly with its stray views and counted: TestMain fails the
// package run when more than one attempt in three was void, and a
// scenario void maxAttempts times fails, so that spurious view changes,
// which on an idle machine are a bug, are never hidden by the retries.
func attempts(t *testing.T, scenario func(t *testing.T) (void string)) {
	t.Helper()
	for i := 1; ; i++ {
		void := runAttempt(t, i, scenario)
		if void == "" {
			return
		}
		t.Logf("SPURIOUS VIEW CHANGE: attempt %d of %d of %s is void, its exact-sequence assertions skipped "+
			"(the property checker still ran on it): %s", i, maxAttempts, t.Name(), void)
		if t.Failed() {
			return
		}
		if i == maxAttempts {
			t.Fatalf("SPURIOUS VIEW CHANGE: all %d attempts void; the last: %s", maxAttempts, void)
		}
	}
}

// runAttempt runs one attempt of scenario; it then (also when the
// scenario failed the test and ended its goroutine) checks the history of
// every cluster the attempt started and stops them.
func runAttempt(t *testing.T, i int, scenario func(t *testing.T) (void string)) (void string) {
	t.Helper()
	a := &attempt{}
	running.Store(t, a)
	attemptsRun.Add(1)
	defer func() {
		t.Helper()
		running.Delete(t)
		if void != "" {
			attemptsVoid.Add(1)
		}
		a.mu.Lock()
		clusters := slices.Clone(a.clusters)
		a.mu.Unlock()
		for _, c := range clusters {
			c.checkHistory(fmt.Sprintf("attempt %d", i))
			c.stopAll()
		}
	}()
	return scenario(t)
}

// unplannedViews returns the views (totem confchgs after each member's
// mark) whose member lists are none of planned, as "ring [members]".
func unplannedViews(marks map[*member]int, planned [][]uint32, ms ...*member) string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for _, e := range eventsAfter(m, marks[m]) {
			if e.Kind != kTotem || slices.ContainsFunc(planned, func(p []uint32) bool { return slices.Equal(p, e.TotemMemb) }) {
				continue
			}
			if r := fmt.Sprintf("%s %v", ringString(e.Ring), e.TotemMemb); !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprintf("views %v outside the plan %v", out, planned)
}

// pollEvery is how often a wait re-checks its condition; not an assertion.
const pollEvery = 2 * time.Millisecond

// ---------------------------------------------------------------------
// The cluster: in-process nodes on 127.0.0.1.

type testCluster struct {
	t   *testing.T
	mu  sync.Mutex
	ids []uint32
	// cfg is each node's configuration, kept for restarts.
	cfg   map[uint32]remote.Config
	nodes map[uint32]*actors.Node // running nodes
	// blocked holds the cut links: blocked[a][b] means a drops b.
	blocked map[uint32]map[uint32]bool

	// hist records what every handle opened on the cluster saw, for the
	// property checker (checkHistory); members are those handles.
	hist    *checker.History
	members []*member
}

// freeAddr returns a free 127.0.0.1 port (testport: below the ephemeral
// range, so that no node's outgoing connection takes it before its node
// binds it).
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testport.Free()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// newCluster configures nodes 1..n (not started). mutate may change each
// node's configuration.
func newCluster(t *testing.T, n int, mutate func(*remote.Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, cfg: make(map[uint32]remote.Config), nodes: make(map[uint32]*actors.Node),
		blocked: make(map[uint32]map[uint32]bool), hist: checker.NewHistory()}
	var list []remote.NodeAddr
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, uint32(i))
		list = append(list, remote.NodeAddr{NodeID: uint32(i), Addr: freeAddr(t)})
	}
	for _, na := range list {
		cfg := remote.DefaultConfig()
		cfg.NodeID = na.NodeID
		cfg.Listen = na.Addr
		cfg.Nodes = slices.Clone(list)
		cfg.Token, cfg.Heartbeat, cfg.Join = token, heartbeat, joinTime
		cfg.Consensus = 0 // 1.2 x token
		if mutate != nil {
			mutate(&cfg)
		}
		c.cfg[na.NodeID] = cfg
	}
	t.Cleanup(c.stopAll)
	if a, ok := running.Load(t); ok {
		a := a.(*attempt)
		a.mu.Lock()
		a.clusters = append(a.clusters, c)
		a.mu.Unlock()
	} else {
		// Outside attempts, the checker reads the history when the test
		// ends: after its members are finalized (their cleanups run
		// first), before the nodes stop.
		t.Cleanup(func() { c.checkHistory("end of test") })
	}
	return c
}

// startCluster configures and starts nodes 1..n and waits for their view.
func startCluster(t *testing.T, n int, mutate func(*remote.Config)) *testCluster {
	t.Helper()
	c := newCluster(t, n, mutate)
	for _, id := range c.ids {
		c.start(id)
	}
	c.waitView(c.ids...)
	return c
}

func nodeLogger(id uint32) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(os.Getenv("MULTINODE_LOG"))
	if err != nil || lvl == zerolog.NoLevel || os.Getenv("MULTINODE_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(lvl).With().Timestamp().Logger()
}

// start starts node id with its configuration (again, after a stop).
func (c *testCluster) start(id uint32) *actors.Node {
	c.t.Helper()
	cfg, ok := c.cfg[id]
	if !ok {
		c.t.Fatalf("node %d is not configured", id)
	}
	var n *actors.Node
	var err error
	// The port was free when chosen and is ours again after a stop; a
	// restart may have to wait for the old listener to be gone.
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err = actors.Start(cfg, actors.WithLogger(nodeLogger(id)))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // retry interval, not an assertion
	}
	if err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
	c.mu.Lock()
	// A node starts with every link: forget the links cut to it before.
	delete(c.blocked, id)
	for _, m := range c.blocked {
		delete(m, id)
	}
	c.nodes[id] = n
	c.applyBlocks()
	c.mu.Unlock()
	return n
}

// node returns running node id.
func (c *testCluster) node(id uint32) *actors.Node {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[id]
	if !ok {
		c.t.Fatalf("node %d is not running", id)
	}
	return n
}

func (c *testCluster) running() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint32
	for _, id := range c.ids {
		if _, ok := c.nodes[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// stop stops node id, like a crash of its daemon: its handles see
// ErrLibrary, the others see it go.
func (c *testCluster) stop(id uint32) {
	c.mu.Lock()
	n, ok := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if ok {
		n.Stop()
		// Its handles ended with it, killed: what they had pending is
		// owed to nobody.
		for _, m := range c.membersOn(n) {
			m.end(checker.EndRecord(m.proc, true))
		}
	}
}

// membersOn returns the members opened on node n.
func (c *testCluster) membersOn(n *actors.Node) []*member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*member
	for _, m := range c.members {
		if m.nodeRef == n {
			out = append(out, m)
		}
	}
	return out
}

// nodeUp reports whether node n is still running (not stopped, not
// replaced by a restart).
func (c *testCluster) nodeUp(n *actors.Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[n.NodeID()] == n
}

// checkHistory runs the property checker (tests/checker) over what every
// handle of the cluster saw so far; a violation fails the test. The
// safety properties only (checker.Options{}): the handles are still
// running and messages may be in flight. what names the run in the log.
func (c *testCluster) checkHistory(what string) checker.Report {
	c.t.Helper()
	rep := checker.Check(c.hist, checker.Options{})
	if rep.OK() {
		c.t.Logf("%s: %s", what, rep.String())
	} else {
		c.t.Errorf("%s: property violations: %v", what, rep.Err())
	}
	return rep
}

func (c *testCluster) stopAll() {
	for _, id := range c.running() {
		c.stop(id)
	}
}

// partition cuts every link between the sides, on top of the links
// already cut; a running node missing from every side keeps its links.
func (c *testCluster) partition(sides ...[]uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, side := range sides {
		for j, other := range sides {
			if i == j {
				continue
			}
			for _, a := range side {
				for _, b := range other {
					c.cut(a, b)
				}
			}
		}
	}
	c.applyBlocks()
}

// cut blocks the link a-b on both ends; c.mu is held.
func (c *testCluster) cut(a, b uint32) {
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if c.blocked[p[0]] == nil {
			c.blocked[p[0]] = make(map[uint32]bool)
		}
		c.blocked[p[0]][p[1]] = true
	}
}

// applyBlocks sets each running node's blocked links; c.mu is held.
func (c *testCluster) applyBlocks() {
	for id, n := range c.nodes {
		var ids []uint32
		for o, on := range c.blocked[id] {
			if on {
				ids = append(ids, o)
			}
		}
		n.SetBlocked(ids...)
	}
}

// isolate cuts node id off from every other node.
func (c *testCluster) isolate(id uint32) {
	var rest []uint32
	for _, o := range c.ids {
		if o != id {
			rest = append(rest, o)
		}
	}
	c.partition([]uint32{id}, rest)
}

// heal restores every link between running nodes. Links to a crashed
// node stay cut until it starts again.
func (c *testCluster) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a := range c.blocked {
		for b := range c.blocked[a] {
			_, aUp := c.nodes[a]
			_, bUp := c.nodes[b]
			if aUp && bUp {
				delete(c.blocked[a], b)
			}
		}
	}
	c.applyBlocks()
}

// deafen makes node at drop what node from sends it, and send it
// nothing; from still hears at, until a heal.
func (c *testCluster) deafen(at, from uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocked[at] == nil {
		c.blocked[at] = make(map[uint32]bool)
	}
	c.blocked[at][from] = true
	c.applyBlocks()
}

// crash cuts node id off at once and stops it: the others hear nothing
// more from it, as after a power cut.
func (c *testCluster) crash(id uint32) {
	c.isolate(id)
	c.stop(id)
}

// waitView waits until every running node of members has installed one
// view whose members are exactly members, and returns its ring id.
func (c *testCluster) waitView(members ...uint32) *api.RingId {
	c.t.Helper()
	members = slices.Sorted(slices.Values(members))
	var ring *api.RingId
	waitFor(c.t, fmt.Sprintf("view %v", members), func() bool {
		ring = nil
		for _, id := range members {
			c.mu.Lock()
			n, ok := c.nodes[id]
			c.mu.Unlock()
			if !ok {
				continue
			}
			v := n.View()
			if !slices.Equal(v.Members, members) {
				return false
			}
			if ring == nil {
				ring = v.RingId
			} else if !sameRing(ring, v.RingId) {
				return false
			}
		}
		return ring != nil
	}, c.describeViews)
	return ring
}

func (c *testCluster) describeViews() string {
	var b strings.Builder
	for _, id := range c.running() {
		v := c.node(id).View()
		fmt.Fprintf(&b, "\n  node %d: ring %s members %v", id, ringString(v.RingId), v.Members)
	}
	return b.String()
}

func sameRing(a, b *api.RingId) bool {
	return a.GetNodeid() == b.GetNodeid() && a.GetSeq() == b.GetSeq()
}

func ringString(r *api.RingId) string { return fmt.Sprintf("%d.%d", r.GetNodeid(), r.GetSeq()) }

// waitFor polls cond until it holds, or fails the test after waitTimeout
// with what and describe's output.
func waitFor(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	waitForD(t, waitTimeout, what, cond, describe)
}

// waitForD is waitFor with a timeout of d.
func waitForD(t *testing.T, d time.Duration, what string, cond func() bool, describe func() string) {
	t.Helper()
	if !poll(d, cond) {
		var s string
		if describe != nil {
			s = describe()
		}
		t.Fatalf("timed out after %v waiting for %s%s", d, what, s)
	}
}

// poll reports whether cond held within d.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
}

// ---------------------------------------------------------------------
// Events.

type kind int

const (
	kDeliver kind = iota + 1
	kConfchg
	kTotem
)

// addr is a comparable copy of api.Address.
type addr struct {
	Nodeid, Pid, Reason uint32
}

func (a addr) String() string { return fmt.Sprintf("%d/%d(r%d)", a.Nodeid, a.Pid, a.Reason) }

func addrs(in []*api.Address) []addr {
	out := make([]addr, 0, len(in))
	for _, a := range in {
		out = append(out, addr{a.GetNodeid(), a.GetPid(), a.GetReason()})
	}
	return out
}

func cmpAddr(a, b addr) int {
	switch {
	case a.Nodeid != b.Nodeid:
		return int(int64(a.Nodeid) - int64(b.Nodeid))
	case a.Pid != b.Pid:
		return int(int64(a.Pid) - int64(b.Pid))
	}
	return int(int64(a.Reason) - int64(b.Reason))
}

// sortedAddrs returns a sorted copy.
func sortedAddrs(in []addr) []addr {
	out := slices.Clone(in)
	slices.SortFunc(out, cmpAddr)
	return out
}

// withReason returns the list with every reason set to r.
func withReason(in []addr, r api.Reason) []addr {
	out := make([]addr, len(in))
	for i, a := range in {
		out[i] = addr{a.Nodeid, a.Pid, uint32(r)}
	}
	return out
}

// event is one recorded callback. Deliveries keep the message's id, size
// and checksum, not its bytes.
type event struct {
	Kind  kind
	Group string
	// Deliver
	From msgID // the sender (nodeid, pid) of the callback, Seq from the message
	Size int
	Sum  uint32 // CRC32C of the whole message as received
	// Confchg
	Members, Left, Joined []addr
	// Totem confchg
	Ring      *api.RingId
	TotemMemb []uint32
}

func (e event) String() string {
	switch e.Kind {
	case kDeliver:
		return fmt.Sprintf("DELIVER %q %v (%d bytes)", e.Group, e.From, e.Size)
	case kConfchg:
		return fmt.Sprintf("CONFCHG %q members=%v left=%v joined=%v", e.Group, e.Members, e.Left, e.Joined)
	case kTotem:
		return fmt.Sprintf("TOTEM ring=%s members=%v", ringString(e.Ring), e.TotemMemb)
	}
	return "?"
}

// ---------------------------------------------------------------------
// Members: one handle each, dispatched by its own goroutine.

type member struct {
	name string
	node uint32
	h    *cpg.Handle

	// The checker's view of the handle: proc is its identity (a new
	// incarnation number for every handle, since a restarted node hands
	// out the same pids again), c its cluster, whose history gets its
	// records, nodeRef the node it was opened on.
	c       *testCluster
	proc    checker.Proc
	nodeRef *actors.Node
	group   atomic.Pointer[string] // the group it last joined
	ended   atomic.Bool            // its end is recorded

	mu     sync.Mutex
	events []event
	errs   []string // integrity errors seen by the deliver callback

	// sending
	nextSeq   atomic.Uint64
	sentMu    sync.Mutex
	sent      []uint64 // seqs whose McastJoined returned nil, in order
	tryAgains atomic.Int64

	// hook, if set, runs in the deliver callback after recording; early
	// at its start, before any check.
	hook  atomic.Pointer[func(event)]
	early atomic.Pointer[func(event)]

	stop chan struct{}
	done chan struct{}
}

func (m *member) String() string { return m.name }

// addr returns the member's address with reason r.
func (m *member) addr(r api.Reason) addr { return addr{m.h.NodeID(), m.h.Pid(), uint32(r)} }

func (m *member) add(e event) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}

func (m *member) fail(format string, args ...any) {
	m.mu.Lock()
	m.errs = append(m.errs, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

// snapshot returns the events received so far.
func (m *member) snapshot() []event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

func (m *member) integrityErrors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.errs)
}

func (m *member) sentOK() []uint64 {
	m.sentMu.Lock()
	defer m.sentMu.Unlock()
	return slices.Clone(m.sent)
}

// incarnations numbers the handles of the package run (checker.Proc.Inc).
var incarnations atomic.Uint64

// record adds r to the cluster's history.
func (m *member) record(r checker.Record) {
	if m.c != nil {
		m.c.hist.Add(r)
	}
}

// end records the handle's end (r is an end record), once.
func (m *member) end(r checker.Record) {
	if m.ended.CompareAndSwap(false, true) {
		m.record(r)
	}
}

// joinGroup calls Join and remembers the group for the sent records.
func (m *member) joinGroup(group string) error {
	err := m.h.Join([]byte(group))
	if err == nil {
		m.group.Store(&group)
	}
	return err
}

// newMember creates a handle on node id with the initial-totem flag and
// starts its dispatcher. It is finalized at the end of the test.
func newMember(t *testing.T, c *testCluster, id uint32, name string) *member {
	t.Helper()
	m, err := openMember(c, c.node(id), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	return m
}

// openMember is newMember for any goroutine: the caller closes the
// member. Its events go to c's history.
func openMember(c *testCluster, node *actors.Node, name string) (*member, error) {
	id := node.NodeID()
	m := &member{name: name, node: id, c: c, nodeRef: node, stop: make(chan struct{}), done: make(chan struct{})}
	data := &cpg.ModelV1Data{
		Deliver: func(h *cpg.Handle, group []byte, nodeid, pid uint32, msg []byte) {
			if f := m.early.Load(); f != nil && len(msg) >= msgHeader {
				// Before the checksums, which take milliseconds on large
				// messages: the seq as the header says.
				(*f)(event{Kind: kDeliver, Group: string(group), Size: len(msg),
					From: msgID{nodeid, pid, peekSeq(msg)}})
			}
			e := event{Kind: kDeliver, Group: string(group), From: msgID{nodeid, pid, 0}, Size: len(msg),
				Sum: crc32.Checksum(msg, castagnoli)}
			id, err := decodeMsg(msg)
			switch {
			case err != nil:
				m.fail("%s: from %d/%d: %v", m.name, nodeid, pid, err)
			case id.Nodeid != nodeid || id.Pid != pid:
				m.fail("%s: message %v delivered as from %d/%d", m.name, id, nodeid, pid)
			}
			e.From.Seq = id.Seq
			m.record(checker.DeliverDataRecord(m.proc, group, nodeid, pid, msg))
			m.add(e)
			if f := m.hook.Load(); f != nil {
				(*f)(e)
			}
		},
		Confchg: func(h *cpg.Handle, group []byte, members, left, joined []*api.Address) {
			m.record(checker.ConfchgRecord(m.proc, &api.Confchg{Group: group, Members: members, Left: left, Joined: joined}))
			m.add(event{Kind: kConfchg, Group: string(group), Members: addrs(members), Left: addrs(left), Joined: addrs(joined)})
		},
		TotemConfchg: func(h *cpg.Handle, ring *api.RingId, members []uint32) {
			m.record(checker.TotemRecord(m.proc, &api.TotemConfchg{RingId: ring, Members: members}))
			m.add(event{Kind: kTotem, Ring: &api.RingId{Nodeid: ring.GetNodeid(), Seq: ring.GetSeq()}, TotemMemb: slices.Clone(members)})
		},
		Flags: api.ModelV1DeliverInitialTotemConf,
	}
	h, err := cpg.ModelInitialize(api.ModelV1, data, nil, cpg.WithNode(node))
	if err != nil {
		return nil, fmt.Errorf("%s: ModelInitialize on node %d: %w", name, id, err)
	}
	m.h = h
	m.proc = checker.Proc{Node: id, Pid: h.Pid(), Inc: incarnations.Add(1)}
	ready, err := h.FdGet()
	if err != nil {
		_ = h.Finalize()
		return nil, fmt.Errorf("%s: FdGet: %w", name, err)
	}
	if c != nil {
		c.mu.Lock()
		c.members = append(c.members, m)
		c.mu.Unlock()
	}
	go func() {
		defer close(m.done)
		for {
			select {
			case <-ready:
			case <-m.stop:
				return
			}
			if err := h.Dispatch(api.DispatchAll); err != nil {
				return // finalized, or the node is gone and the queue empty
			}
		}
	}()
	return m, nil
}

// close finalizes the handle (whatever its node's state) and ends its
// dispatcher.
func (m *member) close() {
	_ = m.h.Finalize()
	m.finalized()
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// finalized records the end of a handle finalized while its node goes on
// (a handle of a stopped node ended with it).
func (m *member) finalized() {
	if m.c != nil && m.c.nodeUp(m.nodeRef) {
		m.end(checker.FinalizedRecord(m.proc))
	}
}

// retry calls f until it returns something other than ErrTryAgain, or
// waitTimeout passes; it counts the TRY_AGAINs in *n.
func retry(n *atomic.Int64, f func() error) error {
	deadline := time.Now().Add(waitTimeout)
	for {
		err := f()
		if !errors.Is(err, api.ErrTryAgain) || time.Now().After(deadline) {
			return err
		}
		if n != nil {
			n.Add(1)
		}
		time.Sleep(200 * time.Microsecond) // back off before retrying; not an assertion
	}
}

// join joins m to group, retrying TRY_AGAIN, and waits for its own JOIN
// confchg and, when that is the handle's first confchg, the initial totem
// confchg that follows it (the flag is set; rule 7).
func (m *member) join(t *testing.T, group string) {
	t.Helper()
	if err := retry(nil, func() error { return m.joinGroup(group) }); err != nil {
		t.Fatalf("%s: Join(%q): %v", m.name, group, err)
	}
	self := m.addr(api.ReasonJoin)
	waitFor(t, fmt.Sprintf("%s: own JOIN confchg in %q (and the initial totem confchg)", m.name, group), func() bool {
		evs := m.snapshot()
		i := slices.IndexFunc(evs, func(e event) bool {
			return e.Kind == kConfchg && e.Group == group && slices.Contains(e.Joined, self)
		})
		if i < 0 {
			return false
		}
		first := !slices.ContainsFunc(evs[:i], func(e event) bool { return e.Kind == kConfchg })
		return !first || slices.ContainsFunc(evs[i+1:], isTotem)
	}, func() string { return dumpEvents(m) })
}

// send multicasts one message of size bytes with the next seq (one
// attempt; every attempt uses a new seq). On success the seq is recorded
// as sent.
func (m *member) send(size int) (uint64, error) {
	seq := m.nextSeq.Add(1)
	err := m.h.McastJoined(api.TypeAgreed, encodeMsg(m.proc, seq, size))
	if err == nil {
		m.sentMu.Lock()
		m.sent = append(m.sent, seq)
		m.sentMu.Unlock()
		if g := m.group.Load(); g != nil {
			m.record(checker.SentRecord(m.proc, []byte(*g), seq, true))
		}
	}
	return seq, err
}

// sendRetry sends one message, retrying TRY_AGAIN (counted in tryAgains).
func (m *member) sendRetry(size int) (uint64, error) {
	var seq uint64
	err := retry(&m.tryAgains, func() error {
		var err error
		seq, err = m.send(size)
		return err
	})
	return seq, err
}

// floodPace bounds a flood to about 2,000 messages a second per sender:
// enough for messages to be in flight at every moment, and little enough
// that the nodes' heartbeats keep flowing on a machine of two cores that
// other tests share (an unpaced flood is TestRule16_NoNodeDown...'s).
const floodPace = 5 * time.Millisecond // per 10 messages

// flood sends messages of size bytes until stop is closed, limit
// messages are sent (0: no limit) or a send fails with anything but
// TRY_AGAIN; it returns that error (nil otherwise).
func (m *member) flood(stop <-chan struct{}, size, limit int) error {
	for n := 1; limit == 0 || len(m.sentOK()) < limit; n++ {
		if n%10 == 0 {
			time.Sleep(floodPace) // pacing, not an assertion
		}
		select {
		case <-stop:
			return nil
		default:
		}
		if _, err := m.send(size); err != nil {
			if !errors.Is(err, api.ErrTryAgain) {
				return err
			}
			m.tryAgains.Add(1)
			time.Sleep(200 * time.Microsecond) // back off; not an assertion
		}
	}
	return nil
}

// delivered returns the ids of the messages of group that m delivered.
func delivered(evs []event, group string) []msgID {
	var out []msgID
	for _, e := range evs {
		if e.Kind == kDeliver && e.Group == group {
			out = append(out, e.From)
		}
	}
	return out
}

func hasDelivered(m *member, id msgID) bool {
	return slices.ContainsFunc(m.snapshot(), func(e event) bool { return e.Kind == kDeliver && e.From == id })
}

// checkStreams checks each member's deliveries: no integrity error (CRC,
// length, sender), and per sender strictly increasing seqs (FIFO, no
// duplicates).
func checkStreams(t *testing.T, ms ...*member) {
	t.Helper()
	for _, m := range ms {
		for _, e := range m.integrityErrors() {
			t.Errorf("%s: %s", m.name, e)
		}
		last := make(map[[2]uint32]uint64)
		bad := 0
		for _, e := range m.snapshot() {
			if e.Kind != kDeliver {
				continue
			}
			k := [2]uint32{e.From.Nodeid, e.From.Pid}
			if prev, ok := last[k]; ok && e.From.Seq <= prev {
				if bad++; bad <= 5 {
					t.Errorf("%s: %v delivered after seq %d of the same sender (FIFO or duplicate)", m.name, e.From, prev)
				}
			}
			last[k] = e.From.Seq
		}
	}
}

// lastIndex returns the index of the last event matching f, or -1.
func lastIndex(evs []event, f func(event) bool) int {
	for i := len(evs) - 1; i >= 0; i-- {
		if f(evs[i]) {
			return i
		}
	}
	return -1
}

func isTotem(e event) bool { return e.Kind == kTotem }

func dumpEvents(ms ...*member) string {
	var b strings.Builder
	for _, m := range ms {
		evs := m.snapshot()
		fmt.Fprintf(&b, "\n--- %s (node %d), %d events:", m.name, m.node, len(evs))
		// Deliveries are many; show confchgs and totems, and runs of
		// deliveries as counts.
		run := 0
		flush := func() {
			if run > 0 {
				fmt.Fprintf(&b, "\n    ... %d deliveries", run)
				run = 0
			}
		}
		for _, e := range evs {
			if e.Kind == kDeliver {
				run++
				continue
			}
			flush()
			fmt.Fprintf(&b, "\n    %v", e)
		}
		flush()
	}
	return b.String()
}

// addrsOf returns the members' addresses with reason r, sorted.
func addrsOf(r api.Reason, ms ...*member) []addr {
	var out []addr
	for _, m := range ms {
		out = append(out, m.addr(r))
	}
	return sortedAddrs(out)
}

// waitMembers waits until MembershipGet(group) on each observer's node
// equals want (reason 0, sorted).
func waitMembers(t *testing.T, group string, want []addr, observers ...*member) {
	t.Helper()
	want = sortedAddrs(withReason(want, 0))
	waitFor(t, fmt.Sprintf("members of %q = %v", group, want), func() bool {
		for _, o := range observers {
			l, err := o.h.MembershipGet([]byte(group))
			if err != nil || !slices.Equal(addrs(l), want) {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for _, o := range observers {
			l, err := o.h.MembershipGet([]byte(group))
			fmt.Fprintf(&b, "\n  at %s (node %d): %v %v", o.name, o.node, addrs(l), err)
		}
		return b.String()
	})
}

// memberEvents returns events of m after index from.
func eventsAfter(m *member, from int) []event {
	evs := m.snapshot()
	if from > len(evs) {
		return nil
	}
	return evs[from:]
}

// around describes m's events near its delivery of id: the confchgs and
// totem confchgs among the n events either side.
func around(m *member, id msgID, n int) string {
	evs := m.snapshot()
	i := slices.IndexFunc(evs, func(e event) bool { return e.Kind == kDeliver && e.From == id })
	if i < 0 {
		return fmt.Sprintf("%s did not deliver %v", m.name, id)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, events %d..%d:", m.name, max(0, i-n), min(len(evs), i+n+1)-1)
	for j := max(0, i-n); j < min(len(evs), i+n+1); j++ {
		mark := "  "
		if j == i {
			mark = "=>"
		}
		fmt.Fprintf(&b, "\n    %s %v", mark, evs[j])
	}
	return b.String()
}

// segment is what a member delivered in one view: the messages after the
// view's totem confchg and before the next one.
type segment struct {
	ring, next string // ring ids ("" for no next view yet)
	// whole: the member was in the group for the whole view (the view's
	// totem confchg was not its initial one after its own JOIN, and it did
	// not leave during the view).
	whole bool
	msgs  []msgID
}

// segments splits m's events of group into views.
func segments(m *member, group string) []segment {
	self := func(l []addr) bool {
		return slices.ContainsFunc(l, func(a addr) bool { return a.Nodeid == m.h.NodeID() && a.Pid == m.h.Pid() })
	}
	var out []segment
	var cur *segment
	justJoined := false
	for _, e := range m.snapshot() {
		switch e.Kind {
		case kTotem:
			r := ringString(e.Ring)
			if cur != nil {
				cur.next = r
			}
			out = append(out, segment{ring: r, whole: !justJoined})
			cur = &out[len(out)-1]
			justJoined = false
		case kConfchg:
			if e.Group != group {
				continue
			}
			justJoined = self(e.Joined)
			if cur != nil && (self(e.Left) || self(e.Joined)) {
				cur.whole = false
			}
		case kDeliver:
			if e.Group == group && cur != nil {
				cur.msgs = append(cur.msgs, e.From)
			}
		}
	}
	return out
}

// checkVirtualSynchrony checks DESIGN.md's property 4 on group: members
// that were in the group through a whole view and went on to the same
// next view delivered the same messages, in the same order, in that view.
func checkVirtualSynchrony(t *testing.T, group string, ms ...*member) {
	t.Helper()
	type key struct{ ring, next string }
	seen := make(map[key]struct {
		who  string
		msgs []msgID
	})
	bad := 0
	for _, m := range ms {
		for _, s := range segments(m, group) {
			if !s.whole || s.next == "" {
				continue
			}
			k := key{s.ring, s.next}
			ref, ok := seen[k]
			if !ok {
				seen[k] = struct {
					who  string
					msgs []msgID
				}{m.name, s.msgs}
				continue
			}
			if !slices.Equal(ref.msgs, s.msgs) {
				if bad++; bad <= 5 {
					t.Errorf("virtual synchrony: in view %s (then %s) %s delivered %d messages %v, %s delivered %d %v",
						k.ring, k.next, ref.who, len(ref.msgs), shortIDs(ref.msgs), m.name, len(s.msgs), shortIDs(s.msgs))
				}
			}
		}
	}
}

func shortIDs(ids []msgID) string {
	if len(ids) <= 12 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v ... %v", ids[:6], ids[len(ids)-6:])
}

// timeAfter is time.After, for bounding a wait that has no condition to
// poll.
func timeAfter(d time.Duration) <-chan time.Time { return time.After(d) }

// segmentOf returns the view in which m delivered id in group, and the
// view m went to next ("" if none yet).
func segmentOf(m *member, group string, id msgID) (ring, next string) {
	for _, s := range segments(m, group) {
		if slices.Contains(s.msgs, id) {
			return s.ring, s.next
		}
	}
	return "", ""
}

// nextAfter returns the view m went to after view ring ("" if m was not
// in ring or has not left it).
func nextAfter(m *member, group string, ring string) string {
	for _, s := range segments(m, group) {
		if s.ring == ring {
			return s.next
		}
	}
	return ""
}
