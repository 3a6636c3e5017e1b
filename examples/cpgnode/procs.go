package main

import (
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/actorcpg/actorcpg/remote"
)

// Processors: a node that is mostly idle runs on one processor, a busy one
// on all of them. On one processor a message's way through the node (link
// reader, handle actor, node actor, handle actor, link writer) is a chain
// of goroutine hand-offs on one thread; with idle processors around, each
// hand-off also wakes another thread, and on a small or virtual machine
// those wake-ups are most of a lone message's latency (on 2 cores: about a
// third of the round trip of a message to its own sender). Under load the
// node needs the parallelism (link reading and decoding beside the
// protocol, and large copies in and out of sockets, which hold their
// processor while the kernel copies). Load is CPU use or link traffic,
// whichever says busy. Setting GOMAXPROCS turns this off.

// procsGovernor decides the processor count from the node's load.
type procsGovernor struct {
	max int // all processors
	cur int
	// up: above this CPU use (in cores) or link traffic (bytes/s) on one
	// processor, use all; down: below both on all, go back to one.
	up, down         float64
	upRate, downRate float64
}

// next returns the processor count for the CPU use (in cores, user and
// system time over wall time) and link traffic (bytes/s) of the last
// interval.
func (g *procsGovernor) next(use, rate float64) int {
	switch {
	case g.cur == 1 && (use > g.up || rate > g.upRate):
		g.cur = g.max
	case g.cur > 1 && use < g.down && rate < g.downRate:
		g.cur = 1
	}
	return g.cur
}

// governProcs runs the governor every interval until stop closes, unless
// GOMAXPROCS is set or there is one processor only.
func governProcs(stop <-chan struct{}, log zerolog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" || runtime.NumCPU() < 2 {
		return
	}
	// A lone 1 KiB round trip moves about 20 MB/s through a node (in
	// from the client, out to it and to two other nodes); a 16 KiB flood
	// hundreds.
	g := &procsGovernor{max: runtime.GOMAXPROCS(0), cur: 1, up: 0.6, down: 0.25, upRate: 64 << 20, downRate: 16 << 20}
	runtime.GOMAXPROCS(1)
	const every = 200 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	lastCPU, lastBytes, lastAt := cpuTime(), remote.LinkBytes(), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			c, b := cpuTime(), remote.LinkBytes()
			dt := now.Sub(lastAt)
			use := float64(c-lastCPU) / float64(dt)
			rate := float64(b-lastBytes) / dt.Seconds()
			lastCPU, lastBytes, lastAt = c, b, now
			if was := g.cur; g.next(use, rate) != was {
				runtime.GOMAXPROCS(g.cur)
				log.Debug().Int("procs", g.cur).Float64("cpu", use).Float64("bytes_per_s", rate).Msg("processors")
			}
		}
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
