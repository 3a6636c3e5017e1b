package cpgtest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/remote"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// Cluster is n real nodes in one process, on one in-memory network: each
// node is actors.Start with actors.WithNetwork, so the node actor, group
// actors, sequencer actors and handle actors are the production ones and
// only the sockets are missing. Node ids are 1..n. Its methods are meant
// for the test's goroutine (they fail the test with Fatalf); IDs,
// Running, Network and Timeout may be called from any.
type Cluster struct {
	t    testing.TB
	set  settings
	net  *remote.MemNetwork
	ids  []uint32
	cfgs map[uint32]remote.Config

	mu     sync.Mutex
	nodes  map[uint32]*actors.Node // running nodes
	links  linkState
	probes []*Probe
	incs   uint64 // incarnations given to probes (checker.Proc.Inc)
	// stalled holds the actors Stall suspended, by node, while it runs.
	stalled map[*actors.Node][]*actor.PID

	hist *checker.History
}

// NewCluster starts nodes 1..n on a new in-memory network and waits until
// they share one view. Each node has a state directory of its own
// (t.TempDir), so a restarted node's ring seq grows. Everything stops
// when the test ends (t.Cleanup).
func NewCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("cpgtest: NewCluster(%d): a cluster has at least one node", n)
	}
	c := &Cluster{t: t, set: defaultSettings(), net: remote.NewMemNetwork(), cfgs: map[uint32]remote.Config{},
		nodes: map[uint32]*actors.Node{}, links: newLinkState(), hist: checker.NewHistory()}
	for _, o := range opts {
		o(&c.set)
	}
	var list []remote.NodeAddr
	for id := uint32(1); id <= uint32(n); id++ {
		c.ids = append(c.ids, id)
		list = append(list, remote.NodeAddr{NodeID: id, Addr: fmt.Sprintf("mem-%d:0", id)})
	}
	for _, na := range list {
		cfg := remote.DefaultConfig()
		cfg.NodeID, cfg.Nodes = na.NodeID, slices.Clone(list)
		cfg.Token, cfg.Heartbeat = c.set.token, c.set.heartbeat
		cfg.Join, cfg.Consensus = 0, 0 // derived from the token
		cfg.StateDir = t.TempDir()
		for _, edit := range c.set.edits {
			edit(&cfg)
		}
		cfg.Listen, cfg.Nodes = na.Addr, slices.Clone(list)
		cfg.ClientSocket = remote.NoClientSocket
		c.cfgs[na.NodeID] = cfg
	}
	t.Cleanup(c.stopAll)
	for _, id := range c.ids {
		c.start(id)
	}
	c.WaitView(c.ids...)
	return c
}

// IDs returns the node ids of the cluster, 1..n.
func (c *Cluster) IDs() []uint32 { return slices.Clone(c.ids) }

// Node returns running node id; a node that is down (Kill) fails the
// test.
func (c *Cluster) Node(id uint32) *actors.Node {
	c.t.Helper()
	c.mu.Lock()
	n, ok := c.nodes[id]
	c.mu.Unlock()
	if !ok {
		c.t.Fatalf("cpgtest: node %d is not running (ids %v, running %v)", id, c.ids, c.Running())
	}
	return n
}

// Running returns the ids of the running nodes, in order.
func (c *Cluster) Running() []uint32 {
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

// Network returns the in-memory network the nodes run on, for faults the
// kit has no method for.
func (c *Cluster) Network() *remote.MemNetwork { return c.net }

// Timeout returns how long the kit waits before it fails the test.
func (c *Cluster) Timeout() time.Duration { return c.set.timeout }

// start starts node id with its configuration (again, after Kill).
func (c *Cluster) start(id uint32) *actors.Node {
	c.t.Helper()
	n, err := actors.Start(c.cfgs[id], actors.WithNetwork(c.net), actors.WithLogger(c.set.nodeLogger()))
	if err != nil {
		c.t.Fatalf("cpgtest: start node %d: %v", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

// isRunning reports whether n is the running node of its id (not
// stopped, not replaced by a restart).
func (c *Cluster) isRunning(n *actors.Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[n.NodeID()] == n
}

// stopAll stops every node and the network (the test's cleanup).
func (c *Cluster) stopAll() {
	c.mu.Lock()
	nodes := make([]*actors.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	clear(c.nodes)
	stalled := c.stalled
	c.stalled = nil
	c.mu.Unlock()
	for n, pids := range stalled { // the test ended in a Stall
		c.net.Release(n.NodeID())
		resumeActors(n, pids)
	}
	for _, n := range nodes {
		n.Stop()
	}
	c.net.Close()
}
