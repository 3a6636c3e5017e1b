// Package remote links node actor systems: the node configuration (node
// id, addresses, limits and timeouts), the protoactor remoting settings, and
// (with many nodes) failure detection and the view-change protocol.
package remote

import (
	"errors"
	"fmt"
	"net"
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

	// MaxAtomicMsgsize is what MaxAtomicMsgsizeGet reports.
	MaxAtomicMsgsize uint32
	// MaxMessageSize bounds one multicast; larger ones get ErrTooBig.
	MaxMessageSize uint64
	// LinkFragment bounds one message on a process link: larger payloads
	// travel in parts of this size and are reassembled on the other side.
	LinkFragment uint32

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
	// client it no longer hears from; then they are finalized (PROCDOWN).
	ClientTimeout time.Duration
	// ClientHeartbeat is how often an attached client tells its node it is
	// alive. Must be well below ClientTimeout.
	ClientHeartbeat time.Duration
	// RequestTimeout bounds a call from a client to its node.
	RequestTimeout time.Duration
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
	return nil
}
