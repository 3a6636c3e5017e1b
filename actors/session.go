package actors

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// Bounds of one client session.
const (
	// maxOutstanding bounds a session's requests awaiting their reply;
	// beyond it a request is answered CS_ERR_TRY_AGAIN at once.
	maxOutstanding = 1024
	// maxSessionHandles bounds the handles one session holds; beyond it
	// InitRequest is answered CS_ERR_NO_RESOURCES.
	maxSessionHandles = 4096
)

// session is one client connection to this node (remote/session.go): the
// node end of everything a client process does on it. It owns the handles
// it created, and only those: a frame naming another handle is refused.
// Its messages to the actors are plain Go structs (sessionInit,
// sessionCall, sessionClosed), which nothing outside the process can
// forge.
type session struct {
	node  *Node
	sc    *remote.SessionConn
	id    remote.Identity
	local bool // on the client socket: its open connection is its liveness

	mu      sync.Mutex
	handles map[uint64]*actor.PID // client's handle id -> handle actor
	pending int                   // InitRequests in flight

	outstanding atomic.Int32
}

// sessionInit asks the node actor for a handle bound to sess.
type sessionInit struct {
	sess   *session
	corr   uint32
	handle uint64
	req    *api.InitRequest
}

// sessionCall is a request from a session to the node actor or to one of
// the session's handle actors; its answer goes back on the session with
// corr.
type sessionCall struct {
	sess *session
	corr uint32
	msg  proto.Message
}

// sessionClosed tells the node actor that a session ended: its handles
// are finalized (PROCDOWN), behind everything it sent.
type sessionClosed struct{ sess *session }

// serveSession serves one client connection until it closes.
func (n *Node) serveSession(conn net.Conn, id remote.Identity) {
	s := &session{
		node:    n,
		sc:      remote.NewNodeSession(n.system, conn, n.cfg.QueueLimitBytes),
		id:      id,
		local:   id.Local,
		handles: make(map[uint64]*actor.PID),
	}
	s.sc.SetSpin(sessionSpin(n.cfg))
	if !n.addSession(s) {
		s.sc.Close()
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.sc.Refused(p)
		}
		s.sc.Close()
		n.removeSession(s)
		n.system.Root.Send(n.root, &sessionClosed{sess: s})
	}()
	n.log.Debug().Str("peer", id.String()).Msg("client session opened")
	s.read()
}

// read reads the session's frames and hands them over. Multicasts of one
// handle read back to back go as one McastBatch.
func (s *session) read() {
	root := s.node.system.Root
	var mcasts []*api.McastRequest
	var to *actor.PID
	var cur uint64
	flush := func() {
		if len(mcasts) > 0 {
			root.Send(to, &api.McastBatch{Msgs: mcasts})
			mcasts = nil
		}
	}
	defer flush()
	for {
		if s.sc.Buffered() == 0 {
			flush() // nothing more at hand: do not hold multicasts back
		}
		f, err := s.sc.Read()
		if err != nil {
			return
		}
		if m, ok := f.Msg.(*api.McastRequest); ok {
			if len(mcasts) == 0 || f.Handle != cur {
				flush()
				if to = s.lookup(f.Handle); to == nil {
					s.refuse(f, "multicast")
					continue
				}
				cur = f.Handle
			}
			mcasts = append(mcasts, m)
			if len(mcasts) >= 1024 {
				flush()
			}
			continue
		}
		flush()
		s.dispatch(root, f)
	}
}

// dispatch hands one frame other than a multicast to its actor.
func (s *session) dispatch(root *actor.RootContext, f remote.SessionFrame) {
	switch m := f.Msg.(type) {
	case *api.McastBatch, *api.Credit:
		if pid := s.lookup(f.Handle); pid != nil {
			root.Send(pid, m)
		} else {
			s.refuse(f, "one-way message")
		}
	case *api.JoinRequest, *api.LeaveRequest, *api.FinalizeRequest:
		clearReplyTo(m) // answers go back on the session, nowhere else
		pid := s.lookup(f.Handle)
		if pid == nil {
			s.refuse(f, "request")
			s.answer(f.Corr, status(api.CodeAccess))
			return
		}
		if !s.acquire(f.Corr) {
			s.answer(f.Corr, status(api.CodeTryAgain))
			return
		}
		if _, ok := m.(*api.FinalizeRequest); ok {
			s.unbind(f.Handle) // nothing more may name it
		}
		root.Send(pid, &sessionCall{sess: s, corr: f.Corr, msg: m})
	case *api.InitRequest:
		if !s.acquire(f.Corr) {
			s.answer(f.Corr, &api.InitReply{Code: int32(api.CodeTryAgain)})
			return
		}
		if code := s.reserve(f.Handle); code != api.CodeOK {
			s.reply(f.Corr, &api.InitReply{Code: int32(code)})
			return
		}
		root.Send(s.node.root, &sessionInit{sess: s, corr: f.Corr, handle: f.Handle, req: m})
	case *api.MembershipRequest, *api.IterationRequest, *api.LocalGetRequest, *api.Heartbeat:
		if !s.acquire(f.Corr) {
			s.answer(f.Corr, busyReply(m))
			return
		}
		root.Send(s.node.root, &sessionCall{sess: s, corr: f.Corr, msg: m})
	}
}

// refuse logs (at most once a second, with a count) a frame naming a
// handle the session does not own.
func (s *session) refuse(f remote.SessionFrame, what string) {
	sessionRefused.Drop(s.node.log, "client session: frame for a handle it does not own refused",
		what+" for handle "+strconv.FormatUint(f.Handle, 10)+" from "+s.id.String())
}

// sessionRefused rate-limits the log of refused session frames.
var sessionRefused remote.DropLog

// acquire counts a request awaiting its answer; false beyond
// maxOutstanding.
func (s *session) acquire(corr uint32) bool {
	if corr == 0 {
		return true
	}
	if s.outstanding.Add(1) > maxOutstanding {
		s.outstanding.Add(-1)
		return false
	}
	return true
}

// answer sends the reply to request corr, without counting it.
func (s *session) answer(corr uint32, m proto.Message) {
	if corr != 0 {
		s.sc.Send(0, corr, remote.NewFrame(m))
	}
}

// reply sends the reply to an acquired request corr.
func (s *session) reply(corr uint32, m proto.Message) {
	if corr == 0 {
		return
	}
	s.outstanding.Add(-1)
	s.sc.Send(0, corr, remote.NewFrame(m))
}

// send sends a one-way message about one of the session's handles.
func (s *session) send(handle uint64, m proto.Message) {
	s.sc.Send(handle, 0, remote.NewFrame(m))
}

func (s *session) lookup(handle uint64) *actor.PID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handles[handle]
}

// reserve claims a new handle id for an InitRequest in flight.
func (s *session) reserve(handle uint64) api.Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case handle == 0:
		return api.CodeInvalidParam
	case len(s.handles)+s.pending >= maxSessionHandles:
		return api.CodeNoResources
	}
	if _, dup := s.handles[handle]; dup {
		return api.CodeExist
	}
	s.pending++
	return api.CodeOK
}

// bind ends a reservation: with pid, the session owns the handle.
func (s *session) bind(handle uint64, pid *actor.PID) {
	s.mu.Lock()
	s.pending--
	if pid != nil {
		s.handles[handle] = pid
	}
	s.mu.Unlock()
}

func (s *session) unbind(handle uint64) {
	s.mu.Lock()
	delete(s.handles, handle)
	s.mu.Unlock()
}

// clearReplyTo drops the reply PID a client put in a request: a session
// never sends answers anywhere but back on itself.
func clearReplyTo(m proto.Message) {
	switch m := m.(type) {
	case *api.JoinRequest:
		m.ReplyTo = nil
	case *api.LeaveRequest:
		m.ReplyTo = nil
	case *api.FinalizeRequest:
		m.ReplyTo = nil
	}
}

// busyReply is the CS_ERR_TRY_AGAIN answer to a request to the node actor.
func busyReply(m proto.Message) proto.Message {
	c := int32(api.CodeTryAgain)
	switch m.(type) {
	case *api.MembershipRequest:
		return &api.MembershipReply{Code: c}
	case *api.IterationRequest:
		return &api.IterationReply{Code: c}
	case *api.LocalGetRequest:
		return &api.LocalGetReply{Code: c}
	case *api.Heartbeat:
		return &api.HeartbeatAck{}
	}
	return &api.Status{Code: c}
}

// deadCall answers a session's request whose actor is gone (the handle
// was finalized meanwhile): CS_ERR_BAD_HANDLE.
func deadCall(e any) {
	dl, ok := e.(*actor.DeadLetterEvent)
	if !ok {
		return
	}
	switch c := dl.Message.(type) {
	case *sessionCall:
		c.sess.reply(c.corr, status(api.CodeBadHandle))
	case *sessionInit:
		c.sess.bind(c.handle, nil)
		c.sess.reply(c.corr, &api.InitReply{Code: int32(api.CodeLibrary)})
	}
}

// addSession records an open session; false once the node stops.
func (n *Node) addSession(s *session) bool {
	n.sessMu.Lock()
	defer n.sessMu.Unlock()
	if n.sessions == nil {
		return false
	}
	n.sessions[s] = true
	return true
}

func (n *Node) removeSession(s *session) {
	n.sessMu.Lock()
	delete(n.sessions, s)
	n.sessMu.Unlock()
}

// closeSessions closes every session and refuses new ones.
func (n *Node) closeSessions() {
	n.sessMu.Lock()
	ss := n.sessions
	n.sessions = nil
	n.sessMu.Unlock()
	for s := range ss {
		s.sc.Close()
	}
}

// replyTo is where a handle actor's answer to a request goes: the
// requesting actor (in-process), or back on a session.
type replyTo struct {
	pid  *actor.PID
	sess *session
	corr uint32
}

// send sends the answer, if anyone waits for it.
func (r replyTo) send(ctx actor.SenderContext, m proto.Message) {
	switch {
	case r.sess != nil:
		r.sess.reply(r.corr, m)
	case r.pid != nil:
		ctx.Send(r.pid, m)
	}
}

// none: nobody waits for the answer (the node itself asked).
func (r replyTo) none() bool { return r.sess == nil && r.pid == nil }

// sessionSpin is how long the node's session readers poll for a client's
// awaited frame: the config's (negative: never), and never with a token
// below spinMinToken. A polling reader holds off the process's other
// connections, the links to the other nodes among them, for up to 10 ms
// at worst (remote.SessionConn.SetSpin): a heartbeat that late must not
// cost a view change.
func sessionSpin(cfg remote.Config) time.Duration {
	if cfg.Token < spinMinToken {
		return 0
	}
	return max(cfg.SessionSpin, 0)
}

// spinMinToken is the shortest token with which session readers poll.
const spinMinToken = 100 * time.Millisecond
