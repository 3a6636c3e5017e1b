package remote

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

// Transport carries one node's protocol messages to the other nodes of its
// cluster. Send never blocks and keeps the order of what one node sends
// to another; a message that cannot be delivered is lost, as on a broken
// link, and the protocol recovers it (acks, retransmission, view change).
// The node actor talks to other nodes through nothing else, so that the
// same node runs over links (TCP or TLS: PeerTransport) or over an
// in-memory network (MemNetwork) in tests, without sockets.
type Transport interface {
	// Send queues f for node to.
	Send(to uint32, f *Frame)
	// Close drops every queued message and stops sending.
	Close()
}

// PeerTransport is the production Transport: links to the node actor
// (target) at each node's remoting address.
type PeerTransport struct {
	links  *Links
	target string
	addrs  map[uint32]string
}

// NewPeerTransport sends over links to the actor named target at each
// node's address in addrs.
func NewPeerTransport(links *Links, target string, addrs map[uint32]string) *PeerTransport {
	return &PeerTransport{links: links, target: target, addrs: addrs}
}

// Send implements Transport.
func (t *PeerTransport) Send(to uint32, f *Frame) {
	if addr, ok := t.addrs[to]; ok {
		t.links.Send(addr, t.target, f)
	}
}

// Close implements Transport.
func (t *PeerTransport) Close() { t.links.Close() }

// MemNetwork is an in-memory network of nodes for tests: each node joins
// with the function that hands a message to it, and what one node sends
// another arrives in order, as a copy decoded from the frame's bytes
// (what a link would carry), on a goroutine of that pair of nodes. A
// direction can be cut (Cut) and healed; what is sent on a cut
// direction is lost. A direction can also be slowed (Delay) and a node's
// links frozen (Hold): see memnet_faults.go.
type MemNetwork struct {
	mu     sync.Mutex
	closed bool
	nodes  map[uint32]func(from uint32, m proto.Message)
	pipes  map[[2]uint32]*memPipe
	cut    map[[2]uint32]bool

	delay   map[[2]uint32]time.Duration // per direction (Delay)
	held    map[uint32]bool             // nodes whose links are frozen (Hold)
	release chan struct{}               // closed and replaced at each Release
	done    chan struct{}               // closed by Close
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{
		nodes:   make(map[uint32]func(uint32, proto.Message)),
		pipes:   make(map[[2]uint32]*memPipe),
		cut:     make(map[[2]uint32]bool),
		delay:   make(map[[2]uint32]time.Duration),
		held:    make(map[uint32]bool),
		release: make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Join adds node id, whose messages deliver hands over (it must not
// block for long: it runs on the pipe's goroutine), and returns its
// Transport. Joining again replaces the node (a restart).
func (n *MemNetwork) Join(id uint32, deliver func(from uint32, m proto.Message)) Transport {
	n.mu.Lock()
	n.nodes[id] = deliver
	n.mu.Unlock()
	return &memTransport{net: n, from: id}
}

// Leave removes node id: what is sent to it from now on is lost.
func (n *MemNetwork) Leave(id uint32) {
	n.mu.Lock()
	delete(n.nodes, id)
	n.mu.Unlock()
}

// Cut makes everything from node a to node b lost until Heal.
func (n *MemNetwork) Cut(a, b uint32) {
	n.mu.Lock()
	n.cut[[2]uint32{a, b}] = true
	n.mu.Unlock()
}

// Heal ends every cut.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	clear(n.cut)
	n.mu.Unlock()
}

// Close stops the network: its goroutines end and nothing is delivered
// any more.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	close(n.done)
	for _, p := range n.pipes {
		p.close()
	}
	clear(n.nodes)
}

// pipe returns the ordered queue from a to b, starting it on first use;
// nil once the network is closed.
func (n *MemNetwork) pipe(a, b uint32) *memPipe {
	k := [2]uint32{a, b}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	p, ok := n.pipes[k]
	if !ok {
		p = &memPipe{net: n, from: a, to: b, wake: make(chan struct{}, 1)}
		n.pipes[k] = p
		go p.run()
	}
	return p
}

// target returns the deliver function of b, or nil if b is gone or the
// direction a->b is cut.
func (n *MemNetwork) target(a, b uint32) func(uint32, proto.Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut[[2]uint32{a, b}] {
		return nil
	}
	return n.nodes[b]
}

// memTransport is one node's Transport on a MemNetwork.
type memTransport struct {
	net  *MemNetwork
	from uint32
	mu   sync.Mutex
	done bool
}

// Send implements Transport.
func (t *memTransport) Send(to uint32, f *Frame) {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done || f == nil || t.net.target(t.from, to) == nil {
		return
	}
	if p := t.net.pipe(t.from, to); p != nil {
		p.push(f)
	}
}

// Close implements Transport.
func (t *memTransport) Close() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// memPipe carries the frames of one direction, in order.
type memPipe struct {
	net      *MemNetwork
	from, to uint32
	mu       sync.Mutex
	q        []memFrame
	closed   bool // wake is closed: nothing more is pushed
	wake     chan struct{}
}

// memFrame is a frame in a pipe, with the time it was sent (Delay).
type memFrame struct {
	f    *Frame
	sent time.Time
}

// push queues f and wakes the pipe; under p.mu, so that a Close of the
// network cannot close wake in between.
func (p *memPipe) push(f *Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.q = append(p.q, memFrame{f: f, sent: time.Now()})
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// close ends the pipe's goroutine.
func (p *memPipe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	close(p.wake)
}

func (p *memPipe) run() {
	for range p.wake {
		p.mu.Lock()
		q := p.q
		p.q = nil
		p.mu.Unlock()
		for _, qf := range q {
			if !p.net.await(p.from, p.to, qf.sent) {
				return // closed
			}
			m, err := qf.f.decodeCopy()
			if err != nil {
				continue
			}
			if deliver := p.net.target(p.from, p.to); deliver != nil {
				deliver(p.from, m)
			}
		}
	}
}

// decodeCopy returns a new message decoded from f's encoding: what the
// other end of a link would read.
func (f *Frame) decodeCopy() (proto.Message, error) {
	if err := f.encode(); err != nil {
		return nil, err
	}
	m := linkKinds[f.kind]()
	if f.det {
		body := make([]byte, 0, f.size)
		body = append(body, f.body...)
		for _, d := range f.data {
			body = append(body, d...)
		}
		return m, attach(body, m)
	}
	return m, proto.Unmarshal(f.body, m)
}
