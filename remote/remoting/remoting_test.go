package remoting

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	})))
}

// collector hands every message it gets to got.
type collector struct{ got chan proto.Message }

func (c *collector) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(proto.Message); ok {
		c.got <- m
	}
}

// startSink starts remoting for a quiet system on 127.0.0.1 with sec
// (nil: plain) and a collector actor named "sink"; the test's cleanup
// shuts it down.
func startSink(t *testing.T, sec *remote.Security) (*actor.ActorSystem, string, *actor.PID, *collector) {
	t.Helper()
	sys := quietSystem()
	r, addr, err := Start(sys, "127.0.0.1:0", sec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Shutdown(r) })
	c := &collector{got: make(chan proto.Message, 100)}
	pid, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return c }), "sink")
	if err != nil {
		t.Fatal(err)
	}
	return sys, addr, pid, c
}

// testPKI makes a PKI for nodes 1..3 and client "bench".
func testPKI(t testing.TB) *remote.PKIFiles {
	t.Helper()
	p, err := remote.NewTestPKI(t.TempDir(), []uint32{1, 2, 3}, []string{"bench"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nodeSec loads node id's TLS material from p.
func nodeSec(t testing.TB, p *remote.PKIFiles, id uint32) *remote.Security {
	t.Helper()
	s, err := remote.LoadSecurity(p.Node(id))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// nothingArrives fails if the collector gets anything within d.
func nothingArrives(t *testing.T, c *collector, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.got:
		t.Fatalf("delivered %T %v", m, m)
	case <-time.After(d):
	}
}

// receive waits for the collector's next message.
func receive(t *testing.T, c *collector) proto.Message {
	t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived")
		return nil
	}
}

// Links, client sessions' openings and gRPC share the port: a link
// delivers, a protoactor system sends through remoting, and an HTTP/2
// preface is answered by gRPC.
func TestLinksAndGRPCShareThePort(t *testing.T) {
	_, addr, pid, c := startSink(t, nil)
	links := remote.NewLinks()
	defer links.Close()
	links.Send(addr, pid.Id, remote.NewFrame(&api.EventBatch{Handle: 7}))
	if b, ok := receive(t, c).(*api.EventBatch); !ok || b.GetHandle() != 7 {
		t.Fatal("the link's message did not arrive")
	}
	rsys := quietSystem()
	r, _, err := Start(rsys, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(r)
	rsys.Root.Send(actor.NewPID(addr, pid.Id), &api.Heartbeat{Client: &api.Pid{Id: "grpc"}})
	if hb, ok := receive(t, c).(*api.Heartbeat); !ok || hb.GetClient().GetId() != "grpc" {
		t.Fatal("the remoting message did not arrive")
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	var head [9]byte
	if _, err := conn.Read(head[:]); err != nil || head[3] != 4 { // a SETTINGS frame
		t.Fatalf("gRPC did not answer on the link port: %v % x", err, head)
	}
}

// A plain protoactor system cannot reach a node with TLS through
// remoting: nothing is delivered.
func TestAuthPlainRemotingCannotReachATLSNode(t *testing.T) {
	_, addr, pid, c := startSink(t, nodeSec(t, testPKI(t), 1))
	rsys := quietSystem()
	r, _, err := Start(rsys, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(r)
	rsys.Root.Send(actor.NewPID(addr, pid.Id), &api.Heartbeat{})
	nothingArrives(t, c, 500*time.Millisecond)
}

// A protoactor system with another CA's node certificate cannot send
// through remoting (its TLS handshake fails), and one with a client
// certificate of the cluster CA passes TLS but every stream is refused
// Unauthenticated by the guard: nothing is delivered.
func TestAuthRemotingAdmitsNodesOnly(t *testing.T) {
	p := testPKI(t)
	other := testPKI(t)
	_, addr, pid, c := startSink(t, nodeSec(t, p, 1))
	rsys := quietSystem()
	r, _, err := Start(rsys, "127.0.0.1:0", nodeSec(t, other, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(r)
	rsys.Root.Send(actor.NewPID(addr, pid.Id), &api.Heartbeat{})
	nothingArrives(t, c, 500*time.Millisecond)

	csec, err := remote.LoadSecurity(p.CA, p.Clients["bench"].Cert, p.Clients["bench"].Key)
	if err != nil {
		t.Fatal(err)
	}
	csys := quietSystem()
	cr, _, err := Start(csys, "127.0.0.1:0", csec)
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(cr)
	before := GuardDropped()
	csys.Root.Send(actor.NewPID(addr, pid.Id), &api.Heartbeat{})
	nothingArrives(t, c, 500*time.Millisecond)
	if GuardDropped() == before {
		t.Error("the guard counted no refused stream from a client certificate")
	}

	// A node of the cluster gets through.
	nsys := quietSystem()
	nr, _, err := Start(nsys, "127.0.0.1:0", nodeSec(t, p, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(nr)
	nsys.Root.Send(actor.NewPID(addr, pid.Id), &api.Heartbeat{})
	select {
	case <-c.got:
	case <-time.After(5 * time.Second):
		t.Fatal("a node of the cluster could not send through remoting")
	}
}
