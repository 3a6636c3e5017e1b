// Package remoting starts protoactor remoting (gRPC) on a node's port,
// behind actorcpg's opening and guard: every connection to the port goes
// through remote.OpenConn first (links and client sessions are handed to
// their servers there, and with TLS only the cluster's certificates get
// in), and every gRPC call and stream through the guard (guard.go).
//
// It is the only package of actorcpg that links gRPC: package remote
// (links, client sessions, TLS) does not, so a client (api/cpg) does not
// either.
package remoting

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

	"github.com/actorcpg/actorcpg/remote"
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

// Start starts protoactor remoting for system on listen
// ("host:port"; port 0 picks a free port) and returns it with the address
// it listens on. Errors from the listener are returned, not panicked.
//
// sec nil is plain TCP, the insecure mode: whoever reaches the port may
// call protoactor remoting, open links and claim any sender. With sec,
// the port (and the local link socket) speaks TLS 1.3 only, with a
// certificate of sec's CA required (see remote.OpenConn); gRPC calls and links
// are accepted from the cluster's nodes only, and protoactor dials other
// nodes with sec's certificate, verifying theirs.
func Start(system *actor.ActorSystem, listen string, sec *remote.Security) (r *premote.Remote, addr string, err error) {
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
		dialCreds = credentials.NewTLS(sec.GRPCClientConfig())
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
	localLinks[r] = localLink{ln: remote.ListenLocalLinks(system, addr, sec), system: system}
	localLinksMu.Unlock()
	return r, addr, nil
}

// Shutdown stops remoting started by Start, its local link
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
		remote.CloseServed(l.system)
	}
	r.Shutdown(false)
	if ok {
		remote.DoneServed(l.system)
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

// linkCreds are the transport credentials of protoactor's gRPC server:
// they run the opening of every connection (remote.OpenConn), which hands
// links and client connections to their servers, and give gRPC the rest.
type linkCreds struct {
	credentials.TransportCredentials
	system *actor.ActorSystem
	sec    *remote.Security // nil: plain
}

func newLinkCreds(system *actor.ActorSystem, sec *remote.Security) *linkCreds {
	return &linkCreds{TransportCredentials: insecure.NewCredentials(), system: system, sec: sec}
}

func (c *linkCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, cs, err := remote.OpenConn(c.system, c.sec, raw, true)
	switch {
	case err == remote.ErrDispatched:
		return nil, nil, credentials.ErrConnDispatched
	case err != nil:
		return nil, nil, err
	case cs == nil:
		return insecure.NewCredentials().ServerHandshake(conn)
	}
	return conn, credentials.TLSInfo{State: *cs, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
}

func (c *linkCreds) Info() credentials.ProtocolInfo {
	info := c.TransportCredentials.Info()
	if c.sec != nil {
		info.SecurityProtocol = "tls"
	}
	return info
}

func (c *linkCreds) Clone() credentials.TransportCredentials {
	return &linkCreds{TransportCredentials: c.TransportCredentials.Clone(), system: c.system, sec: c.sec}
}
