package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
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

// maxLinkFrame is the ceiling of every frame: the largest frame a node
// configured with Validate's largest sizes (MaxMessageSize 1 GiB,
// LinkFragment 4 MiB) can legitimately send (frameBound).
const maxLinkFrame = 1<<30 + 4*(4<<20) + frameSlack

// maxTargetID bounds the target id of a link's opening.
const maxTargetID = 1024

// linkHelloTimeout bounds how long a new connection may take to say what
// it is (linkMagic and its target id): a sender writes both at once.
const linkHelloTimeout = 10 * time.Second

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
	// Kinds from firstSessionKind on travel on client sessions only
	// (session.go), never on links.
	18: func() proto.Message { return new(api.InitRequest) },
	19: func() proto.Message { return new(api.InitReply) },
	20: func() proto.Message { return new(api.MembershipRequest) },
	21: func() proto.Message { return new(api.MembershipReply) },
	22: func() proto.Message { return new(api.IterationRequest) },
	23: func() proto.Message { return new(api.IterationReply) },
	24: func() proto.Message { return new(api.LocalGetRequest) },
	25: func() proto.Message { return new(api.LocalGetReply) },
	26: func() proto.Message { return new(api.Heartbeat) },
	27: func() proto.Message { return new(api.HeartbeatAck) },
	28: func() proto.Message { return new(api.Status) },
}

// firstSessionKind is the first kind that travels on client sessions
// only: a link carrying one is closed.
const firstSessionKind = 18

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
	case *api.InitRequest:
		return 18
	case *api.InitReply:
		return 19
	case *api.MembershipRequest:
		return 20
	case *api.MembershipReply:
		return 21
	case *api.IterationRequest:
		return 22
	case *api.IterationReply:
		return 23
	case *api.LocalGetRequest:
		return 24
	case *api.LocalGetReply:
		return 25
	case *api.Heartbeat:
		return 26
	case *api.HeartbeatAck:
		return 27
	case *api.Status:
		return 28
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
	data [][]byte // detached or gathered payloads, written from where they are
	cuts []int    // gathered (fastcodec.go): data[i] goes after body[:cuts[i]]
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
		if f.gather() {
			return
		}
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

// ListenLocalLinks accepts links on the Unix socket of addr, with the
// opening of the remoting port (OpenConn: TLS with sec) but no gRPC; nil
// if addr is not a loopback address or the socket cannot be had.
func ListenLocalLinks(system *actor.ActorSystem, addr string, sec *Security) net.Listener {
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
			go func() { _, _, _ = OpenConn(system, sec, conn, false) }()
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
//
// Whoever can reach the port can open a link, so the reader trusts no
// size it is told (each is checked against the system's LinkLimits before
// anything is allocated for it, and a body's buffer grows as its bytes
// arrive: readBody), closes a connection that sends anything malformed,
// and closes the connection, not the process, if reading or handing over
// a frame panics. Each such drop is counted and logged at most once a
// second per reason (linkGuard).
//
// The sender is the certificate: with an authenticated peer (TLS), a
// peer-protocol frame (a kind below firstClientKind) must carry the node
// id the peer's certificate names as its From, and a peer that is not a
// node may send none; otherwise the connection is closed ("forged
// sender"). Without TLS (id zero, the insecure mode) From is believed.
func serveLink(system *actor.ActorSystem, conn net.Conn, id Identity) {
	if !trackLink(system, conn, true) {
		conn.Close()
		return
	}
	g := guardOf(system)
	defer trackLink(system, conn, false)
	defer conn.Close()
	defer func() { // deferred before the rest: it runs after them
		if p := recover(); p != nil {
			g.drop(dropPanic, conn, fmt.Sprint(p))
		}
	}()
	// The opening is read straight from conn, with a deadline, before a
	// read buffer is given to the connection.
	var hdr [5]byte
	_ = conn.SetReadDeadline(time.Now().Add(linkHelloTimeout))
	if _, err := io.ReadFull(conn, hdr[:4]); err != nil {
		g.dropStalled(conn, err)
		return
	}
	n := binary.LittleEndian.Uint32(hdr[:4])
	if n == 0 || n > maxTargetID {
		g.drop(dropHello, conn, "target id of "+strconv.FormatUint(uint64(n), 10)+" bytes")
		return
	}
	tid := make([]byte, n)
	if _, err := io.ReadFull(conn, tid); err != nil {
		g.dropStalled(conn, err)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	r := bufio.NewReaderSize(conn, 64<<10)
	if accept := linkAcceptor(system); accept != nil && !accept(string(tid)) {
		g.drop(dropHello, conn, "link to "+strconv.Quote(string(tid))+" refused")
		return
	}
	target := actor.NewPID(system.Address(), string(tid))
	direct := linkHandler(system, target.Id)
	var mcasts []*api.McastRequest
	flush := func() {
		if len(mcasts) > 0 {
			system.Root.Send(target, &api.McastBatch{Msgs: mcasts})
			mcasts = nil
		}
	}
	defer flush()
	var buf []byte
	trust := 0 // the largest body this connection has delivered in full
	for {
		if r.Buffered() == 0 {
			flush() // nothing more at hand: do not hold multicasts back
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		kind := int(hdr[4] &^ kindDetached)
		if kind == 0 || kind >= firstSessionKind || linkKinds[kind] == nil {
			g.drop(dropKind, conn, "kind "+strconv.Itoa(int(hdr[4])))
			return
		}
		lim := g.limits.Load()
		bound := lim.MaxFrame
		if kind < firstClientKind {
			bound = lim.MaxPeerFrame
		}
		if uint64(n) > bound {
			g.drop(dropSize, conn, strconv.FormatUint(uint64(n), 10)+" bytes announced, kind "+
				strconv.Itoa(kind)+", limit "+strconv.FormatUint(bound, 10))
			return
		}
		m := linkKinds[kind]()
		if hdr[4]&kindDetached != 0 {
			// Its payloads will point into body: a buffer of its own.
			body, err := readBody(r, nil, int(n), trust)
			if err != nil {
				return
			}
			if err := attach(body, m); err != nil {
				g.drop(dropBody, conn, "kind "+strconv.Itoa(kind)+" detached: "+err.Error())
				return
			}
		} else if fastKind(kind) {
			// Decoded where it lies in the read buffer if it is all there
			// (payloads copied out), else read into a body of its own
			// (large payloads point into it).
			body, owned := []byte(nil), int(n) > r.Buffered()
			if owned {
				var err error
				if body, err = readOwned(r, int(n), trust); err != nil {
					return
				}
			} else {
				body, _ = r.Peek(int(n))
			}
			if !decodeFast(body, m, owned) {
				if err := proto.Unmarshal(body, m); err != nil {
					g.drop(dropBody, conn, "kind "+strconv.Itoa(kind)+": "+err.Error())
					return
				}
			}
			if !owned {
				_, _ = r.Discard(int(n))
			}
		} else {
			body, err := readBody(r, buf, int(n), trust)
			if err != nil {
				return
			}
			buf = body
			if err := proto.Unmarshal(body, m); err != nil {
				g.drop(dropBody, conn, "kind "+strconv.Itoa(kind)+": "+err.Error())
				return
			}
			if cap(buf) > 4<<20 {
				buf = nil // do not keep a rare large buffer
			}
		}
		if id.Authenticated && kind < firstClientKind {
			if from := m.(interface{ GetFrom() uint32 }).GetFrom(); id.Node == 0 || from != id.Node {
				g.drop(dropForged, conn, "kind "+strconv.Itoa(kind)+" from "+
					strconv.FormatUint(uint64(from), 10)+" on a link of "+id.String())
				return
			}
		}
		trust = max(trust, int(n))
		linkBytes.Add(uint64(n) + 5)
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

// linkChunk is what a frame header alone can make a link reader allocate:
// a larger body's buffer grows as its bytes arrive (readBody).
const linkChunk = 64 << 10

// readBody reads an n-byte frame body, into buf when it has room (the
// common case: no allocation). Otherwise it allocates, as bytes arrive: at
// first min(n, max(linkChunk, trust)) bytes, trust being the largest body
// the connection has already delivered in full, then twice as much
// (capped at n) each time the buffer fills. A header announcing a large
// body thus costs linkChunk, a stalled sender holds at most twice what it
// sent of the frame (or what it sent in one earlier frame), and a link
// that keeps carrying large frames reads each into one buffer of its exact
// size with no copy.
func readBody(r io.Reader, buf []byte, n, trust int) ([]byte, error) {
	if n <= cap(buf) {
		b := buf[:n]
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, min(n, max(linkChunk, trust)))
	got := 0
	for {
		k, err := io.ReadFull(r, b[got:])
		got += k
		if err != nil {
			return nil, err
		}
		if got == n {
			return b, nil
		}
		nb := make([]byte, min(n, 2*len(b)))
		copy(nb, b)
		b = nb
	}
}

// readOwned reads an n-byte body into a buffer of its own, which the
// message decoded from it may alias: copied out of r's buffer when it
// holds the whole body, else read as readBody does (an allocation bounded
// by what arrives).
func readOwned(r *bufio.Reader, n, trust int) ([]byte, error) {
	if n <= r.Size() {
		p, err := r.Peek(n)
		if err != nil {
			return nil, err
		}
		b := append([]byte(nil), p...)
		_, _ = r.Discard(n)
		return b, nil
	}
	return readBody(r, nil, n, trust)
}

// LinkLimits bound what the link reader of an actor system accepts from
// the other end of a connection, before it trusts any of it: anyone who
// can reach the node's port (or, on its host, its abstract Unix socket)
// can open a link. A frame announcing more than its bound closes its
// connection, and is counted (LinkDrops); no frame header makes the reader
// allocate more than a small chunk before the bytes arrive (readBody).
type LinkLimits struct {
	// MaxFrame bounds one frame of the kinds a client and its node
	// exchange (event batches, controls, multicasts, join, leave,
	// finalize, credits): LinkLimitsFor derives it from the node's
	// message sizes; 0 is the ceiling of any configuration.
	MaxFrame uint64
	// MaxPeerFrame bounds one frame of the node-to-node kinds
	// (heartbeats, views, Submit, Ordered, Ack, Nack). Their size grows
	// with the number of groups and their unstable messages (a ViewState
	// carries every group's held messages, an Ack and a ViewInstall a
	// line per group), which no setting bounds; 0 is the ceiling.
	MaxPeerFrame uint64
	// Log receives one line per second at most for each reason input is
	// dropped (the connection closed), saying how many were dropped since
	// the last line. The zero Logger logs nothing; LinkDrops counts all.
	Log zerolog.Logger
}

// frameSlack is the headroom of frameBound for headers: the frame's own
// fields, a detached frame's payload table, and the one event of a batch
// that is not a delivery (a confchg of tens of thousands of members).
const frameSlack = 1 << 20

// frameBound is the largest client-kind frame a node with these sizes
// sends or accepts:
//
//   - A client's multicast (McastRequest) goes whole on its link: its data
//     is at most maxMessage (the client refuses more, and so does the
//     handle), plus a few fields.
//   - An event batch to a client is cut once its events (as
//     api.EventSize counts them: data + 64 bytes each) reach fragment;
//     the event that reaches it may be a whole delivery of maxMessage
//     (links carry deliveries whole). An event's encoding exceeds its
//     count by its group name (up to 128 bytes) and field tags: at most
//     2.5 times the count for an empty one, plus 4 bytes of the detached
//     payload table: below 4 * fragment in all.
//   - Controls, credits, join, leave, finalize are a few hundred bytes.
//
// Node-to-node frames are not bounded by these sizes (LinkLimits).
func frameBound(maxMessage uint64, fragment uint32) uint64 {
	return maxMessage + 4*uint64(fragment) + frameSlack
}

// firstClientKind is the first kind of the client-node messages; the
// kinds below it travel between nodes.
const firstClientKind = 10

// DefaultLinkLimits are the limits of a system nobody set them for: the
// ceiling of any valid configuration, so that a process that does not
// know its peers' settings (a client before its node answers) refuses no
// legitimate frame. Memory stays bounded by what is sent, not announced.
func DefaultLinkLimits() LinkLimits {
	return LinkLimits{MaxFrame: maxLinkFrame, MaxPeerFrame: maxLinkFrame}
}

// LinkLimitsFor returns the limits of a node configured by c (zero sizes
// count as DefaultConfig's): client-kind frames bounded by its
// MaxMessageSize and LinkFragment (frameBound: 69 MiB with the
// defaults), node-to-node frames by the ceiling.
func LinkLimitsFor(c *Config) LinkLimits {
	d := DefaultConfig()
	msg, frag := c.MaxMessageSize, c.LinkFragment
	if msg == 0 {
		msg = d.MaxMessageSize
	}
	if frag == 0 {
		frag = d.LinkFragment
	}
	return LinkLimits{MaxFrame: min(frameBound(msg, frag), maxLinkFrame), MaxPeerFrame: maxLinkFrame}
}

// SetLinkLimits sets the limits of the links system reads, the open ones
// included (zero bounds are the ceiling), until its remoting is shut down
// (Shutdown).
func SetLinkLimits(system *actor.ActorSystem, l LinkLimits) {
	if l.MaxFrame == 0 {
		l.MaxFrame = maxLinkFrame
	}
	if l.MaxPeerFrame == 0 {
		l.MaxPeerFrame = maxLinkFrame
	}
	guardOf(system).limits.Store(&l)
}

// LinkDrops returns how many link connections system has closed so far
// for each reason (a name, as the log lines give it).
func LinkDrops(system *actor.ActorSystem) map[string]uint64 {
	g := guardOf(system)
	out := make(map[string]uint64, nDropReasons)
	for i := range g.drops {
		out[dropNames[i]] = g.drops[i].total.Load()
	}
	return out
}

// Why a link reader closes a connection.
type dropReason int

const (
	dropHello  dropReason = iota // the opening is malformed or stalls
	dropSize                     // a frame announces more than its bound
	dropKind                     // a frame of no known kind
	dropBody                     // a body that does not decode
	dropPanic                    // reading or handing over a frame panicked
	dropNotTLS                   // a plain opening where TLS is required
	dropAuth                     // no certificate the cluster accepts here
	dropForged                   // a peer frame whose From is not the certificate's node
	dropBusy                     // too many connections in their opening
	nDropReasons
)

var dropNames = [nDropReasons]string{"bad opening", "frame too large", "unknown kind", "bad body", "panic",
	"not TLS", "not authenticated", "forged sender", "too many openings"}

// linkGuard holds an actor system's link limits and counts what its
// readers drop.
type linkGuard struct {
	limits   atomic.Pointer[LinkLimits]
	drops    [nDropReasons]dropCount
	openings atomic.Int64 // connections in their opening (OpenConn)
}

// dropCount counts the drops of one reason and rate-limits their log.
type dropCount struct {
	total atomic.Uint64

	mu     sync.Mutex
	since  uint64    // dropped and not reported yet
	last   time.Time // when the last line was written
	armed  bool      // a line is due when a second has passed
	peer   string    // the last drop's peer and detail, for the next line
	detail string
}

// dropEvery is the least time between two log lines of one reason.
const dropEvery = time.Second

var guards sync.Map // *actor.ActorSystem -> *linkGuard

func guardOf(system *actor.ActorSystem) *linkGuard {
	if g, ok := guards.Load(system); ok {
		return g.(*linkGuard)
	}
	g := &linkGuard{}
	def := DefaultLinkLimits()
	g.limits.Store(&def)
	v, _ := guards.LoadOrStore(system, g)
	return v.(*linkGuard)
}

// drop counts a connection closed for reason, and logs it unless a line
// for the reason was written less than dropEvery ago; then the next line,
// due dropEvery after the last, reports it.
func (g *linkGuard) drop(reason dropReason, conn net.Conn, detail string) {
	d := &g.drops[reason]
	d.total.Add(1)
	peer := ""
	if a := conn.RemoteAddr(); a != nil {
		peer = a.Network() + ":" + a.String()
	}
	d.mu.Lock()
	d.since++
	d.peer, d.detail = peer, detail
	d.mu.Unlock()
	g.report(reason)
}

// report writes the line of reason's drops not reported yet, if there are
// any and the last line is dropEvery old; otherwise it makes sure a later
// call will.
func (g *linkGuard) report(reason dropReason) {
	d := &g.drops[reason]
	now := time.Now()
	d.mu.Lock()
	if d.since == 0 {
		d.mu.Unlock()
		return
	}
	if wait := d.last.Add(dropEvery).Sub(now); wait > 0 {
		if !d.armed {
			d.armed = true
			time.AfterFunc(wait, func() {
				d.mu.Lock()
				d.armed = false
				d.mu.Unlock()
				g.report(reason)
			})
		}
		d.mu.Unlock()
		return
	}
	n, peer, detail := d.since, d.peer, d.detail
	d.since, d.last = 0, now
	d.mu.Unlock()
	log := &g.limits.Load().Log
	log.Warn().Str("reason", dropNames[reason]).Uint64("dropped", n).Uint64("total", d.total.Load()).
		Str("last_peer", peer).Str("last", detail).Msg("link input dropped, connections closed")
}

// dropStalled counts an opening that did not come in time; a connection
// that just closes is not counted.
func (g *linkGuard) dropStalled(conn net.Conn, err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		g.drop(dropHello, conn, "no opening within "+linkHelloTimeout.String())
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

// acceptors are the link target filters of each actor system
// (AcceptLinks).
var acceptors sync.Map // *actor.ActorSystem -> func(target string) bool

// AcceptLinks makes system refuse links to the actors (named by their id)
// for which accept is false: a node takes links to its node actor only
// (from other nodes), since its clients come on sessions. nil accepts
// every target.
func AcceptLinks(system *actor.ActorSystem, accept func(target string) bool) {
	if accept == nil {
		acceptors.Delete(system)
		return
	}
	acceptors.Store(system, accept)
}

func linkAcceptor(system *actor.ActorSystem) func(string) bool {
	if fn, ok := acceptors.Load(system); ok {
		return fn.(func(string) bool)
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

// CloseServed closes every link connection system reads, and refuses new
// ones until DoneServed (once nothing can accept them any more): the
// first step of stopping a node's port.
func CloseServed(system *actor.ActorSystem) {
	served.Lock()
	m := served.conns[system]
	delete(served.conns, system)
	served.closed[system] = true
	served.Unlock()
	for c := range m {
		c.Close()
	}
}

// DoneServed ends CloseServed's refusal once nothing can accept links
// for system any more, and forgets its drop counts.
func DoneServed(system *actor.ActorSystem) {
	served.Lock()
	delete(served.closed, system)
	served.Unlock()
	guards.Delete(system)
}

// Links sends frames on outgoing links, one per (address, target actor).
type Links struct {
	mu     sync.Mutex
	out    map[linkKey]*outLink
	closed bool
	tcp    bool // never a local Unix socket (NewPeerLinks)
	sec    *Security
	nodeOf func(addr string) uint32
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
//
// With sec nil links are plain TCP (the insecure mode). With sec, each
// link is TLS 1.3 with sec's certificate (ALPN "cpg-link"), and the server
// must present a certificate of sec's CA naming the node nodeOf(addr)
// says listens there: a link to an address nodeOf does not know (0), or
// to a server that is another node, fails its handshake.
func NewPeerLinks(sec *Security, nodeOf func(addr string) uint32) *Links {
	return &Links{out: make(map[linkKey]*outLink), tcp: true, sec: sec, nodeOf: nodeOf}
}

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
		o = &outLink{key: k, tcp: l.tcp, sec: l.sec, nodeOf: l.nodeOf, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	key    linkKey
	tcp    bool
	sec    *Security
	nodeOf func(addr string) uint32
	wake   chan struct{}
	done   chan struct{}

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
	var bw *bufio.Writer // with TLS: small pieces go in one record
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
				if conn, err = o.dial(); err == nil && o.sec != nil {
					if bw == nil {
						bw = bufio.NewWriterSize(conn, 64<<10)
					}
					bw.Reset(conn)
				}
				if err != nil {
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
			n, err := writeBuffers(conn, bw, bufs)
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

// writeBuffers writes bufs to conn: with writev, or through bw when it is
// not nil.
func writeBuffers(conn net.Conn, bw *bufio.Writer, bufs net.Buffers) (int64, error) {
	if bw == nil {
		w := bufs // WriteTo consumes its receiver
		return w.WriteTo(conn)
	}
	var n int64
	for _, b := range bufs {
		m, err := bw.Write(b)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
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
	if o.sec != nil {
		var expect uint32
		if o.nodeOf != nil {
			if expect = o.nodeOf(o.key.addr); expect == 0 {
				conn.Close()
				return nil, fmt.Errorf("remote: link to %s: no node of the cluster listens there", o.key.addr)
			}
		}
		tc := tls.Client(conn, o.sec.clientConfig(ALPNLink, expect))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("remote: link to %s: %w", o.key.addr, err)
		}
		conn = tc
	}
	hello := make([]byte, 0, len(linkMagic)+4+len(o.key.target))
	if o.sec == nil {
		hello = append(hello, linkMagic...)
	}
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
		scratch = append(scratch, f.wireKind())
		bufs, scratch, start = appendBody(bufs, scratch, start, f)
	}
	if start < len(scratch) {
		bufs = append(bufs, scratch[start:])
	}
	return bufs, scratch
}

// wireKind is the kind byte of f's header: its kind, marked if its
// payloads travel detached.
func (f *Frame) wireKind() byte {
	if f.det {
		return f.kind | kindDetached
	}
	return f.kind
}

// appendBody lays out f's body and its payloads after the header the
// caller put in scratch: a small body is copied into scratch, a large one
// and the payloads are referenced where they are. A detached frame's
// payloads follow its body; a gathered one's go at its cuts. start is
// where the bytes of scratch not yet in bufs begin; scratch must have
// room for what is copied (bufs holds slices of it).
func appendBody(bufs net.Buffers, scratch []byte, start int, f *Frame) (net.Buffers, []byte, int) {
	small := len(f.body) <= smallBody
	prev := 0
	for i, d := range f.data {
		if f.cuts != nil {
			bufs, scratch, start = appendPiece(bufs, scratch, start, f.body[prev:f.cuts[i]], small)
			prev = f.cuts[i]
		} else if i == 0 {
			bufs, scratch, start = appendPiece(bufs, scratch, start, f.body, small)
			prev = len(f.body)
		}
		if len(d) == 0 {
			continue
		}
		if start < len(scratch) {
			bufs = append(bufs, scratch[start:])
			start = len(scratch)
		}
		bufs = append(bufs, d)
	}
	return appendPiece(bufs, scratch, start, f.body[prev:], small)
}

// appendPiece lays out a piece of a frame's body: copied into scratch if
// the body is small, else referenced.
func appendPiece(bufs net.Buffers, scratch []byte, start int, b []byte, small bool) (net.Buffers, []byte, int) {
	if len(b) == 0 {
		return bufs, scratch, start
	}
	if small {
		return bufs, append(scratch, b...), start
	}
	if start < len(scratch) {
		bufs = append(bufs, scratch[start:])
	}
	return append(bufs, b), scratch, len(scratch)
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
