//go:build !linux

package remote

import (
	"errors"
	"net"
)

// unixPeerIdentity is Linux-only (SO_PEERCRED): elsewhere every peer is refused.
func unixPeerIdentity(conn *net.UnixConn) (Identity, error) {
	return Identity{}, errors.New("remote: peer credentials not supported on this platform")
}
