package remote

import (
	"context"
	"sync"
	"sync/atomic"

	premote "github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The guard stands between protoactor remoting's gRPC endpoint and anyone
// who can reach the port. protoactor trusts what arrives: a MessageBatch
// whose target, sender or type index is out of range panics the process,
// the Remoting methods it does not implement panic, and a remote Stop or
// PoisonPill stops the actor it names (the node actor among them) while
// the process stays up. The guard:
//
//   - recovers a panic in any handler: that stream or call fails, the
//     process goes on;
//   - answers the methods protoactor leaves unimplemented with
//     codes.Unimplemented;
//   - drops, from every MessageBatch, the envelopes whose indexes are out
//     of range and those carrying a message no peer of actorcpg ever sends
//     (Stop, PoisonPill, Terminated: an actor's end is learned from the
//     link or the connection closing, never from a stranger's word).
//
// Dropped input is counted (GuardDropped) and logged at most once a second.
// Authentication of peers is not the guard's job.
type guard struct{}

// deniedTypes are the protoactor messages a remote peer may not send.
var deniedTypes = map[string]bool{
	"actor.Stop":       true,
	"actor.PoisonPill": true,
	"actor.Terminated": true,
}

var guardDropped atomic.Uint64

// GuardDropped returns how many remote envelopes, calls and streams the
// guard refused in this process.
func GuardDropped() uint64 { return guardDropped.Load() }

var guardLog = struct {
	sync.Mutex
	logger zerolog.Logger
}{logger: zerolog.Nop()}

var guardDrops DropLog

// SetGuardLogger sets where the guard reports dropped input (at most one
// line a second, with counts).
func SetGuardLogger(l zerolog.Logger) {
	guardLog.Lock()
	guardLog.logger = l
	guardLog.Unlock()
}

func guardDrop(why string) {
	guardDropped.Add(1)
	guardLog.Lock()
	l := guardLog.logger
	guardLog.Unlock()
	guardDrops.Drop(l, "remoting guard: dropped input from a peer", why)
}

func guardServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(guardUnary),
		grpc.ChainStreamInterceptor(guardStream),
	}
}

func guardUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (res any, err error) {
	switch info.FullMethod {
	case "/remote.Remoting/ListProcesses", "/remote.Remoting/GetProcessDiagnostics":
		guardDrop("unimplemented method")
		return nil, status.Error(codes.Unimplemented, "not served")
	}
	defer func() {
		if p := recover(); p != nil {
			guardDrop("panic in a call")
			res, err = nil, status.Error(codes.Internal, "refused")
		}
	}()
	return h(ctx, req)
}

func guardStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			guardDrop("panic in a stream")
			err = status.Error(codes.Internal, "refused")
		}
	}()
	return h(srv, &guardedStream{ServerStream: ss})
}

// guardedStream checks every RemoteMessage a Receive stream reads.
type guardedStream struct{ grpc.ServerStream }

func (s *guardedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if rm, ok := m.(*premote.RemoteMessage); ok {
		if b := rm.GetMessageBatch(); b != nil {
			filterBatch(b)
		}
	}
	return nil
}

// filterBatch drops the envelopes of b that protoactor would panic on or
// that carry a denied message, in place.
func filterBatch(b *premote.MessageBatch) {
	keep := b.Envelopes[:0]
	for _, e := range b.Envelopes {
		switch {
		case e == nil:
			guardDrop("nil envelope")
		case e.Target < 0 || int(e.Target) >= len(b.Targets) || b.Targets[e.Target] == nil:
			guardDrop("target index out of range")
		case e.Sender < 0 || int(e.Sender) > len(b.Senders) || e.Sender > 0 && b.Senders[e.Sender-1] == nil:
			guardDrop("sender index out of range")
		case e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames):
			guardDrop("type index out of range")
		case deniedTypes[b.TypeNames[e.TypeId]]:
			guardDrop("denied message " + b.TypeNames[e.TypeId])
		default:
			keep = append(keep, e)
		}
	}
	clear(b.Envelopes[len(keep):])
	b.Envelopes = keep
}
