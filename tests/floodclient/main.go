// Command floodclient is an attached CPG client for fault tests: it joins
// one or more groups (one handle each) on the node in ACTORCPG_NODE, floods
// each with checksummed, numbered messages (checker.EncodeMsg), and writes
// every event it sees to a log for the property checker (tests/checker).
//
//	floodclient -groups g1,g2 -size 200 -rate 500 -inc 7 -log /tmp/c7.log -stop /tmp/stop
//
// It stops sending when the -stop file appears (or after -for), keeps
// dispatching for -drain (or, with -end, until that file appears, for at
// most -drain) so that every message in flight arrives, then
// finalizes its handles, logs a clean end and exits 0. If its node dies, or
// a handle fails in a way it cannot go on from (McastJoined, Join or
// Dispatch with an error other than ErrTryAgain and ErrInterrupt), it logs
// each process as ended abruptly (killed) and exits 3; the error goes to
// stderr. On SIGTERM it ends like on -stop, without the drain.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/tests/checker"
)

type options struct {
	groups  string
	size    int
	large   int
	every   int
	rate    float64
	inc     uint64
	logPath string
	stop    string
	end     string
	dur     time.Duration
	drain   time.Duration
	settle  time.Duration
	seed    int64
	trace   bool
}

// proc is one handle of this client, one CPG process for the checker.
type proc struct {
	h     *cpg.Handle
	p     checker.Proc
	group []byte
	seq   uint64
	got   uint64 // deliveries so far (dispatch goroutine only)
}

func main() {
	var o options
	flag.StringVar(&o.groups, "groups", "flood", "comma-separated `groups`; one handle joins each")
	flag.IntVar(&o.size, "size", 128, "largest message `bytes` (sizes vary from the header size up to it)")
	flag.IntVar(&o.large, "large", 0, "size of an occasional large message in `bytes` (0: none)")
	flag.IntVar(&o.every, "large-every", 50, "send a -large message every `n` messages")
	flag.Float64Var(&o.rate, "rate", 200, "messages per second per handle (0: as fast as flow control allows)")
	flag.Uint64Var(&o.inc, "inc", 0, "incarnation `number` of this client (unique per run, growing)")
	flag.StringVar(&o.logPath, "log", "", "event log `file` (JSON lines)")
	flag.StringVar(&o.stop, "stop", "", "stop sending when this `file` exists")
	flag.DurationVar(&o.dur, "for", 0, "stop sending after this `duration` (0: only -stop)")
	flag.DurationVar(&o.drain, "drain", 2*time.Second, "keep dispatching this long after sending stops")
	flag.StringVar(&o.end, "end", "", "end the drain early when this `file` exists (the caller saw the run go quiet)")
	flag.DurationVar(&o.settle, "settle", 500*time.Millisecond, "wait this long after the drain before finalizing")
	flag.Int64Var(&o.seed, "seed", 1, "random `seed` for message sizes")
	flag.BoolVar(&o.trace, "trace", false, "write each confchg and totem confchg to stderr with the time and how many messages the process had delivered, to line the log up with the nodes' logs")
	flag.Parse()
	if o.logPath == "" || o.inc == 0 {
		fmt.Fprintln(os.Stderr, "floodclient: -log and -inc are required")
		os.Exit(2)
	}
	os.Exit(run(o))
}

func run(o options) int {
	f, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "floodclient: %v\n", err)
		return 1
	}
	defer f.Close()
	buf := bufio.NewWriterSize(f, 1<<20)
	var bufMu sync.Mutex
	logw := checker.NewLogWriter(lockedWriter{&bufMu, buf})
	flushDone := make(chan struct{})
	go func() { // a killed client loses at most the last 20 ms of its log
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				bufMu.Lock()
				buf.Flush()
				bufMu.Unlock()
			case <-flushDone:
				return
			}
		}
	}()
	defer func() {
		close(flushDone)
		bufMu.Lock()
		buf.Flush()
		bufMu.Unlock()
	}()

	// After the drain the client records nothing more: the run is quiet,
	// and what the other clients' own ends cause is not part of it.
	var ended atomic.Bool
	var procs []*proc
	for i, g := range strings.Split(o.groups, ",") {
		pr := &proc{group: []byte(g)}
		h, err := cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
			Deliver: func(_ *cpg.Handle, group []byte, nodeid, pid uint32, msg []byte) {
				if !ended.Load() {
					pr.got++
					logw.DeliverData(pr.p, group, nodeid, pid, msg)
				}
			},
			Confchg: func(_ *cpg.Handle, group []byte, members, left, joined []*api.Address) {
				if !ended.Load() {
					logw.Confchg(pr.p, &api.Confchg{Group: group, Members: members, Left: left, Joined: joined})
					if o.trace {
						trace(pr, fmt.Sprintf("confchg members %v left %v joined %v",
							checker.Members(members), checker.Members(left), checker.Members(joined)))
					}
				}
			},
			TotemConfchg: func(_ *cpg.Handle, ring *api.RingId, members []uint32) {
				if !ended.Load() {
					logw.Totem(pr.p, &api.TotemConfchg{RingId: ring, Members: members})
					if o.trace {
						trace(pr, fmt.Sprintf("totem %d/%d %v", ring.GetNodeid(), ring.GetSeq(), members))
					}
				}
			},
		}, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "floodclient: initialize: %v\n", err)
			return 3
		}
		pr.h = h
		pr.p = checker.Proc{Node: h.NodeID(), Pid: h.Pid(), Inc: o.inc*16 + uint64(i)}
		procs = append(procs, pr)
	}

	var stopping, dead atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stopping.Store(true) }()
	start := time.Now()
	stopNow := func() bool {
		if stopping.Load() || dead.Load() {
			return true
		}
		if o.dur > 0 && time.Since(start) >= o.dur {
			return true
		}
		if o.stop != "" {
			if _, err := os.Stat(o.stop); err == nil {
				return true
			}
		}
		return false
	}

	var wg sync.WaitGroup
	for i, pr := range procs {
		wg.Add(2)
		go func() { // dispatch until the handle ends
			defer wg.Done()
			if err := pr.h.Dispatch(api.DispatchBlocking); err != nil && !errors.Is(err, api.ErrBadHandle) {
				report(pr, "dispatch", err)
				dead.Store(true)
			}
		}()
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(o.seed*1000 + int64(i)))
			send(pr, o, rng, logw, stopNow, &dead)
		}()
	}
	// Sending stops; then drain, then finalize (which ends the dispatchers).
	for !stopNow() {
		time.Sleep(10 * time.Millisecond)
	}
	if !dead.Load() && !stopping.Load() {
		deadline := time.Now().Add(o.drain)
		for time.Now().Before(deadline) && !dead.Load() && !stopping.Load() {
			if o.end != "" {
				if _, err := os.Stat(o.end); err == nil {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	killed := dead.Load()
	if !killed {
		ended.Store(true)
		for _, pr := range procs {
			logw.End(pr.p, false)
		}
		// Every client stops recording at about the same moment (the stop
		// file, then the same drain); finalize only once they all have, so
		// that nobody records the others' ends.
		time.Sleep(o.settle)
	}
	for _, pr := range procs {
		pr.h.Finalize()
	}
	wg.Wait()
	if killed {
		ended.Store(true)
		for _, pr := range procs {
			logw.End(pr.p, true)
		}
	}
	if killed {
		return 3
	}
	return 0
}

// send joins the proc's group and floods it until stop says so.
func send(pr *proc, o options, rng *rand.Rand, logw *checker.LogWriter, stop func() bool, dead *atomic.Bool) {
	for {
		err := pr.h.Join(pr.group)
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrTryAgain) || stop() {
			if !errors.Is(err, api.ErrTryAgain) {
				report(pr, "join", err)
				dead.Store(true)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	var gap time.Duration
	if o.rate > 0 {
		gap = time.Duration(float64(time.Second) / o.rate)
	}
	next := time.Now()
	for !stop() {
		size := checker.HeaderSize + rng.Intn(max(1, o.size-checker.HeaderSize+1))
		if o.large > 0 && o.every > 0 && (pr.seq+1)%uint64(o.every) == 0 {
			size = o.large
		}
		pr.seq++
		msg := checker.EncodeMsg(pr.p, pr.seq, size)
		for {
			err := pr.h.McastJoined(api.TypeAgreed, msg)
			if err == nil {
				logw.Sent(pr.p, pr.group, pr.seq, true)
				break
			}
			if errors.Is(err, api.ErrTryAgain) {
				if stop() {
					return
				}
				time.Sleep(time.Millisecond)
				continue
			}
			logw.Sent(pr.p, pr.group, pr.seq, false)
			if errors.Is(err, api.ErrInterrupt) {
				break // not delivered anywhere; go on with the next seq
			}
			// The node is gone (ErrLibrary), or the handle is no longer a
			// member (it was dropped): this process has ended abruptly.
			report(pr, fmt.Sprintf("mcast seq %d (%d bytes)", pr.seq, size), err)
			dead.Store(true)
			return
		}
		if gap > 0 {
			next = next.Add(gap)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			} else if d < -time.Second {
				next = time.Now()
			}
		}
	}
}

// trace writes one event of a process to stderr, with the time.
func trace(pr *proc, what string) {
	fmt.Fprintf(os.Stderr, "%s floodclient: %v in %s after %d deliveries: %s\n",
		time.Now().Format("15:04:05.000000"), pr.p, pr.group, pr.got, what)
}

// report writes why a process cannot go on to stderr, with the time.
func report(pr *proc, what string, err error) {
	fmt.Fprintf(os.Stderr, "%s floodclient: %v in %s: %s: %v\n",
		time.Now().Format("15:04:05.000000"), pr.p, pr.group, what, err)
}

// lockedWriter serialises writes to the shared buffered log file.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bufio.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
