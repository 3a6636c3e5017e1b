package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/examples/kvstore/replica"
	"github.com/actorcpg/actorcpg/examples/kvstore/server"
	"github.com/actorcpg/actorcpg/remote"
)

// cluster is n actorcpg nodes on one in-memory network (real node
// actors, engines and handles; no sockets between nodes), with one
// kvstore server per node, each serving HTTP on 127.0.0.1.
type cluster struct {
	t     *testing.T
	net   *remote.MemNetwork
	list  []remote.NodeAddr
	dir   string
	cfg   server.Config
	mu    sync.Mutex
	nodes map[uint32]*actors.Node
	srvs  map[uint32]*server.Server
}

func newCluster(t *testing.T, n int, cfg server.Config) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "kv")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, net: remote.NewMemNetwork(), dir: dir, cfg: cfg,
		nodes: make(map[uint32]*actors.Node), srvs: make(map[uint32]*server.Server)}
	c.cfg.Replicas = n
	if c.cfg.HTTP == "" {
		c.cfg.HTTP = "127.0.0.1:0"
	}
	t.Cleanup(func() {
		for id := range c.snapshotServers() {
			c.stopServer(id)
		}
		c.mu.Lock()
		for _, node := range c.nodes {
			node.Stop()
		}
		c.mu.Unlock()
		c.net.Close()
		os.RemoveAll(dir)
	})
	for id := uint32(1); id <= uint32(n); id++ {
		c.list = append(c.list, remote.NodeAddr{NodeID: id, Addr: fmt.Sprintf("mem-%d:0", id)})
	}
	for id := uint32(1); id <= uint32(n); id++ {
		c.startNode(id)
	}
	c.waitFor("one view of every node", func() bool {
		for _, node := range c.snapshotNodes() {
			if len(node.View().GetMembers()) != n {
				return false
			}
		}
		return true
	})
	for id := uint32(1); id <= uint32(n); id++ {
		c.startServer(id)
	}
	c.waitFor("every replica primary", func() bool { return c.allPrimary() })
	return c
}

// startNode starts (or restarts) node id, with a 1 s token.
func (c *cluster) startNode(id uint32) {
	cfg := remote.DefaultConfig()
	cfg.NodeID, cfg.Nodes = id, c.list
	cfg.Token, cfg.Heartbeat = time.Second, 100*time.Millisecond
	cfg.StateDir = filepath.Join(c.dir, fmt.Sprint(id)) // ring seqs grow across restarts
	node, err := actors.Start(cfg, actors.WithNetwork(c.net))
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.nodes[id] = node
	c.mu.Unlock()
}

// stopNode stops node id (its peers see NODEDOWN); its server stops with it.
func (c *cluster) stopNode(id uint32) {
	c.mu.Lock()
	node, srv := c.nodes[id], c.srvs[id]
	delete(c.nodes, id)
	delete(c.srvs, id)
	c.mu.Unlock()
	node.Stop()
	if srv != nil {
		srv.Close()
	}
}

// startServer starts a fresh kvstore replica on node id.
func (c *cluster) startServer(id uint32) *server.Server {
	cfg := c.cfg
	c.mu.Lock()
	cfg.CPG = []cpg.Option{cpg.WithNode(c.nodes[id])}
	c.mu.Unlock()
	srv, err := server.Start(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.srvs[id] = srv
	c.mu.Unlock()
	return srv
}

// stopServer ends the replica on node id (PROCDOWN; its state is lost).
func (c *cluster) stopServer(id uint32) {
	c.mu.Lock()
	srv := c.srvs[id]
	delete(c.srvs, id)
	c.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// isolate cuts node id off from every other node; heal ends all cuts.
func (c *cluster) isolate(id uint32) {
	for _, na := range c.list {
		if na.NodeID != id {
			c.net.Cut(id, na.NodeID)
			c.net.Cut(na.NodeID, id)
		}
	}
}

func (c *cluster) heal() { c.net.Heal() }

func (c *cluster) snapshotServers() map[uint32]*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint32]*server.Server, len(c.srvs))
	for id, s := range c.srvs {
		out[id] = s
	}
	return out
}

func (c *cluster) snapshotNodes() map[uint32]*actors.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[uint32]*actors.Node, len(c.nodes))
	for id, n := range c.nodes {
		out[id] = n
	}
	return out
}

// urls returns the API URL of each running server.
func (c *cluster) urls() map[uint32]string {
	out := make(map[uint32]string)
	for id, s := range c.snapshotServers() {
		out[id] = s.URL()
	}
	return out
}

// status reads a server's /status; ok false when it does not answer.
func status(url string) (replica.Status, bool) {
	var st replica.Status
	resp, err := http.Get(url + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// hashOf reads a server's /hash.
func hashOf(url string) (server.HashReply, bool) {
	var h server.HashReply
	resp, err := http.Get(url + "/hash")
	if err != nil {
		return h, false
	}
	defer resp.Body.Close()
	return h, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil
}

func (c *cluster) statusOf(id uint32) (replica.Status, bool) {
	s := c.snapshotServers()[id]
	if s == nil {
		return replica.Status{}, false
	}
	return status(s.URL())
}

// allPrimary reports whether every running server is primary, synced, in
// one term.
func (c *cluster) allPrimary() bool {
	var term uint64
	for _, u := range c.urls() {
		st, ok := status(u)
		if !ok || !st.Primary || (term != 0 && st.Term != term) {
			return false
		}
		term = st.Term
	}
	return true
}

// converged reports whether every running server holds the same content
// at the same position.
func (c *cluster) converged() bool {
	var first *server.HashReply
	for _, u := range c.urls() {
		h, ok := hashOf(u)
		if !ok {
			return false
		}
		if first == nil {
			first = &h
		} else if h != *first {
			return false
		}
	}
	return first != nil
}

// waitFor polls cond every 20 ms for up to 30 s.
func (c *cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			for id, u := range c.urls() {
				st, _ := status(u)
				c.t.Logf("server %d: %+v", id, st)
			}
			c.t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
