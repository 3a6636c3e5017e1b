package checker

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/actorcpg/actorcpg/api"
)

// History holds the records of a run, indexed compactly for Check. The zero
// value is an empty History; it is safe for concurrent use.
type History struct {
	mu sync.Mutex

	procs   []*procLog
	procIdx map[Proc]int32

	groups   []string
	groupIdx map[string]int32

	msgs   []msgInfo
	msgIdx map[msgKey]int32
	ogIdx  map[ogKey]int32

	contents   []*content
	contentIdx map[string]int32
	listIdx    map[string]int32

	totems   []totemInfo
	totemIdx map[string]int32

	counts Counts
	key    []byte
}

type procLog struct {
	proc      Proc
	events    []event
	ended     bool
	killed    bool    // ended with its node (Record.Killed)
	finalized bool    // ended while its node went on (Record.Finalized)
	sent      []int32 // msg ids recorded sent ok
	recorded  bool    // has records (not only named in message headers)
}

const (
	evConfchg uint8 = iota + 1
	evDeliver
	evTotem
)

// event is a compact record: for a deliver, id is the message (-1 when the
// header could not be read), node/pid the reported sender, n the length;
// for a confchg, id is the content; for a totem confchg, the totem.
type event struct {
	kind  uint8
	ok    bool
	group int32
	id    int32
	node  uint32
	pid   uint32
	n     uint32
}

type msgKey struct {
	group int32
	from  Proc
	seq   uint64
}

type ogKey struct {
	group int32
	from  int32
}

type msgInfo struct {
	group  int32
	origin int32 // proc index
	og     int32 // (group, origin) index
	seq    uint64
	sentOK bool
	safe   bool // sent with CPG_TYPE_SAFE
}

// content is one distinct confchg (members, left, joined), shared by every
// process that saw it.
type content struct {
	members, left, joined []Member
	membersID             int32 // interned member list (node, pid only)
	ljID                  int32 // interned left and joined lists
	bad                   string
}

type totemInfo struct {
	ring     RingID
	nodes    int32    // interned sorted node list
	nodeList []uint32 // the same, sorted
}

// NewHistory returns an empty History.
func NewHistory() *History {
	h := &History{}
	h.init()
	return h
}

func (h *History) init() {
	if h.procIdx != nil {
		return
	}
	h.procIdx = map[Proc]int32{}
	h.groupIdx = map[string]int32{}
	h.msgIdx = map[msgKey]int32{}
	h.ogIdx = map[ogKey]int32{}
	h.contentIdx = map[string]int32{}
	h.listIdx = map[string]int32{}
	h.totemIdx = map[string]int32{}
}

// AddLog adds records in order, as Add.
func (h *History) AddLog(rs []Record) {
	for i := range rs {
		h.Add(rs[i])
	}
}

// Add adds one record. The records of one process must be added in the
// order the process saw them. Records of an unknown Kind are counted and
// otherwise ignored.
func (h *History) Add(r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.init()
	h.counts.Records++
	pl := h.procs[h.proc(r.Proc)]
	pl.recorded = true
	switch r.Kind {
	case KindConfchg:
		h.counts.Confchgs++
		pl.events = append(pl.events, event{kind: evConfchg, group: h.group(r.Group),
			id: h.content(r.Members, r.Left, r.Joined)})
	case KindDeliver:
		h.counts.Deliveries++
		g := h.group(r.Group)
		id := int32(-1)
		if r.From != (Proc{}) {
			id = h.msg(g, r.From, r.Seq)
		}
		pl.events = append(pl.events, event{kind: evDeliver, ok: r.OK, group: g, id: id,
			node: r.Node, pid: r.Pid, n: uint32(min(r.Len, 1<<32-1))})
	case KindTotem:
		h.counts.Totems++
		pl.events = append(pl.events, event{kind: evTotem, id: h.totem(r.Ring, r.Nodes)})
	case KindSent:
		h.counts.Sent++
		if r.OK {
			id := h.msg(h.group(r.Group), r.Proc, r.Seq)
			h.msgs[id].sentOK = true
			h.msgs[id].safe = h.msgs[id].safe || r.Safe
			pl.sent = append(pl.sent, id)
		}
	case KindEnd:
		h.counts.Ends++
		pl.ended = true
		if r.Killed {
			h.counts.Killed++
			pl.killed = true
		} else if r.Finalized {
			h.counts.Finalized++
			pl.finalized = true
		}
	}
}

func (h *History) proc(p Proc) int32 {
	if i, ok := h.procIdx[p]; ok {
		return i
	}
	i := int32(len(h.procs))
	h.procs = append(h.procs, &procLog{proc: p})
	h.procIdx[p] = i
	return i
}

func (h *History) group(g string) int32 {
	if i, ok := h.groupIdx[g]; ok {
		return i
	}
	i := int32(len(h.groups))
	h.groups = append(h.groups, g)
	h.groupIdx[g] = i
	return i
}

func (h *History) msg(g int32, from Proc, seq uint64) int32 {
	k := msgKey{group: g, from: from, seq: seq}
	if i, ok := h.msgIdx[k]; ok {
		return i
	}
	origin := h.proc(from)
	ogk := ogKey{group: g, from: origin}
	og, found := h.ogIdx[ogk]
	if !found {
		og = int32(len(h.ogIdx))
		h.ogIdx[ogk] = og
	}
	i := int32(len(h.msgs))
	h.msgs = append(h.msgs, msgInfo{group: g, origin: origin, og: og, seq: seq})
	h.msgIdx[k] = i
	return i
}

func appendList(b []byte, ms []Member, reasons bool) []byte {
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = binary.AppendUvarint(b, uint64(m.Node))
		b = binary.AppendUvarint(b, uint64(m.Pid))
		if reasons {
			b = binary.AppendUvarint(b, uint64(m.Reason))
		}
	}
	return b
}

func (h *History) intern(m map[string]int32, key []byte) int32 {
	if i, ok := m[string(key)]; ok {
		return i
	}
	i := int32(len(m))
	m[string(key)] = i
	return i
}

func (h *History) content(members, left, joined []Member) int32 {
	k := appendList(h.key[:0], members, true)
	k = appendList(k, left, true)
	k = appendList(k, joined, true)
	h.key = k
	if i, ok := h.contentIdx[string(k)]; ok {
		return i
	}
	c := &content{
		members: slices.Clone(members),
		left:    slices.Clone(left),
		joined:  slices.Clone(joined),
	}
	c.membersID = h.intern(h.listIdx, appendList([]byte{0}, members, false))
	lj := appendList(appendList([]byte{1}, left, true), joined, true)
	c.ljID = h.intern(h.listIdx, lj)
	c.bad = contentProblem(c)
	i := int32(len(h.contents))
	h.contents = append(h.contents, c)
	h.contentIdx[string(k)] = i
	return i
}

// contentProblem checks what one confchg must satisfy on its own: members
// sorted by (nodeid, pid), no duplicates, reasons that fit each list.
func contentProblem(c *content) string {
	for i, m := range c.members {
		if m.Reason != api.ReasonUndefined {
			return "member " + m.String() + " has a reason"
		}
		if i > 0 {
			p := c.members[i-1]
			if p.Node == m.Node && p.Pid == m.Pid {
				return "member " + m.String() + " listed twice"
			}
			if p.Node > m.Node || p.Node == m.Node && p.Pid > m.Pid {
				return "members not sorted by (nodeid, pid): " + m.String() + " after " + p.String()
			}
		}
	}
	for _, m := range c.left {
		switch m.Reason {
		case api.ReasonLeave, api.ReasonNodeDown, api.ReasonProcDown:
		default:
			return "left entry " + m.String() + " has a reason that is not LEAVE, NODEDOWN or PROCDOWN"
		}
	}
	for _, m := range c.joined {
		switch m.Reason {
		case api.ReasonJoin, api.ReasonNodeUp:
		default:
			return "joined entry " + m.String() + " has a reason that is not JOIN or NODEUP"
		}
	}
	return ""
}

func (h *History) totem(ring RingID, nodes []uint32) int32 {
	sorted := slices.Clone(nodes)
	slices.Sort(sorted)
	k := binary.AppendUvarint(h.key[:0], uint64(ring.Node))
	k = binary.AppendUvarint(k, ring.Seq)
	kn := []byte{2}
	for _, n := range sorted {
		kn = binary.AppendUvarint(kn, uint64(n))
	}
	k = append(k, kn...)
	h.key = k
	if i, ok := h.totemIdx[string(k)]; ok {
		return i
	}
	i := int32(len(h.totems))
	h.totems = append(h.totems, totemInfo{ring: ring, nodes: h.intern(h.listIdx, kn), nodeList: sorted})
	h.totemIdx[string(k)] = i
	return i
}
