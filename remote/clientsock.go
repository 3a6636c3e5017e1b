package remote

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// ClientPolicy says which local processes may open a session on a node's
// client socket, by their kernel credentials: root, the node's own user,
// and the users and groups listed (Corosync's uidgid entries).
type ClientPolicy struct {
	UIDs []uint32
	GIDs []uint32
}

// trustRootAndSelf admits root and the node's own uid whatever the lists
// say (tests turn it off to be refused while running as root).
var trustRootAndSelf = func() *atomic.Bool { b := new(atomic.Bool); b.Store(true); return b }()

// Admits reports whether a local peer with identity id may open a
// session. A peer that is not local (not on the client socket) is not the
// policy's to judge: it is admitted.
func (p ClientPolicy) Admits(id Identity) bool {
	if !id.Local {
		return true
	}
	if trustRootAndSelf.Load() && (id.UID == 0 || id.UID == uint32(os.Getuid())) {
		return true
	}
	return slices.Contains(p.UIDs, id.UID) || slices.Contains(p.GIDs, id.GID)
}

// clientSocketMode is the mode of a node's client socket: its owner and
// group may connect (the policy then decides), nobody else.
const clientSocketMode = 0o660

// ListenClientSocket serves client sessions on a filesystem Unix socket
// at path for system: a stale socket there is removed first; one a
// running node answers on, or anything else, is an error. Each peer's credentials are read from the
// kernel (SO_PEERCRED); one the policy refuses is closed, counted and
// logged at most once a second (log); one it admits must open with
// ClientMagic, and is handed to the system's client server (ServeClients)
// with its Identity. Close the listener to stop; it removes the socket.
func ListenClientSocket(system *actor.ActorSystem, path string, policy ClientPolicy, log zerolog.Logger) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("remote: client socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("remote: client socket %s: in use by a running node", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remote: client socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remote: client socket %s: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("remote: client socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, clientSocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("remote: client socket %s: %w", path, err)
	}
	var refused DropLog
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(10 * time.Millisecond) // out of descriptors: let some close
				continue
			}
			id, err := unixPeerIdentity(conn)
			if err != nil || !policy.Admits(id) {
				why := "uid " + fmt.Sprint(id.UID) + " gid " + fmt.Sprint(id.GID) + " not allowed"
				if err != nil {
					why = err.Error()
				}
				refused.Drop(log, "client socket: peer refused", why)
				conn.Close()
				continue
			}
			go openLocalSession(system, conn, id)
		}
	}()
	return ln, nil
}

// openLocalSession reads a socket peer's ClientMagic and hands it over.
func openLocalSession(system *actor.ActorSystem, conn net.Conn, id Identity) {
	var head [len(clientMagic)]byte
	_ = conn.SetReadDeadline(time.Now().Add(linkHelloTimeout))
	if _, err := io.ReadFull(conn, head[:]); err != nil || string(head[:]) != clientMagic {
		if err == nil {
			guardOf(system).drop(dropHello, conn, "not a client session")
		} else {
			guardOf(system).dropStalled(conn, err)
		}
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	serveClient(system, conn, id)
}
