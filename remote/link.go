package remote

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
)

// Links carry the bulk traffic of actorcpg (node to node, node to client)
// on plain TCP connections beside protoactor remoting, on the same port.
//
// Why: through protoactor remoting each message is marshaled twice (its
// envelope, then the envelope batch), framed and copied by gRPC, and
// unmarshaled twice on the other side. With 16-64 KiB multicasts that is
// about nine copies per hop, and the node's CPU goes to memmove and GC. A
// link marshals a message once (once for every destination of the same
// message), writes it with writev, reads it into a reused buffer and
// unmarshals it once.
//
// A link is one-way: the sender dials the receiver's remoting address,
// writes linkMagic and the id of the local actor every frame goes to, then
// frames [length uint32][kind byte][protobuf]. The receiver's gRPC server
// hands the connection over in its transport handshake (linkCreds). A link
// keeps the order of what is sent on it; what is queued when it breaks is
// lost, as on a broken remoting stream, and the next frame dials again.

// linkMagic opens a link connection; a gRPC client opens with the HTTP/2
// preface "PRI * HTTP/2.0...", so the two never mix.
const linkMagic = "CPGLINK1"

// maxLinkFrame bounds one frame: a whole message (Config.MaxMessageSize is
// at most 1 GiB) and its headers.
const maxLinkFrame = 1<<30 + 1<<20

// smallBody: bodies up to this size are copied into the write buffer;
// larger ones are written from where they are (writev).
const smallBody = 8 << 10

// linkKinds numbers the messages that travel on links.
var linkKinds = []func() proto.Message{
	1:  func() proto.Message { return new(wire.PeerHeartbeat) },
	2:  func() proto.Message { return new(wire.ViewPropose) },
	3:  func() proto.Message { return new(wire.ViewReject) },
	4:  func() proto.Message { return new(wire.ViewState) },
	5:  func() proto.Message { return new(wire.ViewInstall) },
	6:  func() proto.Message { return new(wire.Submit) },
	7:  func() proto.Message { return new(wire.Ordered) },
	8:  func() proto.Message { return new(wire.Ack) },
	9:  func() proto.Message { return new(wire.Nack) },
	10: func() proto.Message { return new(api.EventBatch) },
	11: func() proto.Message { return new(api.Control) },
	12: func() proto.Message { return new(api.McastRequest) },
	13: func() proto.Message { return new(api.McastBatch) },
	14: func() proto.Message { return new(api.JoinRequest) },
	15: func() proto.Message { return new(api.LeaveRequest) },
	16: func() proto.Message { return new(api.FinalizeRequest) },
	17: func() proto.Message { return new(api.Credit) },
}

// LinkKind returns the link kind of m, or 0 if m does not travel on links.
func LinkKind(m proto.Message) byte {
	switch m.(type) {
	case *wire.PeerHeartbeat:
		return 1
	case *wire.ViewPropose:
		return 2
	case *wire.ViewReject:
		return 3
	case *wire.ViewState:
		return 4
	case *wire.ViewInstall:
		return 5
	case *wire.Submit:
		return 6
	case *wire.Ordered:
		return 7
	case *wire.Ack:
		return 8
	case *wire.Nack:
		return 9
	case *api.EventBatch:
		return 10
	case *api.Control:
		return 11
	case *api.McastRequest:
		return 12
	case *api.McastBatch:
		return 13
	case *api.JoinRequest:
		return 14
	case *api.LeaveRequest:
		return 15
	case *api.FinalizeRequest:
		return 16
	case *api.Credit:
		return 17
	}
	return 0
}

// Frame is one message to send on links, marshaled at most once however
// many links it goes on. The message must not change once framed.
type Frame struct {
	msg  proto.Message
	kind byte
	once sync.Once
	body []byte   // the protobuf, or the detached header and skeleton
	data [][]byte // detached payloads, written from where they are
	det  bool     // body is a detached header and skeleton
	size int      // the frame's body size on the wire
	err  error
}

// NewFrame frames m; nil if m does not travel on links.
func NewFrame(m proto.Message) *Frame {
	k := LinkKind(m)
	if k == 0 {
		return nil
	}
	return &Frame{msg: m, kind: k}
}

func (f *Frame) encode() error {
	f.once.Do(func() {
		if !worthDetaching(f.msg) {
			f.body, f.err = proto.Marshal(f.msg)
			f.size = len(f.body)
			return
		}
		f.det = true
		f.body, f.data, f.err = detach(f.msg)
		f.size = len(f.body)
		for _, d := range f.data {
			f.size += len(d)
		}
	})
	return f.err
}

// linkCreds are insecure transport credentials for protoactor's gRPC
// server that hand link connections to serveLink.
type linkCreds struct {
	credentials.TransportCredentials
	system *actor.ActorSystem
}

func newLinkCreds(system *actor.ActorSystem) *linkCreds {
	return &linkCreds{TransportCredentials: insecure.NewCredentials(), system: system}
}

func (c *linkCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	var head [len(linkMagic)]byte
	n, err := io.ReadFull(raw, head[:])
	if err != nil {
		if n == 0 {
			return nil, nil, io.EOF
		}
		return nil, nil, err
	}
	if string(head[:]) == linkMagic {
		_ = raw.SetDeadline(time.Time{})
		go serveLink(c.system, raw)
		return nil, nil, credentials.ErrConnDispatched
	}
	return c.TransportCredentials.ServerHandshake(&prefixConn{Conn: raw, head: head[:]})
}

func (c *linkCreds) Clone() credentials.TransportCredentials {
	return &linkCreds{TransportCredentials: c.TransportCredentials.Clone(), system: c.system}
}

// Links to an address on this host go on a Unix socket in the abstract
// namespace named after the remoting address (Linux; like Corosync's
// local IPC): the kernel moves a byte there for about a third of what
// loopback TCP costs. Where the socket cannot be had, links use TCP.

// noLocalLinks makes links use TCP always (tests of the TCP path).
var noLocalLinks bool

// localLinkName returns the Unix socket name of a loopback remoting
// address, or "".
func localLinkName(addr string) string {
	if noLocalLinks {
		return ""
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	return "@actorcpg-link/" + addr
}

// listenLocalLinks accepts links on the Unix socket of addr; nil if addr
// is not a loopback address or the socket cannot be had.
func listenLocalLinks(system *actor.ActorSystem, addr string) net.Listener {
	name := localLinkName(addr)
	if name == "" {
		return nil
	}
	ln, err := net.Listen("unix", name)
	if err != nil {
		return nil
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				var head [len(linkMagic)]byte
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(conn, head[:]); err != nil || string(head[:]) != linkMagic {
					conn.Close()
					return
				}
				_ = conn.SetReadDeadline(time.Time{})
				serveLink(system, conn)
			}()
		}
	}()
	return ln
}

// prefixConn gives back the bytes the handshake read to find out what
// the connection is.
type prefixConn struct {
	net.Conn
	head []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// serveLink reads a link: the target actor's id, then frames, each sent
// to that actor of system. A request carrying reply_to is sent as if from
// that PID (its answer, or protoactor's dead-letter response, goes there).
// Multicasts read back to back are handed over as one McastBatch.
func serveLink(system *actor.ActorSystem, conn net.Conn) {
	if !trackLink(system, conn, true) {
		conn.Close()
		return
	}
	defer trackLink(system, conn, false)
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return
	}
	n := binary.LittleEndian.Uint32(hdr[:4])
	if n == 0 || n > 1024 {
		return
	}
	id := make([]byte, n)
	if _, err := io.ReadFull(r, id); err != nil {
		return
	}
	target := actor.NewPID(system.Address(), string(id))
	direct := linkHandler(system, target.Id)
	if watch := linkWatcher(system); watch != nil {
		watch(target.Id, true)
		defer watch(target.Id, false) // after flush (deferred later, run first)
	}
	var mcasts []*api.McastRequest
	flush := func() {
		if len(mcasts) > 0 {
			system.Root.Send(target, &api.McastBatch{Msgs: mcasts})
			mcasts = nil
		}
	}
	defer flush()
	var buf []byte
	for {
		if r.Buffered() == 0 {
			flush() // nothing more at hand: do not hold multicasts back
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		linkBytes.Add(uint64(n) + 5)
		kind := int(hdr[4] &^ kindDetached)
		if n > maxLinkFrame || kind == 0 || kind >= len(linkKinds) || linkKinds[kind] == nil {
			return
		}
		m := linkKinds[kind]()
		if hdr[4]&kindDetached != 0 {
			// Its payloads will point into body: a buffer of its own.
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			if err := attach(body, m); err != nil {
				return
			}
		} else {
			if cap(buf) < int(n) {
				buf = make([]byte, n)
			}
			body := buf[:n]
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			if err := proto.Unmarshal(body, m); err != nil {
				return
			}
			if cap(buf) > 4<<20 {
				buf = nil // do not keep a rare large buffer
			}
		}
		if direct != nil {
			direct(m)
			continue
		}
		if mr, ok := m.(*api.McastRequest); ok {
			mcasts = append(mcasts, mr)
			if len(mcasts) >= 1024 {
				flush()
			}
			continue
		}
		flush()
		if rq, ok := m.(interface{ GetReplyTo() *api.Pid }); ok && rq.GetReplyTo() != nil && rq.GetReplyTo().Id != "" {
			rt := rq.GetReplyTo()
			system.Root.RequestWithCustomSender(target, m, actor.NewPID(rt.Address, rt.Id))
			continue
		}
		system.Root.Send(target, m)
	}
}

// linkBytes counts the bytes this process wrote and read on links.
var linkBytes atomic.Uint64

// LinkBytes returns how many bytes this process has written and read on
// links so far: its bulk traffic, whatever the message count.
func LinkBytes() uint64 { return linkBytes.Load() }

// handlers are the direct link handlers of each actor system, by actor id.
var handlers sync.Map // handlerKey -> func(proto.Message)

type handlerKey struct {
	system *actor.ActorSystem
	id     string
}

// HandleLinks makes the links of system to the actor id call h in the
// reading goroutine, in link order, instead of posting each message to the
// actor's mailbox: one hand-off between goroutines less per message. h
// must not block. It is for a process's own receiving end (a client's
// events from its node), where the actor only routes. Stop it with
// UnhandleLinks.
func HandleLinks(system *actor.ActorSystem, id string, h func(proto.Message)) {
	handlers.Store(handlerKey{system, id}, h)
}

// UnhandleLinks ends HandleLinks for links that connect from now on.
func UnhandleLinks(system *actor.ActorSystem, id string) {
	handlers.Delete(handlerKey{system, id})
}

func linkHandler(system *actor.ActorSystem, id string) func(proto.Message) {
	if h, ok := handlers.Load(handlerKey{system, id}); ok {
		return h.(func(proto.Message))
	}
	return nil
}

// watchers are the link watchers of each actor system (WatchLinks).
var watchers sync.Map // *actor.ActorSystem -> func(target string, open bool)

// WatchLinks makes system call fn when a link to one of its actors (named
// by its id) opens and when it closes, in the link's reading goroutine,
// after every message the link carried: a link from a client process
// closes when the process exits or dies, however it ends, which protoactor
// does not report for a clean close. fn must not block. A later call
// replaces it; nil stops it.
func WatchLinks(system *actor.ActorSystem, fn func(target string, open bool)) {
	if fn == nil {
		watchers.Delete(system)
		return
	}
	watchers.Store(system, fn)
}

func linkWatcher(system *actor.ActorSystem) func(string, bool) {
	if fn, ok := watchers.Load(system); ok {
		return fn.(func(string, bool))
	}
	return nil
}

// served tracks the link connections each actor system reads, so that
// stopping its remoting closes them: the senders see the link break and
// dial again (a node restarted on the same address gets new links).
var served = struct {
	sync.Mutex
	conns  map[*actor.ActorSystem]map[net.Conn]bool
	closed map[*actor.ActorSystem]bool
}{conns: map[*actor.ActorSystem]map[net.Conn]bool{}, closed: map[*actor.ActorSystem]bool{}}

// trackLink adds (or removes) a served connection; false if the system's
// remoting is shut down.
func trackLink(system *actor.ActorSystem, conn net.Conn, add bool) bool {
	served.Lock()
	defer served.Unlock()
	if !add {
		delete(served.conns[system], conn)
		return true
	}
	if served.closed[system] {
		return false
	}
	m := served.conns[system]
	if m == nil {
		m = map[net.Conn]bool{}
		served.conns[system] = m
	}
	m[conn] = true
	return true
}

// closeServed closes every link connection system reads, and refuses new
// ones until doneServed (once nothing can accept them any more).
func closeServed(system *actor.ActorSystem) {
	served.Lock()
	m := served.conns[system]
	delete(served.conns, system)
	served.closed[system] = true
	served.Unlock()
	for c := range m {
		c.Close()
	}
}

func doneServed(system *actor.ActorSystem) {
	served.Lock()
	delete(served.closed, system)
	served.Unlock()
}

// Links sends frames on outgoing links, one per (address, target actor).
type Links struct {
	mu     sync.Mutex
	out    map[linkKey]*outLink
	closed bool
	tcp    bool // never a local Unix socket (NewPeerLinks)
}

type linkKey struct{ addr, target string }

// NewLinks returns an empty set of outgoing links. Links to a loopback
// address go on a local Unix socket, as a client's link to its node (like
// Corosync's local IPC).
func NewLinks() *Links { return &Links{out: make(map[linkKey]*outLink)} }

// NewPeerLinks returns an empty set of outgoing links that always use
// TCP: links between nodes, which run on separate hosts in a real
// cluster, so that nodes run side by side on one host for tests and
// benchmarks pay what a network link costs.
func NewPeerLinks() *Links { return &Links{out: make(map[linkKey]*outLink), tcp: true} }

// Send queues f for the actor target at the remoting address addr. It
// never blocks; a link that cannot be dialed drops what is queued.
func (l *Links) Send(addr, target string, f *Frame) {
	k := linkKey{addr, target}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	o, ok := l.out[k]
	if !ok {
		o = &outLink{key: k, tcp: l.tcp, wake: make(chan struct{}, 1), done: make(chan struct{})}
		l.out[k] = o
		go o.run()
	}
	l.mu.Unlock()
	o.push(f)
}

// Drop closes the link to (addr, target), if any; the next Send dials
// again.
func (l *Links) Drop(addr, target string) {
	k := linkKey{addr, target}
	l.mu.Lock()
	o := l.out[k]
	delete(l.out, k)
	l.mu.Unlock()
	if o != nil {
		o.close()
	}
}

// DropAddr closes every link to the remoting address addr.
func (l *Links) DropAddr(addr string) {
	var drop []*outLink
	l.mu.Lock()
	for k, o := range l.out {
		if k.addr == addr {
			drop = append(drop, o)
			delete(l.out, k)
		}
	}
	l.mu.Unlock()
	for _, o := range drop {
		o.close()
	}
}

// Close closes every link.
func (l *Links) Close() {
	l.mu.Lock()
	l.closed = true
	out := l.out
	l.out = nil
	l.mu.Unlock()
	for _, o := range out {
		o.close()
	}
}

type outLink struct {
	key  linkKey
	tcp  bool
	wake chan struct{}
	done chan struct{}

	mu     sync.Mutex
	q      []*Frame
	closed bool
}

func (o *outLink) push(f *Frame) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.q = append(o.q, f)
	first := len(o.q) == 1
	o.mu.Unlock()
	if first {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
}

func (o *outLink) close() {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		o.q = nil
		close(o.done)
	}
	o.mu.Unlock()
}

func (o *outLink) take(spare []*Frame) []*Frame {
	o.mu.Lock()
	q := o.q
	o.q = spare[:0]
	o.mu.Unlock()
	return q
}

// run dials when there is something to send, and writes what is queued.
func (o *outLink) run() {
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var spare []*Frame
	var scratch []byte
	var bufs net.Buffers
	for {
		select {
		case <-o.wake:
		case <-o.done:
			return
		}
		for {
			q := o.take(spare)
			if len(q) == 0 {
				spare = q
				break
			}
			if conn == nil {
				var err error
				if conn, err = o.dial(); err != nil {
					clear(q)
					spare = q[:0]
					// Drop what comes during a short back-off too: the
					// other side is down, and the protocol re-sends.
					select {
					case <-time.After(50 * time.Millisecond):
					case <-o.done:
						return
					}
					clear(o.take(nil))
					break
				}
			}
			bufs, scratch = encodeFrames(q, bufs[:0], scratch[:0])
			clear(q)
			spare = q[:0]
			w := bufs // WriteTo consumes its receiver
			n, err := w.WriteTo(conn)
			linkBytes.Add(uint64(n))
			if err != nil {
				conn.Close()
				conn = nil
			}
			clear(bufs)
			if cap(scratch) > 4<<20 {
				scratch = nil
			}
		}
	}
}

func (o *outLink) dial() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	var conn net.Conn
	var err error
	if name := localLinkName(o.key.addr); name != "" && !o.tcp {
		conn, err = d.DialContext(ctx, "unix", name)
	}
	if conn == nil {
		if conn, err = d.DialContext(ctx, "tcp", o.key.addr); err != nil {
			return nil, err
		}
	}
	switch c := conn.(type) {
	case *net.TCPConn:
		_ = c.SetNoDelay(true)
		_ = c.SetWriteBuffer(4 << 20)
	case *net.UnixConn:
		_ = c.SetWriteBuffer(4 << 20)
	}
	hello := make([]byte, 0, len(linkMagic)+4+len(o.key.target))
	hello = append(hello, linkMagic...)
	hello = binary.LittleEndian.AppendUint32(hello, uint32(len(o.key.target)))
	hello = append(hello, o.key.target...)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// encodeFrames lays out frames for one writev: headers and small bodies
// go in scratch, large bodies and payloads are referenced where they are.
func encodeFrames(q []*Frame, bufs net.Buffers, scratch []byte) (net.Buffers, []byte) {
	// scratch must not move once a slice of it is in bufs: size it first.
	need := 0
	for _, f := range q {
		if f.encode() != nil {
			continue
		}
		need += 5
		if len(f.body) <= smallBody {
			need += len(f.body)
		}
	}
	if cap(scratch) < need {
		scratch = make([]byte, 0, need)
	}
	start := 0
	for _, f := range q {
		if f.err != nil {
			continue // cannot happen with generated messages
		}
		scratch = binary.LittleEndian.AppendUint32(scratch, uint32(f.size))
		if f.det {
			scratch = append(scratch, f.kind|kindDetached)
		} else {
			scratch = append(scratch, f.kind)
		}
		if len(f.body) <= smallBody {
			scratch = append(scratch, f.body...)
		} else {
			bufs = append(bufs, scratch[start:], f.body)
			start = len(scratch)
		}
		for _, d := range f.data {
			if len(d) == 0 {
				continue
			}
			if start < len(scratch) {
				bufs = append(bufs, scratch[start:])
				start = len(scratch)
			}
			bufs = append(bufs, d)
		}
	}
	if start < len(scratch) {
		bufs = append(bufs, scratch[start:])
	}
	return bufs, scratch
}

// Large messages travel detached: their payloads (every bytes field named
// "data", in the message and its sub-messages) are written raw after a
// skeleton (the message without them), and the receiver points the
// skeleton's fields into the frame it read. Neither side copies a payload
// in user space: only the kernel does, once each way.
//
//	body = [skeleton length u32][payload count u32][payload lengths u32...]
//	       [skeleton protobuf][payloads...]
//
// A payload of length inlineData stays in the skeleton (a small one, not
// worth a writev entry).
const (
	kindDetached = 0x80
	detachMin    = 32 << 10   // messages below this are marshaled whole
	detachItem   = 2 << 10    // nor those with items below this on average
	inlineBelow  = 512        // payloads below this stay in the skeleton
	inlineData   = 0xFFFFFFFF // payload length: kept in the skeleton
	dataField    = protoreflect.Name("data")
)

// worthDetaching: m's payloads are large, and so are its items on average
// (walking thousands of small events costs more than copying them). It
// adds up payload lengths without walking the message.
func worthDetaching(m proto.Message) bool {
	if noDetach {
		return false
	}
	size, items := 0, 1
	switch m := m.(type) {
	case *wire.Ordered:
		for _, ev := range m.Events {
			size += len(ev.GetData())
		}
		items = len(m.Events)
	case *wire.Submit:
		for _, ev := range m.Events {
			size += len(ev.GetData())
		}
		items = len(m.Events)
	case *api.EventBatch:
		for _, ev := range m.Events {
			size += len(ev.GetDeliver().GetData()) + len(ev.GetPart().GetData())
		}
		items = len(m.Events)
	case *api.McastBatch:
		for _, r := range m.Msgs {
			size += len(r.GetData())
		}
		items = len(m.Msgs)
	case *api.McastRequest:
		size = len(m.Data)
	default:
		return false
	}
	return size >= detachMin && size >= detachItem*max(items, 1)
}

// noDetach turns detaching off (benchmarks compare).
var noDetach bool

// detach returns the header and skeleton of m and its payloads.
func detach(m proto.Message) (body []byte, data [][]byte, err error) {
	var lens []uint32
	skel := skeleton(m.ProtoReflect(), &data, &lens)
	sk, err := proto.Marshal(skel.Interface())
	if err != nil {
		return nil, nil, err
	}
	body = make([]byte, 0, 8+4*len(lens)+len(sk))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(sk)))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(lens)))
	for _, n := range lens {
		body = binary.LittleEndian.AppendUint32(body, n)
	}
	return append(body, sk...), data, nil
}

// skeleton copies src without its payloads (sharing everything else) and
// collects them, walking fields in declaration order; attach walks the
// same way.
func skeleton(src protoreflect.Message, data *[][]byte, lens *[]uint32) protoreflect.Message {
	dst := src.New()
	fields := src.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if isData(fd) {
			b := src.Get(fd).Bytes()
			if len(b) < inlineBelow {
				if len(b) > 0 {
					dst.Set(fd, protoreflect.ValueOfBytes(b))
				}
				*lens = append(*lens, inlineData)
				continue
			}
			*data = append(*data, b)
			*lens = append(*lens, uint32(len(b)))
			continue
		}
		if !src.Has(fd) {
			continue
		}
		v := src.Get(fd)
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			sl, dl := v.List(), dst.Mutable(fd).List()
			for j := 0; j < sl.Len(); j++ {
				dl.Append(protoreflect.ValueOfMessage(skeleton(sl.Get(j).Message(), data, lens)))
			}
		case !fd.IsList() && !fd.IsMap() && fd.Kind() == protoreflect.MessageKind:
			dst.Set(fd, protoreflect.ValueOfMessage(skeleton(v.Message(), data, lens)))
		default:
			dst.Set(fd, v)
		}
	}
	return dst
}

func isData(fd protoreflect.FieldDescriptor) bool {
	return fd.Name() == dataField && fd.Kind() == protoreflect.BytesKind && !fd.IsList()
}

// attach decodes a detached body into m; its payloads alias body.
func attach(body []byte, m proto.Message) error {
	if len(body) < 8 {
		return errBadFrame
	}
	skLen := binary.LittleEndian.Uint32(body)
	n := binary.LittleEndian.Uint32(body[4:])
	off := uint64(8) + 4*uint64(n)
	if off+uint64(skLen) > uint64(len(body)) {
		return errBadFrame
	}
	lens := body[8:off]
	if err := proto.Unmarshal(body[off:off+uint64(skLen)], m); err != nil {
		return err
	}
	w := attacher{lens: lens, rest: body[off+uint64(skLen):]}
	w.walk(m.ProtoReflect())
	if w.bad || len(w.lens) != 0 || len(w.rest) != 0 {
		return errBadFrame
	}
	return nil
}

var errBadFrame = errors.New("remote: bad link frame")

type attacher struct {
	lens []byte
	rest []byte
	bad  bool
}

func (w *attacher) walk(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len() && !w.bad; i++ {
		fd := fields.Get(i)
		if isData(fd) {
			if len(w.lens) < 4 {
				w.bad = true
				return
			}
			n := binary.LittleEndian.Uint32(w.lens)
			w.lens = w.lens[4:]
			if n == inlineData {
				continue
			}
			if uint64(n) > uint64(len(w.rest)) {
				w.bad = true
				return
			}
			if n > 0 {
				m.Set(fd, protoreflect.ValueOfBytes(w.rest[:n:n]))
			}
			w.rest = w.rest[n:]
			continue
		}
		if !m.Has(fd) || fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			continue
		}
		if fd.IsList() {
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				w.walk(l.Get(j).Message())
			}
			continue
		}
		w.walk(m.Mutable(fd).Message())
	}
}
