package checker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/actorcpg/actorcpg/api"
)

// Property names one checked property; see the package doc.
type Property string

// The properties, in the order a Report lists them.
const (
	PropOrder            Property = "agreed-order"      // 1
	PropIntegrity        Property = "integrity"         // 2: duplicates, corruption, wrong sender
	PropFIFO             Property = "fifo"              // 3
	PropVirtualSynchrony Property = "virtual-synchrony" // 4
	PropConfchg          Property = "confchg"           // 5
	PropLiveness         Property = "liveness"          // 6 (Options.Quiet)
	PropNoLoss           Property = "no-loss"           // 7 (Options.FaultFree)
	PropGhost            Property = "ghost"             // 8 (Options.Quiet)
	PropNodeDown         Property = "nodedown"          // no message from a node after its NODEDOWN
	PropMembership       Property = "membership"        // no message outside the receiver's membership
	PropTotem            Property = "totem"             // ring ids
)

// Properties lists every property in report order.
var Properties = []Property{PropOrder, PropIntegrity, PropFIFO, PropVirtualSynchrony, PropConfchg,
	PropLiveness, PropNoLoss, PropGhost, PropNodeDown, PropMembership, PropTotem}

// DefaultMaxPerProperty is how many violations of one property a Report
// keeps when Options.MaxPerProperty is 0.
const DefaultMaxPerProperty = 20

// Options selects the checks that depend on how the run ended.
type Options struct {
	// Quiet says the run ended healed (one partition) and quiet (every
	// message that was going to be delivered was): check liveness (6) and
	// ghosts (8).
	Quiet bool
	// FaultFree says the run had no faults (no crash, kill, partition or
	// message loss): check no loss (7).
	FaultFree bool
	// MaxPerProperty caps the violations kept per property (all are
	// counted); 0 means DefaultMaxPerProperty.
	MaxPerProperty int
}

// Violation is one breach of a property, seen at one process.
type Violation struct {
	Property Property
	Group    string // empty for totem violations
	Proc     Proc   // where it was seen; zero when no single process is to blame
	Detail   string
}

// String returns "property: group "g" at node/pid: detail".
func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(string(v.Property))
	b.WriteString(":")
	if v.Group != "" {
		fmt.Fprintf(&b, " group %q", v.Group)
	}
	if v.Proc != (Proc{}) {
		fmt.Fprintf(&b, " at %s", v.Proc)
	}
	b.WriteString(": ")
	b.WriteString(v.Detail)
	return b.String()
}

// Counts sums up what a History holds.
type Counts struct {
	Records    int // records added
	Procs      int // processes with at least one record
	Groups     int
	Messages   int // distinct messages (delivered or sent ok)
	Deliveries int
	Confchgs   int
	Totems     int
	Sent       int // sent records (ok or not)
	Ends       int
	Killed     int // end records with Killed
}

// Report is the result of Check.
type Report struct {
	// Violations holds at most Options.MaxPerProperty violations of each
	// property, by property (in Properties order), then as found.
	Violations []Violation
	// Total counts every violation found, kept or not, by property.
	Total  map[Property]int
	Counts Counts
}

// OK reports whether no violation was found.
func (r Report) OK() bool { return r.Count() == 0 }

// Count returns the number of violations of the given properties, or of
// all properties when none is given.
func (r Report) Count(props ...Property) int {
	n := 0
	for p, c := range r.Total {
		if len(props) == 0 || slices.Contains(props, p) {
			n += c
		}
	}
	return n
}

// Err returns nil when the report is OK, else an error whose text is
// String().
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	return errors.New(r.String())
}

// String returns a one-line summary, followed by one line per kept
// violation.
func (r Report) String() string {
	c := r.Counts
	var b strings.Builder
	fmt.Fprintf(&b, "checker: %d records, %d processes, %d groups, %d messages, %d deliveries, %d confchgs, %d totem confchgs, %d sent, %d ends (%d killed): ",
		c.Records, c.Procs, c.Groups, c.Messages, c.Deliveries, c.Confchgs, c.Totems, c.Sent, c.Ends, c.Killed)
	if r.OK() {
		b.WriteString("OK")
		return b.String()
	}
	fmt.Fprintf(&b, "%d violations (", r.Count())
	sep := ""
	for _, p := range Properties {
		if n := r.Total[p]; n > 0 {
			fmt.Fprintf(&b, "%s%s %d", sep, p, n)
			sep = ", "
		}
	}
	b.WriteString(")")
	kept := map[Property]int{}
	for _, v := range r.Violations {
		kept[v.Property]++
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	for _, p := range Properties {
		if n := r.Total[p] - kept[p]; n > 0 {
			fmt.Fprintf(&b, "\n  (%d more %s violations not shown)", n, p)
		}
	}
	return b.String()
}

// stream is one process's history of one group.
type stream struct {
	idx, proc, group int32
	self             Member
	dels             []int32 // distinct messages, in first-delivery order
	ccs              []ccPos
	member           bool // a member after its last confchg
	down             map[uint32]bool
	stay             [][]bool        // per confchg: which members stay to the end of the epoch
	posOf            map[int32]int32 // message -> index in dels, built when needed
}

// ccPos is one confchg of a stream: its content, how many distinct
// messages the stream had delivered before it, whether the process is a
// member after it, and the ring of the last totem confchg the process had
// (hasRing false: none yet), which tells two confchgs with the same content
// apart when a membership recurs.
type ccPos struct {
	content int32
	pos     int32
	member  bool
	ring    RingID
	hasRing bool
	// next is the ring of the next totem confchg the process delivered
	// (hasNext false: none): for the confchgs of a view change, delivered
	// just before the new view's totem confchg, the view they belong to.
	next    RingID
	hasNext bool
}

// sameView reports whether two NODEUP confchgs, which each side of a
// merge sees with its own joined list, can belong to the same view change:
// not if the processes went on to different rings.
func (a ccPos) sameView(b ccPos) bool {
	return !a.hasNext || !b.hasNext || a.next == b.next
}

// sameInstance reports whether two confchgs with the same content can be
// one confchg seen by two processes: not if each process was in another
// ring when it delivered its own.
func (a ccPos) sameInstance(b ccPos) bool {
	return a.content == b.content && (!a.hasRing || !b.hasRing || a.ring == b.ring)
}

type transSeen struct {
	members int32
	proc    int32
}

type checker struct {
	h    *History
	opts Options
	rep  Report
	kept map[Property]int

	streams     []*stream
	views       map[[2]int32][]int32 // (group, content) -> streams that are members after it
	listViews   map[[2]int32][]int32 // (group, member list) -> the same
	resolved    map[[2]int32][]int32
	addrStreams map[addrKey][]int32
	arith       map[[2]int32]string
	trans       map[[2]int32]transSeen
	badReported []bool

	deliv    []int32 // CSR: streams that delivered each message
	delivOff []int32
	mark     []int32
}

type addrKey struct {
	group     int32
	node, pid uint32
}

// Check checks the history against the properties selected by opts and
// returns what it found. It takes time and memory linear in the number of
// records (times the group size for the membership-based checks).
func Check(h *History, opts Options) Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	if opts.MaxPerProperty <= 0 {
		opts.MaxPerProperty = DefaultMaxPerProperty
	}
	c := &checker{
		h: h, opts: opts,
		rep:         Report{Total: map[Property]int{}, Counts: h.counts},
		kept:        map[Property]int{},
		views:       map[[2]int32][]int32{},
		listViews:   map[[2]int32][]int32{},
		resolved:    map[[2]int32][]int32{},
		addrStreams: map[addrKey][]int32{},
		arith:       map[[2]int32]string{},
		trans:       map[[2]int32]transSeen{},
		badReported: make([]bool, len(h.contents)),
	}
	c.rep.Counts.Groups = len(h.groups)
	c.rep.Counts.Messages = len(h.msgs)
	for _, p := range h.procs {
		if p.recorded {
			c.rep.Counts.Procs++
		}
	}
	c.scan()
	c.checkOrder()
	c.checkVS()
	if opts.Quiet {
		c.checkLiveness()
		c.checkGhosts()
	}
	if opts.FaultFree {
		c.checkNoLoss()
	}
	slices.SortStableFunc(c.rep.Violations, func(a, b Violation) int {
		return slices.Index(Properties, a.Property) - slices.Index(Properties, b.Property)
	})
	return c.rep
}

// keep counts a violation of p and reports whether it is to be kept.
func (c *checker) keep(p Property) bool {
	c.rep.Total[p]++
	if c.kept[p] >= c.opts.MaxPerProperty {
		return false
	}
	c.kept[p]++
	return true
}

// add counts a violation and keeps it if there is room. group and proc
// may be -1.
func (c *checker) add(p Property, group, proc int32, format string, args ...any) {
	if !c.keep(p) {
		return
	}
	c.addKept(p, group, proc, fmt.Sprintf(format, args...))
}

func (c *checker) addKept(p Property, group, proc int32, detail string) {
	v := Violation{Property: p, Detail: detail}
	if group >= 0 {
		v.Group = c.h.groups[group]
	}
	if proc >= 0 {
		v.Proc = c.h.procs[proc].proc
	}
	c.rep.Violations = append(c.rep.Violations, v)
}

func (c *checker) msgName(id int32) string {
	m := c.h.msgs[id]
	return fmt.Sprintf("%s:%d", c.h.procs[m.origin].proc, m.seq)
}

func listString(ms []Member) string {
	const max = 12
	var b strings.Builder
	b.WriteString("[")
	for i, m := range ms {
		if i == max {
			fmt.Fprintf(&b, " ... %d more", len(ms)-max)
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(m.String())
	}
	b.WriteString("]")
	return b.String()
}

func (c *checker) ccString(id int32) string {
	ct := c.h.contents[id]
	s := "{members " + listString(ct.members)
	if len(ct.left) > 0 {
		s += " left " + listString(ct.left)
	}
	if len(ct.joined) > 0 {
		s += " joined " + listString(ct.joined)
	}
	return s + "}"
}

func addrOf(m Member) uint64 { return uint64(m.Node)<<32 | uint64(m.Pid) }

func hasMember(ms []Member, a Member) bool {
	for _, m := range ms {
		if m.Node == a.Node && m.Pid == a.Pid {
			return true
		}
	}
	return false
}

func hasEntry(ms []Member, a Member, r api.Reason) bool {
	for _, m := range ms {
		if m.Node == a.Node && m.Pid == a.Pid && m.Reason == r {
			return true
		}
	}
	return false
}

// scan walks every process's records once: integrity, FIFO, membership,
// NODEDOWN, confchg and totem checks, and it builds the streams the other
// checks use.
func (c *checker) scan() {
	h := c.h
	seen := make([]int32, len(h.msgs))
	fifoStamp := make([]int32, len(h.ogIdx))
	fifoLast := make([]uint64, len(h.ogIdx))
	ringNodes := map[RingID]transSeen{}
	for pi, pl := range h.procs {
		pi := int32(pi)
		var mine []*stream
		get := func(g int32) *stream {
			for _, s := range mine {
				if s.group == g {
					return s
				}
			}
			s := &stream{idx: int32(len(c.streams)), proc: pi, group: g,
				self: Member{Node: pl.proc.Node, Pid: pl.proc.Pid}}
			c.streams = append(c.streams, s)
			mine = append(mine, s)
			k := addrKey{group: g, node: pl.proc.Node, pid: pl.proc.Pid}
			c.addrStreams[k] = append(c.addrStreams[k], s.idx)
			return s
		}
		var lastRing RingID
		haveRing := false
		for _, e := range pl.events {
			switch e.kind {
			case evConfchg:
				c.confchg(get(e.group), e.id, lastRing, haveRing)
			case evDeliver:
				c.deliver(get(e.group), e, seen, fifoStamp, fifoLast)
			case evTotem:
				t := h.totems[e.id]
				for _, s := range mine {
					for i := len(s.ccs) - 1; i >= 0 && !s.ccs[i].hasNext; i-- {
						s.ccs[i].next, s.ccs[i].hasNext = t.ring, true
					}
				}
				if haveRing && t.ring.Seq < lastRing.Seq {
					c.add(PropTotem, -1, pi, "ring seq went back from %d (ring %d/%d) to %d (ring %d/%d)",
						lastRing.Seq, lastRing.Node, lastRing.Seq, t.ring.Seq, t.ring.Node, t.ring.Seq)
				}
				lastRing, haveRing = t.ring, true
				if prev, ok := ringNodes[t.ring]; !ok {
					ringNodes[t.ring] = transSeen{members: t.nodes, proc: pi}
				} else if prev.members != t.nodes {
					c.add(PropTotem, -1, pi, "ring %d/%d has other member nodes here than at %s",
						t.ring.Node, t.ring.Seq, h.procs[prev.proc].proc)
				}
			}
		}
	}
}

func (c *checker) confchg(s *stream, cid int32, ring RingID, hasRing bool) {
	h := c.h
	ct := h.contents[cid]
	if ct.bad != "" && !c.badReported[cid] {
		c.badReported[cid] = true
		c.add(PropConfchg, s.group, s.proc, "malformed confchg %s: %s", c.ccString(cid), ct.bad)
	}
	selfIn := hasMember(ct.members, s.self)
	if !s.member {
		if !selfIn || !hasEntry(ct.joined, s.self, api.ReasonJoin) {
			c.add(PropConfchg, s.group, s.proc, "the first confchg of a membership is not the process's own JOIN (joined has it with JOIN, members has it): %s", c.ccString(cid))
		}
		s.down = nil
	} else {
		prev := h.contents[s.ccs[len(s.ccs)-1].content]
		k := [2]int32{prev.membersID, cid}
		prob, done := c.arith[k]
		if !done {
			prob = arithmetic(prev.members, ct)
			c.arith[k] = prob
		}
		if prob != "" {
			c.add(PropConfchg, s.group, s.proc, "%s", prob)
		}
		tk := [2]int32{prev.membersID, ct.ljID}
		if t, ok := c.trans[tk]; !ok {
			c.trans[tk] = transSeen{members: ct.membersID, proc: s.proc}
		} else if t.members != ct.membersID {
			c.add(PropConfchg, s.group, s.proc, "same transition as at %s (previous members %s, same left and joined) gave another member list %s",
				h.procs[t.proc].proc, listString(prev.members), listString(ct.members))
		}
	}
	if s.member || selfIn {
		for _, m := range ct.left {
			if m.Reason == api.ReasonNodeDown {
				if s.down == nil {
					s.down = map[uint32]bool{}
				}
				s.down[m.Node] = true
			}
		}
		for _, m := range ct.joined {
			delete(s.down, m.Node)
		}
	}
	s.ccs = append(s.ccs, ccPos{content: cid, pos: int32(len(s.dels)), member: selfIn, ring: ring, hasRing: hasRing})
	s.member = selfIn
	if selfIn {
		k := [2]int32{s.group, cid}
		c.views[k] = append(c.views[k], s.idx)
		k = [2]int32{s.group, ct.membersID}
		c.listViews[k] = append(c.listViews[k], s.idx)
	}
}

// arithmetic checks members == prev - left + joined, with every left entry
// a previous member and every joined entry not a member after the left
// ones went. It returns "" or what is wrong.
func arithmetic(prev []Member, ct *content) string {
	set := make(map[uint64]bool, len(prev)+len(ct.joined))
	for _, m := range prev {
		set[addrOf(m)] = true
	}
	var probs []string
	for _, m := range ct.left {
		if !set[addrOf(m)] {
			probs = append(probs, "left "+m.String()+" was not a member")
		}
		delete(set, addrOf(m))
	}
	for _, m := range ct.joined {
		if set[addrOf(m)] {
			probs = append(probs, "joined "+m.String()+" was already a member")
		}
		set[addrOf(m)] = true
	}
	got := map[uint64]bool{}
	for _, m := range ct.members {
		got[addrOf(m)] = true
	}
	same := len(got) == len(set)
	for a := range got {
		if !set[a] {
			same = false
			break
		}
	}
	if same && probs == nil {
		return ""
	}
	if !same {
		exp := make([]Member, 0, len(set))
		for a := range set {
			exp = append(exp, Member{Node: uint32(a >> 32), Pid: uint32(a)})
		}
		slices.SortFunc(exp, func(a, b Member) int { return cmp.Compare(addrOf(a), addrOf(b)) })
		probs = append([]string{"members " + listString(ct.members) + " but previous - left + joined = " + listString(exp)}, probs...)
	}
	return fmt.Sprintf("confchg arithmetic: %s (previous %s, left %s, joined %s)",
		strings.Join(probs, "; "), listString(prev), listString(ct.left), listString(ct.joined))
}

func (c *checker) deliver(s *stream, e event, seen, fifoStamp []int32, fifoLast []uint64) {
	h := c.h
	name := fmt.Sprintf("a %d-byte message from %d/%d", e.n, e.node, e.pid)
	nameOf := func() string {
		if e.id >= 0 {
			return c.msgName(e.id)
		}
		return name
	}
	if !e.ok {
		c.add(PropIntegrity, s.group, s.proc, "%s failed its CRC or length check (%d bytes)", nameOf(), e.n)
	}
	if !s.member {
		c.add(PropMembership, s.group, s.proc, "delivered %s while not a member (before its JOIN confchg or after its LEAVE)", nameOf())
	}
	if s.down[e.node] {
		c.add(PropNodeDown, s.group, s.proc, "delivered %s from node %d after the confchg that removed node %d with NODEDOWN, with no NODEUP since",
			nameOf(), e.node, e.node)
	}
	if e.id < 0 {
		return
	}
	m := h.msgs[e.id]
	origin := h.procs[m.origin].proc
	if e.node != origin.Node || e.pid != origin.Pid {
		c.add(PropIntegrity, s.group, s.proc, "delivered %s with sender %d/%d", c.msgName(e.id), e.node, e.pid)
	}
	sid := s.idx + 1
	if seen[e.id] == sid {
		c.add(PropIntegrity, s.group, s.proc, "delivered %s twice", c.msgName(e.id))
		return
	}
	seen[e.id] = sid
	if fifoStamp[m.og] == sid {
		if m.seq <= fifoLast[m.og] {
			c.add(PropFIFO, s.group, s.proc, "delivered %s after %s:%d", c.msgName(e.id), origin, fifoLast[m.og])
		} else {
			fifoLast[m.og] = m.seq
		}
	} else {
		fifoStamp[m.og] = sid
		fifoLast[m.og] = m.seq
	}
	s.dels = append(s.dels, e.id)
}

// checkOrder checks agreed order. Every stream adds an edge from each
// message to the next one it delivered; the streams agree on one order if
// and only if this graph has no cycle (a cycle without two streams in
// direct conflict still means no single agreed order exists). Kahn's
// algorithm finds the messages on or after a cycle; only those are
// compared pairwise to name the processes in conflict.
func (c *checker) checkOrder() {
	nm := len(c.h.msgs)
	off := make([]int32, nm+1)
	for _, s := range c.streams {
		for i := 1; i < len(s.dels); i++ {
			off[s.dels[i-1]+1]++
		}
	}
	for i := 1; i <= nm; i++ {
		off[i] += off[i-1]
	}
	adj := make([]int32, off[nm])
	fill := slices.Clone(off[:nm])
	indeg := make([]int32, nm)
	for _, s := range c.streams {
		for i := 1; i < len(s.dels); i++ {
			a, b := s.dels[i-1], s.dels[i]
			adj[fill[a]] = b
			fill[a]++
			indeg[b]++
		}
	}
	queue := make([]int32, 0, nm)
	for m := range indeg {
		if indeg[m] == 0 {
			queue = append(queue, int32(m))
		}
	}
	for i := 0; i < len(queue); i++ {
		a := queue[i]
		for _, b := range adj[off[a]:off[a+1]] {
			indeg[b]--
			if indeg[b] == 0 {
				queue = append(queue, b)
			}
		}
	}
	if len(queue) == nm {
		return
	}
	c.orderConflicts(indeg)
}

// orderConflicts compares, pairwise, the streams restricted to the messages
// Kahn's algorithm could not order (indeg > 0).
func (c *checker) orderConflicts(indeg []int32) {
	byGroup := map[int32][]*stream{}
	rseq := map[int32][]int32{}
	cyclic := map[int32]int{}
	for _, s := range c.streams {
		var r []int32
		for _, m := range s.dels {
			if indeg[m] > 0 {
				r = append(r, m)
			}
		}
		if len(r) > 0 {
			rseq[s.idx] = r
			byGroup[s.group] = append(byGroup[s.group], s)
		}
	}
	for m, d := range indeg {
		if d > 0 {
			cyclic[c.h.msgs[m].group]++
		}
	}
	groups := make([]int32, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	budget := 50_000_000
	for _, g := range groups {
		ss := byGroup[g]
		pos := make([]map[int32]int32, len(ss))
		found := false
		for j := 1; j < len(ss) && budget > 0; j++ {
			if pos[j] == nil {
				pos[j] = make(map[int32]int32, len(rseq[ss[j].idx]))
				for p, m := range rseq[ss[j].idx] {
					pos[j][m] = int32(p)
				}
			}
			for i := 0; i < j && budget > 0; i++ {
				ri := rseq[ss[i].idx]
				budget -= len(ri)
				maxPos, maxMsg := int32(-1), int32(-1)
				for _, m := range ri {
					p, ok := pos[j][m]
					if !ok {
						continue
					}
					if p < maxPos {
						found = true
						c.add(PropOrder, g, ss[j].proc, "delivered %s before %s, but %s delivered them the other way round",
							c.msgName(m), c.msgName(maxMsg), c.h.procs[ss[i].proc].proc)
						break
					}
					maxPos, maxMsg = p, m
				}
			}
		}
		if budget <= 0 {
			c.add(PropOrder, g, -1, "delivery orders of %d messages form cycles; the pairwise search for conflicts stopped early", cyclic[g])
		} else if !found {
			c.add(PropOrder, g, -1, "no single agreed order exists: the delivery orders of %d messages form a cycle across processes (e.g. %s)",
				cyclic[g], c.msgName(rseq[ss[0].idx][0]))
		}
	}
}

type seg struct {
	s      *stream
	lo, hi int32
}

// checkVS checks virtual synchrony; see the package doc for what "the same
// two consecutive confchgs" means.
func (c *checker) checkVS() {
	segs := map[[3]int32][]seg{}
	var keys [][3]int32
	for _, s := range c.streams {
		for i := 0; i+1 < len(s.ccs); i++ {
			if !s.ccs[i].member {
				continue
			}
			k := [3]int32{s.group, s.ccs[i].content, s.ccs[i+1].content}
			if _, ok := segs[k]; !ok {
				keys = append(keys, k)
			}
			segs[k] = append(segs[k], seg{s: s, lo: s.ccs[i].pos, hi: s.ccs[i+1].pos})
		}
	}
	nm := len(c.h.msgs)
	v := &vsState{cnt: make([]int32, nm), cntStamp: make([]int32, nm), mark: make([]int32, nm),
		owner: make([]int32, nm), ownerStamp: make([]int32, nm)}
	for ki, k := range keys {
		ss := segs[k]
		if len(ss) < 2 {
			continue
		}
		// Two segments of one address (one process twice, or two
		// incarnations) cannot be of one view: the pair occurs more than
		// once.
		repeated := false
		addrs := make(map[uint64]bool, len(ss))
		for _, sg := range ss {
			a := addrOf(sg.s.self)
			if addrs[a] {
				repeated = true
				break
			}
			addrs[a] = true
		}
		if !repeated {
			c.compareSegs(k, ss, v)
			continue
		}
		// The same pair of confchgs occurs more than once: segments are the
		// same occurrence when they share a message.
		parent := make([]int, len(ss))
		for i := range parent {
			parent[i] = i
		}
		var find func(int) int
		find = func(i int) int {
			for parent[i] != i {
				parent[i] = parent[parent[i]]
				i = parent[i]
			}
			return i
		}
		stamp := int32(ki + 1)
		for i, sg := range ss {
			for _, m := range sg.s.dels[sg.lo:sg.hi] {
				if v.ownerStamp[m] == stamp {
					a, b := find(i), find(int(v.owner[m]))
					parent[a] = b
				} else {
					v.ownerStamp[m] = stamp
					v.owner[m] = int32(i)
				}
			}
		}
		classes := map[int][]seg{}
		var roots []int
		for i, sg := range ss {
			r := find(i)
			if _, ok := classes[r]; !ok {
				roots = append(roots, r)
			}
			classes[r] = append(classes[r], sg)
		}
		for _, r := range roots {
			if len(classes[r]) > 1 {
				c.compareSegs(k, classes[r], v)
			}
		}
	}
}

type vsState struct {
	cnt, cntStamp     []int32
	mark              []int32
	owner, ownerStamp []int32
	stamp             int32
	u                 []int32
}

// compareSegs checks that the segments (the same pair of confchgs at
// several processes) hold the same set of messages.
func (c *checker) compareSegs(k [3]int32, ss []seg, v *vsState) {
	v.stamp++
	cs := v.stamp
	u := v.u[:0]
	for _, sg := range ss {
		for _, m := range sg.s.dels[sg.lo:sg.hi] {
			if v.cntStamp[m] != cs {
				v.cntStamp[m] = cs
				v.cnt[m] = 0
				u = append(u, m)
			}
			v.cnt[m]++
		}
	}
	v.u = u
	full := true
	for _, m := range u {
		if int(v.cnt[m]) != len(ss) {
			full = false
			break
		}
	}
	if full {
		return
	}
	for _, sg := range ss {
		if int(sg.hi-sg.lo) == len(u) {
			continue
		}
		v.stamp++
		ms := v.stamp
		for _, m := range sg.s.dels[sg.lo:sg.hi] {
			v.mark[m] = ms
		}
		missing, first := 0, int32(-1)
		for _, m := range u {
			if v.mark[m] != ms {
				missing++
				if first < 0 {
					first = m
				}
			}
		}
		if !c.keep(PropVirtualSynchrony) {
			continue
		}
		var by Proc
		for _, o := range ss {
			if slices.Contains(o.s.dels[o.lo:o.hi], first) {
				by = c.h.procs[o.s.proc].proc
				break
			}
		}
		c.addKept(PropVirtualSynchrony, k[0], sg.s.proc, fmt.Sprintf(
			"lacks %d of the %d messages that %d processes delivered between the same two confchgs %s and %s (e.g. %s, delivered by %s)",
			missing, len(u), len(ss), c.ccString(k[1]), c.ccString(k[2]), c.msgName(first), by))
	}
}

// resolve maps each member of the confchg content cid of group g to the
// stream of the process that is that member: the stream (of that nodeid
// and pid) that was a member after the same confchg or, failing that (after
// a merge each side sees its own NODEUP confchg), after a confchg with the
// same member list. -1: no such stream (not recorded); -2: several
// incarnations qualify, so which one is meant is unknown.
func (c *checker) resolve(g, cid int32) []int32 {
	k := [2]int32{g, cid}
	if r, ok := c.resolved[k]; ok {
		return r
	}
	ct := c.h.contents[cid]
	idx := make(map[uint64]int, len(ct.members))
	for i, m := range ct.members {
		idx[addrOf(m)] = i
	}
	r := make([]int32, len(ct.members))
	for i := range r {
		r[i] = -1
	}
	pick := func(streams []int32, only []bool) {
		for _, si := range streams {
			i, ok := idx[addrOf(c.streams[si].self)]
			if !ok || only != nil && !only[i] {
				continue
			}
			switch r[i] {
			case -1:
				r[i] = si
			case si, -2:
			default:
				r[i] = -2
			}
		}
	}
	pick(c.views[k], nil)
	if slices.Contains(r, -1) {
		only := make([]bool, len(r))
		for i := range r {
			only[i] = r[i] == -1
		}
		pick(c.listViews[[2]int32{g, ct.membersID}], only)
	}
	c.resolved[k] = r
	return r
}

// buildDeliverers fills the message -> delivering streams index.
func (c *checker) buildDeliverers() {
	if c.delivOff != nil {
		return
	}
	nm := len(c.h.msgs)
	off := make([]int32, nm+1)
	for _, s := range c.streams {
		for _, m := range s.dels {
			off[m+1]++
		}
	}
	for i := 1; i <= nm; i++ {
		off[i] += off[i-1]
	}
	d := make([]int32, off[nm])
	fill := slices.Clone(off[:nm])
	for _, s := range c.streams {
		for _, m := range s.dels {
			d[fill[m]] = s.idx
			fill[m]++
		}
	}
	c.deliv, c.delivOff = d, off
	c.mark = make([]int32, len(c.streams))
}

// markDeliverers marks the streams that delivered m: c.mark[s] == m+1.
func (c *checker) markDeliverers(m int32) {
	for _, s := range c.deliv[c.delivOff[m]:c.delivOff[m+1]] {
		c.mark[s] = m + 1
	}
}

// walk calls fn for each message a stream delivered, with the index of the
// confchg it was delivered after (-1: before any).
func walk(s *stream, fn func(m int32, ci int)) {
	ci := -1
	for j, m := range s.dels {
		for ci+1 < len(s.ccs) && int(s.ccs[ci+1].pos) <= j {
			ci++
		}
		fn(m, ci)
	}
}

// stayers returns, for confchg ci of s, which of its members stay members
// (in s's view) to the end of that membership of s: to its last confchg,
// or to its own LEAVE confchg.
func (c *checker) stayers(s *stream, ci int) []bool {
	if s.stay == nil {
		s.stay = make([][]bool, len(s.ccs))
	}
	if s.stay[ci] != nil {
		return s.stay[ci]
	}
	// end is the last confchg of that membership: the first one after ci
	// that the process is not a member after (its own LEAVE), or the
	// stream's last.
	end := ci
	for end+1 < len(s.ccs) && s.ccs[end].member {
		end++
	}
	var after map[uint64]bool // who stays from confchg j+1 on
	var leftAfter []Member    // the left list of confchg j+1
	for j := end; j >= ci; j-- {
		ct := c.h.contents[s.ccs[j].content]
		removed := make(map[uint64]bool, len(leftAfter))
		for _, m := range leftAfter {
			removed[addrOf(m)] = true
		}
		now := make([]bool, len(ct.members))
		cur := make(map[uint64]bool, len(ct.members))
		for i, m := range ct.members {
			a := addrOf(m)
			if j == end || after[a] && !removed[a] {
				now[i] = true
				cur[a] = true
			}
		}
		s.stay[j] = now
		after, leftAfter = cur, ct.left
	}
	return s.stay[ci]
}

// checkLiveness checks property 6: every message sent ok by a process that
// was not killed is delivered to itself and to every process that stayed a
// member with it, in the sender's view, from that delivery to the end.
func (c *checker) checkLiveness() {
	h := c.h
	c.buildDeliverers()
	self := make([]bool, len(h.msgs))
	for _, s := range c.streams {
		if h.procs[s.proc].killed || len(h.procs[s.proc].sent) == 0 {
			continue
		}
		walk(s, func(m int32, ci int) {
			mi := h.msgs[m]
			if mi.origin != s.proc || !mi.sentOK {
				return
			}
			self[m] = true
			if ci < 0 || !s.ccs[ci].member {
				return
			}
			cid := s.ccs[ci].content
			stay := c.stayers(s, ci)
			res := c.resolve(s.group, cid)
			c.markDeliverers(m)
			for i, r := range res {
				if !stay[i] {
					continue
				}
				if r < 0 || r == s.idx {
					continue
				}
				rs := c.streams[r]
				if h.procs[rs.proc].killed || !rs.member || c.mark[r] == m+1 {
					continue
				}
				if c.sawRemoved(rs, s, m, ci) {
					continue // its view of the sender ended first
				}
				c.add(PropLiveness, s.group, rs.proc, "never delivered %s, sent ok by %s while both stayed in the group to the end", c.msgName(m), h.procs[s.proc].proc)
			}
		})
	}
	for pi, p := range h.procs {
		if p.killed {
			continue
		}
		for _, m := range p.sent {
			if !self[m] {
				c.add(PropLiveness, h.msgs[m].group, int32(pi), "sent %s ok but never delivered it to itself", c.msgName(m))
			}
		}
	}
}

// sawRemoved reports whether receiver stream rs was not in the sender's
// view any more when sender stream s delivered its message m (after its
// confchg ci), as Extended Virtual Synchrony allows: after the last point
// the two shared in the sender's membership, rs saw the sender removed by
// a failure (NODEDOWN or PROCDOWN of the sender, or NODEDOWN of a process
// of its node), or they share no point (rs never installed a view of the
// sender's membership: its node was cut off, or missed the install of the
// view, before the sender's JOIN).
//
// The last shared point is the last message that s delivered before m in
// that membership and rs delivered too, or the last confchg of that
// membership up to ci that rs has (the same one, told apart from a
// recurring one by the ring, or, for a merge's NODEUP confchg, which each
// side sees with its own joined list, its NODEUP confchg with the same
// member list in the same view change). If that confchg ended rs's
// membership (rs left), rs's later membership shared nothing with the
// sender's up to m.
func (c *checker) sawRemoved(rs, s *stream, m int32, ci int) bool {
	a := addrOf(s.self)
	removedAfter := func(pos int32, from int) bool {
		for _, cc := range rs.ccs[from:] {
			if cc.pos <= pos {
				continue
			}
			for _, l := range c.h.contents[cc.content].left {
				if addrOf(l) == a && l.Reason != api.ReasonLeave || l.Node == s.self.Node && l.Reason == api.ReasonNodeDown {
					return true
				}
			}
		}
		return false
	}
	start := ci // the sender's JOIN confchg of this membership
	for start > 0 && s.ccs[start-1].member {
		start--
	}
	if p := c.lastShared(rs, s, m, int(s.ccs[start].pos)); p >= 0 && removedAfter(p, 0) {
		return true
	}
	for k := ci; k >= start; k-- {
		cid := s.ccs[k].content
		j := -1
		for i, cc := range rs.ccs {
			if cc.sameInstance(s.ccs[k]) {
				j = i
			}
		}
		if j < 0 && hasReason(c.h.contents[cid].joined, api.ReasonNodeUp) {
			want := c.h.contents[cid].members
			for i, cc := range rs.ccs {
				ct := c.h.contents[cc.content]
				if hasReason(ct.joined, api.ReasonNodeUp) && slices.Equal(ct.members, want) && cc.sameView(s.ccs[k]) {
					j = i
				}
			}
		}
		if j >= 0 {
			// The last shared point ended rs's membership (it left): its
			// later membership, which the sender learned of by NODEUP,
			// shares no confchg with the sender's up to the message.
			return !rs.ccs[j].member || removedAfter(-1, j+1)
		}
	}
	return true
}

// lastShared returns the index in rs.dels of the last message that s
// delivered before m, from index lo of s.dels on, and rs delivered too;
// -1 if there is none.
func (c *checker) lastShared(rs, s *stream, m int32, lo int) int32 {
	if rs.posOf == nil {
		rs.posOf = make(map[int32]int32, len(rs.dels))
		for i, d := range rs.dels {
			rs.posOf[d] = int32(i)
		}
	}
	jm := slices.Index(s.dels, m)
	for x := jm - 1; x >= lo; x-- {
		if p, ok := rs.posOf[s.dels[x]]; ok {
			return p
		}
	}
	return -1
}

func hasReason(ms []Member, r api.Reason) bool {
	for _, m := range ms {
		if m.Reason == r {
			return true
		}
	}
	return false
}

// checkNoLoss checks property 7: every member of the view in which a
// message was delivered (at its sender, or else at its first receiver)
// delivers it, unless killed; a message sent ok by a process that was not
// killed is delivered to someone.
func (c *checker) checkNoLoss() {
	h := c.h
	c.buildDeliverers()
	ref := make([]int32, len(h.msgs))
	for i := range ref {
		ref[i] = -1
	}
	for _, s := range c.streams {
		for _, m := range s.dels {
			if ref[m] < 0 || c.streams[ref[m]].proc != h.msgs[m].origin && s.proc == h.msgs[m].origin {
				ref[m] = s.idx
			}
		}
	}
	for _, s := range c.streams {
		walk(s, func(m int32, ci int) {
			if ref[m] != s.idx || ci < 0 || !s.ccs[ci].member {
				return
			}
			res := c.resolve(s.group, s.ccs[ci].content)
			c.markDeliverers(m)
			for _, r := range res {
				if r < 0 || r == s.idx {
					continue
				}
				rs := c.streams[r]
				if h.procs[rs.proc].killed || c.mark[r] == m+1 {
					continue
				}
				c.add(PropNoLoss, s.group, rs.proc, "never delivered %s, which %s delivered while both were members", c.msgName(m), h.procs[s.proc].proc)
			}
		})
	}
	for m, mi := range h.msgs {
		if mi.sentOK && ref[m] < 0 && !h.procs[mi.origin].killed {
			c.add(PropNoLoss, mi.group, mi.origin, "sent %s ok but nobody delivered it", c.msgName(int32(m)))
		}
	}
}

// checkGhosts checks property 8 (rule 28): the last member list of every
// live member contains no process that was killed or left, and all live
// members of a group end with the same list.
func (c *checker) checkGhosts() {
	h := c.h
	live := func(s *stream) bool { return !h.procs[s.proc].killed && s.member && len(s.ccs) > 0 }
	byGroup := map[int32][]*stream{}
	for _, s := range c.streams {
		if live(s) {
			byGroup[s.group] = append(byGroup[s.group], s)
		}
	}
	groups := make([]int32, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		ss := byGroup[g]
		final := func(s *stream) int32 { return s.ccs[len(s.ccs)-1].content }
		votes := map[int32]int{}
		var major int32 = -1
		for _, s := range ss {
			id := h.contents[final(s)].membersID
			votes[id]++
			if major < 0 || votes[id] > votes[major] || votes[id] == votes[major] && id < major {
				major = id
			}
		}
		var majorList []Member
		for _, s := range ss {
			if h.contents[final(s)].membersID == major {
				majorList = h.contents[final(s)].members
				break
			}
		}
		for _, s := range ss {
			ct := h.contents[final(s)]
			if ct.membersID != major {
				c.add(PropGhost, g, s.proc, "final member list %s differs from %s, the final list of %d live members",
					listString(ct.members), listString(majorList), votes[major])
			}
			res := c.resolve(g, final(s))
			for i, m := range ct.members {
				r := res[i]
				if r >= 0 {
					rs := c.streams[r]
					switch {
					case h.procs[rs.proc].killed:
						c.add(PropGhost, g, s.proc, "%s is still a member at the end, but it was killed", h.procs[rs.proc].proc)
					case !rs.member:
						c.add(PropGhost, g, s.proc, "%s is still a member at the end, but it left", h.procs[rs.proc].proc)
					}
					continue
				}
				cands := c.addrStreams[addrKey{group: g, node: m.Node, pid: m.Pid}]
				if len(cands) == 0 || slices.ContainsFunc(cands, func(r int32) bool { return live(c.streams[r]) }) {
					continue
				}
				c.add(PropGhost, g, s.proc, "%s is still a member at the end, but every process with that address was killed or left", m)
			}
		}
	}
}
