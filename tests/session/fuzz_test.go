package session

import (
	"net"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// FuzzClientSession feeds arbitrary bytes after the session opening to a
// running node's session reader: no input may panic the node or stop it
// serving, and a real client still works afterwards.
//
//	go test -run '^$' -fuzz FuzzClientSession -fuzztime 60s ./tests/session/
func FuzzClientSession(f *testing.F) {
	n := startNode(f, func(c *remote.Config) { c.MaxMessageSize = 1 << 20 })
	init := frame(18, 1, 1, marshal(&api.InitRequest{Handle: 1}))
	join := frame(14, 1, 2, marshal(&api.JoinRequest{Group: []byte("fz")}))
	mcast := frame(12, 1, 0, marshal(&api.McastRequest{Guarantee: 1, Data: []byte("hi")}))
	f.Add(init)
	f.Add(append(append(append([]byte{}, init...), join...), mcast...))
	f.Add(frame(16, 1, 3, marshal(&api.FinalizeRequest{})))
	f.Add(frame(17, 9, 0, marshal(&api.Credit{Events: 1})))
	f.Add(frame(13, 1, 0, marshal(&api.McastBatch{Msgs: []*api.McastRequest{{Data: []byte("x")}}})))
	f.Add(frame(20, 0, 4, marshal(&api.MembershipRequest{Group: []byte("fz")})))
	f.Add(frame(22, 0, 5, marshal(&api.IterationRequest{Type: 3})))
	f.Add(frame(26, 0, 6, marshal(&api.Heartbeat{})))
	f.Add(frame(99, 0, 0, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 12})
	f.Cleanup(func() { stillServes(f, n.Address(), "after-fuzz") })
	f.Fuzz(func(t *testing.T, in []byte) {
		conn, err := net.DialTimeout("tcp", n.Address(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write(append([]byte(remote.ClientMagic), in...)); err != nil {
			return // the node closed it early: fine
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	})
}
