// Package remote links node actor systems: the node configuration (node
// id, addresses, limits and timeouts), the protoactor remoting settings, and
// (with many nodes) failure detection and the view-change protocol.
package remote

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/actorcpg/actorcpg/api"
)

// Config configures one node. DefaultConfig explains each default.
type Config struct {
	// NodeID is this node's id, > 0 and unique in the cluster.
	NodeID uint32
	// Listen is the host:port the node's remoting listens on for attached
	// clients and other nodes; "" runs the node in-process only.
	Listen string
	// StateDir keeps the persisted ring sequence; "" keeps nothing.
	StateDir string

	// Nodes is the cluster's node list (corosync.conf's nodelist), this
	// node included; empty runs a cluster of one. Every node of a cluster
	// must have the same list.
	Nodes []NodeAddr
	// Token is the failure-detection timeout: a node not heard from this
	// long is taken out of the view (Corosync's totem.token, 3000 ms).
	Token time.Duration
	// Heartbeat is how often a node tells every other node it is alive.
	// Must be at most a third of Token.
	Heartbeat time.Duration
	// Join is how long a coordinator waits for the set of reachable nodes
	// to settle before it proposes a new view (Corosync's totem.join).
	Join time.Duration
	// Consensus bounds one view-change attempt: an attempt not installed
	// within it restarts with a higher ring seq (Corosync's
	// totem.consensus, 1.2 x token).
	Consensus time.Duration

	// MaxAtomicMsgsize is what MaxAtomicMsgsizeGet reports.
	MaxAtomicMsgsize uint32
	// MaxMessageSize bounds one multicast; larger ones get ErrTooBig.
	MaxMessageSize uint64
	// LinkFragment bounds one message on a process link: larger payloads
	// travel in parts of this size and are reassembled on the other side.
	LinkFragment uint32
	// GroupWindow bounds the bytes of a group's ordered messages that
	// some node of the view may not hold yet: above it the group's
	// senders on this node get ErrTryAgain until half of it is held
	// everywhere (cluster.Config.Window; default 8 MiB).
	GroupWindow uint64
	// SequencerHandoff: when one node alone has sent to a group for this
	// long, the group's sequencer moves to that node within the view, so
	// that its messages are ordered where they are sent
	// (cluster.Config.Handoff; default 50 ms; negative: never).
	SequencerHandoff time.Duration

	// SendWindow bounds each handle's multicasts in flight (sent, not yet
	// delivered back to it); above it McastJoined returns ErrTryAgain.
	SendWindow uint32
	// SendWindowBytes bounds the payload bytes in flight per handle.
	SendWindowBytes uint64
	// CreditEvents and CreditBytes bound the events a node pushes to a
	// handle's client before the client reports them dispatched.
	CreditEvents uint32
	CreditBytes  uint64
	// QueueHighBytes is the receive-queue level (events delivered to a
	// handle and not yet dispatched) above which the handle's group is
	// flow-controlled: its senders get ErrTryAgain until the queue drains
	// below half of it.
	QueueHighBytes uint64
	// QueueLimitBytes is the receive-queue level at which a member is
	// evicted from its group (reason PROCDOWN) rather than let memory grow.
	QueueLimitBytes uint64
	// StallTimeout evicts a member whose queue stays above QueueHighBytes
	// this long without it dispatching anything.
	StallTimeout time.Duration

	// ClientTimeout is how long a node keeps the handles of an attached
	// client on another host it no longer hears from; then they are
	// finalized (PROCDOWN). Only time the node itself was running counts
	// (a stalled node does not blame its clients for its own stall), and a
	// client on the node's own host is kept for as long as its connection
	// stays open, as Corosync's local IPC clients are.
	ClientTimeout time.Duration
	// ClientHeartbeat is how often an attached client tells its node it is
	// alive. Must be well below ClientTimeout.
	ClientHeartbeat time.Duration
	// RequestTimeout bounds a call from a client to its node.
	RequestTimeout time.Duration

	// TestLinkControl lets anyone who can reach the node cut its links to
	// other nodes with a wire.LinkControl message. For fault tests only.
	TestLinkControl bool
}

// NodeAddr is one entry of the node list: a node id and the host:port its
// remoting listens on.
type NodeAddr struct {
	NodeID uint32
	Addr   string
}

// DefaultConfig returns the settings of the embedded single node: node 1,
// no listener, Corosync's message sizes, and limits sized for a node that
// serves many handles on a small machine.
func DefaultConfig() Config {
	return Config{
		NodeID:           1,
		MaxAtomicMsgsize: api.DefaultMaxAtomicMsgsize, // Corosync: IPC_REQUEST_SIZE - 1024
		MaxMessageSize:   api.DefaultMaxMessageSize,   // 64 MiB, delivered whole
		LinkFragment:     1 << 20,                     // 1 MiB parts keep gRPC frames small
		SendWindow:       2048,                        // enough to keep a 2-core node busy
		SendWindowBytes:  16 << 20,
		CreditEvents:     8192,
		CreditBytes:      16 << 20,
		QueueHighBytes:   64 << 20,  // flow control above this
		QueueLimitBytes:  512 << 20, // eviction above this
		StallTimeout:     30 * time.Second,
		ClientTimeout:    2 * time.Second, // PROCDOWN within 2 s of a silent client
		ClientHeartbeat:  250 * time.Millisecond,
		RequestTimeout:   10 * time.Second,
		Token:            3 * time.Second, // Corosync's default token timeout
		Heartbeat:        250 * time.Millisecond,
		Join:             50 * time.Millisecond, // Corosync's totem.join
		Consensus:        3600 * time.Millisecond,
	}
}

// Validate fills zero fields from DefaultConfig and reports the first bad
// field by name.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if c.MaxAtomicMsgsize == 0 {
		c.MaxAtomicMsgsize = d.MaxAtomicMsgsize
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = d.MaxMessageSize
	}
	if c.LinkFragment == 0 {
		c.LinkFragment = d.LinkFragment
	}
	if c.SendWindow == 0 {
		c.SendWindow = d.SendWindow
	}
	if c.SendWindowBytes == 0 {
		c.SendWindowBytes = d.SendWindowBytes
	}
	if c.CreditEvents == 0 {
		c.CreditEvents = d.CreditEvents
	}
	if c.CreditBytes == 0 {
		c.CreditBytes = d.CreditBytes
	}
	if c.QueueHighBytes == 0 {
		c.QueueHighBytes = d.QueueHighBytes
	}
	if c.QueueLimitBytes == 0 {
		c.QueueLimitBytes = d.QueueLimitBytes
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = d.StallTimeout
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = d.ClientTimeout
	}
	if c.ClientHeartbeat == 0 {
		c.ClientHeartbeat = d.ClientHeartbeat
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.Token == 0 {
		c.Token = d.Token
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = min(d.Heartbeat, c.Token/4)
	}
	if c.Join == 0 {
		c.Join = min(d.Join, c.Token/4)
	}
	if c.Consensus == 0 {
		c.Consensus = c.Token * 6 / 5
	}
	switch {
	case c.NodeID == 0:
		return errors.New("config: nodeid: must be > 0")
	case c.MaxAtomicMsgsize < 1024:
		return fmt.Errorf("config: max_atomic_msgsize: %d is below 1024", c.MaxAtomicMsgsize)
	case c.MaxMessageSize < uint64(c.MaxAtomicMsgsize):
		return fmt.Errorf("config: max_message_size: %d is below max_atomic_msgsize %d", c.MaxMessageSize, c.MaxAtomicMsgsize)
	case c.MaxMessageSize > 1<<30:
		return fmt.Errorf("config: max_message_size: %d is above 1 GiB", c.MaxMessageSize)
	case c.LinkFragment < 4096 || c.LinkFragment > 4<<20:
		return fmt.Errorf("config: link_fragment: %d is outside 4 KiB..4 MiB", c.LinkFragment)
	case c.GroupWindow > 1<<40:
		return fmt.Errorf("config: group_window: %d is above 1 TiB", c.GroupWindow)
	case c.QueueLimitBytes < c.QueueHighBytes:
		return fmt.Errorf("config: queue_limit_bytes: %d is below queue_high_bytes %d", c.QueueLimitBytes, c.QueueHighBytes)
	case c.ClientHeartbeat*2 > c.ClientTimeout:
		return fmt.Errorf("config: client_heartbeat: %v must be at most half of client_timeout %v", c.ClientHeartbeat, c.ClientTimeout)
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("config: listen: %q: %v", c.Listen, err)
		}
	}
	return c.validateCluster()
}

func (c *Config) validateCluster() error {
	switch {
	case c.Token < 10*time.Millisecond:
		return fmt.Errorf("config: token: %v is below 10ms", c.Token)
	case c.Heartbeat <= 0 || c.Heartbeat*3 > c.Token:
		return fmt.Errorf("config: heartbeat: %v must be above 0 and at most a third of token %v", c.Heartbeat, c.Token)
	case c.Join <= 0 || c.Join > c.Token:
		return fmt.Errorf("config: join: %v must be above 0 and at most token %v", c.Join, c.Token)
	case c.Consensus < c.Token:
		return fmt.Errorf("config: consensus: %v is below token %v", c.Consensus, c.Token)
	}
	if len(c.Nodes) == 0 {
		return nil
	}
	seen := make(map[uint32]bool, len(c.Nodes))
	self := false
	for i, n := range c.Nodes {
		if n.NodeID == 0 {
			return fmt.Errorf("config: nodelist: node %d: nodeid must be > 0", i+1)
		}
		if seen[n.NodeID] {
			return fmt.Errorf("config: nodelist: nodeid %d listed twice", n.NodeID)
		}
		seen[n.NodeID] = true
		if _, _, err := net.SplitHostPort(n.Addr); err != nil {
			return fmt.Errorf("config: nodelist: nodeid %d: address %q: %v", n.NodeID, n.Addr, err)
		}
		if n.NodeID == c.NodeID {
			self = true
			if c.Listen == "" {
				c.Listen = n.Addr
			}
		}
	}
	if !self {
		return fmt.Errorf("config: nodelist: this node's nodeid %d is not listed", c.NodeID)
	}
	if c.Listen == "" {
		return errors.New("config: listen: a node of a cluster must listen")
	}
	return nil
}

// ClientPatience is how long an attached client waits for its node to
// answer its heartbeats, its connection still open, before it declares the
// node gone and its calls fail with CS_ERR_LIBRARY: 20 tokens (60 s with
// the default token), and at least ClientTimeout. A node stall (a long GC
// pause, a stopped or swapped-out process) shorter than that costs the
// client nothing: its calls return CS_ERR_TRY_AGAIN meanwhile. A closed
// connection is noticed at once.
func (c *Config) ClientPatience() time.Duration { return max(c.ClientTimeout, 20*c.Token) }

// Peers returns the node ids of the node list, this node included, in
// ascending order; a cluster of one gives just NodeID.
func (c *Config) Peers() []uint32 {
	if len(c.Nodes) == 0 {
		return []uint32{c.NodeID}
	}
	ids := make([]uint32, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		ids = append(ids, n.NodeID)
	}
	slices.Sort(ids)
	return ids
}

// AddrOf returns the remoting address of node id, or "".
func (c *Config) AddrOf(id uint32) string {
	for _, n := range c.Nodes {
		if n.NodeID == id {
			return n.Addr
		}
	}
	return ""
}
