package cpg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/protolog"
	"github.com/actorcpg/actorcpg/remote"
)

// conn is this process's link to one node, serving every handle of the
// process on that node. In-process (embedded), it is the node's actor
// system, a client actor receiving the handles' events, and the node
// actor's PID. Attached, it is one client session (session.go): one
// connection on which everything travels both ways; the process listens
// on nothing.
type conn struct {
	key      string
	system   *actor.ActorSystem // the node's (embedded) or the client's plain one
	client   *actor.PID         // embedded: the client actor
	node     *actor.PID         // embedded: the node actor
	attached bool
	sess     *clientSession // attached
	timeout  time.Duration

	mu      sync.RWMutex
	handles map[uint64]*Handle
	nextID  atomic.Uint64
	dead    atomic.Bool
	stopHB  chan struct{}
	hbOnce  sync.Once
}

var (
	connsMu sync.Mutex
	conns   = map[string]*conn{}

	defaultNodeOnce sync.Once
	defaultNode     Node
	defaultNodeErr  error
)

// SetLogger sets the logger of what this package starts for the process:
// the embedded default node (DefaultNode) and the actor system of attached
// handles. It takes effect for what starts after it, so call it before the
// first Initialize. Without it the default node logs warnings and errors
// to stderr, and the attached side logs nothing unless ACTORCPG_LOG names
// a level (debug, info, warn, error). A node started with actors.Start
// takes its own logger (actors.WithLogger).
func SetLogger(l zerolog.Logger) {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	userLogger = &l
}

var (
	loggerMu   sync.Mutex
	userLogger *zerolog.Logger
)

// SetSessionSpin sets how long an attached client polls its connection to
// the node (a Unix or plain TCP socket) for the answer it waits for in a
// round trip (a request's reply, or its own multicast's delivery when it
// has no other in flight), before parking its reader; 0 or negative:
// never. It takes effect for the connections opened after it. The default
// is remote.DefaultSessionSpin, or ACTORCPG_SESSION_SPIN (a duration such
// as 50us, or "off"). The node polls for the client's next frame in the
// same way (its config's limits.session_spin): together they save the
// two wake-ups of sleeping threads that otherwise make most of a round
// trip. Polling costs a core for at most that long per round trip.
func SetSessionSpin(d time.Duration) {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	userSpin = &d
}

var userSpin *time.Duration // under loggerMu

// sessionSpin is the spin of a new connection: SetSessionSpin's, else
// ACTORCPG_SESSION_SPIN's, else the default.
func sessionSpin() time.Duration {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	if userSpin != nil {
		return *userSpin
	}
	switch v := os.Getenv("ACTORCPG_SESSION_SPIN"); v {
	case "":
	case "off":
		return 0
	default:
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return remote.DefaultSessionSpin
}

// processLogger returns the logger SetLogger gave, or def.
func processLogger(def func() zerolog.Logger) zerolog.Logger {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	if userLogger != nil {
		return *userLogger
	}
	return def()
}

// DefaultNode returns the process's embedded single node (node id 1,
// in-process only), starting it on first use. It is what Initialize uses
// when no node is configured. It needs the node's engine, package actors,
// linked into the program (importing it registers the starter): a
// program that only attaches to node processes gets an error here, and
// Initialize gets CS_ERR_LIBRARY, as libcpg does with no corosync running.
func DefaultNode() (Node, error) {
	defaultNodeOnce.Do(func() {
		start := defaultStarter()
		if start == nil {
			defaultNodeErr = errors.New("no node: set " + EnvNode + " to a node's address, or import github.com/actorcpg/actorcpg/actors for an embedded one")
			return
		}
		logger := processLogger(func() zerolog.Logger {
			return zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
		})
		defaultNode, defaultNodeErr = start(logger)
	})
	return defaultNode, defaultNodeErr
}

// connFor returns the conn the options select: a given node, an attached
// node address (option or ACTORCPG_NODE), or the default embedded node.
func connFor(o *options) (*conn, error) {
	if o.node != nil {
		return embeddedConn(o.node)
	}
	addr := o.address
	if addr == "" {
		addr = os.Getenv(EnvNode)
	}
	if addr != "" {
		if o.tls == nil {
			if network, _ := remote.SessionAddr(addr); network == "tcp" {
				if dir := os.Getenv(EnvTLSDir); dir != "" {
					name := os.Getenv(EnvClientName)
					if name == "" {
						name = "client"
					}
					cfg, err := remote.LoadClientTLS(dir, name)
					if err != nil {
						return nil, fmt.Errorf("cpg: %s=%s: %v: %w", EnvTLSDir, dir, err, api.ErrLibrary)
					}
					o.tls = cfg
				}
			}
		}
		return attachedConn(addr, o)
	}
	n, err := DefaultNode()
	if err != nil {
		return nil, fmt.Errorf("cpg: start embedded node: %v: %w", err, api.ErrLibrary)
	}
	return embeddedConn(n)
}

func embeddedConn(n Node) (*conn, error) {
	key := fmt.Sprintf("embedded:%p", n)
	connsMu.Lock()
	defer connsMu.Unlock()
	if c, ok := conns[key]; ok && !c.dead.Load() {
		return c, nil
	}
	select {
	case <-n.Done():
		return nil, fmt.Errorf("cpg: the node has stopped: %w", api.ErrLibrary)
	default:
	}
	c := &conn{key: key, system: n.System(), node: n.PID(), timeout: n.RequestTimeout(), handles: map[uint64]*Handle{}}
	if err := c.spawnClient(); err != nil {
		return nil, err
	}
	conns[key] = c
	// A node that stops (Stop, or on its own after a panic: actors.Node.Err)
	// takes its handles with it: CS_ERR_LIBRARY from then on, as when
	// corosync dies under libcpg.
	go func() {
		<-n.Done()
		c.kill()
	}()
	return c, nil
}

// attachedConn opens a session to the node process at addr (see
// remote.SessionAddr). An unreachable node gives ErrLibrary at once
// (rule 2).
func attachedConn(addr string, o *options) (*conn, error) {
	key := "attached:" + addr
	connsMu.Lock()
	defer connsMu.Unlock()
	if c, ok := conns[key]; ok && !c.dead.Load() {
		return c, nil
	}
	system := clientSystem()
	timeout := o.timeout
	if timeout == 0 {
		timeout = remote.DefaultConfig().RequestTimeout
	}
	raw, err := remote.DialSession(addr, o.tls, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cpg: node %s unreachable: %v: %w", addr, err, api.ErrLibrary)
	}
	c := &conn{
		key:      key,
		system:   system,
		attached: true,
		timeout:  timeout,
		handles:  map[uint64]*Handle{},
		stopHB:   make(chan struct{}),
	}
	c.sess = newClientSession(raw)
	c.sess.sc.SetSpin(sessionSpin())
	go c.readSession()
	conns[key] = c
	return c, nil
}

var (
	clientOnce sync.Once
	clientSys  *actor.ActorSystem
)

// clientSystem returns the process's plain actor system (no remoting, no
// listener) that hands attached handles' events to their receiver actors
// (InitializeActor), starting it on first use. Its own logs are off
// unless ACTORCPG_LOG sets a level.
func clientSystem() *actor.ActorSystem {
	clientOnce.Do(func() {
		logger := processLogger(func() zerolog.Logger {
			lvl := zerolog.Disabled
			if l, err := zerolog.ParseLevel(os.Getenv("ACTORCPG_LOG")); err == nil && l != zerolog.NoLevel {
				lvl = l
			}
			return zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
		}).With().Str("side", "client").Logger()
		clientSys = actor.NewActorSystemWithConfig(protolog.SystemConfig(logger))
	})
	return clientSys
}

func (c *conn) spawnClient() error {
	props := actor.PropsFromProducer(func() actor.Actor { return &clientActor{c: c} })
	pid := c.system.Root.SpawnPrefix(props, "cpg-client")
	if pid == nil {
		return fmt.Errorf("cpg: spawn client actor: %w", api.ErrLibrary)
	}
	c.client = pid
	return nil
}

// route hands a node's event batch or control message to its handle.
func (c *conn) route(m proto.Message) {
	switch m := m.(type) {
	case *api.EventBatch:
		if h := c.handle(m.Handle); h != nil {
			h.receive(m.Events)
		}
	case *api.Control:
		if h := c.handle(m.Handle); h != nil {
			h.control(m)
		}
	}
}

// startHeartbeat keeps an attached node aware that this process lives, and
// declares the node gone when it has not answered for patience (the
// node's ClientPatience, derived from its token; an older node that does
// not say gets 20 s) while the connection stays open. A closed connection
// ends it at once (readSession).
func (c *conn) startHeartbeat(every, patience time.Duration) {
	if !c.attached {
		return
	}
	if every <= 0 {
		every = remote.DefaultConfig().ClientHeartbeat
	}
	if patience <= 0 {
		patience = 20 * time.Second
	}
	c.hbOnce.Do(func() {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			last := time.Now() // the node's last answer
			for {
				select {
				case <-c.stopHB:
					return
				case <-t.C:
				}
				_, err := c.sess.call(0, &api.Heartbeat{}, 4*every)
				if err == nil {
					last = time.Now()
					continue
				}
				if time.Since(last) > patience {
					c.kill()
					return
				}
			}
		}()
	})
}

// kill marks the node unreachable: every handle's calls now fail with
// ErrLibrary, as libcpg's do when corosync dies. Closing the session
// tells a node that is still there (it outlasted this client's patience)
// that these handles are gone: it finalizes them.
func (c *conn) kill() {
	if c.dead.Swap(true) {
		return
	}
	connsMu.Lock()
	if conns[c.key] == c {
		delete(conns, c.key)
	}
	connsMu.Unlock()
	if c.sess != nil {
		c.sess.close()
	}
	if c.client != nil {
		// The node is gone; its system may live on (actors.WithActorSystem).
		c.system.Root.Stop(c.client)
	}
	c.mu.RLock()
	hs := make([]*Handle, 0, len(c.handles))
	for _, h := range c.handles {
		hs = append(hs, h)
	}
	c.mu.RUnlock()
	for _, h := range hs {
		h.close()
	}
	if c.stopHB != nil {
		close(c.stopHB)
	}
}

func (c *conn) add(h *Handle) {
	c.mu.Lock()
	c.handles[h.id] = h
	c.mu.Unlock()
}

func (c *conn) remove(h *Handle) {
	c.mu.Lock()
	delete(c.handles, h.id)
	c.mu.Unlock()
}

func (c *conn) handle(id uint64) *Handle {
	c.mu.RLock()
	h := c.handles[id]
	c.mu.RUnlock()
	return h
}

// request sends msg to pid in-process and waits for the answer.
func (c *conn) request(pid *actor.PID, msg any) (any, error) {
	if c.dead.Load() {
		return nil, api.ErrLibrary
	}
	return c.answer(c.system.Root.RequestFuture(pid, msg, c.timeout).Result())
}

// nodeRequest sends a request to the node and waits for the answer.
func (c *conn) nodeRequest(msg proto.Message) (any, error) {
	if c.attached {
		return c.sessRequest(0, msg)
	}
	return c.request(c.node, msg)
}

// handleRequest sends a request to a handle's actor and waits for the
// answer; attached, it goes on the session behind the multicasts sent
// before it.
func (c *conn) handleRequest(h *Handle, msg proto.Message) (any, error) {
	if c.attached {
		return c.sessRequest(h.id, msg)
	}
	return c.request(h.actor, msg)
}

// sessRequest is a request on the session. An attached node that does
// not answer in time, its connection open, is stalled or busy:
// CS_ERR_TRY_AGAIN (the caller retries), until the heartbeat's patience
// runs out and the conn dies (CS_ERR_LIBRARY from then on).
func (c *conn) sessRequest(handle uint64, msg proto.Message) (any, error) {
	if c.dead.Load() {
		return nil, api.ErrLibrary
	}
	return c.sess.call(handle, msg, c.timeout)
}

// send sends a one-way message to a handle's actor: on the session to an
// attached node, in order with the session's requests.
func (c *conn) send(h *Handle, msg proto.Message) {
	if c.attached {
		c.sess.send(h.id, msg)
		return
	}
	c.system.Root.Send(h.actor, msg)
}

// sendMcast multicasts the concatenation of iov from handle h: attached
// and direct, written from iov before it returns
// (remote.SessionConn.SendMcast); else copied (the caller may reuse iov
// once McastJoined returns) and sent in order with the rest.
func (c *conn) sendMcast(h *Handle, guarantee uint32, iov [][]byte, direct, await bool) {
	if c.attached && direct {
		c.sess.sc.SendMcast(h.id, guarantee, iov, await)
		return
	}
	m := &api.McastRequest{Guarantee: guarantee, Data: bytes.Join(iov, nil)} // not zeroed first
	if c.attached {
		c.sess.send(h.id, m)
		return
	}
	c.system.Root.Send(h.actor, m)
}

// answer turns an in-process future's outcome into a reply or an error.
func (c *conn) answer(res any, err error) (any, error) {
	if err != nil {
		if errors.Is(err, actor.ErrTimeout) {
			return nil, api.ErrTimeout
		}
		return nil, fmt.Errorf("cpg: %v: %w", err, api.ErrLibrary)
	}
	if _, ok := res.(*actor.DeadLetterResponse); ok {
		return nil, errDeadLetter
	}
	return res, nil
}

// errDeadLetter means the handle actor no longer exists.
var errDeadLetter = errors.New("cpg: handle actor gone")

// clientActor receives the events and control messages of this process's
// handles on an embedded node and hands them to the handles.
type clientActor struct {
	c *conn
}

// Receive implements actor.Actor.
func (a *clientActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *api.EventBatch, *api.Control:
		a.c.route(m.(proto.Message))
	case *actor.Started:
		ctx.Watch(a.c.node)
	case *actor.Terminated:
		if m.Who.Equal(a.c.node) {
			a.c.kill()
		}
	}
}
