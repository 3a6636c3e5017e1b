package remote

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

func payload(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

func testMessages() []proto.Message {
	r := rand.New(rand.NewSource(1))
	ordered := &wire.Ordered{Group: []byte("g"), From: 2, Stable: 7, High: 9, Ring: &api.RingId{Nodeid: 1, Seq: 4}}
	for i, n := range []int{0, 10, 600, 70000, 3, 16384} {
		ordered.Events = append(ordered.Events, &wire.GroupEvent{Seq: uint64(i + 1), Nodeid: 1, Pid: 42, Data: payload(r, n), Msgid: uint64(i)})
	}
	batch := &api.EventBatch{Handle: 3, Events: []*api.Event{
		{Deliver: &api.Deliver{Group: []byte("g"), Nodeid: 1, Pid: 2, Data: payload(r, 40000)}},
		{Confchg: &api.Confchg{Group: []byte("g"), Members: []*api.Address{{Nodeid: 1, Pid: 2}}}},
		{Part: &api.DeliverPart{Data: payload(r, 65536), TotalLength: 1 << 20, Head: &api.Deliver{Nodeid: 1}}},
		{Deliver: &api.Deliver{Group: []byte("g")}},
		{Part: &api.DeliverPart{Last: true}},
	}}
	return []proto.Message{
		ordered,
		batch,
		&api.McastRequest{Guarantee: 1, Data: payload(r, 1<<20)},
		&api.McastRequest{Guarantee: 1, Data: payload(r, 64)},
		&wire.Ack{From: 3, Groups: []*wire.GroupAck{{Group: []byte("g"), Seq: 9}}},
	}
}

// A detached message decodes to the same message.
func TestDetachRoundTrip(t *testing.T) {
	for _, m := range testMessages() {
		body, data, err := detach(m)
		if err != nil {
			t.Fatal(err)
		}
		flat := append([]byte(nil), body...)
		for _, d := range data {
			flat = append(flat, d...)
		}
		got := m.ProtoReflect().New().Interface()
		if err := attach(flat, got); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !proto.Equal(m, got) {
			t.Fatalf("%T: round trip differs", m)
		}
		if err := attach(flat[:len(flat)-1], m.ProtoReflect().New().Interface()); err == nil && len(data) > 0 {
			t.Fatalf("%T: truncated frame accepted", m)
		}
	}
}

type collector struct{ got chan proto.Message }

func (c *collector) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *api.McastBatch: // multicasts read together are handed over together
		for _, r := range m.Msgs {
			c.got <- r
		}
	case proto.Message:
		c.got <- m
	}
}

// Frames sent on a link arrive in order and intact, on a local socket
// and on TCP. (That gRPC remoting still works on the same port is
// package remoting's test.)
func TestLinkDelivers(t *testing.T) {
	t.Run("local", func(t *testing.T) { testLinkDelivers(t) })
	t.Run("tcp", func(t *testing.T) {
		noLocalLinks = true
		defer func() { noLocalLinks = false }()
		testLinkDelivers(t)
	})
}

// startSink starts an actor system with remoting on 127.0.0.1 and a
// collector actor named "sink"; the test's cleanup shuts it down.
func startSink(t *testing.T) (*actor.ActorSystem, string, *actor.PID, *collector) {
	t.Helper()
	sys := quietSystem()
	addr := servePort(t, sys, nil)
	c := &collector{got: make(chan proto.Message, 100)}
	pid, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return c }), "sink")
	if err != nil {
		t.Fatal(err)
	}
	return sys, addr, pid, c
}

func testLinkDelivers(t *testing.T) {
	_, addr, pid, c := startSink(t)
	links := NewLinks()
	defer links.Close()
	msgs := testMessages()
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
}

type counter struct{ n chan int }

func (c *counter) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*api.EventBatch); ok {
		c.n <- len(m.Events)
	}
}

// BenchmarkLink sends b.N events of each size over a link, in batches of
// up to 1 MiB, as a node sends deliveries to a client: marshaled whole,
// detached (as older versions send them) and gathered (fastcodec.go).
func BenchmarkLink(b *testing.B) {
	for _, size := range []int{64, 16384, 65536} {
		for _, mode := range []string{"whole", "detach", "gather"} {
			b.Run(fmt.Sprintf("size=%d/%s", size, mode), func(b *testing.B) { benchLink(b, size, mode) })
		}
	}
}

// BenchmarkLinkTLS is BenchmarkLink on links with mutual TLS 1.3 between
// two nodes of one cluster (the same local socket): what TLS costs per
// message.
func BenchmarkLinkTLS(b *testing.B) {
	for _, size := range []int{64, 16384, 65536} {
		for _, mode := range []string{"whole", "detach", "gather"} {
			b.Run(fmt.Sprintf("size=%d/%s", size, mode), func(b *testing.B) { benchLinkWith(b, size, mode, true) })
		}
	}
}

func benchLink(b *testing.B, size int, mode string) { benchLinkWith(b, size, mode, false) }

func benchLinkWith(b *testing.B, size int, mode string, secure bool) {
	noGather, noDetach = mode != "gather", mode == "whole"
	defer func() { noGather, noDetach = false, false }()
	var server, client *Security
	if secure {
		p := testPKI(b)
		server, client = nodeSec(b, p, 1), nodeSec(b, p, 2)
	}
	sys := quietSystem()
	addr := servePort(b, sys, server)
	c := &counter{n: make(chan int, 1<<16)}
	pid, _ := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return c }), "sink")
	links := NewLinks()
	if secure {
		links = NewPeerLinks(client, func(string) uint32 { return 1 })
		links.tcp = false // the local socket, as NewLinks
	}
	defer links.Close()
	per := max(1, min(1024, (1<<20)/size))
	data := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
	sent, got := 0, 0
	for sent < b.N {
		n := min(per, b.N-sent)
		batch := &api.EventBatch{Handle: 1}
		for i := 0; i < n; i++ {
			batch.Events = append(batch.Events, &api.Event{Deliver: &api.Deliver{Group: []byte("g"), Nodeid: 1, Pid: 2, Data: data}})
		}
		links.Send(addr, pid.Id, NewFrame(batch))
		sent += n
		for sent-got > 8*per { // a window, as credits give
			got += <-c.n
		}
	}
	for got < b.N {
		got += <-c.n
	}
}

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	})))
}

// cpuTime is the process's user and system CPU time: on a shared machine
// it measures the work better than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A handled link calls its handler in the reading goroutine, in order,
// and the actor's mailbox sees nothing.
func TestHandleLinksCallsTheHandlerInOrder(t *testing.T) {
	sys, addr, pid, c := startSink(t)
	direct := make(chan proto.Message, 100)
	HandleLinks(sys, pid.Id, func(m proto.Message) { direct <- m })
	defer UnhandleLinks(sys, pid.Id)
	links := NewLinks()
	defer links.Close()
	msgs := testMessages()
	for _, m := range msgs {
		links.Send(addr, pid.Id, NewFrame(m))
	}
	for i, want := range msgs {
		select {
		case got := <-direct:
			if !proto.Equal(got, want) {
				t.Fatalf("message %d differs", i)
			}
		case got := <-c.got:
			t.Fatalf("message %d (%T) went to the actor", i, got)
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
}
