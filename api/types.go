package api

import (
	"bytes"
	"fmt"
)

// MaxNameLength is CPG_MAX_NAME_LENGTH: a group name has 1..128 bytes.
const MaxNameLength = 128

// DefaultMaxAtomicMsgsize is what cpg_max_atomic_msgsize_get returns by
// default: Corosync's IPC_REQUEST_SIZE - 1024.
const DefaultMaxAtomicMsgsize = 1047552

// DefaultMaxMessageSize bounds one multicast (atomic or not) by default.
const DefaultMaxMessageSize = 64 << 20

// Reason says why a process is in a confchg list (cpg_reason_t).
type Reason uint32

// The cpg_reason_t values.
const (
	ReasonUndefined Reason = 0
	ReasonJoin      Reason = 1
	ReasonLeave     Reason = 2
	ReasonNodeDown  Reason = 3
	ReasonNodeUp    Reason = 4
	ReasonProcDown  Reason = 5
)

// String returns the cpg.h name without its prefix, e.g. "PROCDOWN".
func (r Reason) String() string {
	switch r {
	case ReasonUndefined:
		return "UNDEFINED"
	case ReasonJoin:
		return "JOIN"
	case ReasonLeave:
		return "LEAVE"
	case ReasonNodeDown:
		return "NODEDOWN"
	case ReasonNodeUp:
		return "NODEUP"
	case ReasonProcDown:
		return "PROCDOWN"
	}
	return fmt.Sprintf("REASON(%d)", uint32(r))
}

// Guarantee is the delivery guarantee of a multicast (cpg_guarantee_t).
// UNORDERED, FIFO and AGREED are all delivered in agreed order.
type Guarantee uint32

// The cpg_guarantee_t values.
const (
	TypeUnordered Guarantee = 0
	TypeFIFO      Guarantee = 1
	TypeAgreed    Guarantee = 2
	TypeSafe      Guarantee = 3
)

// Valid reports whether g is one of the four guarantees.
func (g Guarantee) Valid() bool { return g <= TypeSafe }

// DispatchFlag selects how Dispatch waits and how much it delivers
// (cs_dispatch_flags_t).
type DispatchFlag int

// The cs_dispatch_flags_t values.
const (
	DispatchOne            DispatchFlag = 1
	DispatchAll            DispatchFlag = 2
	DispatchBlocking       DispatchFlag = 3
	DispatchOneNonblocking DispatchFlag = 4
)

// IterationType selects what an iteration lists (cpg_iteration_type_t).
type IterationType uint32

// The cpg_iteration_type_t values.
const (
	IterationNameOnly IterationType = 1
	IterationOneGroup IterationType = 2
	IterationAll      IterationType = 3
)

// Model is the callback model of a handle (cpg_model_t).
type Model uint32

// ModelV1 is CPG_MODEL_V1, the only model.
const ModelV1 Model = 1

// ModelV1DeliverInitialTotemConf (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF)
// asks for a totem confchg right after the handle's first group confchg.
const ModelV1DeliverInitialTotemConf uint32 = 0x01

// FlowControlState is what FlowControlStateGet reports.
type FlowControlState int

// The cpg_flow_control_state_t values.
const (
	FlowControlDisabled FlowControlState = 0
	FlowControlEnabled  FlowControlState = 1
)

// CheckName returns nil for a valid group name (1..128 bytes), ErrNameTooLong
// above 128 bytes and ErrInvalidParam for an empty name. Corosync accepts an
// empty name and leaves a ghost member behind (CPG-SPEC 8.3); we refuse it.
func CheckName(name []byte) error {
	switch {
	case len(name) > MaxNameLength:
		return ErrNameTooLong
	case len(name) == 0:
		return ErrInvalidParam
	}
	return nil
}

// CompareNames orders group names by (length, bytes), as Corosync compares
// struct cpg_name: "x" and "x\x00" are different groups.
func CompareNames(a, b []byte) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

// CompareAddresses orders addresses by (nodeid, pid), the order of every
// member list.
func CompareAddresses(a, b *Address) int {
	switch {
	case a.Nodeid < b.Nodeid:
		return -1
	case a.Nodeid > b.Nodeid:
		return 1
	case a.Pid < b.Pid:
		return -1
	case a.Pid > b.Pid:
		return 1
	}
	return 0
}

// EventSize is the number of payload bytes an event holds, for queue limits.
func EventSize(e *Event) int {
	switch {
	case e.Deliver != nil:
		return len(e.Deliver.Data) + 64
	case e.Part != nil:
		return len(e.Part.Data) + 64
	case e.Confchg != nil:
		return 64 + 12*(len(e.Confchg.Members)+len(e.Confchg.Left)+len(e.Confchg.Joined))
	case e.TotemConfchg != nil:
		return 64 + 4*len(e.TotemConfchg.Members)
	}
	return 64
}
