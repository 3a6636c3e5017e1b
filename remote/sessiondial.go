package remote

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"time"
)

// SessionAddr splits a client's node address: "unix:/path" or a path
// starting with "/" is a node's client socket; anything else is the
// host:port of its remoting.
func SessionAddr(addr string) (network, where string) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		return "unix", strings.TrimPrefix(addr, "unix:")
	case strings.HasPrefix(addr, "/"):
		return "unix", addr
	}
	return "tcp", addr
}

// DialSession opens a client session to the node at addr (SessionAddr):
// on its client socket or plain TCP it writes ClientMagic; with tlsCfg (TCP
// only) it speaks TLS with ALPN ClientALPN instead.
func DialSession(addr string, tlsCfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	network, where := SessionAddr(addr)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if tlsCfg != nil && network == "tcp" {
		cfg := tlsCfg.Clone()
		cfg.NextProtos = []string{ClientALPN}
		d := tls.Dialer{Config: cfg}
		return d.DialContext(ctx, network, where)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, where)
	if err != nil {
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(ClientMagic)); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}
