package replica

import (
	"errors"
	"fmt"
)

// Every message the replicas multicast starts with magic and a kind.
// ONLY APPEND TO THE KINDS: their numbers are part of the protocol.
const magic = 0x4b // 'K'

type kind uint8

const (
	kindOp     kind = 1 // a client operation, applied in the agreed order
	kindAck    kind = 2 // a replica has applied its term's operations up to an index
	kindInfo   kind = 3 // a replica's position, for a formation round
	kindFormed kind = 4 // a replica has promised a round's term
	kindStart  kind = 5 // a state transfer's cut point
	kindChunk  kind = 6 // a part of a state transfer
)

// OpKind says what an operation does.
type OpKind uint8

// The operations of the store. A Read changes nothing: it is a read
// marker, answered with the value at its place in the order.
const (
	Put    OpKind = 1
	Delete OpKind = 2
	Read   OpKind = 3
)

// String names the kind.
func (k OpKind) String() string {
	switch k {
	case Put:
		return "put"
	case Delete:
		return "delete"
	case Read:
		return "read"
	}
	return fmt.Sprintf("op%d", uint8(k))
}

// Op is a client operation.
type Op struct {
	Kind  OpKind
	Key   string
	Value string // Put only
}

// msgOp carries an operation; (Inc, Seq) names it: the proposing
// process's incarnation and its proposal number.
type msgOp struct {
	Inc, Seq uint64
	Op       Op
}

// msgAck says its sender has applied the first Index operations of Term.
type msgAck struct{ Term, Index uint64 }

// msgInfo is a replica's entry in the formation round Tag: whether it
// holds a state, that state's position (Term, Index), and the highest
// term it has promised.
type msgInfo struct {
	Tag         uint64
	Initialized bool
	Term, Index uint64
	Promised    uint64
	Lineage     []Pos
}

// Pos is a place in the order: the first Index operations of Term.
type Pos struct{ Term, Index uint64 }

// msgFormed says its sender computed Term for round Tag and promised it.
type msgFormed struct{ Tag, Term uint64 }

// msgStart opens state transfer ID of Term from its sender to Receivers:
// the snapshot is the donor's state where this message is delivered.
// Synced lists the replicas holding Term's state when it was sent.
type msgStart struct {
	Term, ID  uint64
	Ring      Ring // the ring it was sent in: a START resent in a later ring is void
	Receivers []Member
	Synced    []Member
}

// Entry is one key and its value.
type Entry struct{ Key, Value string }

// msgChunk is part Part of transfer ID. The last part also carries the
// snapshot's position (Cut operations of Term applied), entry count and
// hash, which the receivers check.
type msgChunk struct {
	Term, ID uint64
	Part     uint64
	Last     bool
	Entries  []Entry
	Cut      uint64
	Count    uint64
	Hash     []byte
	Lineage  []Pos
}

func header(k kind) *encoder { return &encoder{b: []byte{magic, byte(k)}} }

func (m *msgOp) encode() []byte {
	e := header(kindOp)
	e.u64(m.Inc)
	e.u64(m.Seq)
	e.u64(uint64(m.Op.Kind))
	e.str(m.Op.Key)
	e.str(m.Op.Value)
	return e.b
}

func (m *msgAck) encode() []byte {
	e := header(kindAck)
	e.u64(m.Term)
	e.u64(m.Index)
	return e.b
}

func (m *msgInfo) encode() []byte {
	e := header(kindInfo)
	e.u64(m.Tag)
	e.boolean(m.Initialized)
	e.u64(m.Term)
	e.u64(m.Index)
	e.u64(m.Promised)
	e.positions(m.Lineage)
	return e.b
}

func (m *msgFormed) encode() []byte {
	e := header(kindFormed)
	e.u64(m.Tag)
	e.u64(m.Term)
	return e.b
}

func (m *msgStart) encode() []byte {
	e := header(kindStart)
	e.u64(m.Term)
	e.u64(m.ID)
	e.u64(uint64(m.Ring.Node))
	e.u64(m.Ring.Seq)
	e.members(m.Receivers)
	e.members(m.Synced)
	return e.b
}

func (m *msgChunk) encode() []byte {
	e := header(kindChunk)
	e.u64(m.Term)
	e.u64(m.ID)
	e.u64(m.Part)
	e.boolean(m.Last)
	e.u64(uint64(len(m.Entries)))
	for _, en := range m.Entries {
		e.str(en.Key)
		e.str(en.Value)
	}
	e.u64(m.Cut)
	e.u64(m.Count)
	e.bytes(m.Hash)
	e.positions(m.Lineage)
	return e.b
}

// IsTransferPart reports whether msg is a part of a state transfer (the
// shell's tests hold parts back to catch a transfer half-way).
func IsTransferPart(msg []byte) bool {
	return len(msg) >= 2 && msg[0] == magic && kind(msg[1]) == kindChunk
}

// errForeign is returned for a message that is not a kvstore message.
var errForeign = errors.New("replica: not a kvstore message")

// decode parses a message: a *msgOp, *msgAck, *msgInfo, *msgFormed,
// *msgStart or *msgChunk.
func decode(b []byte) (any, error) {
	if len(b) < 2 || b[0] != magic {
		return nil, errForeign
	}
	d := &decoder{b: b[2:]}
	var m any
	switch kind(b[1]) {
	case kindOp:
		op := &msgOp{Inc: d.u64(), Seq: d.u64()}
		op.Op.Kind = OpKind(d.u64())
		op.Op.Key, op.Op.Value = d.str(), d.str()
		if d.err == nil && (op.Op.Kind < Put || op.Op.Kind > Read) {
			return nil, fmt.Errorf("replica: unknown operation %d", op.Op.Kind)
		}
		m = op
	case kindAck:
		m = &msgAck{Term: d.u64(), Index: d.u64()}
	case kindInfo:
		m = &msgInfo{Tag: d.u64(), Initialized: d.boolean(), Term: d.u64(), Index: d.u64(), Promised: d.u64(), Lineage: d.positions()}
	case kindFormed:
		m = &msgFormed{Tag: d.u64(), Term: d.u64()}
	case kindStart:
		m = &msgStart{Term: d.u64(), ID: d.u64(), Ring: Ring{Node: d.u32(), Seq: d.u64()}, Receivers: d.members(), Synced: d.members()}
	case kindChunk:
		c := &msgChunk{Term: d.u64(), ID: d.u64(), Part: d.u64(), Last: d.boolean()}
		n := d.u64()
		if n > uint64(len(d.b)) {
			return nil, errShort
		}
		c.Entries = make([]Entry, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			c.Entries = append(c.Entries, Entry{Key: d.str(), Value: d.str()})
		}
		c.Cut, c.Count, c.Hash, c.Lineage = d.u64(), d.u64(), d.bytes(), d.positions()
		m = c
	default:
		return nil, fmt.Errorf("replica: unknown message kind %d", b[1])
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}
