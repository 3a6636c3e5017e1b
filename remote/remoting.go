package remote

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	premote "github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// writerBatch bounds how many remoting messages protoactor packs into one
// gRPC frame. Every actorcpg link message is at most LinkFragment plus a
// small header, so a frame stays below writerBatch * (LinkFragment + 64 KiB).
const writerBatch = 64

// maxFrame is the gRPC message limit on both ends. protoactor's defaults
// (1000 messages per frame, gRPC's 4 MB receive limit) can build frames the
// receiver drops silently; ours can not exceed this.
const maxFrame = math.MaxInt32

// streamWindow is gRPC's flow-control window per stream and connection.
// protoactor sends everything to a peer on one stream; gRPC's 64 KiB
// default makes large messages wait a round trip per window.
const streamWindow = 32 << 20

// ioBuffer is gRPC's socket read and write buffer.
const ioBuffer = 1 << 20

// StartRemoting starts protoactor remoting for system on listen
// ("host:port"; port 0 picks a free port) and returns it with the address
// it listens on. Errors from the listener are returned, not panicked.
//
// sec nil is plain TCP, the insecure mode: whoever reaches the port may
// call protoactor remoting, open links and claim any sender. With sec,
// the port (and the local link socket) speaks TLS 1.3 only, with a
// certificate of sec's CA required (see openConn); gRPC calls and links
// are accepted from the cluster's nodes only, and protoactor dials other
// nodes with sec's certificate, verifying theirs.
func StartRemoting(system *actor.ActorSystem, listen string, sec *Security) (r *premote.Remote, addr string, err error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, "", fmt.Errorf("remote: listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, "", fmt.Errorf("remote: listen %q: bad port", listen)
	}
	if port != 0 {
		// protoactor panics when it cannot listen; find out first.
		l, lerr := net.Listen("tcp", listen)
		if lerr != nil {
			return nil, "", fmt.Errorf("remote: listen %q: %w", listen, lerr)
		}
		l.Close()
	}
	dialCreds := insecure.NewCredentials()
	if sec != nil {
		dialCreds = credentials.NewTLS(sec.clientConfig(ALPNGRPC, 0))
	}
	cfg := premote.Configure(host, port,
		premote.WithEndpointWriterBatchSize(writerBatch),
		premote.WithServerOptions(append(guardServerOptions(sec),
			grpc.Creds(newLinkCreds(system, sec)),
			grpc.MaxRecvMsgSize(maxFrame), grpc.MaxSendMsgSize(maxFrame),
			grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(streamWindow),
			grpc.WriteBufferSize(ioBuffer), grpc.ReadBufferSize(ioBuffer),
		)...),
		premote.WithDialOptions(
			grpc.WithTransportCredentials(dialCreds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxFrame), grpc.MaxCallSendMsgSize(maxFrame)),
			grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(streamWindow),
			grpc.WithWriteBufferSize(ioBuffer), grpc.WithReadBufferSize(ioBuffer),
		),
		premote.WithCallOptions(grpc.MaxCallRecvMsgSize(maxFrame), grpc.MaxCallSendMsgSize(maxFrame)),
	)
	defer func() {
		if p := recover(); p != nil {
			r, addr, err = nil, "", fmt.Errorf("remote: start on %q: %v", listen, p)
		}
	}()
	r = premote.NewRemote(system, cfg)
	r.Start()
	addr = system.Address()
	localLinksMu.Lock()
	localLinks[r] = localLink{ln: listenLocalLinks(system, addr, sec), system: system}
	localLinksMu.Unlock()
	return r, addr, nil
}

// Shutdown stops remoting started by StartRemoting, its local link
// listener and the links it reads.
func Shutdown(r *premote.Remote) {
	localLinksMu.Lock()
	l, ok := localLinks[r]
	delete(localLinks, r)
	localLinksMu.Unlock()
	if ok {
		if l.ln != nil {
			l.ln.Close()
		}
		closeServed(l.system)
	}
	r.Shutdown(false)
	if ok {
		doneServed(l.system)
	}
}

type localLink struct {
	ln     net.Listener
	system *actor.ActorSystem
}

var (
	localLinksMu sync.Mutex
	localLinks   = map[*premote.Remote]localLink{}
)
