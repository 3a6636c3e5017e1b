package checker

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/actorcpg/actorcpg/api"
)

// stream is one process's history of one group.
type stream struct {
	idx, proc, group int32
	self             Member
	dels             []int32 // distinct messages, in first-delivery order
	delT             []int32 // per dels entry: its index among the process's events
	ccs              []ccPos
	member           bool // a member after its last confchg
	down             map[uint32]bool
	posOf            map[int32]int32 // message -> index in dels, built when needed
}

// ccPos is one confchg of a stream: its content, its instance (see
// number), how many distinct messages the stream had delivered before it,
// its index among the process's events, whether the process is a member
// after it, and the ring of the last totem confchg the process had before
// it (hasRing false: none yet) and of the next one after it (hasNext
// false: none).
type ccPos struct {
	content int32
	inst    int32
	pos     int32
	t       int32
	member  bool
	ring    RingID
	hasRing bool
	// next is the ring of the next totem confchg the process delivered
	// (hasNext false: none): for the confchgs of a view change, delivered
	// just before the new view's totem confchg, the view they belong to.
	next    RingID
	hasNext bool
}

// totPos is one totem confchg a process delivered: its index among the
// process's events, and the totem (History.totems).
type totPos struct {
	t  int32
	id int32
}

// sameView reports whether two NODEUP confchgs, which each side of a
// merge sees with its own joined list, can belong to the same view change:
// not if the processes went on to different rings.
func (a ccPos) sameView(b ccPos) bool {
	return !a.hasNext || !b.hasNext || a.next == b.next
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
	instViews   map[int32][]int32       // confchg instance -> streams that are members after it
	listViews   map[[2]int32][][2]int32 // (group, member list) -> (stream, confchg index) members after it
	resolved    map[int32][]int32       // confchg instance -> resolve
	addrStreams map[addrKey][]int32
	arith       map[[2]int32]string
	trans       map[[2]int32]transSeen
	badReported []bool

	deliv    []int32 // CSR: streams that delivered each message
	delivOff []int32
	mark     []int32

	tots     [][]totPos // per process: its totem confchgs
	insts    int32      // number of confchg instances
	ogSeqs   [][]uint64 // per (group, origin): sorted seqs of the messages somebody delivered
	ogOrigin []int32    // per (group, origin): the origin's process
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
		instViews:   map[int32][]int32{},
		listViews:   map[[2]int32][][2]int32{},
		resolved:    map[int32][]int32{},
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
	c.number()
	c.checkOrder()
	c.checkVS()
	c.checkConfchgSequences()
	c.checkGaps()
	if opts.Quiet {
		c.checkLiveness()
		c.checkGhosts()
		c.checkSafe()
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
	c.tots = make([][]totPos, len(h.procs))
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
		for ti, e := range pl.events {
			switch e.kind {
			case evConfchg:
				c.confchg(get(e.group), e.id, lastRing, haveRing, int32(ti))
			case evDeliver:
				c.deliver(get(e.group), e, seen, fifoStamp, fifoLast, int32(ti))
			case evTotem:
				t := h.totems[e.id]
				if haveRing && t.ring == lastRing {
					// The same ring again: the initial totem confchg that
					// follows each JOIN of a handle with
					// CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF (rule 7), not a
					// ring change.
					continue
				}
				c.tots[pi] = append(c.tots[pi], totPos{t: int32(ti), id: e.id})
				for _, s := range mine {
					for i := len(s.ccs) - 1; i >= 0 && !s.ccs[i].hasNext; i-- {
						s.ccs[i].next, s.ccs[i].hasNext = t.ring, true
					}
					if !haveRing {
						// Its confchgs before its first totem confchg (the
						// initial one, which follows its first JOIN and
						// carries the ring it joined in) are of that ring.
						for i := range s.ccs {
							s.ccs[i].ring, s.ccs[i].hasRing = t.ring, true
						}
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

func (c *checker) confchg(s *stream, cid int32, ring RingID, hasRing bool, t int32) {
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
	s.ccs = append(s.ccs, ccPos{content: cid, pos: int32(len(s.dels)), t: t, member: selfIn, ring: ring, hasRing: hasRing})
	s.member = selfIn
	if selfIn {
		k := [2]int32{s.group, ct.membersID}
		c.listViews[k] = append(c.listViews[k], [2]int32{s.idx, int32(len(s.ccs) - 1)})
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

func (c *checker) deliver(s *stream, e event, seen, fifoStamp []int32, fifoLast []uint64, t int32) {
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
	s.delT = append(s.delT, t)
}
