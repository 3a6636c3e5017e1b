package server

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/actorcpg/actorcpg/examples/kvstore/replica"
)

// maxKey and maxValue bound a key and a PUT's body, so that an operation
// (and a state transfer part: see Start) stays below CPG's largest atomic
// message (1,047,552 bytes).
const (
	maxKey   = 4 << 10
	maxValue = 512 << 10
)

// The API (package kvstore's doc has the table):
//
//	GET    /kv/{key}               local read: 200 value, 404
//	GET    /kv/{key}?consistent=1  read through the order: 200, 404, 503, 504
//	PUT    /kv/{key}               body is the value: 200, 503, 504
//	DELETE /kv/{key}               200, 503, 504
//	GET    /hash                   {"hash","term","index","keys"}
//	GET    /status                 the replica's Status
//
// 503 means refused: nothing was sent, the operation did not happen. 504
// means its outcome is unknown: it was sent and not answered in time (it
// may be applied, now or later).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key...}", s.get)
	mux.HandleFunc("PUT /kv/{key...}", s.put)
	mux.HandleFunc("DELETE /kv/{key...}", s.del)
	mux.HandleFunc("GET /hash", s.hash)
	mux.HandleFunc("GET /status", s.status)
	return mux
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if r.URL.Query().Get("consistent") == "1" {
		s.propose(w, r, replica.Op{Kind: replica.Read, Key: key})
		return
	}
	var v string
	var ok bool
	if !s.do(func() { v, ok = s.rep.Get(key) }) {
		http.Error(w, "stopped", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	_, _ = io.WriteString(w, v)
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxValue+1))
	if err != nil || len(body) > maxValue {
		http.Error(w, fmt.Sprintf("a value is read whole, up to %d bytes", maxValue), http.StatusBadRequest)
		return
	}
	s.propose(w, r, replica.Op{Kind: replica.Put, Key: r.PathValue("key"), Value: string(body)})
}

func (s *Server) del(w http.ResponseWriter, r *http.Request) {
	s.propose(w, r, replica.Op{Kind: replica.Delete, Key: r.PathValue("key")})
}

// propose proposes op on the loop and waits for its committed answer:
// 200 (a read's value; 404 when absent), 503 when refused, 504 when not
// answered within the timeout.
func (s *Server) propose(w http.ResponseWriter, r *http.Request, op replica.Op) {
	if len(op.Key) > maxKey {
		http.Error(w, fmt.Sprintf("a key has at most %d bytes", maxKey), http.StatusBadRequest)
		return
	}
	wt := &waiter{res: make(chan replica.Result, 1)}
	var err error
	if !s.do(func() {
		wt.seq, err = s.rep.Propose(op)
		if err == nil {
			s.waiters[wt.seq] = wt
		}
	}) {
		err = errors.New("stopped")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	select {
	case res := <-wt.res:
		switch {
		case op.Kind == replica.Read && !res.Found:
			http.Error(w, "not found", http.StatusNotFound)
		case op.Kind == replica.Read:
			_, _ = io.WriteString(w, res.Value)
		default:
			_, _ = io.WriteString(w, "ok\n")
		}
		return
	case <-timer.C:
	case <-r.Context().Done():
	case <-s.done:
	}
	s.do(func() {
		delete(s.waiters, wt.seq)
		s.rep.Forget(wt.seq)
	})
	http.Error(w, "outcome unknown: not committed in time", http.StatusGatewayTimeout)
}

// HashReply is GET /hash: the content hash of the local replica and its
// position (the first Index operations of Term applied).
type HashReply struct {
	Hash  string `json:"hash"`
	Term  uint64 `json:"term"`
	Index uint64 `json:"index"`
	Keys  int    `json:"keys"`
}

func (s *Server) hash(w http.ResponseWriter, _ *http.Request) {
	var rep HashReply
	if !s.do(func() {
		st := s.rep.Status()
		rep = HashReply{Hash: hex.EncodeToString(s.rep.Hash()), Term: st.StateTerm, Index: st.StateIndex, Keys: st.Keys}
	}) {
		http.Error(w, "stopped", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, rep)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	var st replica.Status
	if !s.do(func() { st = s.rep.Status() }) {
		http.Error(w, "stopped", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, st)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
