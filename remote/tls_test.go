package remote

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// testPKI makes a PKI for nodes 1..3 and client "bench" in a temporary
// directory.
func testPKI(t testing.TB) *PKIFiles {
	t.Helper()
	p, err := NewTestPKI(t.TempDir(), []uint32{1, 2, 3}, []string{"bench"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nodeSec loads node id's TLS material from p, accepting the nodes
// listed (none: any).
func nodeSec(t testing.TB, p *PKIFiles, id uint32, nodes ...uint32) *Security {
	t.Helper()
	s, err := LoadSecurity(p.Node(id))
	if err != nil {
		t.Fatal(err)
	}
	return s.WithNodes(nodes)
}

// startTLSSink is startSink with TLS: node 1 of p, accepting nodes.
func startTLSSink(t *testing.T, sec *Security) (*actor.ActorSystem, string, *actor.PID, *collector) {
	t.Helper()
	sys := quietSystem()
	addr := servePort(t, sys, sec)
	c := &collector{got: make(chan proto.Message, 100)}
	pid, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return c }), "sink")
	if err != nil {
		t.Fatal(err)
	}
	return sys, addr, pid, c
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

// waitDrop waits until system has counted one more drop of reason than
// before.
func waitDrop(t *testing.T, sys *actor.ActorSystem, reason string, before uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for LinkDrops(sys)[reason] <= before {
		if time.Now().After(deadline) {
			t.Fatalf("%q not counted: %v", reason, LinkDrops(sys))
		}
		time.Sleep(5 * time.Millisecond) // polling a counter, not an assertion
	}
}

// rawFrame encodes one frame of m.
func rawFrame(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	f := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
	f = append(f, LinkKind(m))
	return append(f, b...)
}

// closedByPeer reads from conn until it fails; it fails the test if the
// peer does not close within 5 s.
func closedByPeer(t *testing.T, conn net.Conn) error {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the node did not close the connection")
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

// A link between two nodes with certificates of the cluster CA delivers,
// on TCP and on the local socket, and the server is checked to be the
// node the address belongs to.
func TestTLSLinkDelivers(t *testing.T) {
	p := testPKI(t)
	for _, tcp := range []bool{true, false} {
		name := map[bool]string{true: "tcp", false: "local"}[tcp]
		t.Run(name, func(t *testing.T) {
			_, addr, pid, c := startTLSSink(t, nodeSec(t, p, 1, 1, 2))
			links := NewPeerLinks(nodeSec(t, p, 2, 1, 2), func(a string) uint32 {
				if a == addr {
					return 1
				}
				return 0
			})
			links.tcp = tcp
			defer links.Close()
			msgs := []proto.Message{
				&wire.PeerHeartbeat{From: 2},
				&wire.Ordered{Group: []byte("g"), From: 2, Events: []*wire.GroupEvent{{Seq: 1, Nodeid: 2, Data: make([]byte, 70000)}}},
				&api.EventBatch{Handle: 3, Events: []*api.Event{{Deliver: &api.Deliver{Group: []byte("g"), Data: make([]byte, 100)}}}},
			}
			for _, m := range msgs {
				links.Send(addr, pid.Id, NewFrame(m))
			}
			for i, want := range msgs {
				select {
				case got := <-c.got:
					if !proto.Equal(got, want) {
						t.Fatalf("message %d differs", i)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("message %d did not arrive", i)
				}
			}
		})
	}
}

// A link dialed to an address where another node than the expected one
// answers fails its handshake: nothing is delivered.
func TestTLSLinkRefusesTheWrongNode(t *testing.T) {
	p := testPKI(t)
	_, addr, pid, c := startTLSSink(t, nodeSec(t, p, 1))
	links := NewPeerLinks(nodeSec(t, p, 2), func(string) uint32 { return 3 })
	defer links.Close()
	links.Send(addr, pid.Id, NewFrame(&wire.PeerHeartbeat{From: 2}))
	nothingArrives(t, c, 500*time.Millisecond)
	o := &outLink{key: linkKey{addr, pid.Id}, tcp: true, sec: nodeSec(t, p, 2), nodeOf: func(string) uint32 { return 3 }}
	if _, err := o.dial(); err == nil || !strings.Contains(err.Error(), "not node 3") {
		t.Fatalf("dial: %v, want a handshake error naming node 3", err)
	}
}

// With TLS, a plain link opening ("CPGLINK1") and a plain gRPC preface
// are refused and counted as "not TLS"; nothing is delivered.
func TestAuthPlainOpeningIsRefused(t *testing.T) {
	p := testPKI(t)
	sys, addr, pid, c := startTLSSink(t, nodeSec(t, p, 1))
	for _, opening := range [][]byte{
		append([]byte(linkMagic), linkHello(pid.Id)...),
		[]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
		append([]byte(clientMagic), 0, 0, 0, 0),
	} {
		before := LinkDrops(sys)["not TLS"]
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(append(opening, rawFrame(t, &wire.PeerHeartbeat{From: 2})...))
		closedByPeer(t, conn)
		conn.Close()
		waitDrop(t, sys, "not TLS", before)
	}
	nothingArrives(t, c, 200*time.Millisecond)
}

// A TLS client without a certificate, or with one of another CA, cannot
// open a link: the node refuses the handshake ("not authenticated") and
// delivers nothing.
func TestAuthLinkWithoutTheClusterCertificateIsRefused(t *testing.T) {
	p := testPKI(t)
	other := testPKI(t) // another cluster's CA
	sys, addr, pid, c := startTLSSink(t, nodeSec(t, p, 1))
	otherSec := nodeSec(t, other, 2)
	for name, cfg := range map[string]*tls.Config{
		"no certificate": {InsecureSkipVerify: true, NextProtos: []string{ALPNLink}, MinVersion: tls.VersionTLS13},
		"another CA":     otherSec.clientConfig(ALPNLink, 0),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := cfg.Clone()
			cfg.InsecureSkipVerify, cfg.VerifyConnection = true, nil // the rogue trusts anyone
			before := LinkDrops(sys)["not authenticated"]
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			conn := tls.Client(raw, cfg)
			// In TLS 1.3 the client's side of the handshake may finish
			// before the server has checked its certificate: the refusal
			// comes as an alert on the first read.
			herr := conn.Handshake()
			if herr == nil {
				conn.Write(append(linkHello(pid.Id), rawFrame(t, &wire.PeerHeartbeat{From: 2})...))
				herr = closedByPeer(t, conn)
			}
			if !strings.Contains(herr.Error(), "certificate") {
				t.Fatalf("handshake: %v, want a certificate alert", herr)
			}
			waitDrop(t, sys, "not authenticated", before)
			nothingArrives(t, c, 200*time.Millisecond)
		})
	}
	// And the node, as a client, refuses a server of another CA.
	links := NewPeerLinks(otherSec, nil)
	o := &outLink{key: linkKey{addr, pid.Id}, tcp: true, sec: otherSec}
	if _, err := o.dial(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("dial to another cluster's node: %v, want a certificate error", err)
	}
	links.Close()
}

// openLink opens a TLS link as node id of p to the sink at addr, without
// checking the server, and writes its hello.
func openLink(t *testing.T, p *PKIFiles, id uint32, addr, target string) *tls.Conn {
	t.Helper()
	cfg := nodeSec(t, p, id).clientConfig(ALPNLink, 0)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(raw, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(linkHello(target)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A peer whose certificate names node 3 cannot speak as node 2: its
// link is closed at the first frame From 2 ("forged sender"), and
// nothing is delivered; frames From 3 are.
func TestRogueForgedSenderIsClosed(t *testing.T) {
	p := testPKI(t)
	sys, addr, pid, c := startTLSSink(t, nodeSec(t, p, 1, 1, 2, 3))
	for _, m := range []proto.Message{
		&wire.PeerHeartbeat{From: 2},
		&wire.Ordered{Group: []byte("g"), From: 2, Events: []*wire.GroupEvent{{Seq: 1, Nodeid: 2, Data: []byte("x")}}},
	} {
		before := LinkDrops(sys)["forged sender"]
		conn := openLink(t, p, 3, addr, pid.Id)
		conn.Write(rawFrame(t, m))
		closedByPeer(t, conn)
		waitDrop(t, sys, "forged sender", before)
		nothingArrives(t, c, 200*time.Millisecond)
	}
	conn := openLink(t, p, 3, addr, pid.Id)
	conn.Write(rawFrame(t, &wire.PeerHeartbeat{From: 3}))
	select {
	case m := <-c.got:
		if m.(*wire.PeerHeartbeat).From != 3 {
			t.Fatalf("got %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node 3's own heartbeat did not arrive")
	}
}

// A node certificate of the cluster CA for a node not in the node list
// (a duplicate or stray node id) cannot open a link: refused at the
// handshake ("not authenticated"), nothing delivered.
func TestRogueNodeNotInTheNodeListIsRefused(t *testing.T) {
	p := testPKI(t)
	sys, addr, pid, c := startTLSSink(t, nodeSec(t, p, 1, 1, 2))
	before := LinkDrops(sys)["not authenticated"]
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(raw, nodeSec(t, p, 3).clientConfig(ALPNLink, 0))
	defer conn.Close()
	if err := conn.Handshake(); err == nil {
		conn.Write(append(linkHello(pid.Id), rawFrame(t, &wire.PeerHeartbeat{From: 3})...))
		closedByPeer(t, conn)
	}
	waitDrop(t, sys, "not authenticated", before)
	nothingArrives(t, c, 300*time.Millisecond)
}

// At most maxOpenings connections may be in their opening at once: one
// more is closed at once and counted.
func TestAuthOpeningsAreBounded(t *testing.T) {
	p := testPKI(t)
	sys, addr, _, _ := startTLSSink(t, nodeSec(t, p, 1))
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := 0; i < maxOpenings; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
	}
	deadline := time.Now().Add(5 * time.Second)
	for guardOf(sys).openings.Load() < maxOpenings {
		if time.Now().After(deadline) {
			t.Fatalf("%d openings in progress, want %d", guardOf(sys).openings.Load(), maxOpenings)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter
	}
	before := LinkDrops(sys)["too many openings"]
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closedByPeer(t, conn)
	waitDrop(t, sys, "too many openings", before)
}
