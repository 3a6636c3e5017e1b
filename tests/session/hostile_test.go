package session

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// Malformed session input closes that connection and nothing else:
// an unknown kind, a kind only a node sends, an oversized length, a
// garbage body; requests before any Init and for a handle never issued
// are answered CS_ERR_ACCESS on a connection that stays open. The node
// keeps serving a real client afterwards. (Each case fails when its
// check is disabled: the kind table, the MaxFrame bound, the unmarshal
// error, session.lookup.)
func TestHostileSessionFrames(t *testing.T) {
	n := startNode(t, func(c *remote.Config) { c.MaxMessageSize = 1 << 20 })
	closes := map[string][]byte{
		"unknown kind":      frame(99, 0, 1, nil),
		"kind 0":            frame(0, 0, 1, nil),
		"node-to-node kind": frame(7, 0, 1, nil),
		"a node's reply":    frame(19, 0, 1, marshal(&api.InitReply{Code: 1})),
		"event batch":       frame(10, 1, 0, marshal(&api.EventBatch{Handle: 1})),
		"oversized length":  binary.LittleEndian.AppendUint32(nil, 1<<31),
		"garbage body":      frame(18, 1, 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff}),
		"garbage detached":  frame(12|0x80, 1, 0, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}),
	}
	for _, addr := range []string{n.Address(), n.ClientSocket()} {
		for name, b := range closes {
			conn := rawSession(t, addr)
			if len(b) == 4 { // a header announcing a huge body
				b = append(b, 18)
				b = append(b, make([]byte, 12)...)
			}
			if _, err := conn.Write(b); err != nil {
				t.Fatal(name, err)
			}
			if !closedWithin(conn, 5*time.Second) {
				t.Errorf("%s on %s: the node kept the connection open", name, addr)
			}
		}
		r := dialRogue(t, addr)
		for _, h := range []uint64{0, 1, 42, 1 << 63} {
			if c := code(t, r.call(h, &api.JoinRequest{Group: []byte("g")})); c != api.CodeAccess {
				t.Errorf("join before init, handle %d: %v", h, c)
			}
			if c := code(t, r.call(h, &api.FinalizeRequest{})); c != api.CodeAccess {
				t.Errorf("finalize before init, handle %d: %v", h, c)
			}
		}
		r.init(5)
		if c := code(t, r.call(6, &api.LeaveRequest{Group: []byte("g")})); c != api.CodeAccess {
			t.Errorf("leave naming a handle never issued: %v", c)
		}
		if rep := r.call(5, &api.InitRequest{Handle: 5}).(*api.InitReply); rep.Code != int32(api.CodeExist) {
			t.Errorf("second init of one handle id: %v", api.Code(rep.Code))
		}
		if c := code(t, r.call(5, &api.FinalizeRequest{})); c != api.CodeOK {
			t.Errorf("finalize own handle: %v", c)
		}
		if c := code(t, r.call(5, &api.JoinRequest{Group: []byte("g")})); c != api.CodeAccess {
			t.Errorf("join after finalize: %v", c)
		}
	}
	drops := remote.LinkDrops(n.System())
	if drops["unknown kind"] == 0 || drops["frame too large"] == 0 || drops["bad body"] == 0 {
		t.Errorf("drops not counted: %v", drops)
	}
	stillServes(t, n.Address(), "after")
	stillServes(t, n.ClientSocket(), "after-unix")
}

// A session that stops reading cannot grow the node's memory without
// bound. Each handle's events are bounded by its client's credit window
// (CreditEvents/CreditBytes: the handle actor pushes no more until credit
// comes back, and the rest waits in its receive queue, itself bounded by
// QueueLimitBytes and StallTimeout: eviction). The auto_credit the client
// asks for is ignored (it once exempted the actor face from the window);
// the session's writer queue is bounded as well (remote.SessionConn's
// maxQueued): beyond it the node cuts the session off. Either way the
// member leaves its group.
func TestHostileSessionThatStopsReading(t *testing.T) {
	n := startNode(t, func(c *remote.Config) {
		c.QueueHighBytes = 4 << 20
		c.QueueLimitBytes = 8 << 20
		c.StallTimeout = time.Second
	})
	group := "flood"
	sender := watch(t, group, cpg.WithNode(n))
	conn := rawSession(t, n.ClientSocket())
	if u, ok := conn.(*net.UnixConn); ok {
		_ = u.SetReadBuffer(64 << 10)
	}
	sc := remote.NewClientSession(conn)
	answer := func(corr uint32, m proto.Message) {
		sc.Send(1, corr, remote.NewFrame(m))
		for {
			f, err := sc.Read()
			if err != nil {
				t.Fatal(err)
			}
			if f.Corr == corr {
				return
			}
		}
	}
	answer(1, &api.InitRequest{Handle: 1, AutoCredit: true})
	answer(2, &api.JoinRequest{Group: []byte(group)})
	// From now on the session is never read.
	waitMembers(t, sender, group, 2)
	msg := make([]byte, 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		err := sender.h.McastJoined(api.TypeAgreed, msg)
		if err != nil && err != api.ErrTryAgain {
			t.Fatal(err)
		}
		for _, e := range sender.events() {
			if strings.Contains(e, "left") {
				return // cut off, and finalized
			}
		}
		if err != nil {
			time.Sleep(time.Millisecond)
		}
	}
	t.Fatalf("the node kept a session that does not read")
}

// waitMembers waits until group has want members, as w sees it.
func waitMembers(t *testing.T, w *watcher, group string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := w.h.MembershipGet([]byte(group)); err == nil && len(m) == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("group %s never had %d members", group, want)
}
