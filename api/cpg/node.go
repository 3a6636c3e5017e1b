package cpg

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/api"
)

// Node is a node running in this process, which handles use without a
// connection (WithNode): *actors.Node is one. The cpg package does not
// import the node's engine; a client that only attaches to node
// processes links none of it.
type Node interface {
	// System is the actor system the node runs in.
	System() *actor.ActorSystem
	// PID is the node actor.
	PID() *actor.PID
	// Done is closed when the node has stopped.
	Done() <-chan struct{}
	// RequestTimeout bounds a request to the node.
	RequestTimeout() time.Duration
}

// DefaultNodeStarter starts the process's default embedded node with the
// logger given (see DefaultNode). Package actors registers its own when it
// is linked (RegisterDefaultNode).
type DefaultNodeStarter func(logger zerolog.Logger) (Node, error)

var (
	starterMu sync.Mutex
	starter   DefaultNodeStarter
)

// RegisterDefaultNode sets how DefaultNode starts the embedded node; the
// actors package calls it when it is linked into the program, so that a
// program that imports actors (or a package that does) gets an embedded
// node when nothing else is configured.
func RegisterDefaultNode(s DefaultNodeStarter) {
	starterMu.Lock()
	defer starterMu.Unlock()
	starter = s
}

func defaultStarter() DefaultNodeStarter {
	starterMu.Lock()
	defer starterMu.Unlock()
	return starter
}

// pidOf converts an api.Pid to an actor PID (nil for an empty Pid).
func pidOf(p *api.Pid) *actor.PID {
	if p == nil || p.Id == "" {
		return nil
	}
	return actor.NewPID(p.Address, p.Id)
}

// apiPid converts an actor PID to an api.Pid.
func apiPid(p *actor.PID) *api.Pid {
	if p == nil {
		return nil
	}
	return &api.Pid{Address: p.Address, Id: p.Id}
}
