package actors

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorcpg/actorcpg/remote"
)

// Metrics is a snapshot of a node's counters (Node.Metrics): what a
// monitoring system scrapes. Counters count since the node started.
type Metrics struct {
	// McastMessages and McastBytes count the multicasts the node's handles
	// took from their clients and passed to their groups.
	McastMessages, McastBytes uint64
	// McastRejected counts multicasts refused at the node (too large, not
	// joined, an invalid guarantee): each gets an error at its sender.
	McastRejected uint64
	// DeliveredMessages and DeliveredBytes count the messages handed to
	// the node's clients (one per receiving handle).
	DeliveredMessages, DeliveredBytes uint64
	// TryAgain counts joins and leaves answered CS_ERR_TRY_AGAIN (a view
	// change under way, the handle's earlier leave not yet delivered).
	TryAgain uint64
	// FlowControlOn counts the times a handle's group became
	// flow-controlled for it (its multicasts refused with TRY_AGAIN).
	FlowControlOn uint64
	// Evictions counts the handles evicted (PROCDOWN) for a receive queue
	// above its limit, or for no dispatch while congested.
	Evictions uint64
	// QueueBytes is the size of the events waiting in the handles'
	// receive queues now.
	QueueBytes int64
	// Handles, GroupActors and SequencerActors are how many the node has
	// now.
	Handles, GroupActors, SequencerActors int
	// ViewsInstalled counts the views installed since the node started
	// (its first, singleton view included).
	ViewsInstalled uint64
	// ViewChange is the duration of the node's view changes: from the
	// proposal it accepted to its totem confchg.
	ViewChange Histogram
	// LinkBytes counts the bytes this process wrote and read on links to
	// other nodes.
	LinkBytes uint64
}

// Histogram is a cumulative histogram, as Prometheus keeps one: Counts[i]
// observations were at most Bounds[i] seconds; Count in all, Sum seconds.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// viewChangeBounds are the buckets of Metrics.ViewChange, in seconds: a
// view change takes about the join timeout on a quiet LAN, and up to the
// consensus timeout, a few times over, when nodes keep failing.
var viewChangeBounds = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// nodeMetrics are the node's counters, updated by its actors.
type nodeMetrics struct {
	mcastMsgs, mcastBytes, rejected atomic.Uint64
	delivMsgs, delivBytes           atomic.Uint64
	tryAgain, flowOn, evictions     atomic.Uint64
	queueBytes                      atomic.Int64
	handles                         atomic.Int64
	views                           atomic.Uint64
	viewBuckets                     [len(viewChangeBounds)]atomic.Uint64
	viewCount                       atomic.Uint64
	viewNanos                       atomic.Int64
}

// observeViewChange records a view change that took d.
func (m *nodeMetrics) observeViewChange(d time.Duration) {
	s := d.Seconds()
	for i, b := range viewChangeBounds {
		if s <= b {
			m.viewBuckets[i].Add(1)
		}
	}
	m.viewCount.Add(1)
	m.viewNanos.Add(int64(d))
}

// Metrics returns a snapshot of the node's counters.
func (n *Node) Metrics() Metrics {
	m := &n.metrics
	out := Metrics{
		McastMessages: m.mcastMsgs.Load(), McastBytes: m.mcastBytes.Load(), McastRejected: m.rejected.Load(),
		DeliveredMessages: m.delivMsgs.Load(), DeliveredBytes: m.delivBytes.Load(),
		TryAgain: m.tryAgain.Load(), FlowControlOn: m.flowOn.Load(), Evictions: m.evictions.Load(),
		QueueBytes: m.queueBytes.Load(), Handles: int(m.handles.Load()),
		ViewsInstalled: m.views.Load(), LinkBytes: remote.LinkBytes(),
	}
	if ga := n.groupActors.Load(); ga != nil {
		out.GroupActors = len(*ga)
	}
	n.membersMu.Lock()
	out.SequencerActors = len(n.sequencers)
	n.membersMu.Unlock()
	h := Histogram{Bounds: viewChangeBounds[:], Counts: make([]uint64, len(viewChangeBounds))}
	for i := range viewChangeBounds {
		h.Counts[i] = m.viewBuckets[i].Load()
	}
	h.Count = m.viewCount.Load()
	h.Sum = time.Duration(m.viewNanos.Load()).Seconds()
	out.ViewChange = h
	return out
}

// GroupMetrics are one group's counters on a node (Node.GroupMetrics),
// kept only when the node was started WithGroupMetrics.
type GroupMetrics struct {
	// Group is the group's name; empty for Other.
	Group []byte
	// Other: the sum over the groups beyond WithGroupMetrics' limit.
	Other bool
	// DeliveredMessages and DeliveredBytes count the messages this node's
	// replica of the group handed to its local members (once per
	// receiving handle), since the group was first seen.
	DeliveredMessages, DeliveredBytes uint64
	// Members is how many members the group has now, on every node (0
	// once the group's actor is reaped). Not kept for Other.
	Members int
	// Orders: this node runs the group's sequencer actor now. Not kept
	// for Other.
	Orders bool
}

// WithGroupMetrics keeps per-group counters (Node.GroupMetrics) for the
// first limit groups the node sees; the rest are summed into one Other
// entry. Off by default: a label per group is unbounded cardinality for a
// monitoring system, so it is the operator's choice and bound.
func WithGroupMetrics(limit int) Option {
	return func(n *Node) { n.groupStats.limit = max(0, limit) }
}

// groupCounters are one group's counters, updated by its group actor.
type groupCounters struct {
	delivMsgs, delivBytes atomic.Uint64
	members               atomic.Int64
	orders                atomic.Bool
	// own: the counters of one group (members and orders kept), not
	// Other's sum.
	own bool
}

// ownGroup reports whether c are one group's own counters.
func (c *groupCounters) ownGroup() bool { return c != nil && c.own }

// groupStatsTable holds the counters of the groups WithGroupMetrics
// keeps. A group's entry outlives its actor (counters stay monotone when
// a drained group's actor is reaped and started again).
type groupStatsTable struct {
	limit int
	mu    sync.Mutex
	byKey map[string]*groupCounters
	other groupCounters
}

// countersFor returns the counters the actor of group name updates: its
// own, Other's beyond the limit, nil with per-group metrics off.
func (t *groupStatsTable) countersFor(name []byte) *groupCounters {
	if t.limit == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.byKey[string(name)]; ok {
		return c
	}
	if len(t.byKey) >= t.limit {
		return &t.other
	}
	if t.byKey == nil {
		t.byKey = make(map[string]*groupCounters)
	}
	c := &groupCounters{own: true}
	t.byKey[string(name)] = c
	return c
}

// GroupMetrics returns the per-group counters, by group name, then Other
// if any group was beyond the limit; nil unless the node was started
// WithGroupMetrics.
func (n *Node) GroupMetrics() []GroupMetrics {
	t := &n.groupStats
	if t.limit == 0 {
		return nil
	}
	t.mu.Lock()
	out := make([]GroupMetrics, 0, len(t.byKey)+1)
	for name, c := range t.byKey {
		out = append(out, GroupMetrics{Group: []byte(name),
			DeliveredMessages: c.delivMsgs.Load(), DeliveredBytes: c.delivBytes.Load(),
			Members: int(c.members.Load()), Orders: c.orders.Load()})
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b GroupMetrics) int { return bytes.Compare(a.Group, b.Group) })
	if o := &t.other; o.delivMsgs.Load() > 0 || len(out) == t.limit {
		out = append(out, GroupMetrics{Other: true, DeliveredMessages: o.delivMsgs.Load(), DeliveredBytes: o.delivBytes.Load()})
	}
	return out
}
