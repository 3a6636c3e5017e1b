package remote

import (
	"net"
	"syscall"
)

// unixPeerIdentity returns the kernel's credentials of a Unix socket peer
// (SO_PEERCRED): who connected, whatever it sends.
func unixPeerIdentity(conn *net.UnixConn) (Identity, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Identity{}, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return Identity{}, err
	}
	if cerr != nil {
		return Identity{}, cerr
	}
	return Identity{Local: true, UID: cred.Uid, GID: cred.Gid, Authenticated: true}, nil
}
