package cpg

import (
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// clientSession is the client end of a session with a node
// (remote/session.go): requests carry a correlation id and wait for the
// reply with it; everything is written in the order sent.
type clientSession struct {
	sc *remote.SessionConn

	mu      sync.Mutex
	pending map[uint32]chan proto.Message
	corr    uint32
}

func newClientSession(raw net.Conn) *clientSession {
	return &clientSession{sc: remote.NewClientSession(raw), pending: map[uint32]chan proto.Message{}}
}

// call sends a request about handle (0: the node) and waits up to
// timeout for its reply: ErrTryAgain if none came with the session open,
// ErrLibrary once it is closed.
func (s *clientSession) call(handle uint64, m proto.Message, timeout time.Duration) (proto.Message, error) {
	f := remote.NewFrame(m)
	if f == nil {
		return nil, fmt.Errorf("cpg: %T cannot travel on a session: %w", m, api.ErrLibrary)
	}
	ch := make(chan proto.Message, 1)
	s.mu.Lock()
	s.corr++
	if s.corr == 0 {
		s.corr = 1
	}
	corr := s.corr
	s.pending[corr] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, corr)
		s.mu.Unlock()
	}()
	if !s.sc.Send(handle, corr, f) {
		return nil, fmt.Errorf("cpg: node gone: %w", api.ErrLibrary)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-s.sc.Done():
		return nil, fmt.Errorf("cpg: node gone: %w", api.ErrLibrary)
	case <-t.C:
		return nil, fmt.Errorf("cpg: node did not answer in time: %w", api.ErrTryAgain)
	}
}

// send sends a one-way message about handle.
func (s *clientSession) send(handle uint64, m proto.Message) {
	s.sc.Send(handle, 0, remote.NewFrame(m))
}

// resolve hands a reply to its waiting request; a late one is dropped.
func (s *clientSession) resolve(corr uint32, m proto.Message) {
	s.mu.Lock()
	ch := s.pending[corr]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
}

func (s *clientSession) close() { s.sc.Close() }

// readSession reads the node's replies, event batches and controls until
// the session ends; then the node is gone (kill). Events are handed to
// the handles in this goroutine, in session order.
func (c *conn) readSession() {
	defer c.kill()
	defer func() {
		if p := recover(); p != nil {
			c.sess.sc.Refused(p)
		}
	}()
	for {
		f, err := c.sess.sc.Read()
		if err != nil {
			return
		}
		if f.Corr != 0 {
			c.sess.resolve(f.Corr, f.Msg)
			continue
		}
		c.route(f.Msg)
	}
}
