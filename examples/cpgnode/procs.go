package main

import (
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Processors: a node that is mostly idle runs on one processor, a busy one
// on all of them. On one processor a message's way through the node (link
// reader, handle actor, node actor, handle actor, link writer) is a chain
// of goroutine hand-offs on one thread; with idle processors around, each
// hand-off also wakes another thread, and on a small or virtual machine
// those wake-ups are most of a lone message's latency (on 2 cores: about a
// third of the round trip of a message to its own sender). Under load the
// node needs the parallelism (link reading and decoding beside the
// protocol). Setting GOMAXPROCS turns this off.

// procsGovernor decides the processor count from the node's CPU use.
type procsGovernor struct {
	max int // all processors
	cur int
	// up: above this CPU use (in cores) on one processor, use all; down:
	// below this on all, go back to one.
	up, down float64
}

// next returns the processor count for the CPU use (in cores, user and
// system time over wall time) of the last interval.
func (g *procsGovernor) next(use float64) int {
	switch {
	case g.cur == 1 && use > g.up:
		g.cur = g.max
	case g.cur > 1 && use < g.down:
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
	g := &procsGovernor{max: runtime.GOMAXPROCS(0), cur: 1, up: 0.6, down: 0.25}
	runtime.GOMAXPROCS(1)
	const every = 200 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	lastCPU, lastAt := cpuTime(), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			c := cpuTime()
			use := float64(c-lastCPU) / float64(now.Sub(lastAt))
			lastCPU, lastAt = c, now
			if was := g.cur; g.next(use) != was {
				runtime.GOMAXPROCS(g.cur)
				log.Debug().Int("procs", g.cur).Float64("cpu", use).Msg("processors")
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
