package wire

// Priorities for a node actor's priority mailbox (protoactor's
// actor.PriorityMessage): liveness and the view protocol go ahead of the
// data backlog, so that a node busy with a flood is not taken for dead and
// its view changes do not wait behind the flood. Everything else has
// protoactor's default priority 4 and keeps its order.
const (
	priorityView = 6
	priorityBeat = 7
)

// GetPriority puts heartbeats first.
func (*PeerHeartbeat) GetPriority() int8 { return priorityBeat }

// GetPriority puts the node's clock ahead of data (heartbeats go out on time).
func (*Tick) GetPriority() int8 { return priorityBeat }

// GetPriority puts the view protocol ahead of data.
func (*ViewPropose) GetPriority() int8 { return priorityView }

// GetPriority puts the view protocol ahead of data.
func (*ViewReject) GetPriority() int8 { return priorityView }

// GetPriority puts the view protocol ahead of data.
func (*ViewState) GetPriority() int8 { return priorityView }

// GetPriority puts the view protocol ahead of data.
func (*ViewInstall) GetPriority() int8 { return priorityView }
