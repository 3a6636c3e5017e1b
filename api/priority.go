package api

// GetPriority puts a client's heartbeat ahead of the data backlog in its
// node's priority mailbox (protoactor's actor.PriorityMessage), so that a
// busy node does not take a live client for silent.
func (*Heartbeat) GetPriority() int8 { return 7 }
