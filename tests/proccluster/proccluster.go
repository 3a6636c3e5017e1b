// Package proccluster runs actorcpg the way it is deployed, for fault
// tests: every node a cpgnode process on 127.0.0.1 (started with
// -test-link-control), every client a floodclient process attached to one
// node. A test starts and SIGKILLs nodes and clients, cuts links between
// nodes (wire.LinkControl), waits for views in the nodes' logs, and in the
// end stops every client and hands all their logs to the property checker
// (tests/checker).
//
//	func TestMain(m *testing.M) { os.Exit(proccluster.Main(m)) }
//
//	func TestX(t *testing.T) {
//		c := proccluster.New(t, 3, proccluster.Options{})
//		c.StartClient(1, "alpha,beta", "-rate", "300")
//		c.KillNode(3)
//		c.WaitView([]uint32{1, 2}, 1, 2)
//		...
//		rep, recs := c.Finish(checker.Options{Quiet: true})
//	}
//
// The binaries are ordinary builds (go build), made once per test binary.
// Every process is killed when the test ends (t.Cleanup) and, on Linux,
// when the test process dies. The logs of a failed test are kept; the
// directory is logged.
package proccluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/testport"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote/remoting"
	"github.com/actorcpg/actorcpg/tests/checker"
)

// Options are the timings of a Cluster. Zero fields take the defaults:
// short timings, so that faults resolve quickly.
type Options struct {
	Token           time.Duration // failure detection (default 1s)
	Heartbeat       time.Duration // node heartbeat (default 200ms)
	Join            time.Duration // view-change settle time (default 50ms)
	ClientTimeout   time.Duration // a node finalizes a client silent this long (default 1s)
	ClientHeartbeat time.Duration // client heartbeat (default 200ms)
	LogLevel        string        // cpgnode -log (default info)
	// WaitTimeout bounds New's first view, WaitView and WaitGroups
	// (default 20s).
	WaitTimeout time.Duration
	// StopTimeout bounds how long Finish waits for the clients to stop
	// (default 30s).
	StopTimeout time.Duration
	// QuietTimeout bounds how long StopClients waits for the run to go
	// quiet once the clients stopped sending (default 30s).
	QuietTimeout time.Duration
}

func (o *Options) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&o.Token, time.Second)
	set(&o.Heartbeat, 200*time.Millisecond)
	set(&o.Join, 50*time.Millisecond)
	set(&o.ClientTimeout, time.Second)
	set(&o.ClientHeartbeat, 200*time.Millisecond)
	set(&o.WaitTimeout, 20*time.Second)
	set(&o.StopTimeout, 30*time.Second)
	set(&o.QuietTimeout, 30*time.Second)
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Main runs a test binary's tests and removes the binaries Cluster built.
// Call it from TestMain: os.Exit(proccluster.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// Binaries builds cpgnode and floodclient once per test binary and returns
// the directory that holds them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "actorcpg-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir,
			"github.com/actorcpg/actorcpg/examples/cpgnode",
			"github.com/actorcpg/actorcpg/tests/floodclient").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// Cluster is n cpgnode processes, numbered 1..n, and their floodclients.
// Its methods are called from the test's goroutine.
type Cluster struct {
	t     testing.TB
	o     Options
	bin   string
	dir   string
	addrs []string
	nodes []*exec.Cmd
	pause []bool     // the node's process is stopped (PauseNode)
	block [][]uint32 // what each node blocks (LinkControl), for restarts
	stop  string     // the clients stop sending when it exists
	end   string     // the clients end their drain when it exists

	mu      sync.Mutex
	clients []*Client
	nextInc uint64
}

// Client is one floodclient process.
type Client struct {
	// Node is the node it is attached to.
	Node int
	// Groups is its -groups argument: one handle (one CPG process) each.
	Groups string
	// Log is its event log (JSON lines, tests/checker); its stdout and
	// stderr go to Log+".out".
	Log string
	// Inc is its incarnation number (-inc).
	Inc uint64

	cmd    *exec.Cmd
	done   chan struct{}
	killed atomic.Bool
	tail   tail
}

// Done is closed when the process has exited.
func (cl *Client) Done() <-chan struct{} { return cl.done }

// Exited reports whether the process has exited.
func (cl *Client) Exited() bool {
	select {
	case <-cl.done:
		return true
	default:
		return false
	}
}

// Killed reports whether the test SIGKILLed it.
func (cl *Client) Killed() bool { return cl.killed.Load() }

// ExitCode is the process's exit status (-1 while it runs or when it was
// killed by a signal).
func (cl *Client) ExitCode() int {
	if !cl.Exited() {
		return -1
	}
	return cl.cmd.ProcessState.ExitCode()
}

// New starts n nodes, registers their shutdown with t.Cleanup and waits
// until every node has installed the view of all n.
func New(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	o.defaults()
	bin := Binaries(t)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir, err := os.MkdirTemp("", "actorcpg-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, o: o, bin: bin, dir: dir, nodes: make([]*exec.Cmd, n), pause: make([]bool, n), block: make([][]uint32, n)}
	c.stop = filepath.Join(c.dir, "stop")
	c.end = filepath.Join(c.dir, "end")
	t.Cleanup(c.shutdown)
	for i := 0; i < n; i++ {
		// Below the ephemeral range: an outgoing connection of a node
		// started first cannot take a later node's port (testport).
		addr, err := testport.Free()
		if err != nil {
			t.Fatal(err)
		}
		c.addrs = append(c.addrs, addr)
	}
	for k := 1; k <= n; k++ {
		c.StartNode(k)
	}
	c.WaitView(AllNodes(n), AllNodes(n)...)
	return c
}

// AllNodes returns 1..n.
func AllNodes(n int) []uint32 {
	out := make([]uint32, n)
	for k := range out {
		out[k] = uint32(k + 1)
	}
	return out
}

// Options returns the cluster's options, defaults filled in.
func (c *Cluster) Options() Options { return c.o }

// N is the number of nodes.
func (c *Cluster) N() int { return len(c.addrs) }

// Dir is the directory of the logs and state directories.
func (c *Cluster) Dir() string { return c.dir }

// Addr is node k's address (ACTORCPG_NODE of its clients).
func (c *Cluster) Addr(k int) string { return c.addrs[k-1] }

// Alive reports whether node k's process runs (started and not killed or
// stopped by the test). A paused node (PauseNode) is alive.
func (c *Cluster) Alive(k int) bool { return c.nodes[k-1] != nil }

// Paused reports whether node k's process is stopped by PauseNode.
func (c *Cluster) Paused(k int) bool { return c.pause[k-1] }

// NodeLog is node k's log file (zerolog JSON lines; every incarnation
// appends to it).
func (c *Cluster) NodeLog(k int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d.log", k)) }

// StartNode starts (or restarts) node k with its state directory and
// returns once it listens. A restarted node gets the link cuts last set for
// it (Links, Isolate, Partition) again.
func (c *Cluster) StartNode(k int) {
	c.t.Helper()
	if c.nodes[k-1] != nil {
		c.t.Fatalf("node %d already runs", k)
	}
	var peers []string
	for j, a := range c.addrs {
		if j+1 != k {
			peers = append(peers, fmt.Sprintf("%d=%s", j+1, a))
		}
	}
	logf, err := os.OpenFile(c.NodeLog(k), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(c.bin, "cpgnode"), "-id", strconv.Itoa(k), "-listen", c.addrs[k-1],
		"-peers", strings.Join(peers, ","), "-token", c.o.Token.String(), "-heartbeat", c.o.Heartbeat.String(),
		"-join", c.o.Join.String(), "-state", filepath.Join(c.dir, fmt.Sprintf("state%d", k)),
		"-client-timeout", c.o.ClientTimeout.String(), "-client-heartbeat", c.o.ClientHeartbeat.String(),
		"-test-link-control", "-log", c.o.LogLevel)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	logf.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[k-1] = cmd
	deadline := time.Now().Add(c.o.WaitTimeout)
	for {
		conn, err := net.Dial("tcp", c.addrs[k-1])
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d does not listen", k)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(c.block[k-1]) > 0 {
		c.Links(k, c.block[k-1]...)
	}
}

// KillNode SIGKILLs node k and returns, once it is gone, when it was
// killed. Its clients notice by themselves (they log their end and exit).
func (c *Cluster) KillNode(k int) time.Time {
	c.t.Helper()
	cmd := c.nodes[k-1]
	if cmd == nil {
		c.t.Fatalf("node %d does not run", k)
	}
	at := time.Now()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	c.nodes[k-1] = nil
	c.pause[k-1] = false
	return at
}

// PauseNode stops node k's process with SIGSTOP, as a long GC pause, swap
// or an overloaded host would: its sockets stay open, it neither sends nor
// reads. It returns, once the process is stopped (on Linux; elsewhere once
// the signal is sent), when it was stopped. ResumeNode continues it; the
// cluster's cleanup, StopNode and KillNode continue a paused node first.
func (c *Cluster) PauseNode(k int) time.Time {
	c.t.Helper()
	cmd := c.nodes[k-1]
	if cmd == nil {
		c.t.Fatalf("node %d does not run", k)
	}
	if c.pause[k-1] {
		c.t.Fatalf("node %d is already paused", k)
	}
	at := time.Now()
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatalf("SIGSTOP node %d: %v", k, err)
	}
	c.pause[k-1] = true
	deadline := time.Now().Add(5 * time.Second)
	for !processStopped(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d (pid %d) did not stop after SIGSTOP", k, cmd.Process.Pid)
		}
		time.Sleep(time.Millisecond)
	}
	return at
}

// ResumeNode continues node k's process, paused by PauseNode, with SIGCONT
// and returns when it was sent.
func (c *Cluster) ResumeNode(k int) time.Time {
	c.t.Helper()
	cmd := c.nodes[k-1]
	if cmd == nil || !c.pause[k-1] {
		c.t.Fatalf("node %d is not paused", k)
	}
	at := time.Now()
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatalf("SIGCONT node %d: %v", k, err)
	}
	c.pause[k-1] = false
	return at
}

// StopNode stops node k with SIGTERM (SIGKILL after 5 s).
func (c *Cluster) StopNode(k int) {
	if cmd := c.nodes[k-1]; cmd != nil {
		if c.pause[k-1] { // a stopped process would hold SIGTERM
			cmd.Process.Signal(syscall.SIGCONT)
			c.pause[k-1] = false
		}
		terminate(cmd, 5*time.Second)
		c.nodes[k-1] = nil
	}
}

// terminate SIGTERMs cmd and SIGKILLs it if it has not exited after grace.
func terminate(cmd *exec.Cmd, grace time.Duration) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

// shutdown ends every process; on failure it keeps the logs.
func (c *Cluster) shutdown() {
	for k, cmd := range c.nodes { // a paused node's clients could not end
		if cmd != nil && c.pause[k] {
			cmd.Process.Signal(syscall.SIGCONT)
			c.pause[k] = false
		}
	}
	os.WriteFile(c.stop, nil, 0o644)
	os.WriteFile(c.end, nil, 0o644)
	grace := time.After(3 * time.Second)
	for _, cl := range c.Clients() {
		select {
		case <-cl.done:
		case <-grace:
			cl.cmd.Process.Kill()
			<-cl.done
		}
	}
	for k := range c.nodes {
		c.StopNode(k + 1)
	}
	if !c.t.Failed() {
		os.RemoveAll(c.dir)
		return
	}
	c.t.Logf("logs kept in %s", c.dir)
	for k := range c.nodes {
		b, _ := os.ReadFile(c.NodeLog(k + 1))
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.Contains(l, `"component":"protoactor"`) && !strings.Contains(l, `"view message `) {
				lines = append(lines, l)
			}
		}
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		c.t.Logf("node %d log tail (without protoactor and view messages):\n%s", k+1, strings.Join(lines, "\n"))
	}
}

// StartClient starts a floodclient attached to node k, with one handle in
// each of groups (comma-separated), and extra floodclient flags. Each
// client gets the next incarnation number, which is also its -seed, and
// the cluster's stop and end files (see StopClients).
func (c *Cluster) StartClient(k int, groups string, extra ...string) *Client {
	c.t.Helper()
	c.mu.Lock()
	c.nextInc++
	inc := c.nextInc
	c.mu.Unlock()
	cl := &Client{Node: k, Groups: groups, Inc: inc, Log: filepath.Join(c.dir, fmt.Sprintf("client%d.log", inc)), done: make(chan struct{})}
	args := append([]string{"-groups", groups, "-inc", strconv.FormatUint(inc, 10), "-log", cl.Log,
		"-stop", c.stop, "-end", c.end, "-seed", strconv.FormatUint(inc, 10)}, extra...)
	cl.cmd = exec.Command(filepath.Join(c.bin, "floodclient"), args...)
	cl.cmd.Env = append(os.Environ(), "ACTORCPG_NODE="+c.addrs[k-1])
	cl.cmd.SysProcAttr = sysProcAttr()
	out, err := os.Create(cl.Log + ".out")
	if err != nil {
		c.t.Fatal(err)
	}
	cl.cmd.Stdout, cl.cmd.Stderr = out, out
	if err := cl.cmd.Start(); err != nil {
		out.Close()
		c.t.Fatal(err)
	}
	go func() { cl.cmd.Wait(); out.Close(); close(cl.done) }()
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl
}

// KillClient SIGKILLs a client process and returns once it is gone. The
// checker is told that its processes were killed.
func (c *Cluster) KillClient(cl *Client) {
	cl.killed.Store(true)
	cl.cmd.Process.Signal(syscall.SIGKILL)
	<-cl.done
}

// Clients returns every client started so far, in start order.
func (c *Cluster) Clients() []*Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.clients)
}

var (
	ctlOnce sync.Once
	ctlSys  *actor.ActorSystem
	ctlErr  error
)

// controlSystem returns the process's one actor system for link control,
// with remoting on an ephemeral port, started on first use. One for every
// cluster of the process: protoactor's remoting start sets gRPC's global
// logger, which races the gRPC goroutines of a remoting already running.
func controlSystem() (*actor.ActorSystem, error) {
	ctlOnce.Do(func() {
		sys := actor.NewActorSystemWithConfig(actors.SystemConfig(zerolog.Nop()))
		if _, _, err := remoting.Start(sys, "127.0.0.1:0", nil); err != nil {
			ctlErr = err
			return
		}
		ctlSys = sys
	})
	return ctlSys, ctlErr
}

// Links makes node k cut its links to the blocked nodes (it sends them
// nothing and drops what they send) and heal every other link of it. Node
// k must run. A restart of k applies the same cuts again.
func (c *Cluster) Links(k int, blocked ...uint32) {
	c.t.Helper()
	c.block[k-1] = slices.Clone(blocked)
	ctl, err := controlSystem()
	if err != nil {
		c.t.Fatal(err)
	}
	res, err := ctl.Root.RequestFuture(actor.NewPID(c.addrs[k-1], "cpg"), &wire.LinkControl{Blocked: blocked}, 5*time.Second).Result()
	if err != nil {
		c.t.Fatalf("link control of node %d: %v", k, err)
	}
	if st, ok := res.(*api.Status); !ok || st.Code != int32(api.CodeOK) {
		c.t.Fatalf("link control of node %d: %v", k, res)
	}
}

// Partition splits the nodes into the given sides, plus one side of the
// nodes no side names: every running node cuts its links to the nodes of
// the other sides and heals the rest. Nodes that do not run get the cuts
// when they restart. Partition() heals everything.
func (c *Cluster) Partition(sides ...[]uint32) {
	c.t.Helper()
	side := make([]int, c.N()) // 0: the side of the unnamed nodes
	for i, s := range sides {
		for _, k := range s {
			side[k-1] = i + 1
		}
	}
	for k := 1; k <= c.N(); k++ {
		var blocked []uint32
		for j := 1; j <= c.N(); j++ {
			if side[j-1] != side[k-1] {
				blocked = append(blocked, uint32(j))
			}
		}
		if c.Alive(k) {
			c.Links(k, blocked...)
		} else {
			c.block[k-1] = blocked
		}
	}
}

// Isolate cuts node k off from all others (both directions).
func (c *Cluster) Isolate(k int) { c.Partition([]uint32{uint32(k)}) }

// Heal restores every link.
func (c *Cluster) Heal() { c.Partition() }

// LogLine is one line of a node's zerolog output, with the fields of its
// "view installed" lines.
type LogLine struct {
	Time     time.Time `json:"time"`
	Level    string    `json:"level"`
	Message  string    `json:"message"`
	Members  []uint32  `json:"members"`
	RingSeq  uint64    `json:"ring_seq"`
	RingNode uint32    `json:"ring_node"`
	// Gap is the time in ms a node was not scheduled (MsgNotScheduled).
	Gap float64 `json:"gap"`
	// Client is the client a node finalized (MsgClientSilent).
	Client string `json:"client"`
}

// The messages of a node's log that tell about views.
const (
	MsgViewChangeStarted = "view change started"
	MsgViewInstalled     = "view installed"
)

// The beginnings of the messages a node logs when its process was not
// scheduled for a while (a stall: SIGSTOP, a long GC pause) and when it
// finalizes a client it no longer hears from.
const (
	MsgNotScheduled = "not scheduled"
	MsgClientSilent = "client silent"
)

// NodeLogLines returns the lines of node k's log whose message begins with
// prefix.
func (c *Cluster) NodeLogLines(k int, prefix string) []LogLine {
	var out []LogLine
	for _, l := range c.ReadNodeLog(k) {
		if strings.HasPrefix(l.Message, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// ReadNodeLog returns the JSON lines of node k's log (every incarnation).
func (c *Cluster) ReadNodeLog(k int) []LogLine {
	f, err := os.Open(c.NodeLog(k))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []LogLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l LogLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// lastView returns the last view node k installed, and whether no view
// change has started since. It reads the log from its end.
func (c *Cluster) lastView(k int) (LogLine, bool) {
	b, err := os.ReadFile(c.NodeLog(k))
	if err != nil {
		return LogLine{}, false
	}
	installed := []byte(`"message":"` + MsgViewInstalled + `"`)
	started := []byte(`"message":"` + MsgViewChangeStarted + `"`)
	for len(b) > 0 {
		i := bytes.LastIndexByte(b[:len(b)-1], '\n')
		line := b[i+1:]
		b = b[:i+1]
		switch {
		case bytes.Contains(line, started):
			return LogLine{}, false
		case bytes.Contains(line, installed):
			var l LogLine
			if json.Unmarshal(line, &l) == nil {
				return l, true
			}
		}
	}
	return LogLine{}, false
}

// WaitView waits until each of nodes has, as its last view, one and the
// same view (one ring id) of members, with no view change started since,
// and returns each node's "view installed" line. It fails the test after
// Options.WaitTimeout.
func (c *Cluster) WaitView(members []uint32, nodes ...uint32) map[uint32]LogLine {
	c.t.Helper()
	deadline := time.Now().Add(c.o.WaitTimeout)
	for {
		got := map[uint32]LogLine{}
		var last []string
		for _, k := range nodes {
			l, ok := c.lastView(int(k))
			if ok {
				last = append(last, fmt.Sprintf("%d: %d/%d %v", k, l.RingNode, l.RingSeq, l.Members))
			} else {
				last = append(last, fmt.Sprintf("%d: in a view change", k))
			}
			if ok && slices.Equal(l.Members, members) {
				got[k] = l
			}
		}
		same := true
		for _, l := range got {
			for _, m := range got {
				same = same && l.RingNode == m.RingNode && l.RingSeq == m.RingSeq
			}
		}
		if len(got) == len(nodes) && same {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes %v did not install one view of %v; their last views: %s", nodes, members, strings.Join(last, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SyncStart returns when node k's first view change after the given time
// began.
func (c *Cluster) SyncStart(k int, after time.Time) (time.Time, bool) {
	for _, l := range c.ReadNodeLog(k) {
		if l.Message == MsgViewChangeStarted && l.Time.After(after) {
			return l.Time, true
		}
	}
	return time.Time{}, false
}

// RingID names one view.
type RingID struct {
	Node uint32
	Seq  uint64
}

// Views returns the distinct views the nodes installed (from their logs),
// with their members, in no particular order.
func (c *Cluster) Views() map[RingID][]uint32 { return c.ViewsSince(time.Time{}) }

// ViewsSince returns the distinct views the nodes installed after the given
// time.
func (c *Cluster) ViewsSince(after time.Time) map[RingID][]uint32 {
	out := map[RingID][]uint32{}
	for k := 1; k <= c.N(); k++ {
		for _, l := range c.ReadNodeLog(k) {
			if l.Message == MsgViewInstalled && (after.IsZero() || l.Time.After(after)) {
				out[RingID{l.RingNode, l.RingSeq}] = l.Members
			}
		}
	}
	return out
}

// WaitGroups waits until every client still running has joined all its
// groups and every process of those clients sees, in its last confchg,
// exactly the processes of the running clients in its group: the groups
// have settled. It fails the test after Options.WaitTimeout, naming what
// differs.
func (c *Cluster) WaitGroups() {
	c.t.Helper()
	if err := c.AwaitGroups(); err != nil {
		c.t.Fatal(err)
	}
}

// AwaitGroups is WaitGroups returning an error instead of failing the test.
func (c *Cluster) AwaitGroups() error {
	deadline := time.Now().Add(c.o.WaitTimeout)
	report := time.Now().Add(10 * time.Second)
	for {
		why := c.groupsSettled()
		if why == "" {
			return nil
		}
		if time.Now().After(report) {
			report = report.Add(10 * time.Second)
			c.t.Logf("%s waiting for the groups to settle: %s", time.Now().Format("15:04:05.000"), why)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the groups did not settle within %v: %s", c.o.WaitTimeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// groupsSettled returns "" when the groups have settled, else why not.
func (c *Cluster) groupsSettled() string {
	procs, _, err := c.live()
	if err != nil {
		return err.Error()
	}
	want := map[string][]checker.Member{} // group: its live processes
	for _, cl := range c.Clients() {
		if cl.Exited() {
			continue
		}
		n := 0
		for _, ps := range cl.tail.procs {
			if ps.joined && !ps.ended {
				n++
			} else if ps.ended {
				return fmt.Sprintf("client %d ended %v but runs", cl.Inc, ps.proc)
			}
		}
		if n < len(strings.Split(cl.Groups, ",")) {
			return fmt.Sprintf("client %d (node %d) has joined %d of its groups %s", cl.Inc, cl.Node, n, cl.Groups)
		}
	}
	for _, ps := range procs {
		want[ps.group] = append(want[ps.group], checker.Member{Node: ps.proc.Node, Pid: ps.proc.Pid})
	}
	for g, ms := range want {
		slices.SortFunc(ms, func(a, b checker.Member) int {
			if a.Node != b.Node {
				return int(a.Node) - int(b.Node)
			}
			return int(a.Pid) - int(b.Pid)
		})
		want[g] = ms
	}
	for _, ps := range procs {
		if !slices.Equal(ps.members, want[ps.group]) {
			return fmt.Sprintf("%v in %q sees %v, the running processes are %v", ps.proc, ps.group, ps.members, want[ps.group])
		}
	}
	return ""
}

// tail follows a client's log.
type tail struct {
	off     int64
	partial []byte
	procs   map[checker.Proc]*procState
	changed bool // the last read found new records
}

// procState is what tail knows of one process.
type procState struct {
	proc    checker.Proc
	group   string
	joined  bool // has seen a confchg (its own join first)
	members []checker.Member
	ended   bool
	sent    uint64                  // the seq of its last message sent ok
	from    map[checker.Proc]uint64 // the last seq delivered, by origin
	last    msgID                   // the last message delivered
}

// msgID names one test message.
type msgID struct {
	From checker.Proc
	Seq  uint64
}

// lineHead is the part of a log line that tail reads.
type lineHead struct {
	Proc checker.Proc `json:"proc"`
	Kind checker.Kind `json:"kind"`
	From checker.Proc `json:"from"`
	Seq  uint64       `json:"seq"`
	OK   bool         `json:"ok"`
}

// parseHead reads a lineHead from a line as checker.LogWriter writes it
// ({"proc":{...},"kind":"...",...,"from":{...},"seq":N,"ok":true,...})
// without encoding/json, which is slow under the race detector; ok is false
// when the line does not have that shape.
func parseHead(line []byte) (h lineHead, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"proc":{`))
	if !ok {
		return h, false
	}
	var procPart []byte
	procPart, rest, ok = bytes.Cut(rest, []byte("}"))
	if !ok {
		return h, false
	}
	if h.Proc, ok = parseProc(procPart); !ok {
		return h, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"kind":"`)); !ok {
		return h, false
	}
	var kind []byte
	if kind, rest, ok = bytes.Cut(rest, []byte(`"`)); !ok {
		return h, false
	}
	h.Kind = checker.Kind(kind)
	if _, after, found := bytes.Cut(rest, []byte(`"from":{`)); found {
		var fromPart []byte
		if fromPart, rest, ok = bytes.Cut(after, []byte("}")); !ok {
			return h, false
		}
		if h.From, ok = parseProc(fromPart); !ok {
			return h, false
		}
	}
	if v, found := uintField(rest, "seq"); found {
		h.Seq = v
	}
	h.OK = bytes.Contains(rest, []byte(`"ok":true`))
	return h, true
}

// parseProc reads `"node":N,"pid":P,"inc":I`.
func parseProc(b []byte) (checker.Proc, bool) {
	node, ok1 := uintField(b, "node")
	pid, ok2 := uintField(b, "pid")
	inc, ok3 := uintField(b, "inc")
	return checker.Proc{Node: uint32(node), Pid: uint32(pid), Inc: inc}, ok1 && ok2 && ok3
}

// uintField finds "key":N in b and returns N.
func uintField(b []byte, key string) (uint64, bool) {
	_, after, ok := bytes.Cut(b, []byte(`"`+key+`":`))
	if !ok {
		return 0, false
	}
	n := 0
	for n < len(after) && after[n] >= '0' && after[n] <= '9' {
		n++
	}
	v, err := strconv.ParseUint(string(after[:n]), 10, 64)
	return v, err == nil
}

// read reads what was appended to path since the last read.
func (t *tail) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	t.off += int64(len(b))
	b = append(t.partial, b...)
	i := bytes.LastIndexByte(b, '\n')
	t.partial = slices.Clone(b[i+1:])
	t.changed = i >= 0
	if t.procs == nil {
		t.procs = map[checker.Proc]*procState{}
	}
	for _, line := range bytes.Split(b[:i+1], []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		h, ok := parseHead(line)
		if !ok {
			if err := json.Unmarshal(line, &h); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
		}
		ps := t.procs[h.Proc]
		if ps == nil {
			ps = &procState{proc: h.Proc, from: map[checker.Proc]uint64{}}
			t.procs[h.Proc] = ps
		}
		switch h.Kind {
		case checker.KindConfchg:
			var r checker.Record
			if err := json.Unmarshal(line, &r); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			ps.group, ps.joined, ps.members = r.Group, true, r.Members
		case checker.KindDeliver:
			ps.from[h.From] = h.Seq
			ps.last = msgID{From: h.From, Seq: h.Seq}
		case checker.KindSent:
			if h.OK {
				ps.sent = h.Seq
			}
		case checker.KindEnd:
			ps.ended = true
		}
	}
	return nil
}

// live returns the processes of the running clients that have joined and
// not ended, reading their logs first; changed says whether any log grew.
func (c *Cluster) live() (procs []*procState, changed bool, err error) {
	for _, cl := range c.Clients() {
		if cl.Exited() {
			continue
		}
		if err := cl.tail.read(cl.Log); err != nil {
			return nil, false, err
		}
		changed = changed || cl.tail.changed
		if cl.Exited() { // it ended while we read
			continue
		}
		for _, ps := range cl.tail.procs {
			if ps.joined && !ps.ended {
				procs = append(procs, ps)
			}
		}
	}
	return procs, changed, nil
}

// quiet returns "" when the run is quiet: no node is in a view change,
// every live process has delivered its own last message, and the live
// processes of each group have delivered the same last message. Else it
// says why not. changed says whether a client's log grew since the last
// call.
func (c *Cluster) quiet() (why string, changed bool) {
	procs, changed, err := c.live()
	if err != nil {
		return err.Error(), changed
	}
	for k := 1; k <= c.N(); k++ {
		if c.Alive(k) {
			if _, ok := c.lastView(k); !ok {
				return fmt.Sprintf("node %d is in a view change", k), changed
			}
		}
	}
	last := map[string]*procState{}
	for _, ps := range procs {
		if ps.sent > ps.from[ps.proc] {
			return fmt.Sprintf("%v in %q has delivered its own messages up to %d of %d", ps.proc, ps.group, ps.from[ps.proc], ps.sent), changed
		}
		if o := last[ps.group]; o == nil {
			last[ps.group] = ps
		} else if o.last != ps.last {
			return fmt.Sprintf("in %q %v delivered %v last, %v delivered %v", ps.group, o.proc, o.last, ps.proc, ps.last), changed
		}
	}
	return "", changed
}

// Finish stops every client (StopClients) and checks all their logs with
// the property checker (Check); a violation fails the test. It returns the
// report and every record.
func (c *Cluster) Finish(opts checker.Options) (checker.Report, []checker.Record) {
	c.t.Helper()
	c.StopClients()
	return c.check(opts, true)
}

// FinishReport is Finish without keeping the records, for long runs.
func (c *Cluster) FinishReport(opts checker.Options) checker.Report {
	c.t.Helper()
	c.StopClients()
	return c.Check(opts)
}

// StopClients creates the stop file: the clients stop sending and keep
// dispatching. Once the run is quiet (no node in a view change, every live
// process has delivered its own last message, the processes of each group
// have delivered the same last message, and no log grew for 300 ms), or
// after Options.QuietTimeout, which fails the test, it creates the end
// file: the clients log their end and exit (a client started with a
// shorter -drain ends before). It waits for every client. A client that
// does not exit within Options.StopTimeout fails the test: it gets SIGQUIT
// first, so that its goroutines are dumped to its .out file, then SIGKILL,
// and counts as killed.
func (c *Cluster) StopClients() {
	c.t.Helper()
	os.WriteFile(c.stop, nil, 0o644)
	if err := c.awaitQuiet(); err != nil {
		c.t.Error(err)
	}
	os.WriteFile(c.end, nil, 0o644)
	deadline := time.After(c.o.StopTimeout)
	for _, cl := range c.Clients() {
		select {
		case <-cl.done:
		case <-deadline:
			deadline = time.After(0)
			cl.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-cl.done:
			case <-time.After(2 * time.Second):
				cl.cmd.Process.Kill()
				<-cl.done
			}
			cl.killed.Store(true)
			c.t.Errorf("client %d (node %d) did not stop within %v; its goroutines are in %s.out", cl.Inc, cl.Node, c.o.StopTimeout, cl.Log)
		}
	}
}

// awaitQuiet waits until the run is quiet and no client's log grew for
// 300 ms.
func (c *Cluster) awaitQuiet() error {
	deadline := time.Now().Add(c.o.QuietTimeout)
	report := time.Now().Add(10 * time.Second)
	since := time.Now()
	for {
		why, changed := c.quiet()
		if why != "" && time.Now().After(report) {
			report = report.Add(10 * time.Second)
			c.t.Logf("%s waiting for the run to go quiet: %s", time.Now().Format("15:04:05.000"), why)
		}
		if why != "" || changed {
			since = time.Now()
		} else if time.Since(since) >= 300*time.Millisecond {
			return nil
		}
		if time.Now().After(deadline) {
			if why == "" {
				why = "the clients' logs keep growing"
			}
			return fmt.Errorf("the run did not go quiet within %v after the clients stopped sending: %s", c.o.QuietTimeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Check reads every client's log and checks them with the property
// checker; a violation fails the test. The processes of clients the test
// killed end as killed.
func (c *Cluster) Check(opts checker.Options) checker.Report {
	c.t.Helper()
	rep, _ := c.check(opts, false)
	return rep
}

func (c *Cluster) check(opts checker.Options, keep bool) (checker.Report, []checker.Record) {
	c.t.Helper()
	h := checker.NewHistory()
	var all []checker.Record
	for _, cl := range c.Clients() {
		recs, err := checker.ReadLogFile(cl.Log)
		if errors.Is(err, fs.ErrNotExist) && cl.Exited() {
			continue // killed before it opened its log
		}
		if err != nil {
			c.t.Fatalf("%s: %v", cl.Log, err)
		}
		if cl.Killed() {
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
		if keep {
			all = append(all, recs...)
		}
	}
	rep := checker.Check(h, opts)
	if rep.OK() {
		c.t.Logf("%s", rep.String())
	} else {
		c.t.Errorf("property violations: %v", rep.Err())
	}
	return rep, all
}
