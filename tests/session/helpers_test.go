// Package session tests client sessions (issue 14): a client process
// holds one connection per node, the node binds each handle to the
// session that created it, and nothing a stranger sends or forges reaches
// another client's handles.
package session

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// startNode starts a node listening on 127.0.0.1 with a client socket in
// a temporary directory.
func startNode(t testing.TB, edit func(*remote.Config)) *actors.Node {
	t.Helper()
	cfg := remote.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	dir, err := os.MkdirTemp("", "cpgsess")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.ClientSocket = filepath.Join(dir, "cpg.sock")
	if edit != nil {
		edit(&cfg)
	}
	n, err := actors.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// watcher is a member that records what it sees of a group.
type watcher struct {
	t  testing.TB
	h  *cpg.Handle
	mu sync.Mutex
	ev []string
}

// watch joins group with a handle of opts and records its events.
func watch(t testing.TB, group string, opts ...cpg.Option) *watcher {
	t.Helper()
	w := &watcher{t: t}
	h, err := cpg.Initialize(&cpg.Callbacks{
		Deliver: func(_ *cpg.Handle, _ []byte, nodeid, pid uint32, msg []byte) {
			w.add(fmt.Sprintf("deliver %d/%d %s", nodeid, pid, msg[:min(len(msg), 32)]))
		},
		Confchg: func(_ *cpg.Handle, _ []byte, members, left, joined []*api.Address) {
			s := "confchg"
			for _, a := range left {
				s += fmt.Sprintf(" left %d/%d reason %d", a.Nodeid, a.Pid, a.Reason)
			}
			for _, a := range joined {
				s += fmt.Sprintf(" joined %d/%d", a.Nodeid, a.Pid)
			}
			w.add(s)
		},
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w.h = h
	t.Cleanup(func() { h.Finalize() })
	go func() { _ = h.Dispatch(api.DispatchBlocking) }()
	if err := h.Join([]byte(group)); err != nil {
		t.Fatal(err)
	}
	w.waitFor(fmt.Sprintf("joined %d/%d", h.NodeID(), h.Pid()))
	return w
}

func (w *watcher) add(s string) {
	w.mu.Lock()
	w.ev = append(w.ev, s)
	w.mu.Unlock()
}

func (w *watcher) events() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.ev...)
}

// waitFor waits until an event containing s was seen.
func (w *watcher) waitFor(s string) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range w.events() {
			if strings.Contains(e, s) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.t.Fatalf("no event %q; saw %q", s, w.events())
}

// rogue is a hand-driven client session: it sends whatever frames a test
// wants.
type rogue struct {
	t      testing.TB
	sc     *remote.SessionConn
	mu     sync.Mutex
	corr   uint32
	frames chan remote.SessionFrame
}

func dialRogue(t testing.TB, addr string) *rogue {
	t.Helper()
	raw, err := remote.DialSession(addr, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := &rogue{t: t, sc: remote.NewClientSession(raw), frames: make(chan remote.SessionFrame, 4096)}
	t.Cleanup(r.sc.Close)
	go func() {
		defer close(r.frames)
		for {
			f, err := r.sc.Read()
			if err != nil {
				return
			}
			r.frames <- f
		}
	}()
	return r
}

// call sends a request about handle and returns its reply.
func (r *rogue) call(handle uint64, m proto.Message) proto.Message {
	r.t.Helper()
	r.mu.Lock()
	r.corr++
	corr := r.corr
	r.mu.Unlock()
	r.sc.Send(handle, corr, remote.NewFrame(m))
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-r.frames:
			if !ok {
				r.t.Fatalf("session closed waiting for the reply to %T", m)
			}
			if f.Corr == corr {
				return f.Msg
			}
		case <-timeout:
			r.t.Fatalf("no reply to %T", m)
		}
	}
}

// init creates a handle with the rogue's id for it.
func (r *rogue) init(handle uint64) *api.InitReply {
	r.t.Helper()
	rep, ok := r.call(handle, &api.InitRequest{Handle: handle}).(*api.InitReply)
	if !ok || rep.Code != int32(api.CodeOK) {
		r.t.Fatalf("init: %v", rep)
	}
	return rep
}

// code returns the CS code of a Status reply.
func code(t testing.TB, m proto.Message) api.Code {
	t.Helper()
	st, ok := m.(*api.Status)
	if !ok {
		t.Fatalf("reply %T, want *api.Status", m)
	}
	return api.Code(st.Code)
}

// rawSession opens a session by hand on addr (host:port or unix:path)
// and returns the connection after the magic.
func rawSession(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := remote.DialSession(addr, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// frame encodes one session frame by hand.
func frame(kind byte, handle uint64, corr uint32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint64(b, handle)
	b = binary.LittleEndian.AppendUint32(b, corr)
	return append(b, body...)
}

func marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// closedWithin reports whether the node closes conn within d (reading
// and discarding what it sends meanwhile).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, bufio.NewReader(conn))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// stillServes checks that a real client can use the node: two handles
// attached at addr exchange a message.
func stillServes(t testing.TB, addr string, group string) {
	t.Helper()
	w := watch(t, group, cpg.WithAddress(addr))
	h, err := cpg.Initialize(nil, cpg.WithAddress(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Finalize()
	if err := h.Join([]byte(group)); err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.Dispatch(api.DispatchBlocking) }()
	for {
		err := h.McastJoined(api.TypeAgreed, []byte("still here"))
		if err == nil {
			break
		}
		if err != api.ErrTryAgain {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	w.waitFor("still here")
}
