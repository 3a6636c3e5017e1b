package remote

import (
	"net"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// servePort serves a node's port for sys on 127.0.0.1 as package
// remoting does, without gRPC (package remote does not link it): every
// connection through OpenConn, and links also on the local socket of the
// address. It returns the address; the test's cleanup stops it.
func servePort(t testing.TB, sys *actor.ActorSystem, sec *Security) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	local := ListenLocalLinks(sys, addr, sec)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _, _ = OpenConn(sys, sec, conn, false) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		if local != nil {
			local.Close()
		}
		CloseServed(sys)
		DoneServed(sys)
	})
	return addr
}
