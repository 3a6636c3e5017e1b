package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The opening of a connection to a node's remoting port (or its local
// link socket) says what the connection is, and, with TLS, who is on the
// other end.
//
// Plain (no Security, the insecure mode): the first 8 bytes are linkMagic
// (a link), clientMagic (a client connection, serveClient) or the start
// of gRPC's HTTP/2 preface (protoactor remoting). Nobody is identified.
//
// TLS: a TLS 1.3 handshake, both sides presenting a certificate the
// cluster CA signed; the ALPN protocol the client asked for says what
// follows: ALPNLink (from a node of the node list only), ALPNClient (a
// client or a node certificate) or ALPNGRPC. Anything else (a plain
// opening, a certificate of another CA, none) is refused.
//
// At most maxOpenings connections of an actor system may be in their
// opening at once; beyond that a new one is closed at once. Each opening
// must be over within linkHelloTimeout.

// maxOpenings bounds the connections of one actor system in their
// opening (TLS handshake, or reading the magic) at once.
const maxOpenings = 256

// errRefused is what the handshake returns for a connection it refused
// (and counted).
var errRefused = errors.New("remote: connection refused")

// ErrDispatched is what OpenConn returns for a connection it handed to
// the node's link or client server: the caller must not touch it again.
var ErrDispatched = errors.New("remote: connection dispatched to its server")

// enterOpening takes an opening slot; false if all are taken.
func (g *linkGuard) enterOpening() bool {
	if g.openings.Add(1) > maxOpenings {
		g.openings.Add(-1)
		return false
	}
	return true
}

func (g *linkGuard) leaveOpening() { g.openings.Add(-1) }

// OpenConn runs the opening of raw, accepted for system by its remoting
// port (grpcOK: gRPC may have it; package remote/remoting) or local link
// socket. It hands a link or a client connection to its server and
// returns ErrDispatched; it returns the connection gRPC may have, with
// its verified TLS state (nil: plain); or it closes raw, counts why, and
// returns an error.
func OpenConn(system *actor.ActorSystem, sec *Security, raw net.Conn, grpcOK bool) (net.Conn, *tls.ConnectionState, error) {
	g := guardOf(system)
	if !g.enterOpening() {
		g.drop(dropBusy, raw, "more than "+strconv.Itoa(maxOpenings)+" connections opening")
		raw.Close()
		return nil, nil, errRefused
	}
	defer g.leaveOpening()
	_ = raw.SetDeadline(time.Now().Add(linkHelloTimeout))
	var conn net.Conn
	var info *tls.ConnectionState
	var err error
	if sec == nil {
		conn, info, err = openPlain(system, g, raw, grpcOK)
	} else {
		conn, info, err = openTLS(system, sec, g, raw, grpcOK)
	}
	if err != nil && err != ErrDispatched {
		raw.Close()
	}
	return conn, info, err
}

func openPlain(system *actor.ActorSystem, g *linkGuard, raw net.Conn, grpcOK bool) (net.Conn, *tls.ConnectionState, error) {
	var head [len(linkMagic)]byte
	n, err := io.ReadFull(raw, head[:])
	if err != nil {
		if n == 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, nil, io.EOF
		}
		g.dropStalled(raw, err)
		return nil, nil, err
	}
	switch string(head[:]) {
	case linkMagic:
		_ = raw.SetDeadline(time.Time{})
		go serveLink(system, raw, Identity{})
		return nil, nil, ErrDispatched
	case clientMagic:
		_ = raw.SetDeadline(time.Time{})
		go serveClient(system, raw, Identity{})
		return nil, nil, ErrDispatched
	}
	if !grpcOK {
		g.drop(dropHello, raw, "not a link")
		return nil, nil, errRefused
	}
	return &prefixConn{Conn: raw, head: head[:]}, nil, nil
}

func openTLS(system *actor.ActorSystem, sec *Security, g *linkGuard, raw net.Conn, grpcOK bool) (net.Conn, *tls.ConnectionState, error) {
	tc := tls.Server(raw, sec.serverConfig())
	ctx, cancel := context.WithTimeout(context.Background(), linkHelloTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		var rec tls.RecordHeaderError
		switch {
		case errors.As(err, &rec):
			g.drop(dropNotTLS, raw, "not TLS: "+err.Error())
		case errors.Is(err, io.EOF):
			return nil, nil, io.EOF // closed before a word: not counted
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
			g.drop(dropHello, raw, "no TLS handshake within "+linkHelloTimeout.String())
		default:
			g.drop(dropAuth, raw, "TLS handshake: "+err.Error())
		}
		return nil, nil, err
	}
	cs := tc.ConnectionState()
	id, err := peerIdentity(cs)
	if err != nil {
		g.drop(dropAuth, raw, err.Error())
		return nil, nil, err
	}
	switch cs.NegotiatedProtocol {
	case ALPNLink:
		if !sec.isMember(id) {
			g.drop(dropAuth, raw, "link from "+id.String()+": not a node of the cluster")
			return nil, nil, errRefused
		}
		_ = raw.SetDeadline(time.Time{})
		go serveLink(system, tc, id)
		return nil, nil, ErrDispatched
	case ALPNClient:
		_ = raw.SetDeadline(time.Time{})
		go serveClient(system, tc, id)
		return nil, nil, ErrDispatched
	case ALPNGRPC:
		if grpcOK {
			// The guard refuses calls from anyone but a node (AdmitsNode).
			return tc, &cs, nil
		}
	}
	g.drop(dropHello, raw, "protocol "+strconv.Quote(cs.NegotiatedProtocol)+" from "+id.String())
	return nil, nil, errRefused
}
