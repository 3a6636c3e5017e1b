// Package chaos runs a cluster of cpgnode processes under a random, seeded
// schedule of faults while floodclients flood it, then heals it, lets it go
// quiet and checks every client's log with the property checker.
//
//	go test -run TestChaos ./tests/chaos/ -chaos.duration=10m -chaos.seed=7 -v
//
// The run prints its seed first (`chaos: seed=N`, also in the test log);
// -chaos.seed=N replays that schedule. The seed drives every choice of the
// schedule (which fault, where, the pauses between faults, the groups of
// each client, the seed of each client's message sizes): all come from one
// rand.Rand seeded with it, and nothing else is random. Which choices are
// open also depends on the processes (a dead node restarts once its
// clients have exited), so a seed replays a run's faults closely, not
// exactly. Every action is logged with its time, in
// the test log and in chaos.log next to the node and client logs, which a
// failed run keeps.
package chaos

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/tests/checker"
	"github.com/actorcpg/actorcpg/tests/proccluster"
)

var (
	duration = flag.Duration("chaos.duration", 20*time.Second, "how long faults are injected")
	seed     = flag.Int64("chaos.seed", 0, "seed of the fault schedule, to replay a run (0: from the clock; the test prints it)")
	nodeLog  = flag.String("chaos.nodelog", "debug", "log level of the nodes (debug logs every view-change message)")
)

func TestMain(m *testing.M) { os.Exit(proccluster.Main(m)) }

const (
	nodes       = 5
	maxDown     = 2 // never more nodes killed at once
	groupsTotal = 3
)

// clientFlags: a steady flood of small messages with an occasional one
// above the atomic size (ordered in parts, reassembled everywhere). The
// drain ends when the harness sees the run quiet (StopClients), at most
// after a minute; -trace lines the clients' events up with the nodes' logs.
var clientFlags = []string{"-size", "400", "-rate", "20", "-large", "1100000", "-large-every", "200", "-drain", "60s", "-trace"}

// chaos is the state of one run: the cluster and what the schedule did.
type chaos struct {
	t     *testing.T
	c     *proccluster.Cluster
	rng   *rand.Rand
	start time.Time
	log   *os.File

	killedAt   map[int]time.Time             // dead nodes: when they were killed
	orphans    map[int][]*proccluster.Client // clients of dead nodes, until they exit
	partition  [][]uint32                    // the current cut, nil when healed
	nodeKills  int
	clientKill int
	restarts   int
	cuts       int
}

// TestChaos injects faults for -chaos.duration into five nodes with two or
// three flooding clients each: SIGKILL of a node (restarted later with its
// state directory; its clients die with it and new ones start on it), SIGKILL
// of a client (a new one starts), a node cut off or a 2|3 split, heal. At
// most two nodes are dead at once. Then everything heals, the dead nodes
// restart, all five install one view, the groups settle and the clients
// drain; the checker (Quiet) must find no violation. It prints one line:
//
//	chaos: duration=20s kills=K views=V delivered=D violations=0
//
// kills counts the SIGKILLs of nodes and clients, views the distinct views
// the nodes installed, delivered the deliveries the clients recorded.
func TestChaos(t *testing.T) {
	s := *seed
	if s == 0 {
		s = 1 + time.Now().UnixNano()%1_000_000
	}
	// First, so that a run that hangs or panics can be replayed too.
	fmt.Printf("chaos: seed=%d\n", s)
	t.Logf("chaos: seed=%d (to run this schedule again: %s)", s, replayCommand(s))
	c := proccluster.New(t, nodes, proccluster.Options{
		WaitTimeout: 60 * time.Second, ClientTimeout: 2 * time.Second, LogLevel: *nodeLog})
	f, err := os.Create(filepath.Join(c.Dir(), "chaos.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ch := &chaos{t: t, c: c, rng: rand.New(rand.NewSource(s)), start: time.Now(), log: f,
		killedAt: map[int]time.Time{}, orphans: map[int][]*proccluster.Client{}}
	ch.logf("seed %d, duration %v, logs in %s", s, *duration, c.Dir())
	for k := 1; k <= nodes; k++ {
		ch.startClients(k)
	}

	end := ch.start.Add(*duration)
	for time.Now().Before(end) {
		pause := time.Duration(300+ch.rng.Intn(1700)) * time.Millisecond
		time.Sleep(min(pause, time.Until(end)))
		if time.Now().Before(end) {
			ch.step()
		}
		ch.reap()
	}

	ch.logf("faults over: heal, restart the dead nodes, wait for one view of all")
	if ch.partition != nil {
		ch.heal()
	}
	for len(ch.killedAt) > 0 {
		ch.reap()
		for k := 1; k <= nodes; k++ {
			if _, dead := ch.killedAt[k]; dead && len(ch.orphans[k]) == 0 {
				ch.restart(k)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.WaitView(proccluster.AllNodes(nodes), proccluster.AllNodes(nodes)...)
	for k := 1; k <= nodes; k++ {
		if n := len(ch.clientsOn(k)); n < 2 {
			for range 2 - n {
				ch.startClient(k)
			}
		}
	}
	ch.logf("one view of all; waiting for the groups to settle")
	if err := c.AwaitGroups(); err != nil {
		// Check anyway: the report shows what the stuck processes missed.
		t.Error(err)
		ch.logf("%v", err)
	} else {
		c.WaitView(proccluster.AllNodes(nodes), proccluster.AllNodes(nodes)...)
		ch.logf("groups settled; stopping the clients")
	}
	c.StopClients()
	ch.logf("clients stopped; checking their logs")
	rep := c.Check(checker.Options{Quiet: true})
	views := len(c.Views())
	evicted := 0
	for k := 1; k <= nodes; k++ {
		for _, l := range c.ReadNodeLog(k) {
			if strings.HasPrefix(l.Message, "client silent") {
				evicted++
			}
		}
	}
	summary, _, _ := strings.Cut(rep.String(), "\n")
	ch.logf("done: %d node kills, %d client kills, %d restarts, %d cuts, %d views, %d clients dropped as silent by their node; %s",
		ch.nodeKills, ch.clientKill, ch.restarts, ch.cuts, views, evicted, summary)
	fmt.Fprintln(ch.log, rep.String())
	fmt.Printf("chaos: duration=%v kills=%d views=%d delivered=%d violations=%d\n",
		*duration, ch.nodeKills+ch.clientKill, views, rep.Counts.Deliveries, rep.Count())
	if !rep.OK() {
		t.Errorf("seed %d: %d violations; logs kept in %s", s, rep.Count(), c.Dir())
	}
	if t.Failed() {
		fmt.Printf("chaos: replay: %s\n", replayCommand(s))
	}
}

// replayCommand is the command that replays the run of seed s.
func replayCommand(s int64) string {
	return fmt.Sprintf("go test -count=1 -v -run 'TestChaos$' ./tests/chaos/ -chaos.seed=%d -chaos.duration=%v", s, *duration)
}

// logf logs one action with its time since the start, to the test log and
// to chaos.log.
func (ch *chaos) logf(format string, args ...any) {
	ch.t.Helper()
	now := time.Now()
	line := fmt.Sprintf("%s +%7.3fs %s", now.Format("15:04:05.000"), now.Sub(ch.start).Seconds(), fmt.Sprintf(format, args...))
	ch.t.Log(line)
	fmt.Fprintln(ch.log, line)
}

// clientsOn returns the running clients of node k.
func (ch *chaos) clientsOn(k int) []*proccluster.Client {
	var out []*proccluster.Client
	for _, cl := range ch.c.Clients() {
		if cl.Node == k && !cl.Exited() {
			out = append(out, cl)
		}
	}
	return out
}

// startClients starts two or three clients on node k.
func (ch *chaos) startClients(k int) {
	for range 2 + ch.rng.Intn(2) {
		ch.startClient(k)
	}
}

// startClient starts a client on node k in two of the groups, or in three.
func (ch *chaos) startClient(k int) {
	var gs []string
	for i := range groupsTotal {
		gs = append(gs, "g"+strconv.Itoa(i))
	}
	ch.rng.Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] })
	n := min(2+ch.rng.Intn(2), groupsTotal)
	groups := gs[:n]
	slices.Sort(groups)
	flags := append(slices.Clone(clientFlags), "-seed", strconv.FormatInt(1+ch.rng.Int63n(1_000_000), 10))
	cl := ch.c.StartClient(k, strings.Join(groups, ","), flags...)
	ch.logf("start client %d on node %d in %s", cl.Inc, k, cl.Groups)
}

// step does one random action that the current state allows.
func (ch *chaos) step() {
	type action struct {
		weight int
		do     func()
	}
	var acts []action
	var alive, restartable []int
	for k := 1; k <= nodes; k++ {
		if ch.c.Alive(k) {
			alive = append(alive, k)
		} else if len(ch.orphans[k]) == 0 && time.Since(ch.killedAt[k]) > time.Second {
			restartable = append(restartable, k)
		}
	}
	pick := func(ks []int) int { return ks[ch.rng.Intn(len(ks))] }
	if len(ch.killedAt) < maxDown {
		acts = append(acts, action{3, func() { ch.kill(pick(alive)) }})
	}
	if len(restartable) > 0 {
		acts = append(acts, action{4, func() { ch.restart(pick(restartable)) }})
	}
	acts = append(acts, action{3, func() { ch.killClient(pick(alive)) }})
	if ch.partition == nil {
		acts = append(acts, action{1, func() { ch.cut([][]uint32{{uint32(1 + ch.rng.Intn(nodes))}}) }})
		acts = append(acts, action{1, func() {
			p := ch.rng.Perm(nodes)
			var a, b []uint32
			for i, k := range p {
				if i < 2 {
					a = append(a, uint32(k+1))
				} else {
					b = append(b, uint32(k+1))
				}
			}
			slices.Sort(a)
			slices.Sort(b)
			ch.cut([][]uint32{a, b})
		}})
	} else {
		acts = append(acts, action{3, ch.heal})
	}
	total := 0
	for _, a := range acts {
		total += a.weight
	}
	r := ch.rng.Intn(total)
	for _, a := range acts {
		if r < a.weight {
			a.do()
			return
		}
		r -= a.weight
	}
}

// kill SIGKILLs node k; its clients are left to notice and exit.
func (ch *chaos) kill(k int) {
	ch.orphans[k] = ch.clientsOn(k)
	ch.c.KillNode(k)
	ch.killedAt[k] = time.Now()
	ch.nodeKills++
	var incs []string
	for _, cl := range ch.orphans[k] {
		incs = append(incs, strconv.FormatUint(cl.Inc, 10))
	}
	ch.logf("SIGKILL node %d (its clients: %s)", k, strings.Join(incs, " "))
}

// orphanTimeout is how long the clients of a dead node may take to notice
// (a few client heartbeats are enough).
const orphanTimeout = 15 * time.Second

// reap forgets the clients of dead nodes that have exited. One that has not
// noticed its node's death after orphanTimeout fails the test.
func (ch *chaos) reap() {
	for k, cls := range ch.orphans {
		var left []*proccluster.Client
		for _, cl := range cls {
			switch {
			case cl.Exited():
				ch.logf("client %d of dead node %d exited (status %d)", cl.Inc, k, cl.ExitCode())
			case time.Since(ch.killedAt[k]) > orphanTimeout:
				ch.t.Errorf("client %d did not notice within %v that node %d died", cl.Inc, orphanTimeout, k)
				ch.c.KillClient(cl)
			default:
				left = append(left, cl)
			}
		}
		if len(left) == 0 {
			delete(ch.orphans, k)
		} else {
			ch.orphans[k] = left
		}
	}
}

// restart starts dead node k again (same state directory, the current
// cut) with new clients.
func (ch *chaos) restart(k int) {
	ch.c.StartNode(k)
	delete(ch.killedAt, k)
	ch.restarts++
	ch.logf("restart node %d", k)
	ch.startClients(k)
}

// killClient SIGKILLs a client of node k, if it has one, and starts a new
// one there.
func (ch *chaos) killClient(k int) {
	cls := ch.clientsOn(k)
	if len(cls) > 0 {
		cl := cls[ch.rng.Intn(len(cls))]
		ch.c.KillClient(cl)
		ch.clientKill++
		ch.logf("SIGKILL client %d on node %d", cl.Inc, k)
	}
	ch.startClient(k)
}

// cut partitions the nodes into sides.
func (ch *chaos) cut(sides [][]uint32) {
	ch.c.Partition(sides...)
	ch.partition = sides
	ch.cuts++
	named := map[uint32]bool{}
	var parts []string
	for _, side := range sides {
		for _, k := range side {
			named[k] = true
		}
		parts = append(parts, fmt.Sprint(side))
	}
	var rest []uint32
	for k := uint32(1); k <= nodes; k++ {
		if !named[k] {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		parts = append(parts, fmt.Sprint(rest))
	}
	ch.logf("cut %s", strings.Join(parts, " | "))
}

// heal restores every link.
func (ch *chaos) heal() {
	ch.c.Heal()
	ch.partition = nil
	ch.logf("heal")
}
