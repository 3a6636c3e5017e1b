package cpg

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// conn is this process's link to one node: the actor system the handles'
// client actor runs in, and the node actor's PID. One conn serves every
// handle of the process on that node, as one client actor.
type conn struct {
	key      string
	system   *actor.ActorSystem
	client   *actor.PID
	node     *actor.PID
	attached bool
	links    *remote.Links // the process's links (attached only)
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
	defaultNode     *actors.Node
	defaultNodeErr  error
)

// DefaultNode returns the process's embedded single node (node id 1,
// in-process only), starting it on first use. It is what Initialize uses
// when no node is configured.
func DefaultNode() (*actors.Node, error) {
	defaultNodeOnce.Do(func() {
		logger := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
		defaultNode, defaultNodeErr = actors.Start(remote.DefaultConfig(), actors.WithLogger(logger))
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
		return attachedConn(addr, o.timeout)
	}
	n, err := DefaultNode()
	if err != nil {
		return nil, fmt.Errorf("cpg: start embedded node: %v: %w", err, api.ErrLibrary)
	}
	return embeddedConn(n)
}

func embeddedConn(n *actors.Node) (*conn, error) {
	key := fmt.Sprintf("embedded:%p", n)
	connsMu.Lock()
	defer connsMu.Unlock()
	if c, ok := conns[key]; ok && !c.dead.Load() {
		return c, nil
	}
	c := &conn{key: key, system: n.System(), node: n.PID(), timeout: n.Config().RequestTimeout, handles: map[uint64]*Handle{}}
	if err := c.spawnClient(); err != nil {
		return nil, err
	}
	conns[key] = c
	return c, nil
}

// attachedConn links this process to a node process at addr over protoactor
// remoting. An unreachable node gives ErrLibrary at once (rule 2).
func attachedConn(addr string, timeout time.Duration) (*conn, error) {
	key := "attached:" + addr
	connsMu.Lock()
	defer connsMu.Unlock()
	if c, ok := conns[key]; ok && !c.dead.Load() {
		return c, nil
	}
	probe, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cpg: node %s unreachable: %v: %w", addr, err, api.ErrLibrary)
	}
	probe.Close()
	system, err := clientSystem()
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		timeout = remote.DefaultConfig().RequestTimeout
	}
	c := &conn{
		key:      key,
		system:   system,
		node:     actor.NewPID(addr, actors.RootName),
		attached: true,
		links:    clientLinks,
		timeout:  timeout,
		handles:  map[uint64]*Handle{},
		stopHB:   make(chan struct{}),
	}
	if err := c.spawnClient(); err != nil {
		return nil, err
	}
	conns[key] = c
	return c, nil
}

var (
	clientOnce   sync.Once
	clientSys    *actor.ActorSystem
	clientSysErr error
	// clientLinks carry this process's requests and multicasts to its
	// nodes' handle actors (remote.Links: one marshal, no envelope).
	clientLinks = remote.NewLinks()
)

// clientSystem returns the process's one actor system for attached links,
// with remoting on an ephemeral 127.0.0.1 port, starting it on first use.
// One remoting instance reaches any number of nodes; starting one per link
// would also race on gRPC's global logger, which protoactor resets on every
// start. Its own logs are off unless ACTORCPG_LOG sets a level: link
// failures reach the caller as ErrLibrary.
func clientSystem() (*actor.ActorSystem, error) {
	clientOnce.Do(func() {
		lvl := zerolog.Disabled
		if l, err := zerolog.ParseLevel(os.Getenv("ACTORCPG_LOG")); err == nil && l != zerolog.NoLevel {
			lvl = l
		}
		logger := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Str("side", "client").Logger()
		system := actor.NewActorSystemWithConfig(actors.SystemConfig(logger))
		if _, _, err := remote.StartRemoting(system, "127.0.0.1:0", nil); err != nil {
			system.Shutdown()
			clientSysErr = fmt.Errorf("cpg: client remoting: %v: %w", err, api.ErrLibrary)
			return
		}
		clientSys = system
	})
	return clientSys, clientSysErr
}

func (c *conn) spawnClient() error {
	props := actor.PropsFromProducer(func() actor.Actor { return &clientActor{c: c} })
	pid := c.system.Root.Spawn(props)
	if pid == nil {
		return fmt.Errorf("cpg: spawn client actor: %w", api.ErrLibrary)
	}
	c.client = pid
	if c.attached {
		// The node's link to this client hands events straight to the
		// handles (remote.HandleLinks): the client actor only routes.
		root := c.system.Root
		remote.HandleLinks(c.system, pid.Id, func(m proto.Message) { c.route(root, m) })
	}
	return nil
}

// route hands a node's event batch or control message to its handle.
func (c *conn) route(sc actor.SenderContext, m proto.Message) {
	switch m := m.(type) {
	case *api.EventBatch:
		if h := c.handle(m.Handle); h != nil {
			h.receive(sc, m.Events)
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
// ends it at once (clientActor watches the node).
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
			hb := &api.Heartbeat{Client: actors.FromPID(c.client)}
			for {
				select {
				case <-c.stopHB:
					return
				case <-t.C:
				}
				_, err := c.system.Root.RequestFuture(c.node, hb, 4*every).Result()
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
// ErrLibrary, as libcpg's do when corosync dies.
func (c *conn) kill() {
	if c.dead.Swap(true) {
		return
	}
	connsMu.Lock()
	if conns[c.key] == c {
		delete(conns, c.key)
	}
	connsMu.Unlock()
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
	if c.attached {
		remote.UnhandleLinks(c.system, c.client.Id)
		// Closing the links to the node's handle actors tells a node that
		// is still there (it outlasted this client's patience) that these
		// handles are gone: it finalizes them.
		if c.links != nil {
			c.links.DropAddr(c.node.Address)
		}
		c.system.Root.Stop(c.client)
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

// request sends msg to pid and waits for the answer. A node that does not
// answer gives ErrLibrary (attached) or ErrTimeout.
func (c *conn) request(pid *actor.PID, msg any) (any, error) {
	if c.dead.Load() {
		return nil, api.ErrLibrary
	}
	return c.answer(c.system.Root.RequestFuture(pid, msg, c.timeout).Result())
}

// requestLink sends a request to a handle actor on the process's link to
// the node, behind the multicasts sent before it (which a protoactor
// request could overtake), and waits for the answer.
func (c *conn) requestLink(pid *actor.PID, msg proto.Message) (any, error) {
	if c.dead.Load() {
		return nil, api.ErrLibrary
	}
	f := actor.NewFuture(c.system, c.timeout)
	rt := actors.FromPID(f.PID())
	switch m := msg.(type) {
	case *api.JoinRequest:
		m.ReplyTo = rt
	case *api.LeaveRequest:
		m.ReplyTo = rt
	case *api.FinalizeRequest:
		m.ReplyTo = rt
	default:
		return c.request(pid, msg)
	}
	c.send(pid, msg)
	return c.answer(f.Result())
}

// send sends a one-way message to a handle actor: on the link to an
// attached node, in order with the link's requests.
func (c *conn) send(pid *actor.PID, msg proto.Message) {
	if c.attached && c.links != nil {
		if f := remote.NewFrame(msg); f != nil {
			c.links.Send(pid.Address, pid.Id, f)
			return
		}
	}
	c.system.Root.Send(pid, msg)
}

// answer turns a future's outcome into a reply or an error. An attached
// node that does not answer in time, its connection open, is stalled or
// busy: CS_ERR_TRY_AGAIN (the caller retries), until the heartbeat's
// patience runs out and the conn dies (CS_ERR_LIBRARY from then on).
func (c *conn) answer(res any, err error) (any, error) {
	if err != nil {
		if errors.Is(err, actor.ErrTimeout) {
			if c.attached {
				if c.dead.Load() {
					return nil, fmt.Errorf("cpg: node gone: %w", api.ErrLibrary)
				}
				return nil, fmt.Errorf("cpg: node did not answer in time: %w", api.ErrTryAgain)
			}
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
// handles on one node and hands them to the handles.
type clientActor struct {
	c *conn
}

// Receive implements actor.Actor.
func (a *clientActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *api.EventBatch, *api.Control:
		a.c.route(ctx, m.(proto.Message))
	case *actor.Started:
		ctx.Watch(a.c.node)
	case *actor.Terminated:
		if m.Who.Equal(a.c.node) {
			a.c.kill()
		}
	}
}
