package checker

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/actorcpg/actorcpg/api"
)

// Proc identifies one CPG process (one handle) for its whole life: the
// nodeid and pid it joins with, and an incarnation number that tells apart
// two handles with the same nodeid/pid (a new handle after Finalize, or the
// same pid on a restarted node). A later incarnation should have a larger
// Inc.
type Proc struct {
	Node uint32 `json:"node"`
	Pid  uint32 `json:"pid"`
	Inc  uint64 `json:"inc,omitempty"`
}

// String returns "node/pid", or "node/pid#inc" when Inc is not 0.
func (p Proc) String() string {
	if p.Inc == 0 {
		return fmt.Sprintf("%d/%d", p.Node, p.Pid)
	}
	return fmt.Sprintf("%d/%d#%d", p.Node, p.Pid, p.Inc)
}

// Member is one entry of a confchg list (an api.Address).
type Member struct {
	Node   uint32     `json:"node"`
	Pid    uint32     `json:"pid"`
	Reason api.Reason `json:"reason,omitempty"`
}

// String returns "node/pid", with "(REASON)" when Reason is not 0.
func (m Member) String() string {
	if m.Reason == 0 {
		return fmt.Sprintf("%d/%d", m.Node, m.Pid)
	}
	return fmt.Sprintf("%d/%d(%s)", m.Node, m.Pid, m.Reason)
}

// RingID names a totem ring (an api.RingId).
type RingID struct {
	Node uint32 `json:"node"`
	Seq  uint64 `json:"seq"`
}

// Kind says what a Record holds.
type Kind string

// The record kinds.
const (
	KindConfchg Kind = "confchg" // a group confchg delivered to the process
	KindDeliver Kind = "deliver" // a message delivered to the process
	KindTotem   Kind = "totem"   // a totem confchg delivered to the process
	KindSent    Kind = "sent"    // the process multicast a message
	KindEnd     Kind = "end"     // the process stopped
)

// Record is one event seen by one process. Records of one process must be
// kept (and added to a History) in the order the process saw them; records
// of different processes may interleave in any way. Which fields are set
// depends on Kind:
//
//   - KindConfchg: Group, Members, Left, Joined.
//   - KindDeliver: Group; Node and Pid as the deliver callback reported the
//     sender; From and Seq decoded from the payload (see DecodeMsg; both zero
//     when the header could not be read); OK when the CRC and length check
//     passed; Len the payload length.
//   - KindTotem: Ring, Nodes.
//   - KindSent: Group, Seq (the sender's own message seq), OK when
//     McastJoined returned nil, Safe when it was sent with CPG_TYPE_SAFE.
//   - KindEnd: Killed or Finalized. Killed means the process ended abruptly
//     with its node (crash, kill -9 of the node, the node's process lost):
//     what it had pending may be lost, what it sent and did not deliver to
//     itself is owed to nobody. Finalized means the process ended while its
//     node went on (Finalize without Leave, or the process exited or was
//     killed while its node stayed up): its peers see it leave with
//     PROCDOWN, an event ordered like a message, so every message it
//     delivered to itself (ordered before that PROCDOWN) is still owed to
//     the others (CPG-SPEC 3.3, rule 15); only what it had not yet
//     delivered itself may be lost. A process that stopped after the run
//     went quiet ends with neither, and so does a process whose log has no
//     end record.
type Record struct {
	Proc  Proc   `json:"proc"`
	Kind  Kind   `json:"kind"`
	Group string `json:"group,omitempty"`

	Members []Member `json:"members,omitempty"`
	Left    []Member `json:"left,omitempty"`
	Joined  []Member `json:"joined,omitempty"`

	Node uint32 `json:"node,omitempty"`
	Pid  uint32 `json:"pid,omitempty"`
	From Proc   `json:"from,omitzero"`
	Seq  uint64 `json:"seq,omitempty"`
	OK   bool   `json:"ok,omitempty"`
	Len  int    `json:"len,omitempty"`

	Ring  RingID   `json:"ring,omitzero"`
	Nodes []uint32 `json:"nodes,omitempty"`

	Safe bool `json:"safe,omitempty"`

	Killed    bool `json:"killed,omitempty"`
	Finalized bool `json:"finalized,omitempty"`
}

// MarshalJSON writes the record as one JSON object. A group name that is
// not valid UTF-8 is written base64-encoded as "group_b64", so that names
// survive byte for byte.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	w := struct {
		plain
		Group    string `json:"group,omitempty"`
		GroupB64 []byte `json:"group_b64,omitempty"`
	}{plain: plain(r)}
	if utf8.ValidString(r.Group) {
		w.Group = r.Group
	} else {
		w.GroupB64 = []byte(r.Group)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Record) UnmarshalJSON(b []byte) error {
	type plain Record
	var w struct {
		plain
		GroupB64 []byte `json:"group_b64,omitempty"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Record(w.plain)
	if w.GroupB64 != nil {
		r.Group = string(w.GroupB64)
	}
	return nil
}

// Members converts an api address list.
func Members(as []*api.Address) []Member {
	if len(as) == 0 {
		return nil
	}
	ms := make([]Member, len(as))
	for i, a := range as {
		ms[i] = Member{Node: a.GetNodeid(), Pid: a.GetPid(), Reason: api.Reason(a.GetReason())}
	}
	return ms
}

// ConfchgRecord is the record of a confchg delivered to p.
func ConfchgRecord(p Proc, c *api.Confchg) Record {
	return Record{Proc: p, Kind: KindConfchg, Group: string(c.GetGroup()),
		Members: Members(c.GetMembers()), Left: Members(c.GetLeft()), Joined: Members(c.GetJoined())}
}

// DeliverRecord is the record of a message delivered to p; it decodes the
// payload with DecodeMsg.
func DeliverRecord(p Proc, d *api.Deliver) Record {
	return DeliverDataRecord(p, d.GetGroup(), d.GetNodeid(), d.GetPid(), d.GetData())
}

// DeliverDataRecord is DeliverRecord from plain values: the group, the
// sender nodeid and pid the deliver reported, and the payload.
func DeliverDataRecord(p Proc, group []byte, nodeid, pid uint32, data []byte) Record {
	from, seq, err := DecodeMsg(data)
	return Record{Proc: p, Kind: KindDeliver, Group: string(group), Node: nodeid, Pid: pid,
		From: from, Seq: seq, OK: err == nil, Len: len(data)}
}

// TotemRecord is the record of a totem confchg delivered to p.
func TotemRecord(p Proc, t *api.TotemConfchg) Record {
	r := Record{Proc: p, Kind: KindTotem, Ring: RingID{Node: t.GetRingId().GetNodeid(), Seq: t.GetRingId().GetSeq()}}
	if len(t.GetMembers()) > 0 {
		r.Nodes = append([]uint32(nil), t.GetMembers()...)
	}
	return r
}

// SentRecord is the record of p multicasting its message seq to group; ok
// says McastJoined returned nil.
func SentRecord(p Proc, group []byte, seq uint64, ok bool) Record {
	return Record{Proc: p, Kind: KindSent, Group: string(group), Seq: seq, OK: ok}
}

// SafeSentRecord is SentRecord for a message sent with CPG_TYPE_SAFE: once
// any member delivered it, every member of that view delivers it unless its
// node crashed (the checker's safe property).
func SafeSentRecord(p Proc, group []byte, seq uint64, ok bool) Record {
	r := SentRecord(p, group, seq, ok)
	r.Safe = true
	return r
}

// EndRecord is the record of p stopping; see Record for what killed means.
func EndRecord(p Proc, killed bool) Record {
	return Record{Proc: p, Kind: KindEnd, Killed: killed}
}

// FinalizedRecord is the record of p ending while its node went on
// (Finalize, or the process exited): see Record.
func FinalizedRecord(p Proc) Record {
	return Record{Proc: p, Kind: KindEnd, Finalized: true}
}
