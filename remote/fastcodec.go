package remote

import (
	"bytes"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
)

// The messages that carry payloads between a client and its node
// (McastRequest and McastBatch up, EventBatch down) have a codec of their
// own, in plain protobuf (any protobuf decoder reads what it writes, and
// it reads what any protobuf encoder writes):
//
//   - Encoding gathers: a payload of gatherMin bytes or more is not copied
//     into the frame; the frame's header bytes are cut around it and the
//     writer hands it to writev from where it is (Frame.cuts). The payload
//     field is written last in its message (protobuf decoders take fields
//     in any order).
//   - Decoding copies each payload once, or not at all: a frame that fits
//     in the reader's buffer is decoded where it lies and each payload is
//     copied out (proto.Unmarshal would copy the frame out of the buffer
//     first, then each payload); a larger one is read into a buffer of its
//     own, which its payloads then alias (all of a lone multicast's, the
//     large ones of a batch, as detached payloads did: a receiver that
//     keeps a small one, or a group name, keeps a copy of its own, not the
//     whole batch).
//
// Either side falls back to proto.Marshal / proto.Unmarshal for anything
// it does not expect (unknown fields, a repeated singular message, other
// events than deliveries): the result is then exactly proto's.

// gatherMin: payloads from this size on are written from where they are.
const gatherMin = 2 << 10

// noGather turns the gathered encoding off: the kinds are then marshaled
// or detached as others are (tests of those paths, which peers of older
// versions still send, and benchmarks compare).
var noGather bool

// fastKind reports whether frames of a kind are decoded by decodeFast
// (into a body of their own).
func fastKind(kind int) bool { return kind == 10 || kind == 12 || kind == 13 }

// gatherer builds a gathered frame body: header bytes in body, payloads
// referenced in data, data[i] going after body[:cuts[i]].
type gatherer struct {
	body []byte
	data [][]byte
	cuts []int
}

func (g *gatherer) tag(num protowire.Number, typ protowire.Type) {
	g.body = protowire.AppendTag(g.body, num, typ)
}

func (g *gatherer) varint(num protowire.Number, v uint64) {
	if v != 0 {
		g.body = protowire.AppendTag(g.body, num, protowire.VarintType)
		g.body = protowire.AppendVarint(g.body, v)
	}
}

func (g *gatherer) bool(num protowire.Number, v bool) {
	if v {
		g.varint(num, 1)
	}
}

// bytes writes a bytes field: copied if small, else referenced.
func (g *gatherer) bytes(num protowire.Number, b []byte) {
	if len(b) == 0 {
		return
	}
	g.body = protowire.AppendTag(g.body, num, protowire.BytesType)
	g.body = protowire.AppendVarint(g.body, uint64(len(b)))
	if len(b) < gatherMin {
		g.body = append(g.body, b...)
		return
	}
	g.data = append(g.data, b[:len(b):len(b)])
	g.cuts = append(g.cuts, len(g.body))
}

func sizeVarint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func sizeBytes(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func hasUnknown(m proto.Message) bool { return len(m.ProtoReflect().GetUnknown()) > 0 }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// gather encodes m into f (body, data, cuts, size) if it is one of the
// gathered kinds and holds nothing unexpected; false leaves f alone.
func (f *Frame) gather() bool {
	if noGather {
		return false
	}
	var g gatherer
	switch m := f.msg.(type) {
	case *api.McastRequest:
		if m == nil || hasUnknown(m) {
			return false
		}
		g.body = make([]byte, 0, sizeMcastHead(m)+8)
		gatherMcast(&g, m)
	case *api.McastBatch:
		if m == nil || hasUnknown(m) {
			return false
		}
		head := 0
		for _, r := range m.Msgs {
			if r == nil || hasUnknown(r) {
				return false
			}
			head += 12 + sizeMcastHead(r)
		}
		g.body = make([]byte, 0, head)
		for _, r := range m.Msgs {
			g.tag(1, protowire.BytesType)
			g.body = protowire.AppendVarint(g.body, uint64(sizeMcast(r)))
			gatherMcast(&g, r)
		}
	case *api.EventBatch:
		if m == nil || hasUnknown(m) {
			return false
		}
		if !gatherEvents(&g, m) {
			return false
		}
	default:
		return false
	}
	f.body, f.data, f.cuts = g.body, g.data, g.cuts
	f.size = len(g.body)
	for _, d := range g.data {
		f.size += len(d)
	}
	return true
}

// sizeMcastHead is what an McastRequest takes in a gathered body at most.
func sizeMcastHead(m *api.McastRequest) int {
	n := sizeMcast(m)
	if len(m.Data) >= gatherMin {
		n -= len(m.Data)
	}
	return n
}

func sizeMcast(m *api.McastRequest) int {
	return sizeVarint(1, uint64(m.Guarantee)) + sizeVarint(3, m.TotalLength) + sizeVarint(4, b2u(m.More)) +
		sizeBytes(2, len(m.Data))
}

func gatherMcast(g *gatherer, m *api.McastRequest) {
	g.varint(1, uint64(m.Guarantee))
	g.varint(3, m.TotalLength)
	g.bool(4, m.More)
	g.bytes(2, m.Data)
}

func sizeDeliver(d *api.Deliver) int {
	return sizeBytes(1, len(d.Group)) + sizeVarint(2, uint64(d.Nodeid)) + sizeVarint(3, uint64(d.Pid)) +
		sizeVarint(5, uint64(d.Guarantee)) + sizeBytes(4, len(d.Data))
}

// plainDeliver: ev is a delivery and nothing else, with no unknown fields.
func plainDeliver(ev *api.Event) bool {
	return ev.Deliver != nil && ev.Confchg == nil && ev.TotemConfchg == nil && ev.Part == nil &&
		!hasUnknown(ev) && !hasUnknown(ev.Deliver)
}

func gatherEvents(g *gatherer, m *api.EventBatch) bool {
	head := sizeVarint(1, m.Handle)
	for _, ev := range m.Events {
		if ev == nil {
			return false
		}
		head += 24
		if plainDeliver(ev) {
			head += sizeDeliver(ev.Deliver)
			if len(ev.Deliver.Data) >= gatherMin {
				head -= len(ev.Deliver.Data)
			}
		} else {
			head += proto.Size(ev)
		}
	}
	g.body = make([]byte, 0, head)
	g.varint(1, m.Handle)
	for _, ev := range m.Events {
		g.tag(2, protowire.BytesType)
		if !plainDeliver(ev) {
			b, err := proto.MarshalOptions{}.MarshalAppend(protowire.AppendVarint(g.body, uint64(proto.Size(ev))), ev)
			if err != nil {
				return false
			}
			g.body = b
			continue
		}
		d := ev.Deliver
		ds := sizeDeliver(d)
		g.body = protowire.AppendVarint(g.body, uint64(protowire.SizeTag(1)+protowire.SizeBytes(ds)))
		g.tag(1, protowire.BytesType)
		g.body = protowire.AppendVarint(g.body, uint64(ds))
		g.bytes(1, d.Group)
		g.varint(2, uint64(d.Nodeid))
		g.varint(3, uint64(d.Pid))
		g.varint(5, uint64(d.Guarantee))
		g.bytes(4, d.Data)
	}
	return true
}

// decodeFast decodes body, a frame of a fastKind, into m; false if it
// holds something the fast decoder leaves to proto.Unmarshal (m is then
// to be reset and decoded by proto.Unmarshal). owned says that the caller
// allocated body for this frame alone: payloads may then alias it (all of
// a lone multicast's, the large ones of a batch); else body is the
// reader's buffer and every payload is copied out of it.
func decodeFast(body []byte, m proto.Message, owned bool) bool {
	lone, batch := copyAll, copyAll
	if owned {
		lone, batch = aliasAll, aliasLarge
	}
	switch m := m.(type) {
	case *api.McastRequest:
		return decodeMcast(body, m, lone)
	case *api.McastBatch:
		return decodeMcastBatch(body, m, batch)
	case *api.EventBatch:
		return decodeEventBatch(body, m, batch)
	}
	return false
}

// How a decoded payload relates to the frame body.
type payloads int

const (
	copyAll    payloads = iota // every payload a copy (body is reused)
	aliasLarge                 // payloads of gatherMin bytes or more alias body
	aliasAll                   // every payload aliases body
)

// own returns val, or a copy of it.
func own(val []byte, how payloads) []byte {
	if how == aliasAll || how == aliasLarge && len(val) >= gatherMin {
		return val
	}
	return bytes.Clone(val) // not zeroed first
}

// field reads one field's header and, for the wire types the fast codec
// knows, its value: v for varints, b (aliasing) for bytes. ok is false on
// anything else or malformed input.
func field(b []byte) (num protowire.Number, typ protowire.Type, v uint64, val []byte, rest []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, 0, nil, nil, false
	}
	b = b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, 0, 0, nil, nil, false
		}
		return num, typ, v, nil, b[n:], true
	case protowire.BytesType:
		val, n = protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, 0, 0, nil, nil, false
		}
		return num, typ, 0, val[:len(val):len(val)], b[n:], true
	}
	return 0, 0, 0, nil, nil, false
}

func decodeMcast(b []byte, m *api.McastRequest, how payloads) bool {
	for len(b) > 0 {
		num, typ, v, val, rest, ok := field(b)
		if !ok {
			return false
		}
		b = rest
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.Guarantee = uint32(v)
		case num == 2 && typ == protowire.BytesType:
			m.Data = own(val, how)
		case num == 3 && typ == protowire.VarintType:
			m.TotalLength = v
		case num == 4 && typ == protowire.VarintType:
			m.More = v != 0
		default:
			return false
		}
	}
	return true
}

func decodeMcastBatch(b []byte, m *api.McastBatch, how payloads) bool {
	for len(b) > 0 {
		num, typ, _, val, rest, ok := field(b)
		if !ok || num != 1 || typ != protowire.BytesType {
			return false
		}
		b = rest
		r := new(api.McastRequest)
		if !decodeMcast(val, r, how) {
			return false
		}
		m.Msgs = append(m.Msgs, r)
	}
	return true
}

func decodeEventBatch(b []byte, m *api.EventBatch, how payloads) bool {
	for len(b) > 0 {
		num, typ, v, val, rest, ok := field(b)
		if !ok {
			return false
		}
		b = rest
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.Handle = v
		case num == 2 && typ == protowire.BytesType:
			ev := new(api.Event)
			if !decodeEvent(val, ev, how) {
				return false
			}
			m.Events = append(m.Events, ev)
		default:
			return false
		}
	}
	return true
}

func decodeEvent(b []byte, ev *api.Event, how payloads) bool {
	for len(b) > 0 {
		num, typ, _, val, rest, ok := field(b)
		if !ok || typ != protowire.BytesType {
			return false
		}
		b = rest
		var err error
		switch num {
		case 1:
			if ev.Deliver == nil {
				ev.Deliver = new(api.Deliver)
			}
			if !decodeDeliver(val, ev.Deliver, how) {
				return false
			}
		case 2:
			if ev.Confchg == nil {
				ev.Confchg = new(api.Confchg)
			}
			err = mergeOpts.Unmarshal(val, ev.Confchg)
		case 3:
			if ev.TotemConfchg == nil {
				ev.TotemConfchg = new(api.TotemConfchg)
			}
			err = mergeOpts.Unmarshal(val, ev.TotemConfchg)
		case 4:
			if ev.Part == nil {
				ev.Part = new(api.DeliverPart)
			}
			err = mergeOpts.Unmarshal(val, ev.Part)
		default:
			return false
		}
		if err != nil {
			return false
		}
	}
	return true
}

// mergeOpts decodes a message field that appears again into what it
// already holds, as proto.Unmarshal does.
var mergeOpts = proto.UnmarshalOptions{Merge: true}

func decodeDeliver(b []byte, d *api.Deliver, how payloads) bool {
	for len(b) > 0 {
		num, typ, v, val, rest, ok := field(b)
		if !ok {
			return false
		}
		b = rest
		switch {
		case num == 1 && typ == protowire.BytesType:
			d.Group = bytes.Clone(val)
		case num == 2 && typ == protowire.VarintType:
			d.Nodeid = uint32(v)
		case num == 3 && typ == protowire.VarintType:
			d.Pid = uint32(v)
		case num == 4 && typ == protowire.BytesType:
			d.Data = own(val, how)
		case num == 5 && typ == protowire.VarintType:
			d.Guarantee = uint32(v)
		default:
			return false
		}
	}
	return true
}
