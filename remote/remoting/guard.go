package remoting

import (
	"context"
	"sync"
	"sync/atomic"

	premote "github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote"
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
//     through remoting (deniedTypes: Stop, PoisonPill, Terminated, Watch,
//     Unwatch, since an actor's end is learned from the link or the
//     connection closing, never from a stranger's word; a node's own
//     messages to its actors; the peer protocol, which travels on links,
//     where the sender is bound to the connection);
//   - with TLS, refuses every call and stream whose peer's certificate
//     does not name a node of the cluster (codes.Unauthenticated).
//
// Dropped input is counted (GuardDropped) and logged at most once a second.
type guard struct{}

// deniedTypes are the messages (by the type name protoactor remoting
// gives them) a remote peer may not send through remoting.
var deniedTypes = func() map[string]bool {
	m := map[string]bool{
		"actor.Stop":       true,
		"actor.PoisonPill": true,
		"actor.Terminated": true,
		"actor.Watch":      true,
		"actor.Unwatch":    true,
	}
	for _, msg := range []proto.Message{
		// A node's messages to itself and its actors.
		&wire.Tick{}, &wire.Flush{}, &wire.HandleMcast{}, &wire.JoinGroup{}, &wire.LeaveGroup{},
		&wire.Congestion{}, &wire.LocalEvents{}, &wire.MemberLeft{}, &wire.McastRejected{},
		&wire.FlowControl{}, &wire.McastInterrupted{},
		// The peer protocol: links only.
		&wire.PeerHeartbeat{}, &wire.ViewPropose{}, &wire.ViewReject{}, &wire.ViewState{},
		&wire.ViewInstall{}, &wire.Submit{}, &wire.Ordered{}, &wire.Ack{}, &wire.Nack{},
	} {
		m[string(proto.MessageName(msg))] = true
	}
	return m
}()

var guardDropped atomic.Uint64

// GuardDropped returns how many remote envelopes, calls and streams the
// guard refused in this process.
func GuardDropped() uint64 { return guardDropped.Load() }

var guardLog = struct {
	sync.Mutex
	logger zerolog.Logger
}{logger: zerolog.Nop()}

var guardDrops remote.DropLog

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

// guardServerOptions are the guard's interceptors; with sec, they admit
// the cluster's nodes only.
func guardServerOptions(sec *remote.Security) []grpc.ServerOption {
	unary := guardUnary
	stream := guardStream
	if sec != nil {
		unary = func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := guardPeer(ctx, sec); err != nil {
				return nil, err
			}
			return guardUnary(ctx, req, info, h)
		}
		stream = func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := guardPeer(ss.Context(), sec); err != nil {
				return err
			}
			return guardStream(srv, ss, info, h)
		}
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary),
		grpc.ChainStreamInterceptor(stream),
	}
}

// guardPeer admits a call or stream whose peer presented a certificate
// naming a node of the cluster (the TLS handshake verified it against
// the CA).
func guardPeer(ctx context.Context, sec *remote.Security) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		guardDrop("no peer")
		return status.Error(codes.Unauthenticated, "not a node of the cluster")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		guardDrop("peer without TLS")
		return status.Error(codes.Unauthenticated, "not a node of the cluster")
	}
	if !sec.AdmitsNode(ti.State) {
		guardDrop("peer not a node of the cluster")
		return status.Error(codes.Unauthenticated, "not a node of the cluster")
	}
	return nil
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
