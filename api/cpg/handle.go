package cpg

import (
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
)

// EnvNode names the environment variable that attaches a process to a node
// process: ACTORCPG_NODE=unix:/PATH/cpg.sock (or a path starting with "/":
// the node's client socket, on its host) or ACTORCPG_NODE=HOST:PORT (its
// remoting port).
const EnvNode = "ACTORCPG_NODE"

// EnvTLSDir and EnvClientName give an attached client its TLS material
// when no WithTLS option does: the cpgkeygen directory (its ca.pem and
// client-NAME.pem, client-NAME-key.pem) and the client's NAME (default
// "client"). They apply to a node reached over TCP; a node's client
// socket (unix:PATH) is authenticated by the kernel instead.
const (
	EnvTLSDir     = "ACTORCPG_TLS_DIR"
	EnvClientName = "ACTORCPG_CLIENT_NAME"
)

// DeliverFn is the deliver callback (cpg_deliver_fn_t). msg is shared
// read-only with other local receivers: copy it before changing it.
type DeliverFn func(h *Handle, group []byte, nodeid, pid uint32, msg []byte)

// ConfchgFn is the confchg callback (cpg_confchg_fn_t). members is sorted
// by (nodeid, pid). The lists are read-only.
type ConfchgFn func(h *Handle, group []byte, members, left, joined []*api.Address)

// TotemConfchgFn is the totem confchg callback (cpg_totem_confchg_fn_t).
type TotemConfchgFn func(h *Handle, ring *api.RingId, members []uint32)

// Callbacks are the callbacks of Initialize (cpg_callbacks_t). A nil
// callback consumes its events silently.
type Callbacks struct {
	Deliver DeliverFn
	Confchg ConfchgFn
}

// ModelV1Data is the model data of ModelInitialize (cpg_model_v1_data_t).
// Flags may hold api.ModelV1DeliverInitialTotemConf.
type ModelV1Data struct {
	Deliver      DeliverFn
	Confchg      ConfchgFn
	TotemConfchg TotemConfchgFn
	Flags        uint32
}

// Option selects the node a handle uses and its identity.
type Option func(*options)

type options struct {
	node    Node
	address string
	pid     uint32
	timeout time.Duration
	tls     *tls.Config
	system  *actor.ActorSystem
}

// WithNode uses an embedded node started by this process.
func WithNode(n Node) Option { return func(o *options) { o.node = n } }

// WithAddress attaches to the node process at addr, like setting
// ACTORCPG_NODE: "unix:/PATH" or "/PATH" for its client socket,
// "HOST:PORT" for its remoting port.
func WithAddress(addr string) Option { return func(o *options) { o.address = addr } }

// WithActorSystem names the actor system InitializeActor's receiver runs
// in: its events are sent from there, by a small actor of the handle (the
// courier, receiver.go). An attached handle needs it; an embedded one
// needs it when the receiver is not in its node's system.
func WithActorSystem(sys *actor.ActorSystem) Option { return func(o *options) { o.system = sys } }

// WithTLS attaches to a node's remoting port over TLS with cfg (its
// client certificate and the cluster's CA), instead of plain TCP. The
// first handle of a process on a node opens the session; later ones share
// it, whatever their options.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithPid makes the handle's member address (nodeid, pid) use pid, for
// example os.Getpid() as Corosync's libcpg does. Two handles with the same
// pid then cannot join the same group (ErrExist). By default the node gives
// each handle a pid unique on the node, above any real process id; a
// chosen pid must be below those (at most 4194304, Linux's largest
// pid_max), or Initialize returns ErrInvalidParam.
func WithPid(pid uint32) Option { return func(o *options) { o.pid = pid } }

// WithTimeout bounds each call to the node (default 10 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Handle is one CPG handle (cpg_handle_t): a member-to-be of one group at a
// time. Its methods are safe to call from several goroutines; callbacks run
// on the goroutine that calls Dispatch, one at a time, in event order.
type Handle struct {
	conn   *conn
	id     uint64
	actor  *actor.PID
	nodeid uint32
	pid    uint32
	model  ModelV1Data
	// receiver, if set, gets the events as actor messages (the actor face),
	// from courier, an actor in recvSystem, the receiver's (receiver.go).
	receiver   *actor.PID
	recvSystem *actor.ActorSystem
	courier    *actor.PID
	fwdMu      sync.Mutex // orders what goes to the courier
	fcShown    bool       // the flow control state last told the receiver

	maxAtomic    uint32
	maxMessage   uint64
	sendWindow   int64
	sendBytes    int64
	creditEvents uint32
	creditBytes  uint64

	finalized atomic.Bool
	closed    atomic.Bool
	done      chan struct{}
	doneOnce  sync.Once

	ctxMu   sync.Mutex
	context any

	// join state: epoch of the current membership (0: none) and leaving.
	joinEpoch atomic.Uint64
	leaving   atomic.Bool
	// groupPID is the group actor of the last join (embedded handles).
	groupPID atomic.Pointer[actor.PID]
	// send window: multicasts sent and not yet delivered back or rejected.
	inflight      atomic.Int64
	inflightBytes atomic.Int64
	groupFC       atomic.Bool
	sendMu        sync.Mutex
	// large receives the outcome of the handle's large multicast in flight
	// (nil: all its parts are ordered; ErrInterrupt: a view change cut it).
	large        chan error
	largeWaiting atomic.Bool

	q eventQueue

	itMu       sync.Mutex
	iterations map[*Iteration]bool

	// the queue of the asynchronous calls and its goroutine (async.go).
	asyncOnce sync.Once
	asyncQ    chan asyncCall
}

// Initialize creates a handle with the deliver and confchg callbacks
// (cpg_initialize). cb may be nil.
func Initialize(cb *Callbacks, opts ...Option) (*Handle, error) {
	var md ModelV1Data
	if cb != nil {
		md.Deliver, md.Confchg = cb.Deliver, cb.Confchg
	}
	return ModelInitialize(api.ModelV1, &md, nil, opts...)
}

// ModelInitialize creates a handle (cpg_model_initialize). model must be
// api.ModelV1 and data.Flags only api.ModelV1DeliverInitialTotemConf
// (ErrInvalidParam otherwise). context is returned by ContextGet. A node that
// cannot be reached gives ErrLibrary.
func ModelInitialize(model api.Model, data *ModelV1Data, context any, opts ...Option) (*Handle, error) {
	if model != api.ModelV1 {
		return nil, fmt.Errorf("cpg: model %d: %w", model, api.ErrInvalidParam)
	}
	var md ModelV1Data
	if data != nil {
		md = *data
	}
	if md.Flags&^api.ModelV1DeliverInitialTotemConf != 0 {
		return nil, fmt.Errorf("cpg: model flags %#x: %w", md.Flags, api.ErrInvalidParam)
	}
	h, err := open(md, nil, opts)
	if err != nil {
		return nil, err
	}
	h.context = context
	return h, nil
}

// InitializeActor creates a handle whose events go to receiver as
// *api.Deliver, *api.Confchg and *api.TotemConfchg messages, in the order
// and with the meaning of the callbacks, and *api.FlowControl when its
// multicasts start or stop being refused with ErrTryAgain (the actor face;
// see the package doc). receiver must be a live actor of the system its
// events are sent from: the embedded node's, or the one given by
// WithActorSystem (required when attached); any other PID gives
// ErrInvalidParam. When receiver stops, the handle is finalized (its group
// sees PROCDOWN). Events reach receiver only as fast as it processes them;
// the backlog waits in the node, bounded. flags may hold
// api.ModelV1DeliverInitialTotemConf. Dispatch is not used with such a
// handle.
func InitializeActor(receiver *actor.PID, flags uint32, opts ...Option) (*Handle, error) {
	if receiver == nil {
		return nil, fmt.Errorf("cpg: nil receiver: %w", api.ErrInvalidParam)
	}
	if flags&^api.ModelV1DeliverInitialTotemConf != 0 {
		return nil, fmt.Errorf("cpg: model flags %#x: %w", flags, api.ErrInvalidParam)
	}
	return open(ModelV1Data{Flags: flags}, receiver, opts)
}

func open(md ModelV1Data, receiver *actor.PID, opts []Option) (*Handle, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c, err := connFor(&o)
	if err != nil {
		return nil, err
	}
	h := &Handle{conn: c, id: c.nextID.Add(1), model: md, receiver: receiver, done: make(chan struct{}), large: make(chan error, 1)}
	h.q.init()
	if receiver != nil {
		sys := o.system
		if sys == nil && !c.attached {
			sys = c.system // the embedded node's
		}
		if sys == nil {
			return nil, fmt.Errorf("cpg: an attached handle's receiver needs WithActorSystem (its actor system): %w", api.ErrInvalidParam)
		}
		if err := checkReceiver(sys, receiver); err != nil {
			return nil, err
		}
		h.startCourier(sys)
	}
	c.add(h)
	req := &api.InitRequest{Handle: h.id, Pid: o.pid, Flags: md.Flags}
	var res any
	if c.attached {
		res, err = c.sessRequest(h.id, req)
	} else {
		req.Client = apiPid(c.client)
		res, err = c.request(c.node, req)
	}
	if err != nil {
		c.remove(h)
		h.stopCourier()
		return nil, fmt.Errorf("cpg: initialize: %w", asLibrary(err))
	}
	r, ok := res.(*api.InitReply)
	if !ok {
		c.remove(h)
		h.stopCourier()
		return nil, fmt.Errorf("cpg: initialize: unexpected reply %T: %w", res, api.ErrLibrary)
	}
	if code := api.Code(r.Code); code != api.CodeOK {
		c.remove(h)
		h.stopCourier()
		return nil, fmt.Errorf("cpg: initialize: %w", code.Err())
	}
	h.actor = pidOf(r.HandleActor)
	h.nodeid, h.pid = r.Nodeid, r.Pid
	h.maxAtomic, h.maxMessage = r.MaxAtomic, r.MaxMessage
	h.sendWindow, h.sendBytes = int64(r.SendWindow), int64(r.SendWindowBytes)
	h.creditEvents, h.creditBytes = r.CreditEvents, r.CreditBytes
	c.startHeartbeat(time.Duration(r.HeartbeatMs)*time.Millisecond, time.Duration(r.PatienceMs)*time.Millisecond)
	if h.courier != nil {
		h.recvSystem.Root.Send(h.courier, &courierStart{})
	}
	return h, nil
}

func asLibrary(err error) error {
	if err == errDeadLetter {
		return api.ErrLibrary
	}
	return err
}

// check returns ErrBadHandle for a nil or finalized handle and ErrLibrary
// when its node is gone.
func (h *Handle) check() error {
	switch {
	case h == nil || h.finalized.Load():
		return api.ErrBadHandle
	case h.closed.Load():
		return api.ErrLibrary
	}
	return nil
}

// call sends a request to the handle actor and returns its Status as an
// error.
func (h *Handle) call(msg proto.Message) (*api.Status, error) {
	res, err := h.conn.handleRequest(h, msg)
	if err != nil {
		if err == errDeadLetter {
			if h.finalized.Load() {
				return nil, api.ErrBadHandle
			}
			return nil, api.ErrLibrary
		}
		return nil, err
	}
	st, ok := res.(*api.Status)
	if !ok {
		return nil, fmt.Errorf("cpg: unexpected reply %T: %w", res, api.ErrLibrary)
	}
	return st, api.Code(st.Code).Err()
}

// Finalize ends the handle (cpg_finalize). A joined handle leaves its group
// with reason PROCDOWN, as in Corosync. The handle is unusable afterwards
// whatever the result; unlike libcpg, the node's own answer is returned.
// Called inside a callback, it makes that Dispatch return ErrBadHandle.
func (h *Handle) Finalize() error {
	if !h.finalizeBegin() {
		return api.ErrBadHandle
	}
	return h.finalizeEnd()
}

// finalizeBegin makes the handle unusable; false if it already was.
func (h *Handle) finalizeBegin() bool {
	return h != nil && h.finalized.CompareAndSwap(false, true)
}

// finalizeEnd tells the node and releases the handle.
func (h *Handle) finalizeEnd() error {
	h.endIterations()
	var err error
	if !h.closed.Load() {
		_, err = h.call(&api.FinalizeRequest{})
		if err == api.ErrBadHandle {
			err = nil // the node had already dropped it
		}
	} else {
		err = api.ErrLibrary
	}
	h.conn.remove(h)
	h.shut()
	return err
}

// close marks the handle's node as gone (ErrLibrary from now on).
func (h *Handle) close() {
	h.closed.Store(true)
	h.shut()
}

func (h *Handle) shut() {
	h.doneOnce.Do(func() {
		close(h.done)
		h.stopCourier()
	})
	h.q.wake()
}

// ContextGet returns the context set by ModelInitialize or ContextSet.
func (h *Handle) ContextGet() (any, error) {
	if h == nil || h.finalized.Load() {
		return nil, api.ErrBadHandle
	}
	h.ctxMu.Lock()
	defer h.ctxMu.Unlock()
	return h.context, nil
}

// ContextSet replaces the handle's context.
func (h *Handle) ContextSet(ctx any) error {
	if h == nil || h.finalized.Load() {
		return api.ErrBadHandle
	}
	h.ctxMu.Lock()
	h.context = ctx
	h.ctxMu.Unlock()
	return nil
}

// MaxAtomicMsgsizeGet returns the largest message sent without
// fragmentation (cpg_max_atomic_msgsize_get): 1,047,552 by default. Larger
// messages, up to the node's maximum message size, are still delivered
// whole, as one callback.
func (h *Handle) MaxAtomicMsgsizeGet() (uint32, error) {
	if h == nil || h.finalized.Load() {
		return 0, api.ErrBadHandle
	}
	return h.maxAtomic, nil
}

// MaxMessageSize returns the largest message McastJoined accepts.
func (h *Handle) MaxMessageSize() uint64 {
	if h == nil {
		return 0
	}
	return h.maxMessage
}

// LocalGet returns the node's id (cpg_local_get).
func (h *Handle) LocalGet() (uint32, error) {
	if err := h.check(); err != nil {
		return 0, err
	}
	res, err := h.conn.nodeRequest(&api.LocalGetRequest{})
	if err != nil {
		return 0, asLibrary(err)
	}
	r, ok := res.(*api.LocalGetReply)
	if !ok {
		return 0, api.ErrLibrary
	}
	return r.Nodeid, api.Code(r.Code).Err()
}

// ViewGet returns the handle's node's current view: its ring id and the
// node ids of its members, ascending (what the last totem confchg said).
// Not in Corosync's CPG, where corosync-cfgtool and the votequorum
// service tell it.
func (h *Handle) ViewGet() (*api.RingId, []uint32, error) {
	if err := h.check(); err != nil {
		return nil, nil, err
	}
	res, err := h.conn.nodeRequest(&api.LocalGetRequest{})
	if err != nil {
		return nil, nil, asLibrary(err)
	}
	r, ok := res.(*api.LocalGetReply)
	if !ok {
		return nil, nil, api.ErrLibrary
	}
	return r.Ring, r.Members, api.Code(r.Code).Err()
}

// Pid returns the pid of the handle's member address.
func (h *Handle) Pid() uint32 {
	if h == nil {
		return 0
	}
	return h.pid
}

// NodeID returns the node id of the handle's member address.
func (h *Handle) NodeID() uint32 {
	if h == nil {
		return 0
	}
	return h.nodeid
}

// ActorPID returns the handle's actor on an embedded node (nil when
// attached: a session names its handles itself). An application actor may
// send it *api.JoinRequest, *api.LeaveRequest and *api.FinalizeRequest
// (answered with *api.Status, in the order sent) and *api.McastRequest
// (one-way) instead of calling the methods. Use one way or the other for a
// handle: the methods (and their Async forms) track the join state and
// send window on this side, messages sent straight to the actor bypass
// both (the node still refuses what is not allowed).
func (h *Handle) ActorPID() *actor.PID {
	if h == nil {
		return nil
	}
	return h.actor
}

// GroupPID returns, for an embedded handle, the actor of the group of its
// last successful join on its node (nil before any, and when attached).
// An application may watch it: it stops when the group is dropped from
// the node (no members, nothing left to order), or when the node stops.
// A later join of the same group may be served by a new actor.
func (h *Handle) GroupPID() *actor.PID {
	if h == nil {
		return nil
	}
	return h.groupPID.Load()
}

// FlowControlStateGet reports whether McastJoined would now return
// ErrTryAgain (cpg_flow_control_state_get). Unlike Corosync's stub, the state
// is real: ENABLED while the send window is full or a member of the group
// is too far behind.
func (h *Handle) FlowControlStateGet() (api.FlowControlState, error) {
	if err := h.check(); err != nil {
		return api.FlowControlDisabled, err
	}
	if h.flowControlled() {
		return api.FlowControlEnabled, nil
	}
	return api.FlowControlDisabled, nil
}

func (h *Handle) flowControlled() bool {
	n := h.inflight.Load()
	return h.groupFC.Load() || n >= h.sendWindow || (n > 0 && h.inflightBytes.Load() >= h.sendBytes)
}
