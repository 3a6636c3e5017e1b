// Package remote links node actor systems: the node configuration (node
// id, addresses, limits and timeouts), the protoactor remoting settings, and
// (with many nodes) failure detection and the view-change protocol.
package remote

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	// ClientSocket is the filesystem Unix socket local clients open
	// sessions on (ACTORCPG_NODE=unix:PATH); "" uses StateDir/cpg.sock
	// when StateDir is set, else none; NoClientSocket ("-") is none, also
	// with a StateDir.
	ClientSocket string
	// ClientUIDs and ClientGIDs are the users and groups, besides root and
	// the node's own user, that may open sessions on ClientSocket
	// (Corosync's uidgid entries).
	ClientUIDs []uint32
	ClientGIDs []uint32

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
	// SessionSpin is how long the node polls a client's connection (a
	// Unix or plain TCP socket) for the client's next frame once the
	// client said it waits in a round trip, before parking the reader: a
	// round trip then costs no wake-up of a sleeping thread (config file:
	// limits.session_spin, "off" or a duration such as 50us). 0: the
	// default, DefaultSessionSpin; negative: never. At most 10 ms. Off
	// with a Token below 100 ms: while a reader polls, the process's other
	// connections (the links among them) may wait up to 10 ms.
	SessionSpin time.Duration

	// CryptoCA, CryptoCert and CryptoKey are PEM files: the cluster CA,
	// this node's certificate (naming NodeID: actorcpg://node/<id>) and
	// its key, as cpgkeygen writes them (config file: totem.crypto_ca,
	// totem.crypto_cert, totem.crypto_key). All three or none. With them,
	// node-to-node traffic is mutual TLS 1.3 and only the nodes of the
	// node list may link to this node; without them (the zero value) it
	// is plain TCP, unauthenticated: anyone who can reach the port can
	// speak as any node.
	CryptoCA, CryptoCert, CryptoKey string

	// TestLinkControl lets anyone who can reach the node cut its links to
	// other nodes with a wire.LinkControl message. For fault tests only.
	TestLinkControl bool

	// sec is the TLS material Validate loaded from the Crypto files.
	sec *Security

	// origins maps a field (its key in the configuration file) to where
	// its value comes from, for Validate's errors (see SetOrigin).
	origins map[string]origin
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
		SessionSpin:      DefaultSessionSpin,
		Token:            3 * time.Second, // Corosync's default token timeout
		Heartbeat:        250 * time.Millisecond,
		Join:             50 * time.Millisecond, // Corosync's totem.join
		Consensus:        3600 * time.Millisecond,
	}
}

// Validate fills zero fields from DefaultConfig and reports the first bad
// field by name: each value within its bounds (see ParseConfig), then the
// values against each other (heartbeat at most a third of token, join at
// most token, consensus at least token, client_heartbeat below half of
// client_timeout, max_message_size at least max_atomic_msgsize,
// queue_limit_bytes at least queue_high_bytes), then the node list.
//
// An error is one line, "config: field: what is wrong"; a field whose
// origin is known (ParseConfig records the file and line of each value it
// reads, SetOrigin a command-line flag) is named by its origin instead, as
// in "node.conf:12: limits.client_heartbeat: 1s must be below half of
// limits.client_timeout 1.5s (line 11)" or "-token: ...".
func (c *Config) Validate() error {
	d := DefaultConfig()
	fill32 := func(v *uint32, def uint32) {
		if *v == 0 {
			*v = def
		}
	}
	fill64 := func(v *uint64, def uint64) {
		if *v == 0 {
			*v = def
		}
	}
	fillTime := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fill32(&c.MaxAtomicMsgsize, d.MaxAtomicMsgsize)
	fill64(&c.MaxMessageSize, d.MaxMessageSize)
	fill32(&c.LinkFragment, d.LinkFragment)
	fill32(&c.SendWindow, d.SendWindow)
	fill64(&c.SendWindowBytes, d.SendWindowBytes)
	fill32(&c.CreditEvents, d.CreditEvents)
	fill64(&c.CreditBytes, d.CreditBytes)
	fill64(&c.QueueHighBytes, d.QueueHighBytes)
	fill64(&c.QueueLimitBytes, d.QueueLimitBytes)
	fillTime(&c.StallTimeout, d.StallTimeout)
	fillTime(&c.ClientTimeout, d.ClientTimeout)
	fillTime(&c.ClientHeartbeat, d.ClientHeartbeat)
	fillTime(&c.RequestTimeout, d.RequestTimeout)
	fillTime(&c.SessionSpin, d.SessionSpin)
	fillTime(&c.Token, d.Token)
	if c.NodeID == 0 {
		return c.errorf("nodeid", "must be > 0")
	}
	// Each value alone, before anything is derived from it.
	for _, f := range []struct {
		key string
		v   time.Duration
	}{
		{"token", c.Token}, {"heartbeat", c.Heartbeat}, {"join", c.Join}, {"consensus", c.Consensus},
		{"sequencer_handoff", c.SequencerHandoff}, {"stall_timeout", c.StallTimeout},
		{"client_timeout", c.ClientTimeout}, {"client_heartbeat", c.ClientHeartbeat},
		{"request_timeout", c.RequestTimeout}, {"session_spin", c.SessionSpin},
	} {
		if f.v == 0 || (f.key == "sequencer_handoff" || f.key == "session_spin") && f.v < 0 {
			continue // derived below, or the engine's default; a negative handoff or spin is "never"
		}
		if err := checkTime(f.key, f.v, fmtDuration(f.v)); err != nil {
			return c.errorf(f.key, "%v", err)
		}
	}
	for _, f := range []struct {
		key string
		v   uint64
	}{
		{"max_atomic_msgsize", uint64(c.MaxAtomicMsgsize)}, {"max_message_size", c.MaxMessageSize},
		{"link_fragment", uint64(c.LinkFragment)}, {"group_window", c.GroupWindow},
		{"send_window", uint64(c.SendWindow)}, {"send_window_bytes", c.SendWindowBytes},
		{"credit_events", uint64(c.CreditEvents)}, {"credit_bytes", c.CreditBytes},
		{"queue_high_bytes", c.QueueHighBytes}, {"queue_limit_bytes", c.QueueLimitBytes},
	} {
		if f.v == 0 {
			continue // group_window 0 is the engine's default
		}
		if err := checkSize(f.key, f.v, strconv.FormatUint(f.v, 10)); err != nil {
			return c.errorf(f.key, "%v", err)
		}
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
	sizes := func(v uint64) string { return strconv.FormatUint(v, 10) }
	switch {
	case c.MaxMessageSize < uint64(c.MaxAtomicMsgsize):
		return c.relation("max_message_size", sizes(c.MaxMessageSize), "is below",
			"max_atomic_msgsize", sizes(uint64(c.MaxAtomicMsgsize)), "is above")
	case c.QueueLimitBytes < c.QueueHighBytes:
		return c.relation("queue_limit_bytes", sizes(c.QueueLimitBytes), "is below",
			"queue_high_bytes", sizes(c.QueueHighBytes), "is above")
	case c.ClientHeartbeat >= c.ClientTimeout/2:
		return c.relation("client_heartbeat", fmtDuration(c.ClientHeartbeat), "must be below half of",
			"client_timeout", fmtDuration(c.ClientTimeout), "must be above twice")
	case c.Heartbeat > c.Token/3:
		return c.relation("heartbeat", fmtDuration(c.Heartbeat), "must be at most a third of",
			"token", fmtDuration(c.Token), "must be at least three times")
	case c.Join > c.Token:
		return c.relation("join", fmtDuration(c.Join), "must be at most",
			"token", fmtDuration(c.Token), "is below")
	case c.Consensus < c.Token:
		return c.relation("consensus", fmtDuration(c.Consensus), "is below",
			"token", fmtDuration(c.Token), "is above")
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return c.errorf("listen", "%q: %v", c.Listen, err)
		}
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	return c.loadSecurity()
}

// loadSecurity checks that the Crypto files are given all three or not
// at all, loads them, and checks that the certificate names this node.
func (c *Config) loadSecurity() error {
	c.sec = nil
	files := []struct{ key, path string }{
		{"crypto_ca", c.CryptoCA}, {"crypto_cert", c.CryptoCert}, {"crypto_key", c.CryptoKey},
	}
	var given, missing []string
	for _, f := range files {
		if f.path != "" {
			given = append(given, f.key)
		} else {
			missing = append(missing, f.key)
		}
	}
	switch {
	case len(given) == 0:
		return nil
	case len(missing) > 0:
		return c.errorf(given[0], "needs %s too (all of crypto_ca, crypto_cert and crypto_key, or none)", strings.Join(missing, " and "))
	}
	sec, err := LoadSecurity(c.CryptoCA, c.CryptoCert, c.CryptoKey)
	if err != nil {
		return c.errorf("crypto_cert", "%v", err)
	}
	if self := sec.Self(); self.Node != c.NodeID {
		return c.errorf("crypto_cert", "%s names %s, not this node (nodeid %d)", c.CryptoCert, self, c.NodeID)
	}
	c.sec = sec.WithNodes(c.Peers())
	return nil
}

// Security returns the TLS material Validate loaded (nil: no TLS, the
// insecure mode), accepting the nodes of the node list only.
func (c *Config) Security() *Security { return c.sec }

// Bounds of the settings, checked by ParseConfig, Validate, CheckTime and
// CheckSize.
const (
	// MinTime and MaxTime bound every time setting; a shorter one could
	// not be told to a client (which is told its heartbeat in whole
	// milliseconds) nor kept by a node (which ticks every millisecond at
	// most), a longer one is a mistake, and derived times (consensus = 1.2
	// x token, ClientPatience = 20 x token) must not overflow.
	MinTime = time.Millisecond
	MaxTime = time.Hour
	// MinToken is the shortest token: the protocol needs a few exchanges
	// of heartbeats within it.
	MinToken = 10 * time.Millisecond
	// MaxConsensus is the longest consensus: 1.2 x the longest token.
	MaxConsensus = MaxTime * 6 / 5
	// MaxBytes bounds the byte sizes that have no narrower bound: a
	// window, a credit or a queue level of more than 1 TiB is a mistake
	// (and must not turn negative as a signed count).
	MaxBytes = 1 << 40
)

// timeBounds gives each time setting's bounds, by its key in the file.
var timeBounds = map[string][2]time.Duration{
	"token": {MinToken, MaxTime}, "heartbeat": {MinTime, MaxTime}, "join": {MinTime, MaxTime},
	"consensus": {MinTime, MaxConsensus}, "sequencer_handoff": {MinTime, MaxTime},
	"stall_timeout": {MinTime, MaxTime}, "client_timeout": {MinTime, MaxTime},
	"client_heartbeat": {MinTime, MaxTime}, "request_timeout": {MinTime, MaxTime},
	"session_spin": {time.Microsecond, 10 * time.Millisecond},
}

// sizeBounds gives each size or count setting's bounds, by its key in the
// file.
var sizeBounds = map[string][2]uint64{
	"max_atomic_msgsize": {1 << 10, 1 << 30},
	"max_message_size":   {1, 1 << 30},
	"link_fragment":      {4 << 10, 4 << 20},
	"group_window":       {1, MaxBytes},
	"send_window":        {1, math.MaxUint32},
	"send_window_bytes":  {1, MaxBytes},
	"credit_events":      {1, math.MaxUint32},
	"credit_bytes":       {1, MaxBytes},
	"queue_high_bytes":   {1, MaxBytes},
	"queue_limit_bytes":  {1, MaxBytes},
}

// CheckTime reports whether d is within the bounds of the time setting key
// (a key of the configuration file without its section, such as "token"
// or "client_heartbeat"); its error names no key. An unknown key is an
// error.
func CheckTime(key string, d time.Duration) error { return checkTime(key, d, fmtDuration(d)) }

// CheckSize reports whether n is within the bounds of the size or count
// setting key (such as "max_message_size"); its error names no key.
func CheckSize(key string, n uint64) error {
	return checkSize(key, n, strconv.FormatUint(n, 10))
}

// checkTime is CheckTime with d shown as shown.
func checkTime(key string, d time.Duration, shown string) error {
	b, ok := timeBounds[key]
	switch {
	case !ok:
		return fmt.Errorf("%s is not a time setting", key)
	case d <= 0:
		return fmt.Errorf("%s must be above 0", shown)
	case d < b[0]:
		return fmt.Errorf("%s is below %s", shown, fmtDuration(b[0]))
	case d > b[1]:
		return fmt.Errorf("%s is above %s", shown, fmtDuration(b[1]))
	case key == "client_heartbeat" && d%time.Millisecond != 0:
		return fmt.Errorf("%s is not a whole number of milliseconds (clients are told it in milliseconds)", shown)
	}
	return nil
}

// checkSize is CheckSize with n shown as shown.
func checkSize(key string, n uint64, shown string) error {
	b, ok := sizeBounds[key]
	switch {
	case !ok:
		return fmt.Errorf("%s is not a size setting", key)
	case n == 0:
		return fmt.Errorf("%s must be above 0", shown)
	case n < b[0]:
		return fmt.Errorf("%s is below %s", shown, fmtBytes(b[0]))
	case n > b[1]:
		return fmt.Errorf("%s is above %s", shown, fmtBytes(b[1]))
	}
	return nil
}

// fmtDuration is d as a Go duration, without the zero minutes and seconds
// of a whole number of hours or minutes ("1h", "72m", not "1h0m0s").
func fmtDuration(d time.Duration) string {
	switch {
	case d != 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d != 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// fmtBytes is n in KiB, MiB, GiB or TiB when it is a whole number of
// them.
func fmtBytes(n uint64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return strconv.FormatUint(n, 10)
}

// origin is where a field's value comes from: a line of a configuration
// file (file, line and the key with its section), or a command-line flag
// (name only).
type origin struct {
	file string
	line int
	name string
}

// String is how an error starts that is about the field.
func (o origin) String() string {
	if o.file == "" {
		return o.name
	}
	return fmt.Sprintf("%s:%d: %s", o.file, o.line, o.name)
}

// SetOrigin records where the value of field comes from, so that
// Validate's errors about it name that origin instead of "config: field".
// field is a key of the configuration file without its section ("token",
// "client_heartbeat", "max_message_size", "listen", ...); origin is what
// an error about it starts with, such as "-token" for a command-line flag;
// "" forgets the field's origin. ParseConfig records the file, line and
// key of every value the file gives.
func (c *Config) SetOrigin(field, o string) {
	if o == "" {
		c.setOrigin(field, nil)
		return
	}
	c.setOrigin(field, &origin{name: o})
}

// setOrigin sets (or with nil, forgets) the origin of field. The map is
// copied first: copies of a Config share it.
func (c *Config) setOrigin(field string, o *origin) {
	if _, had := c.origins[field]; !had && o == nil {
		return
	}
	m := make(map[string]origin, len(c.origins)+1)
	for k, v := range c.origins {
		m[k] = v
	}
	if o == nil {
		delete(m, field)
	} else {
		m[field] = *o
	}
	if len(m) == 0 {
		m = nil
	}
	c.origins = m
}

// errorf is an error about field: "config: field: ..." or, when its
// origin is known, "origin: ...".
func (c *Config) errorf(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if o, ok := c.origins[field]; ok {
		return fmt.Errorf("%s: %s", o, msg)
	}
	return fmt.Errorf("config: %s: %s", field, msg)
}

// relation is the error for fields a and b (shown with values av and bv)
// that do not agree: "a: av aRel b bv", or, when only b's origin is
// known, "b: bv bRel a av", so that the error names a value someone gave.
func (c *Config) relation(a, av, aRel, b, bv, bRel string) error {
	_, aKnown := c.origins[a]
	_, bKnown := c.origins[b]
	if !aKnown && bKnown {
		a, av, aRel, b, bv = b, bv, bRel, a, av
	}
	return c.errorf(a, "%s %s %s", av, aRel, c.ref(a, b, bv))
}

// ref names field other (with value v) in an error about field subject:
// by its origin, with the file's line (and the file, if not subject's).
func (c *Config) ref(subject, other, v string) string {
	o, ok := c.origins[other]
	switch {
	case !ok:
		return other + " " + v
	case o.file == "":
		return o.name + " " + v
	case c.origins[subject].file == o.file:
		return fmt.Sprintf("%s %s (line %d)", o.name, v, o.line)
	}
	return fmt.Sprintf("%s %s (%s:%d)", o.name, v, o.file, o.line)
}

func (c *Config) validateCluster() error {
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

// NoClientSocket as Config.ClientSocket serves no client socket, also
// with a StateDir (an in-process node of a test kit).
const NoClientSocket = "-"

// ClientSocketPath returns the client socket the node serves, or "".
func (c *Config) ClientSocketPath() string {
	switch {
	case c.ClientSocket == NoClientSocket:
		return ""
	case c.ClientSocket != "":
		return c.ClientSocket
	case c.StateDir != "":
		return filepath.Join(c.StateDir, "cpg.sock")
	}
	return ""
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
