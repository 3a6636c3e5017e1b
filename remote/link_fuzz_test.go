package remote

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// memConn is a link connection whose other end wrote data and closed.
type memConn struct {
	r *bytes.Reader
}

func (c *memConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "fuzz" }

// linkStream is what a sender writes on a link to target after linkMagic.
func linkStream(target string, msgs ...proto.Message) []byte {
	var q []*Frame
	for _, m := range msgs {
		q = append(q, NewFrame(m))
	}
	bufs, _ := encodeFrames(q, nil, nil)
	out := linkHello(target)
	for _, b := range bufs {
		out = append(out, b...)
	}
	return out
}

// FuzzLinkFrame feeds arbitrary bytes to the link reader, as a connection
// that sent linkMagic and then them: the target id's header and frames.
// The reader must not panic (a recovered panic is a finding too), must
// return when the input ends, and must allocate in proportion to the
// input, not to the sizes it announces.
func FuzzLinkFrame(f *testing.F) {
	msgs := testMessages()
	f.Add(linkStream("t", msgs...))
	f.Add(linkStream("sink", msgs...)) // no such actor: dead letters, multicasts batched
	f.Add(linkStream("t", &api.McastRequest{Guarantee: 1, Data: []byte("x")}, &api.Credit{Events: 2, Bytes: 3},
		&wire.ViewState{From: 1, Groups: []*wire.GroupState{{Group: []byte("g"), Held: []*wire.GroupEvent{{Seq: 1, Data: []byte("d")}}}}}))
	f.Add(append(linkHello("t"), frameHead(1<<30-1, 12)...))
	f.Add(append(linkHello("t"), frameHead(1<<30-1, 12|kindDetached)...))
	f.Add(append(linkHello("t"), frameHead(0xffffffff, 7)...))
	f.Add(append(linkHello("t"), frameHead(0, 0x7f)...))
	f.Add(binary.LittleEndian.AppendUint32(nil, 5000))
	f.Add([]byte{})

	sys := quietSystem()
	HandleLinks(sys, "t", func(proto.Message) {})
	g := guardOf(sys)
	var mu sync.Mutex // one input at a time: the allocation figures are the reader's
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		panics := g.drops[dropPanic].total.Load()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveLink(sys, &memConn{r: bytes.NewReader(data)}, Identity{})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the reader did not return at the end of its input")
		}
		runtime.ReadMemStats(&ms1)
		if g.drops[dropPanic].total.Load() != panics {
			t.Fatal("the reader panicked (recovered)")
		}
		// What decoding can make of n bytes (an empty sub-message costs a
		// struct of its own), plus a chunk and the reader's buffer; other
		// goroutines of the test allocate little meanwhile.
		if a := ms1.TotalAlloc - ms0.TotalAlloc; a > 8<<20+256*uint64(len(data)) {
			t.Fatalf("%d bytes of input: %d bytes allocated", len(data), a)
		}
	})
}

// The reader returns once its input ends, whatever the input; io.EOF in
// the middle of a frame included.
func TestHostileReaderReturnsAtTheEndOfItsInput(t *testing.T) {
	sys := quietSystem()
	HandleLinks(sys, "t", func(proto.Message) {})
	full := linkStream("t", testMessages()...)
	for cut := 0; cut <= len(full); cut += max(1, len(full)/500) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveLink(sys, &memConn{r: bytes.NewReader(full[:cut])}, Identity{})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("cut at %d of %d: the reader did not return", cut, len(full))
		}
	}
}
