package remote

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// Tests of what a stranger who reaches a node's link port can do to it.

// linkHello is what opens a link to target, after linkMagic.
func linkHello(target string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(target)))
	return append(b, target...)
}

// frameHead is a frame header announcing n bytes of kind.
func frameHead(n uint32, kind byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, n), kind)
}

// rawLink opens a connection to the link port of addr ("tcp") or to its
// local socket ("unix") and writes linkMagic.
func rawLink(t testing.TB, network, addr string) net.Conn {
	t.Helper()
	to := addr
	if network == "unix" {
		to = localLinkName(addr)
	}
	conn, err := net.Dial(network, to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(linkMagic)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// closedWithin reports whether the other end closed conn within d.
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	var b [64]byte
	for {
		_, err := conn.Read(b[:])
		if err == nil {
			continue
		}
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const announced = 1<<30 - 1 // just under 1 GiB

// A header announcing ~1 GiB and nothing else costs the node a chunk, not
// the announced size, whether or not the size is within the bound; above
// the bound the connection is closed at once.
func TestHostileHeaderAloneAllocatesNoMoreThanAChunk(t *testing.T) {
	sys, addr, pid, _ := startSink(t)
	for _, network := range []string{"tcp", "unix"} {
		for _, kind := range []byte{12, 12 | kindDetached, 7} { // McastRequest, detached, Ordered
			before := liveHeap()
			conn := rawLink(t, network, addr)
			conn.Write(append(linkHello(pid.Id), frameHead(announced, kind)...))
			// Within the default bound (the ceiling): the reader waits for
			// the body, holding what arrived.
			if closedWithin(conn, 300*time.Millisecond) {
				t.Fatalf("%s kind %#x: closed a frame within the bound", network, kind)
			}
			conn.Write(make([]byte, 1<<20)) // a MiB of the body, then nothing
			time.Sleep(100 * time.Millisecond)
			if grew := int64(liveHeap()) - int64(before); grew > 64<<20 {
				t.Fatalf("%s kind %#x: heap grew by %d MiB for a header", network, kind, grew>>20)
			}
			conn.Close()
		}
	}
	// With a node's limits (client kinds bounded by its message size), the
	// same header closes the connection.
	cfg := DefaultConfig()
	SetLinkLimits(sys, LinkLimitsFor(&cfg))
	for _, network := range []string{"tcp", "unix"} {
		before := liveHeap()
		conn := rawLink(t, network, addr)
		conn.Write(append(linkHello(pid.Id), frameHead(announced, 12)...))
		if !closedWithin(conn, 5*time.Second) {
			t.Fatalf("%s: a frame above the bound did not close the connection", network)
		}
		conn.Close()
		if grew := int64(liveHeap()) - int64(before); grew > 64<<20 {
			t.Fatalf("%s: heap grew by %d MiB", network, grew>>20)
		}
	}
	if got := LinkDrops(sys)["frame too large"]; got != 2 {
		t.Fatalf("frames too large counted %d, want 2", got)
	}
}

// Many such connections at once cost a chunk each.
func TestHostileManyConnectionsAnnouncingAGiB(t *testing.T) {
	_, addr, pid, _ := startSink(t)
	const conns = 16
	before := liveHeap()
	var open []net.Conn
	for i := 0; i < conns; i++ {
		conn := rawLink(t, []string{"tcp", "unix"}[i%2], addr)
		defer conn.Close()
		conn.Write(append(linkHello(pid.Id), frameHead(announced, 13|byte(i%2)*kindDetached)...))
		conn.Write(make([]byte, 100<<10)) // some of the body
		open = append(open, conn)
	}
	time.Sleep(300 * time.Millisecond)
	grew := int64(liveHeap()) - int64(before)
	t.Logf("%d connections announcing %d MiB each: heap grew by %.1f MiB", conns, announced>>20, float64(grew)/(1<<20))
	if grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB", grew>>20)
	}
	for _, c := range open {
		if closedWithin(c, 10*time.Millisecond) {
			t.Fatal("a connection within the bound was closed")
		}
	}
}

// Malformed openings and frames close their connection, are counted, and
// leave the node serving links.
func TestHostileBadFramesCloseTheConnection(t *testing.T) {
	sys, addr, pid, c := startSink(t)
	SetLinkLimits(sys, LinkLimits{MaxFrame: 1 << 20})
	hello := linkHello(pid.Id)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	garbage := bytes.Repeat([]byte{0xff}, 64)
	cases := []struct {
		name, reason string
		send         []byte
	}{
		{"empty target", "bad opening", linkHello("")},
		{"target too long", "bad opening", binary.LittleEndian.AppendUint32(nil, 5000)},
		{"kind 0", "unknown kind", cat(hello, frameHead(0, 0))},
		{"kind 99", "unknown kind", cat(hello, frameHead(0, 99))},
		{"kind 127", "unknown kind", cat(hello, frameHead(3, 127), []byte{1, 2, 3})},
		{"detached kind 99", "unknown kind", cat(hello, frameHead(0, 99|kindDetached))},
		{"above MaxFrame", "frame too large", cat(hello, frameHead(1<<20+1, 12))},
		{"garbage body", "bad body", cat(hello, frameHead(64, 7), garbage)},
		{"garbage detached body", "bad body", cat(hello, frameHead(64, 7|kindDetached), garbage)},
		{"short detached body", "bad body", cat(hello, frameHead(3, 10|kindDetached), []byte{1, 2, 3})},
		{"detached table past the body", "bad body", cat(hello, frameHead(8, 10|kindDetached), binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0), 1<<30))},
		{"valid frames, then garbage", "bad body", cat(hello, frameHead(0, 8), frameHead(0, 1), frameHead(64, 5), garbage)},
	}
	for _, tc := range cases {
		for _, network := range []string{"tcp", "unix"} {
			before := LinkDrops(sys)[tc.reason]
			conn := rawLink(t, network, addr)
			conn.Write(tc.send)
			if !closedWithin(conn, 5*time.Second) {
				t.Fatalf("%s on %s: connection left open", tc.name, network)
			}
			conn.Close()
			if got := LinkDrops(sys)[tc.reason]; got != before+1 {
				t.Fatalf("%s on %s: %q counted %d, want %d", tc.name, network, tc.reason, got, before+1)
			}
		}
	}
	// Not a link at all, on the local socket.
	conn, err := net.Dial("unix", localLinkName(addr))
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if !closedWithin(conn, 5*time.Second) {
		t.Fatal("a non-link on the local socket was left open")
	}
	conn.Close()
	// The node still reads links.
	links := NewLinks()
	defer links.Close()
	want := &api.McastRequest{Guarantee: 1, Data: []byte("still here")}
	links.Send(addr, pid.Id, NewFrame(want))
	for { // after the valid frames sent before garbage
		select {
		case got := <-c.got:
			if proto.Equal(got, want) {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a link no longer delivers after the attacks")
		}
	}
}

// A panic while a frame is handed over closes that connection; the
// process and the other links go on.
func TestHostilePanicInAReaderClosesOnlyItsConnection(t *testing.T) {
	sys, addr, pid, c := startSink(t)
	var logged bytes.Buffer
	var mu sync.Mutex
	SetLinkLimits(sys, LinkLimits{Log: zerolog.New(lockedWriter{&mu, &logged})})
	HandleLinks(sys, "boom", func(m proto.Message) { panic("handler exploded on " + string(m.ProtoReflect().Descriptor().Name())) })
	defer UnhandleLinks(sys, "boom")
	for _, network := range []string{"tcp", "unix"} {
		conn := rawLink(t, network, addr)
		conn.Write(append(linkHello("boom"), frameHead(0, 1)...))
		if !closedWithin(conn, 5*time.Second) {
			t.Fatalf("%s: the panicking link was left open", network)
		}
		conn.Close()
	}
	if got := LinkDrops(sys)["panic"]; got != 2 {
		t.Fatalf("panics counted %d, want 2", got)
	}
	links := NewLinks()
	defer links.Close()
	links.Send(addr, pid.Id, NewFrame(&wire.Ack{From: 9}))
	select {
	case <-c.got:
	case <-time.After(5 * time.Second):
		t.Fatal("a link no longer delivers after a reader panicked")
	}
	time.Sleep(dropEvery + 200*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "handler exploded on PeerHeartbeat") {
		t.Fatalf("the panic was not logged: %q", logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// 100,000 tiny bad frames, each on a fresh connection, write a line per
// second at most, and the lines count every one of them.
func TestHostileFloodOfBadFramesLogsBoundedLines(t *testing.T) {
	sys, addr, pid, _ := startSink(t)
	var logged bytes.Buffer
	var mu sync.Mutex
	SetLinkLimits(sys, LinkLimits{Log: zerolog.New(lockedWriter{&mu, &logged})})
	total := 100_000
	if testing.Short() {
		total = 5_000
	}
	msg := append(append([]byte(linkMagic), linkHello(pid.Id)...), frameHead(0, 0x7f)...) // 5-byte frame, no such kind
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [16]byte
			for next.Add(1) <= int64(total) {
				network, to := "unix", localLinkName(addr)
				if next.Load()%50 == 0 { // some on TCP, through gRPC's handshake
					network, to = "tcp", addr
				}
				conn, err := net.Dial(network, to)
				if err != nil {
					t.Error(err)
					return
				}
				conn.Write(msg)
				conn.Read(b[:]) // until the node closes it
				conn.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	deadline := time.Now().Add(10 * time.Second)
	for LinkDrops(sys)["unknown kind"] < uint64(total) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(dropEvery + 200*time.Millisecond) // the last line is due
	mu.Lock()
	out := logged.String()
	mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum uint64
	for _, l := range lines {
		var rec struct {
			Reason  string `json:"reason"`
			Dropped uint64 `json:"dropped"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec.Reason != "unknown kind" {
			t.Fatalf("unexpected log line %q", l)
		}
		sum += rec.Dropped
	}
	t.Logf("%d bad frames in %v: %d log lines (%d bytes), first %s", total, elapsed.Round(time.Millisecond), len(lines), len(out), lines[0])
	if max := int(elapsed/dropEvery) + 2; len(lines) > max {
		t.Fatalf("%d log lines in %v, want at most %d", len(lines), elapsed, max)
	}
	if got := LinkDrops(sys)["unknown kind"]; got != uint64(total) || sum != uint64(total) {
		t.Fatalf("counted %d drops, the log lines report %d; want %d", got, sum, total)
	}
}

// A legitimate large message still arrives whole, on both paths (detached
// and marshaled whole) and both sockets, under a node's limits; a link
// that carried one reads the next into a buffer of its size.
func TestHostileLimitsPassLegitimateLargeFrames(t *testing.T) {
	t.Run("local", func(t *testing.T) { testLegitimateLargeFrames(t) })
	t.Run("tcp", func(t *testing.T) {
		noLocalLinks = true
		defer func() { noLocalLinks = false }()
		testLegitimateLargeFrames(t)
	})
}

func testLegitimateLargeFrames(t *testing.T) {
	sys, addr, pid, c := startSink(t)
	cfg := DefaultConfig()
	SetLinkLimits(sys, LinkLimitsFor(&cfg))
	links := NewLinks()
	defer links.Close()
	big := func(seed byte) []byte {
		b := make([]byte, 16<<20)
		for i := range b {
			b[i] = byte(i) ^ seed
		}
		return b
	}
	var want []proto.Message
	var frames []*Frame
	// Gathered (as sent now), detached and marshaled whole (as older
	// versions send).
	for i, mode := range []string{"gathered", "detached", "detached", "whole"} {
		m := &api.McastRequest{Guarantee: 1, Data: big(byte(i))}
		noGather, noDetach = mode != "gathered", mode == "whole"
		f := NewFrame(m)
		if err := f.encode(); err != nil {
			t.Fatal(err)
		}
		noGather, noDetach = false, false
		if f.det != (mode == "detached") || (f.cuts != nil) != (mode == "gathered") {
			t.Fatalf("frame %d: detached %v, gathered %v, want %s", i, f.det, f.cuts != nil, mode)
		}
		want = append(want, m)
		frames = append(frames, f)
		small := &api.McastRequest{Guarantee: 1, Data: []byte{byte(i)}}
		want = append(want, small)
		frames = append(frames, NewFrame(small))
	}
	// The largest event batch a node sends: events up to a fragment, then
	// a whole delivery of the largest message.
	batch := &api.EventBatch{Handle: 1}
	for n := 0; n < int(cfg.LinkFragment); n += 64 + 64 {
		batch.Events = append(batch.Events, &api.Event{Deliver: &api.Deliver{Group: bytes.Repeat([]byte("g"), api.MaxNameLength), Nodeid: 1, Pid: 2, Data: make([]byte, 64)}})
	}
	batch.Events = append(batch.Events, &api.Event{Deliver: &api.Deliver{Group: []byte("g"), Data: make([]byte, cfg.MaxMessageSize)}})
	want = append(want, batch)
	frames = append(frames, NewFrame(batch))
	for _, f := range frames {
		links.Send(addr, pid.Id, f)
	}
	for i, w := range want {
		select {
		case got := <-c.got:
			if !proto.Equal(got, w) {
				t.Fatalf("message %d differs", i)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("message %d did not arrive (drops %v)", i, LinkDrops(sys))
		}
	}
	for r, n := range LinkDrops(sys) {
		if n != 0 {
			t.Fatalf("%d dropped for %s", n, r)
		}
	}
}

// readBody allocates what arrives, not what is announced, and reuses
// what it is given.
func TestHostileReadBodyGrowsAsBytesArrive(t *testing.T) {
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, trust := range []int{0, 100 << 10, 1 << 20} {
		b, err := readBody(bufio.NewReader(bytes.NewReader(data)), nil, len(data), trust)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("trust %d: %v, equal %v", trust, err, bytes.Equal(b, data))
		}
	}
	// A stream that ends early: at most twice what came is allocated.
	for _, sent := range []int{0, 10, 64 << 10, 200 << 10} {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		_, err := readBody(bytes.NewReader(data[:sent]), nil, 1<<30, 0)
		runtime.ReadMemStats(&ms1)
		if err == nil {
			t.Fatal("a short body was read")
		}
		if a := ms1.TotalAlloc - ms0.TotalAlloc; a > uint64(4*max(sent, linkChunk)) {
			t.Fatalf("%d bytes of 1 GiB sent: %d allocated", sent, a)
		}
	}
	buf := make([]byte, 0, 1<<10)
	b, err := readBody(bytes.NewReader(data), buf, 100, 0)
	if err != nil || &b[0] != &buf[:1][0] {
		t.Fatal("a body that fits was not read into the buffer given")
	}
}
