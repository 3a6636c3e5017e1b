package remote

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// A client session is one connection between a client process and its
// node that carries everything both ways: requests, multicasts, credits
// and heartbeats up; replies, event batches and controls down. The client
// never listens; the node knows who is on the other end from the
// transport (Identity), and each session owns the handles it created.
//
// Opening: a plain TCP connection to the remoting port, or a connection to
// the node's client Unix socket, starts with ClientMagic; a TLS connection
// with ALPN "cpg-client" starts with the frames. Then frames, each
//
//	[body length u32][kind byte][handle u64][corr u32][body]
//
// little-endian. kind is a link kind (LinkKind), with kindDetached set
// when the body is a detached payload layout (as on links); handle is the
// client's id of the handle the frame is about (0: none); corr pairs a
// request with its reply (0: a one-way message). The body is bounded as on
// links (LinkLimits.MaxFrame) and read as on links (readBody).

// ClientMagic opens a client session on a node's remoting port (plain
// TCP) or its client socket.
const ClientMagic = "CPGCLNT1"

// clientMagic is ClientMagic for the transport's dispatch (opening.go):
// a client connection without TLS.
const clientMagic = ClientMagic

// ClientALPN is the ALPN protocol of a client session over TLS
// (ALPNClient).
const ClientALPN = ALPNClient

// kindAwait, set in the kind byte of a frame a client sends, says the
// client waits for the answer to it with nothing else in flight: a round
// trip (a request, or a multicast it will receive back). Both ends then
// poll the connection for a while (SessionConn.SetSpin) instead of
// parking their reader at once: the client for the answer, the node for
// the client's next frame, which in a round-trip loop follows the answer
// within microseconds. On a machine where waking a sleeping thread costs
// tens of microseconds, those two wake-ups are most of a round trip. It
// is a hint: a node that ignores it answers the same.
const kindAwait = 0x40

// maxSpinners bounds the session readers of a process that poll at once;
// the others park at once.
const maxSpinners = 2

// spinners counts the session readers polling now.
var spinners atomic.Int32

// sessionHeader is the size of a session frame's header.
const sessionHeader = 17

// toNodeKinds are the kinds a client may send its node.
var toNodeKinds = kindSet(12, 13, 14, 15, 16, 17, 18, 20, 22, 24, 26)

// toClientKinds are the kinds a node sends its clients.
var toClientKinds = kindSet(10, 11, 19, 21, 23, 25, 27, 28)

func kindSet(kinds ...byte) (s [128]bool) {
	for _, k := range kinds {
		s[k] = true
	}
	return s
}

// SessionFrame is one frame read from a session.
type SessionFrame struct {
	// Handle is the client's id of the handle the frame is about.
	Handle uint64
	// Corr pairs a request with its reply; 0 for one-way messages.
	Corr uint32
	// Msg is the decoded message.
	Msg proto.Message
}

// SessionConn is one end of a client session: a reader of frames (one
// goroutine calls Read) and an ordered, batched writer (Send from any
// goroutine, never blocking; one goroutine writes with writev).
type SessionConn struct {
	conn  net.Conn
	raw   syscall.RawConn // nil: conn cannot be polled (TLS, in memory)
	g     *linkGuard
	kinds *[128]bool
	r     *frameReader
	buf   []byte
	trust int
	hdr   [sessionHeader]byte

	// spin is how long (ns) to poll for a frame awaited in a round trip
	// (kindAwait; 0: never); spinUntil the time (unix ns) the reader
	// polls until.
	spin      atomic.Int64
	spinUntil atomic.Int64
	polled    atomic.Uint64 // reads that found data while polling
	client    bool

	mu        sync.Mutex
	q         []sessionOut
	queued    uint64 // bytes queued and not yet written
	maxQueued uint64
	closed    bool
	wake      chan struct{}
	done      chan struct{}

	// wmu is held by whoever writes to conn: the writing goroutine, or a
	// caller of SendMcast (sessiondirect.go), which uses direct.
	wmu    sync.Mutex
	direct directWriter
	wv     net.Buffers   // what is being written (WriteTo consumes its receiver)
	bw     *bufio.Writer // TLS: the pieces of a write go out as few records
}

type sessionOut struct {
	f      *Frame
	handle uint64
	corr   uint32
	await  bool // a request the client waits for (kindAwait)
}

// NewNodeSession serves the node end of a session on conn for system:
// frames read are bounded by the system's LinkLimits, and what it drops
// is counted and logged as link input is (LinkDrops). maxQueued bounds the
// bytes waiting to be written to the client (0: no bound); a client that
// lets more pile up is cut off.
func NewNodeSession(system *actor.ActorSystem, conn net.Conn, maxQueued uint64) *SessionConn {
	return newSessionConn(conn, guardOf(system), &toNodeKinds, maxQueued)
}

// clientGuard bounds and counts what clients read from their nodes.
var clientGuard = func() *linkGuard {
	g := &linkGuard{}
	def := DefaultLinkLimits()
	g.limits.Store(&def)
	return g
}()

// NewClientSession serves the client end of a session on conn (see
// DialSession): frames read are bounded by DefaultLinkLimits.
func NewClientSession(conn net.Conn) *SessionConn {
	return newSessionConn(conn, clientGuard, &toClientKinds, 0)
}

func newSessionConn(conn net.Conn, g *linkGuard, kinds *[128]bool, maxQueued uint64) *SessionConn {
	setSocketBuffers(conn)
	var bw *bufio.Writer
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn: // writev
	default:
		bw = bufio.NewWriterSize(conn, 64<<10)
	}
	s := &SessionConn{bw: bw, client: kinds == &toClientKinds,
		conn: conn, g: g, kinds: kinds,
		maxQueued: maxQueued, wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			s.raw = raw
		}
	}
	s.r = newFrameReader(sessionSource{s}, 64<<10)
	s.spin.Store(int64(DefaultSessionSpin))
	go s.write()
	return s
}

// DefaultSessionSpin is how long a session's reader polls for a frame
// awaited in a round trip (kindAwait) before it parks, unless SetSpin
// says otherwise.
const DefaultSessionSpin = 50 * time.Microsecond

// SetSpin sets how long the session's reader polls for a frame awaited in
// a round trip before it parks (0: never). Only sockets are polled (Unix
// and TCP, not TLS), by at most maxSpinners readers of the process at
// once; polling costs a core for at most d per round trip.
func (s *SessionConn) SetSpin(d time.Duration) { s.spin.Store(int64(max(d, 0))) }

// awaiting makes the reader poll for the next d (the session's spin).
func (s *SessionConn) awaiting() {
	if d := s.spin.Load(); d > 0 && s.raw != nil {
		s.spinUntil.Store(time.Now().UnixNano() + d)
	}
}

// sessionSource is what a session's frameReader reads: the connection,
// polled (without parking) while a round trip's frame is awaited.
type sessionSource struct{ s *SessionConn }

func (r sessionSource) Read(p []byte) (int, error) {
	s := r.s
	if until := s.spinUntil.Load(); s.raw == nil || until == 0 || until <= time.Now().UnixNano() {
		return s.conn.Read(p) // never awaited (no clock read), or no longer
	}
	if spinners.Add(1) > maxSpinners {
		spinners.Add(-1)
		return s.conn.Read(p)
	}
	defer spinners.Add(-1)
	var n int
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			switch {
			case rerr == syscall.EINTR:
				continue
			case rerr != syscall.EAGAIN:
				if n < 0 {
					n = 0
				}
				if n == 0 && rerr == nil {
					rerr = io.EOF
				}
				return true
			case s.spinUntil.Load() <= time.Now().UnixNano():
				return false // park: the runtime calls again once readable
			}
			runtime.Gosched() // the process's other goroutines first
		}
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.polled.Add(1)
	}
	if rerr != nil {
		return n, &net.OpError{Op: "read", Net: s.conn.LocalAddr().Network(), Addr: s.conn.LocalAddr(), Err: rerr}
	}
	return n, nil
}

func setSocketBuffers(conn net.Conn) {
	switch c := conn.(type) {
	case *net.TCPConn:
		_ = c.SetNoDelay(true)
		_ = c.SetWriteBuffer(4 << 20)
	case *net.UnixConn:
		_ = c.SetWriteBuffer(4 << 20)
	}
}

// errSessionInput: the other end sent something malformed; the
// connection is closed (and the drop counted).
var errSessionInput = errors.New("remote: malformed session input")

// Buffered returns how many bytes are read and not yet decoded: 0 means
// the next Read waits for the connection.
func (s *SessionConn) Buffered() int { return s.r.Buffered() }

// Read returns the next frame. An error ends the session: the connection
// closed, or sent something malformed (then Read closes it).
func (s *SessionConn) Read() (SessionFrame, error) {
	hdr, err := s.r.next(sessionHeader)
	if err != nil {
		return SessionFrame{}, err
	}
	copy(s.hdr[:], hdr)
	n := binary.LittleEndian.Uint32(s.hdr[:4])
	kind := int(s.hdr[4] &^ (kindDetached | kindAwait))
	if s.hdr[4]&kindAwait != 0 && !s.client {
		s.awaiting() // the client's next frame follows the answer
	}
	if !s.kinds[kind] {
		return s.refuse(dropKind, "session kind "+strconv.Itoa(int(s.hdr[4])))
	}
	if bound := s.g.limits.Load().MaxFrame; uint64(n) > bound {
		return s.refuse(dropSize, strconv.FormatUint(uint64(n), 10)+" bytes announced, session kind "+
			strconv.Itoa(kind)+", limit "+strconv.FormatUint(bound, 10))
	}
	if int(n) > s.r.Size() && int(n) <= s.trust && s.r.Size() < maxSessionBuffer && !noGrow {
		s.growBuffer(int(n))
	}
	f := SessionFrame{
		Handle: binary.LittleEndian.Uint64(s.hdr[5:13]),
		Corr:   binary.LittleEndian.Uint32(s.hdr[13:17]),
		Msg:    linkKinds[kind](),
	}
	if s.hdr[4]&kindDetached != 0 {
		body, err := readBody(s.r, nil, int(n), s.trust)
		if err != nil {
			return SessionFrame{}, err
		}
		if err := attach(body, f.Msg); err != nil {
			return s.refuse(dropBody, "session kind "+strconv.Itoa(kind)+" detached: "+err.Error())
		}
	} else if fastKind(kind) {
		// Decoded where it lies in the read buffer (its payloads copied
		// out), or, larger than that, read into a buffer of its own that
		// its large payloads point into.
		var body []byte
		var err error
		owned := int(n) > s.r.Size()
		if owned {
			body, err = s.r.readOwned(int(n), s.trust)
		} else {
			body, err = s.r.next(int(n))
		}
		if err != nil {
			return SessionFrame{}, err
		}
		if !decodeFast(body, f.Msg, owned) {
			if err := proto.Unmarshal(body, f.Msg); err != nil {
				return s.refuse(dropBody, "session kind "+strconv.Itoa(kind)+": "+err.Error())
			}
		}
	} else {
		body, err := readBody(s.r, s.buf, int(n), s.trust)
		if err != nil {
			return SessionFrame{}, err
		}
		s.buf = body
		if err := proto.Unmarshal(body, f.Msg); err != nil {
			return s.refuse(dropBody, "session kind "+strconv.Itoa(kind)+": "+err.Error())
		}
		if cap(s.buf) > 4<<20 {
			s.buf = nil
		}
	}
	s.trust = max(s.trust, int(n))
	linkBytes.Add(uint64(n) + sessionHeader)
	return f, nil
}

// noGrow keeps session read buffers at their first size (benchmarks).
var noGrow bool

// maxSessionBuffer bounds a session's read buffer.
const maxSessionBuffer = 4 << 20

// growBuffer gives the session a read buffer that holds several bodies
// of n bytes (up to maxSessionBuffer), once the other end has sent one
// larger than its buffer in full: its bodies are then copied out of it
// (readOwned), not read into buffers zeroed first, and a read takes
// several at once.
func (s *SessionConn) growBuffer(n int) {
	size := s.r.Size()
	for size < 4*(n+sessionHeader) && size < maxSessionBuffer {
		size *= 2
	}
	s.r.grow(min(size, maxSessionBuffer))
}

func (s *SessionConn) refuse(reason dropReason, detail string) (SessionFrame, error) {
	s.g.drop(reason, s.conn, detail)
	s.Close()
	return SessionFrame{}, errSessionInput
}

// Refused counts and logs a session closed for a panic while serving it
// (the caller recovers; the connection, not the process, ends).
func (s *SessionConn) Refused(p any) {
	s.g.drop(dropPanic, s.conn, fmt.Sprint(p))
	s.Close()
}

// Send queues m for the other end, with the handle and correlation id of
// its frame header. It never blocks. It returns false if the session is
// closed, or if the bytes queued would exceed the session's bound (then
// it closes the session: its client stopped reading).
func (s *SessionConn) Send(handle uint64, corr uint32, f *Frame) bool {
	if f == nil || f.encode() != nil {
		return false
	}
	size := uint64(f.size) + sessionHeader
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.maxQueued > 0 && s.queued+size > s.maxQueued && s.queued > 0 {
		s.mu.Unlock()
		s.g.drop(dropSize, s.conn, "client does not read: "+strconv.FormatUint(s.queued, 10)+" bytes queued")
		s.Close()
		return false
	}
	await := s.client && corr != 0
	s.q = append(s.q, sessionOut{f: f, handle: handle, corr: corr, await: await})
	s.queued += size
	first := len(s.q) == 1
	s.mu.Unlock()
	if await {
		s.awaiting()
	}
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Queued returns the bytes queued and not yet written.
func (s *SessionConn) Queued() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued
}

// Close closes the session's connection; what is queued is dropped.
// Closing twice does nothing more.
func (s *SessionConn) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.q = nil
	close(s.done)
	s.mu.Unlock()
	s.conn.Close()
}

// Done is closed once the session is closed.
func (s *SessionConn) Done() <-chan struct{} { return s.done }

// Conn returns the session's connection.
func (s *SessionConn) Conn() net.Conn { return s.conn }

// take takes what is queued, giving the queue spare (nil and no swap if
// nothing is queued); its caller holds wmu.
func (s *SessionConn) take(spare []sessionOut) []sessionOut {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.q) == 0 {
		return nil
	}
	q := s.q
	s.q = spare[:0]
	return q
}

// write writes what is queued, in order, batched with writev.
func (s *SessionConn) write() {
	var spare []sessionOut
	var scratch []byte
	var bufs net.Buffers
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		for {
			s.wmu.Lock()
			q := s.take(spare)
			if len(q) == 0 {
				s.wmu.Unlock()
				break
			}
			var size uint64
			bufs, scratch, size = encodeSessionFrames(q, bufs[:0], scratch[:0])
			clear(q)
			spare = q[:0]
			n, err := s.writeBufs(bufs)
			linkBytes.Add(uint64(n))
			clear(bufs)
			if cap(scratch) > 4<<20 {
				scratch = nil
			}
			s.mu.Lock()
			s.queued -= min(s.queued, size)
			s.mu.Unlock()
			s.wmu.Unlock()
			if err != nil {
				s.Close()
				return
			}
		}
	}
}

// writeBufs writes bufs: with writev, or through bw (TLS); its caller
// holds wmu.
func (s *SessionConn) writeBufs(bufs net.Buffers) (int64, error) {
	if s.bw != nil {
		return writeBuffers(s.conn, s.bw, bufs)
	}
	s.wv = bufs
	return s.wv.WriteTo(s.conn)
}

// encodeSessionFrames lays out session frames for one writev, as
// encodeFrames does link frames, and returns the bytes they count for in
// the queue.
func encodeSessionFrames(q []sessionOut, bufs net.Buffers, scratch []byte) (net.Buffers, []byte, uint64) {
	need := 0
	for _, o := range q {
		need += sessionHeader
		if len(o.f.body) <= smallBody {
			need += len(o.f.body)
		}
	}
	if cap(scratch) < need {
		scratch = make([]byte, 0, need)
	}
	var size uint64
	start := 0
	for _, o := range q {
		f := o.f
		size += uint64(f.size) + sessionHeader
		scratch = binary.LittleEndian.AppendUint32(scratch, uint32(f.size))
		kind := f.wireKind()
		if o.await {
			kind |= kindAwait
		}
		scratch = append(scratch, kind)
		scratch = binary.LittleEndian.AppendUint64(scratch, o.handle)
		scratch = binary.LittleEndian.AppendUint32(scratch, o.corr)
		bufs, scratch, start = appendBody(bufs, scratch, start, f)
	}
	if start < len(scratch) {
		bufs = append(bufs, scratch[start:])
	}
	return bufs, scratch, size
}
