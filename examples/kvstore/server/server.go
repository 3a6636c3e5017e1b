// Package server is the kvstore process around a replica.Replica: a CPG
// handle whose callbacks step the replica, an outbox that multicasts what
// the replica asks for, and an HTTP API (http.go). One goroutine, the
// loop, owns the handle's dispatching and the replica; HTTP handlers
// hand it functions to run.
package server

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/examples/kvstore/replica"
)

// Config configures a Server.
type Config struct {
	// Group is the CPG group of the replicas (default "kvstore").
	Group string
	// Replicas is the configured number of replicas (N, one per node).
	Replicas int
	// HTTP is the API's listen address: 127.0.0.1:PORT (port 0: any).
	HTTP string
	// CPG selects the node: cpg.WithNode for an embedded one; none
	// attaches as ACTORCPG_NODE says (or starts libcpg's default).
	CPG []cpg.Option
	// Timeout bounds how long a write or consistent read waits to be
	// committed (default 5 s); then its outcome is unknown (HTTP 504).
	Timeout time.Duration
	// ChunkBytes and Window shape state transfers (replica.Config);
	// ChunkBytes is at most 512 KiB.
	ChunkBytes, Window int
	// Bug injects a replica bug (tests only).
	Bug replica.Bug
	// Log receives the replica's phase changes (default: none).
	Log zerolog.Logger
}

// Server is one running kvstore replica.
type Server struct {
	cfg  Config
	h    *cpg.Handle
	rep  *replica.Replica
	self replica.Member
	ln   net.Listener
	http *http.Server

	calls chan func()
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	err   error // why the loop ended (nil: Close)

	// loop-owned
	joined  bool
	out     outbox
	waiters map[uint64]*waiter
	shown   shownState
}

// waiter is an HTTP request waiting for its proposal's answer.
type waiter struct {
	seq uint64
	res chan replica.Result
}

// Start initializes a CPG handle, starts the loop (which joins the
// group) and serves the HTTP API.
func Start(cfg Config) (*Server, error) {
	if cfg.Group == "" {
		cfg.Group = "kvstore"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.ChunkBytes = min(cfg.ChunkBytes, maxValue)
	if err := loopbackOnly(cfg.HTTP); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, calls: make(chan func()), quit: make(chan struct{}), done: make(chan struct{}), waiters: make(map[uint64]*waiter)}
	h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
		Deliver: s.deliver, Confchg: s.confchg, TotemConfchg: s.totem,
		Flags: api.ModelV1DeliverInitialTotemConf, // the ring id right after the own JOIN
	}, nil, cfg.CPG...)
	if err != nil {
		return nil, fmt.Errorf("kvstore: cpg initialize: %w", err)
	}
	s.h = h
	s.self = replica.Member{Node: h.NodeID(), Pid: h.Pid()}
	var inc [8]byte
	_, _ = rand.Read(inc[:])
	s.rep = replica.New(replica.Config{
		Self: s.self, Replicas: cfg.Replicas, Incarnation: binary.LittleEndian.Uint64(inc[:]) | 1,
		ChunkBytes: cfg.ChunkBytes, Window: cfg.Window, Bug: cfg.Bug,
	})
	s.out.h = h
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		_ = h.Finalize()
		return nil, fmt.Errorf("kvstore: http: %w", err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	go s.loop()
	return s, nil
}

// loopbackOnly refuses an HTTP address beyond 127.0.0.1 (or ::1): the
// API has no authentication.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("kvstore: http address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("kvstore: http address %q: listen on 127.0.0.1 only (the API has no authentication)", addr)
	}
	return nil
}

// URL returns the API's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Member returns the replica's CPG member address.
func (s *Server) Member() replica.Member { return s.self }

// Done is closed when the server has stopped (Close, or its node is gone).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err says why the server stopped on its own (nil after Close).
func (s *Server) Err() error {
	<-s.done
	return s.err
}

// Close stops the server: the handle is finalized (the group sees this
// replica leave with PROCDOWN) and the HTTP API closes.
func (s *Server) Close() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}

// do runs f on the loop and waits for it; false if the loop has ended
// (f did not run).
func (s *Server) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case s.calls <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-s.done:
		return false
	}
}

// loop dispatches the handle's events into the replica, runs the HTTP
// handlers' calls, and after each carries out the replica's Ready.
func (s *Server) loop() {
	defer close(s.done)
	defer s.http.Close()
	defer s.h.Finalize()
	ready, err := s.h.FdGet()
	if err != nil {
		s.err = err
		return
	}
	retry := time.NewTimer(0)
	for {
		select {
		case <-ready:
			if err := s.h.Dispatch(api.DispatchAll); err != nil {
				s.err = fmt.Errorf("kvstore: dispatch: %w", err)
				return
			}
		case f := <-s.calls:
			f()
		case <-retry.C:
			if !s.joined {
				s.join()
			}
		case <-s.quit:
			return
		}
		if err := s.flush(); err != nil {
			s.err = err
			return
		}
		if s.rep.HasLeft() {
			s.err = errors.New("kvstore: this replica left the group (evicted): restart it")
			return
		}
		if !s.joined || s.out.waiting() {
			retry.Reset(5 * time.Millisecond)
		}
	}
}

// join joins the group; ErrTryAgain (a view change) is retried by the loop.
func (s *Server) join() {
	err := s.h.Join([]byte(s.cfg.Group))
	switch {
	case err == nil:
		s.joined = true
	case !errors.Is(err, api.ErrTryAgain):
		s.cfg.Log.Error().Err(err).Msg("join")
	}
}

// flush carries out the replica's Ready: its messages go to the outbox,
// its answers to their waiters.
func (s *Server) flush() error {
	rd := s.rep.Ready()
	for _, a := range rd.Answers {
		if w := s.waiters[a.Seq]; w != nil {
			w.res <- a.Result
			delete(s.waiters, a.Seq)
		}
	}
	s.out.add(rd.Messages...)
	s.logChanges()
	return s.out.send()
}

func (s *Server) deliver(_ *cpg.Handle, _ []byte, nodeid, pid uint32, msg []byte) {
	s.rep.Deliver(replica.Member{Node: nodeid, Pid: pid}, msg)
}

func (s *Server) confchg(_ *cpg.Handle, _ []byte, members, left, joined []*api.Address) {
	c := replica.Change{Members: toMembers(members), Left: toMembers(left), Joined: toMembers(joined)}
	for _, a := range append(left, joined...) {
		if r := api.Reason(a.Reason); r == api.ReasonNodeDown || r == api.ReasonNodeUp {
			c.ViewChange = true
		}
	}
	s.rep.Confchg(c)
}

func (s *Server) totem(_ *cpg.Handle, ring *api.RingId, _ []uint32) {
	s.rep.Totem(replica.Ring{Node: ring.GetNodeid(), Seq: ring.GetSeq()})
}

func toMembers(as []*api.Address) []replica.Member {
	out := make([]replica.Member, len(as))
	for i, a := range as {
		out[i] = replica.Member{Node: a.Nodeid, Pid: a.Pid}
	}
	return out
}

// shownState is what was last logged of the replica's state.
type shownState struct {
	phase     string
	term      uint64
	primary   bool
	receiving bool
}

// logChanges logs the replica's phase, term and role when they change.
func (s *Server) logChanges() {
	st := s.rep.Status()
	now := shownState{phase: st.Phase, term: st.Term, primary: st.Primary, receiving: st.Receiving}
	if now == s.shown {
		return
	}
	s.shown = now
	s.cfg.Log.Info().Str("phase", st.Phase).Uint64("term", st.Term).Bool("primary", st.Primary).
		Bool("receiving", st.Receiving).Int("members", len(st.Members)).Int("synced", len(st.Synced)).
		Int("keys", st.Keys).Msg("replica")
}
