package session

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// A session over TCP must keep heart-beating: one silent for
// ClientTimeout (of the node's awake time) has its handles finalized,
// though its connection stays open (a peer on another host may vanish
// without the connection closing). A session on the client socket is
// kept while its connection is open, however long it is silent. (It
// fails if the node expires local sessions, or never expires remote
// ones: expireClients.)
func TestAuthRemoteSessionMustHeartbeat(t *testing.T) {
	n := startNode(t, func(c *remote.Config) {
		c.ClientTimeout = 400 * time.Millisecond
		c.ClientHeartbeat = 100 * time.Millisecond
	})
	group := "live"
	observer := watch(t, group, cpg.WithNode(n))
	join := func(addr string, id uint64) string {
		r := dialRogue(t, addr)
		rep := r.init(id)
		if c := code(t, r.call(id, &api.JoinRequest{Group: []byte(group)})); c != api.CodeOK {
			t.Fatalf("join: %v", c)
		}
		me := strconv.Itoa(int(rep.Nodeid)) + "/" + strconv.Itoa(int(rep.Pid))
		observer.waitFor("joined " + me)
		return me
	}
	local := join(n.ClientSocket(), 1)
	remoteOne := join(n.Address(), 1)
	observer.waitFor("left " + remoteOne + " reason " + strconv.Itoa(int(api.ReasonProcDown)))
	time.Sleep(time.Second) // 2.5 timeouts
	for _, e := range observer.events() {
		if e == "confchg left "+local+" reason "+strconv.Itoa(int(api.ReasonProcDown)) {
			t.Errorf("the silent local session was finalized: %q", e)
		}
	}
}

// No link reaches a handle actor: a node takes links to its node actor
// only, so a stranger who learned a handle actor's name cannot multicast
// on a link in its name. (It fails without remote.AcceptLinks.)
func TestRogueLinkToHandleActorRefused(t *testing.T) {
	n := startNode(t, nil)
	w := watch(t, "g", cpg.WithNode(n))
	conn, err := net.DialTimeout("tcp", n.Address(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	target := w.h.ActorPID().Id
	hello := append([]byte("CPGLINK1"), binary.LittleEndian.AppendUint32(nil, uint32(len(target)))...)
	hello = append(hello, target...)
	body := marshal(&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("forged on a link")})
	hello = binary.LittleEndian.AppendUint32(hello, uint32(len(body)))
	hello = append(append(hello, 12), body...)
	if _, err := conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(conn, 5*time.Second) {
		t.Error("a link to a handle actor was kept open")
	}
	time.Sleep(100 * time.Millisecond)
	for _, e := range w.events() {
		if e != "confchg joined "+strconv.Itoa(int(w.h.NodeID()))+"/"+strconv.Itoa(int(w.h.Pid())) {
			t.Errorf("the group saw %q", e)
		}
	}
}

// The actor face works attached: a receiver actor in the client process
// gets its handle's events from the session (the client's plain actor
// system hands them over; it listens on nothing).
func TestAuthActorFaceOverSession(t *testing.T) {
	n := startNode(t, nil)
	sys := actor.NewActorSystem()
	got := make(chan any, 16)
	recv := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *api.Confchg, *api.Deliver:
			got <- m
		}
	}))
	for _, addr := range []string{n.Address(), n.ClientSocket()} {
		h, err := cpg.InitializeActor(recv, 0, cpg.WithAddress(addr), cpg.WithActorSystem(sys))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Join([]byte("actors-" + addr)); err != nil {
			t.Fatal(err)
		}
		if err := h.McastJoined(api.TypeAgreed, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"*api.Confchg", "*api.Deliver"} {
			select {
			case m := <-got:
				if typeName := fmt.Sprintf("%T", m); typeName != want {
					t.Errorf("%s: got %s, want %s", addr, typeName, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no %s", addr, want)
			}
		}
		h.Finalize()
	}
}
