package session

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// A session cannot touch a handle another session created: its
// multicasts naming it are dropped, its join, leave and finalize are
// answered CS_ERR_ACCESS, the owner stays a member and its group sees
// nothing in its name. A reply_to a client puts in a request redirects
// nothing: answers come back on the session only. (It fails if the node
// looks handles up across sessions instead of in the requesting
// session's own table: session.lookup.)
func TestRogueSessionCannotTouchAnotherClientsHandle(t *testing.T) {
	n := startNode(t, nil)
	group := "victims"
	// The victim: a real client process's handle, attached over TCP.
	victim := watch(t, group, cpg.WithAddress(n.Address()))
	// The group's other member sees everything said in the group.
	observer := watch(t, group, cpg.WithNode(n))
	victim.waitFor("joined")

	// A recorder in the node's actor system: a forged reply_to points
	// at it.
	got := make(chan any, 16)
	rec := n.System().Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*api.Status); ok {
			got <- ctx.Message()
		}
	}))
	forged := &api.Pid{Address: rec.Address, Id: rec.Id}

	r := dialRogue(t, n.Address())
	// Handle ids are small numbers every client picks the same way: the
	// rogue names those the victim's session uses.
	for id := uint64(1); id <= 4; id++ {
		r.sc.Send(id, 0, remote.NewFrame(&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("forged in your name")}))
		r.sc.Send(id, 0, remote.NewFrame(&api.McastBatch{Msgs: []*api.McastRequest{{Guarantee: uint32(api.TypeAgreed), Data: []byte("forged batch")}}}))
		r.sc.Send(id, 0, remote.NewFrame(&api.Credit{Events: 1 << 30, Bytes: 1 << 40}))
		if c := code(t, r.call(id, &api.JoinRequest{Group: []byte("elsewhere"), ReplyTo: forged})); c != api.CodeAccess {
			t.Errorf("join naming handle %d: %v, want CS_ERR_ACCESS", id, c)
		}
		if c := code(t, r.call(id, &api.LeaveRequest{Group: []byte(group), ReplyTo: forged})); c != api.CodeAccess {
			t.Errorf("leave naming handle %d: %v, want CS_ERR_ACCESS", id, c)
		}
		if c := code(t, r.call(id, &api.FinalizeRequest{ReplyTo: forged})); c != api.CodeAccess {
			t.Errorf("finalize naming handle %d: %v, want CS_ERR_ACCESS", id, c)
		}
	}
	// Its own handle works, and its answers come back on the session,
	// not to the reply_to it names.
	r.init(1)
	if c := code(t, r.call(1, &api.JoinRequest{Group: []byte("own"), ReplyTo: forged})); c != api.CodeOK {
		t.Errorf("own join: %v", c)
	}

	// The victim is still a member, and still speaks.
	if err := victim.h.McastJoined(api.TypeAgreed, []byte("the real one")); err != nil {
		t.Fatal(err)
	}
	observer.waitFor("the real one")
	members, err := observer.h.MembershipGet([]byte(group))
	if err != nil || len(members) != 2 {
		t.Errorf("members %v (%v), want the victim and the observer", members, err)
	}
	for _, e := range append(observer.events(), victim.events()...) {
		if strings.Contains(e, "forged") || strings.Contains(e, "left") {
			t.Errorf("the group saw %q", e)
		}
	}
	select {
	case m := <-got:
		t.Errorf("a forged reply_to received %v", m)
	case <-time.After(100 * time.Millisecond):
	}
}

// An attached client listens on nothing: attaching (callbacks and actor
// faces, over TCP and the client socket) adds no listening socket to the
// process, so nobody can send it forged event batches. (Before sessions,
// the client's remoting listened on 127.0.0.1:0, and this failed.)
func TestAuthClientListensOnNoPort(t *testing.T) {
	n := startNode(t, nil)
	before := listeningSockets(t)
	sys := actor.NewActorSystem()
	recv := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	for _, addr := range []string{n.Address(), n.ClientSocket()} {
		h, err := cpg.Initialize(nil, cpg.WithAddress(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Finalize()
		a, err := cpg.InitializeActor(recv, 0, cpg.WithAddress(addr), cpg.WithActorSystem(sys))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Finalize()
		if err := a.Join([]byte("g")); err != nil {
			t.Fatal(err)
		}
	}
	after := listeningSockets(t)
	for ino, what := range after {
		if _, ok := before[ino]; !ok {
			t.Errorf("attaching opened a listening socket: %s", what)
		}
	}
}

// listeningSockets returns the listening sockets this process holds, by
// inode: its descriptors matched against the kernel's socket tables.
func listeningSockets(t *testing.T) map[string]string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	out := map[string]string{}
	for _, table := range []string{"tcp", "tcp6"} {
		// sl local rem st ... inode (field 9); st 0A is LISTEN.
		scanTable(t, "/proc/self/net/"+table, func(f []string) {
			if len(f) > 9 && f[3] == "0A" && mine[f[9]] {
				out[f[9]] = table + " " + f[1]
			}
		})
	}
	// Num RefCount Protocol Flags Type St Inode Path; flags 00010000
	// is __SO_ACCEPTCON: listening.
	scanTable(t, "/proc/self/net/unix", func(f []string) {
		if len(f) > 6 && f[3] == "00010000" && mine[f[6]] {
			out[f[6]] = "unix " + strings.Join(f[7:], " ")
		}
	})
	return out
}

func scanTable(t *testing.T, path string, row func([]string)) {
	f, err := os.Open(path)
	if err != nil {
		t.Skip("no ", path, ": ", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		row(strings.Fields(sc.Text()))
	}
}

// A session that closes (its process died, however) has its handles
// finalized: the other members see PROCDOWN. (It fails if the node does
// not finalize a closed session's handles: sessionClosed.)
func TestRogueSessionClosedFinalizesHandles(t *testing.T) {
	n := startNode(t, nil)
	group := "g"
	observer := watch(t, group, cpg.WithNode(n))
	for _, addr := range []string{n.Address(), n.ClientSocket()} {
		r := dialRogue(t, addr)
		rep := r.init(7)
		if c := code(t, r.call(7, &api.JoinRequest{Group: []byte(group)})); c != api.CodeOK {
			t.Fatalf("join: %v", c)
		}
		me := strconv.Itoa(int(rep.Nodeid)) + "/" + strconv.Itoa(int(rep.Pid))
		observer.waitFor("joined " + me)
		r.sc.Close()
		observer.waitFor("left " + me + " reason " + strconv.Itoa(int(api.ReasonProcDown)))
	}
}
