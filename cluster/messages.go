package cluster

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// The messages between a node's machines (see the package doc). Each is a
// value the sender gives up: no machine keeps a pointer into another's
// state, so that each may later live in its own actor.

// GroupInput is a message for a GroupMachine.
type GroupInput interface{ groupInput() }

// ViewInput is a message for a ViewMachine from the node's own side: the
// answers of its group machines, and the host's news of a new group.
type ViewInput interface{ viewInput() }

// PeerMsg is a Submit, Ordered or Nack of the group from node From, of
// the group's installed ring. The host has checked it (From is the
// sender, the name is valid, the events are of kinds the message may
// carry, from nodes of the view).
type PeerMsg struct {
	From uint32
	Msg  proto.Message
}

// AckPart is node From's acknowledgement of the group: its part of a
// wire.Ack of the group's installed ring.
type AckPart struct {
	From uint32
	Ack  *wire.GroupAck
}

// JoinReq asks to add local handle Handle (with Pid) to the group; Step
// answers with the code for the handle.
type JoinReq struct {
	Handle groups.HandleID
	Pid    uint32
}

// LeaveReq asks to remove local handle Handle from the group; Step answers
// with the code for the handle.
type LeaveReq struct {
	Handle groups.HandleID
	Reason api.Reason
}

// GoneReq says local handle Handle was finalized or its client died.
type GoneReq struct{ Handle groups.HandleID }

// McastReq submits local handle Handle's messages.
type McastReq struct {
	Handle groups.HandleID
	Msgs   []*api.McastRequest
}

// CongestionReq says whether local handle Handle's receive queue is above
// its high-water mark.
type CongestionReq struct {
	Handle    groups.HandleID
	Congested bool
}

// FlushReq asks the group to send what it has for Flush
// (GroupReady.Flush): submissions to its sequencer, its sequencer's
// ordered events to the view.
type FlushReq struct{}

// Freeze starts a view change (the view machine accepted the proposal of
// Ring): the group takes nothing more from its view's peers, does not tick
// or flush, and answers with its state (Frozen). Local requests still go
// in (joins get CodeTryAgain; leaves and multicasts wait for the new
// view).
type Freeze struct {
	Ring ringID
}

// Install ends the view change for the group: deliver Cut (this node's
// cohort's cut of the group, nil for none), change the member list to
// List (its members in the new view), start the new view Ring of Members.
// Cohort are the nodes of this node's old view that go on together;
// OldMembers the old view. The group answers Installed.
type Install struct {
	Ring       ringID
	Members    []uint32
	OldMembers []uint32
	Cohort     []uint32
	Cut        *wire.GroupCut
	List       []*api.Address
	Now        time.Duration
}

// Frozen is a group's answer to Freeze: its state in the old view.
type Frozen struct {
	Ring  ringID
	State *wire.GroupState
}

// Installed is a group's answer to Install. Idle: the group has no members,
// no local handles and nothing to send; the host may drop its machine, and
// start the next one of the group with LastMsgID.
type Installed struct {
	Group     []byte
	Ring      ringID
	Idle      bool
	LastMsgID uint64
}

// Drained is a group's news, at a Tick of its installed view, that it is
// drained: no members anywhere, no local handles, nothing to send,
// everything ordered delivered and stable, and another node orders it.
// The host may drop its machine (Host.Drop) while no view change is under
// way; a machine of the group started again in the same view resumes
// where this one ended: after Seq, with the sequencer on Owner. The view
// machine still counts the group: a view change starts its machine again
// (resumed), so that the node reports what it saw of the group in the
// view, and the install drops it for good if it is idle.
type Drained struct {
	Group     []byte
	Ring      ringID
	Seq       uint64
	Owner     uint32
	LastMsgID uint64
	// SeqResume, when this node orders the group, is where its next
	// sequencer resumes: a handoff event of seq Seq with what the last one
	// knew of each origin (see SeqDrained).
	SeqResume *wire.GroupEvent
}

// GroupOpened tells the view machine that the host started a group
// machine: it freezes and installs it with the others from now on.
type GroupOpened struct{ Group []byte }

func (PeerMsg) groupInput()       {}
func (AckPart) groupInput()       {}
func (JoinReq) groupInput()       {}
func (LeaveReq) groupInput()      {}
func (GoneReq) groupInput()       {}
func (McastReq) groupInput()      {}
func (CongestionReq) groupInput() {}
func (FlushReq) groupInput()      {}
func (Freeze) groupInput()        {}
func (Install) groupInput()       {}

func (Frozen) viewInput()      {}
func (Installed) viewInput()   {}
func (GroupOpened) viewInput() {}

// ToGroup is a message of the view machine for the machine of one group.
type ToGroup struct {
	Group []byte
	Msg   GroupInput
}

// GroupReady is a GroupMachine's output since the last Advance. The host
// carries it out in field order.
type GroupReady struct {
	// Messages are for other nodes, in order per destination.
	Messages []Outbound
	// Acks are for every other node of the view (the host batches the
	// groups' acks in one wire.Ack per node).
	Acks []*wire.GroupAck
	// Deliveries are events for local handles, in order.
	Deliveries []*groups.Delivery
	// Left names local handles whose membership ended.
	Left []groups.Left
	// Rejected counts refused multicasts per handle.
	Rejected []groups.Rejected
	// Flow lists flow-control changes per local handle, by handle.
	Flow []FlowChange
	// Interrupted names local handles whose large message a view change
	// cut.
	Interrupted []groups.HandleID
	// MembersChanged says the member list changed (Members).
	MembersChanged bool
	// ToView are answers for the view machine (Frozen, Installed).
	ToView []ViewInput
	// Drained says the group is drained (for the host: see Host.Drop).
	Drained *Drained
	// ToSeq are for the group's SequencerMachine on this node, in order:
	// SeqStart and SeqStop are the host's to carry out (start, stop
	// the machine), the others the machine's to Step.
	ToSeq []SeqInput
	// Flush: the group has something to send; step it a FlushReq when the
	// node flushes.
	Flush bool
}

// ViewReady is a ViewMachine's output since the last Advance. The host
// carries it out in field order.
type ViewReady struct {
	// PersistSeq, when not 0, is a new highest ring seq: persist it
	// before sending Messages.
	PersistSeq uint64
	// Messages are for other nodes, in order per destination.
	Messages []Outbound
	// ToGroups are for the node's group machines, in order.
	ToGroups []ToGroup
	// Totem is a new view, every group installed: its totem confchg goes
	// to every local handle after what the groups delivered installing it.
	Totem *api.TotemConfchg
	// SyncChanged says Syncing() changed.
	SyncChanged bool
}
