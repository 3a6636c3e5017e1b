// Package realproc runs actorcpg the way it is deployed: every node a
// cpgnode process on 127.0.0.1, every client a floodclient process attached
// to one node, with SIGKILL, restarts and cut links (cpgnode
// -test-link-control). Each client logs what it sees; after the run the
// property checker (tests/checker) reads every log and must find no
// violation.
package realproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/wire"
	"github.com/actorcpg/actorcpg/remote"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// Timings of the test clusters: short, so that faults resolve quickly.
const (
	token     = "1s"
	heartbeat = "200ms"
	join      = "50ms"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds cpgnode and floodclient once per test run.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "actorcpg-realproc-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"examples/cpgnode", "tests/floodclient"} {
			out, err := exec.Command("go", "build", "-o", binDir, "github.com/actorcpg/actorcpg/"+pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// cluster is n cpgnode processes and their floodclients.
type cluster struct {
	t     *testing.T
	bin   string
	dir   string
	addrs []string
	nodes []*exec.Cmd
	stop  string

	mu      sync.Mutex
	clients []*client
	nextInc uint64
	ctl     *actor.ActorSystem
}

type client struct {
	node   int
	log    string
	cmd    *exec.Cmd
	done   chan struct{}
	killed bool
}

func newCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t, bin: binaries(t), dir: t.TempDir(), nodes: make([]*exec.Cmd, n)}
	c.stop = filepath.Join(c.dir, "stop")
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		c.addrs = append(c.addrs, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	for k := 1; k <= n; k++ {
		c.startNode(k)
	}
	t.Cleanup(c.shutdown)
	c.waitView(allNodes(n), allNodes(n)...)
	return c
}

func allNodes(n int) []uint32 {
	var out []uint32
	for k := 1; k <= n; k++ {
		out = append(out, uint32(k))
	}
	return out
}

func (c *cluster) nodeLog(k int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d.log", k)) }

// startNode starts (or restarts) node k with its state directory.
func (c *cluster) startNode(k int) {
	var peers []string
	for j, a := range c.addrs {
		if j+1 != k {
			peers = append(peers, fmt.Sprintf("%d=%s", j+1, a))
		}
	}
	logf, err := os.OpenFile(c.nodeLog(k), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(c.bin, "cpgnode"), "-id", strconv.Itoa(k), "-listen", c.addrs[k-1],
		"-peers", strings.Join(peers, ","), "-token", token, "-heartbeat", heartbeat, "-join", join,
		"-state", filepath.Join(c.dir, fmt.Sprintf("state%d", k)), "-client-timeout", "1s",
		"-client-heartbeat", "200ms", "-test-link-control", "-log", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	logf.Close()
	c.nodes[k-1] = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", c.addrs[k-1])
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d does not listen", k)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killNode SIGKILLs node k and returns when it is gone.
func (c *cluster) killNode(k int) time.Time {
	cmd := c.nodes[k-1]
	at := time.Now()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	c.nodes[k-1] = nil
	return at
}

func (c *cluster) shutdown() {
	os.WriteFile(c.stop, nil, 0o644)
	c.mu.Lock()
	clients := slices.Clone(c.clients)
	c.mu.Unlock()
	for _, cl := range clients {
		select {
		case <-cl.done:
		case <-time.After(10 * time.Second):
			cl.cmd.Process.Kill()
			<-cl.done
		}
	}
	for _, cmd := range c.nodes {
		if cmd != nil {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	}
	if c.ctl != nil {
		c.ctl.Shutdown()
	}
	if c.t.Failed() {
		keep := filepath.Join(os.TempDir(), "actorcpg-realproc-"+c.t.Name())
		os.RemoveAll(keep)
		if err := exec.Command("cp", "-r", c.dir, keep).Run(); err == nil {
			c.t.Logf("logs kept in %s", keep)
		}
		for k := range c.nodes {
			b, _ := os.ReadFile(c.nodeLog(k + 1))
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			c.t.Logf("node %d log tail:\n%s", k+1, strings.Join(lines, "\n"))
		}
	}
}

// startClient starts a floodclient attached to node k, in groups.
func (c *cluster) startClient(k int, groups string, extra ...string) *client {
	c.mu.Lock()
	c.nextInc++
	inc := c.nextInc
	c.mu.Unlock()
	cl := &client{node: k, log: filepath.Join(c.dir, fmt.Sprintf("client%d.log", inc)), done: make(chan struct{})}
	args := append([]string{"-groups", groups, "-inc", strconv.FormatUint(inc, 10), "-log", cl.log,
		"-stop", c.stop, "-seed", strconv.FormatUint(inc, 10)}, extra...)
	cl.cmd = exec.Command(filepath.Join(c.bin, "floodclient"), args...)
	cl.cmd.Env = append(os.Environ(), "ACTORCPG_NODE="+c.addrs[k-1])
	out, err := os.Create(cl.log + ".out")
	if err != nil {
		c.t.Fatal(err)
	}
	cl.cmd.Stdout, cl.cmd.Stderr = out, out
	if err := cl.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { cl.cmd.Wait(); out.Close(); close(cl.done) }()
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl
}

// killClient SIGKILLs a client process.
func (c *cluster) killClient(cl *client) {
	cl.killed = true
	cl.cmd.Process.Signal(syscall.SIGKILL)
	<-cl.done
}

// links makes node k cut its links to the blocked nodes (and heal the rest).
func (c *cluster) links(k int, blocked ...uint32) {
	c.t.Helper()
	if c.ctl == nil {
		c.ctl = actor.NewActorSystemWithConfig(actors.SystemConfig(zerolog.Nop()))
		if _, _, err := remote.StartRemoting(c.ctl, "127.0.0.1:0"); err != nil {
			c.t.Fatal(err)
		}
	}
	res, err := c.ctl.Root.RequestFuture(actor.NewPID(c.addrs[k-1], "cpg"), &wire.LinkControl{Blocked: blocked}, 5*time.Second).Result()
	if err != nil {
		c.t.Fatalf("link control of node %d: %v", k, err)
	}
	if st, ok := res.(*api.Status); !ok || st.Code != int32(api.CodeOK) {
		c.t.Fatalf("link control of node %d: %v", k, res)
	}
}

// isolate cuts node k off from all others (both directions).
func (c *cluster) isolate(k int) {
	var others []uint32
	for j := range c.addrs {
		if j+1 != k {
			others = append(others, uint32(j+1))
			c.links(j+1, uint32(k))
		}
	}
	c.links(k, others...)
}

// heal restores every link.
func (c *cluster) heal() {
	for j := range c.addrs {
		if c.nodes[j] != nil {
			c.links(j + 1)
		}
	}
}

// logLine is one line of a node's zerolog output.
type logLine struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	Members []uint32  `json:"members"`
	Seq     uint64    `json:"ring_seq"`
	RingN   uint32    `json:"ring_node"`
}

func (c *cluster) readNodeLog(k int) []logLine {
	f, err := os.Open(c.nodeLog(k))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// waitView waits until each of nodes has installed a view of members, and
// returns when each did (the time of its "view installed" line).
func (c *cluster) waitView(members []uint32, nodes ...uint32) map[uint32]logLine {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[uint32]logLine{}
		for _, k := range nodes {
			lines := c.readNodeLog(int(k))
			for i := len(lines) - 1; i >= 0; i-- {
				if lines[i].Message == "view installed" {
					if slices.Equal(lines[i].Members, members) {
						got[k] = lines[i]
					}
					break
				}
			}
		}
		if len(got) == len(nodes) {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes %v did not install a view of %v", nodes, members)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncStart returns when node k's first view change after t began.
func (c *cluster) syncStart(k int, after time.Time) (time.Time, bool) {
	for _, l := range c.readNodeLog(k) {
		if l.Message == "view change started" && l.Time.After(after) {
			return l.Time, true
		}
	}
	return time.Time{}, false
}

// finish stops every client (the stop file), waits for them, and checks
// every log with the property checker.
func (c *cluster) finish(opts checker.Options) (checker.Report, []checker.Record) {
	c.t.Helper()
	os.WriteFile(c.stop, nil, 0o644)
	c.mu.Lock()
	clients := slices.Clone(c.clients)
	c.mu.Unlock()
	for _, cl := range clients {
		select {
		case <-cl.done:
		case <-time.After(30 * time.Second):
			c.t.Fatalf("client %s did not stop", cl.log)
		}
	}
	h := checker.NewHistory()
	var all []checker.Record
	for _, cl := range clients {
		recs, err := checker.ReadLogFile(cl.log)
		if err != nil {
			c.t.Fatalf("%s: %v", cl.log, err)
		}
		if cl.killed {
			// A killed process wrote no end; say how it ended.
			ended := map[checker.Proc]bool{}
			var procs []checker.Proc
			for _, r := range recs {
				if r.Kind == checker.KindEnd {
					ended[r.Proc] = true
				} else if !slices.Contains(procs, r.Proc) {
					procs = append(procs, r.Proc)
				}
			}
			for _, p := range procs {
				if !ended[p] {
					recs = append(recs, checker.EndRecord(p, true))
				}
			}
		}
		h.AddLog(recs)
		all = append(all, recs...)
	}
	rep := checker.Check(h, opts)
	c.t.Logf("checker: %s", rep.String())
	if !rep.OK() {
		c.t.Errorf("property violations:\n%v", rep.Err())
	}
	return rep, all
}
