package remote

import (
	"net"
	"strconv"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Identity is who is on the other end of a connection, as the transport
// established it: a TLS certificate the cluster's CA signed, or the
// kernel's credentials of a Unix socket peer. It never comes from what the
// connection sends: a message's own fields (a sender node id, a reply
// PID) are checked against it, not believed.
type Identity struct {
	// Node is the node id a peer's certificate names; 0 if the peer is
	// not an authenticated node.
	Node uint32
	// Client is the name a client certificate gives; "" if none.
	Client string
	// Local: the peer is a process on this host that came in on a
	// filesystem Unix socket; UID and GID are its kernel credentials
	// (SO_PEERCRED).
	Local    bool
	UID, GID uint32
	// Authenticated: a certificate or the kernel vouches for the above.
	// False for a plain TCP or abstract-socket peer of a node that runs
	// without TLS (CryptoCert unset): anyone who can reach the port.
	Authenticated bool
}

// String names the identity for logs.
func (id Identity) String() string {
	switch {
	case id.Node != 0:
		return "node " + strconv.FormatUint(uint64(id.Node), 10)
	case id.Client != "":
		return "client " + id.Client
	case id.Local:
		return "local uid " + strconv.FormatUint(uint64(id.UID), 10)
	}
	return "unauthenticated"
}

// clientServers are the client-connection servers of each actor system
// (ServeClients).
var clientServers sync.Map // *actor.ActorSystem -> func(net.Conn, Identity)

// ServeClients makes system hand every client connection its remoting
// port (or its client socket) accepts to serve, in a goroutine of its own,
// with the identity the transport established. serve owns the connection.
// nil stops it: client connections are then closed at once.
func ServeClients(system *actor.ActorSystem, serve func(net.Conn, Identity)) {
	if serve == nil {
		clientServers.Delete(system)
		return
	}
	clientServers.Store(system, serve)
}

// serveClient hands conn to system's client server, or closes it.
func serveClient(system *actor.ActorSystem, conn net.Conn, id Identity) {
	if s, ok := clientServers.Load(system); ok {
		s.(func(net.Conn, Identity))(conn, id)
		return
	}
	conn.Close()
}
