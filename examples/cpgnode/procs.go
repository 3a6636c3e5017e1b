package main

import (
	"os"
	"runtime"
	"runtime/metrics"
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
//
// CPU use alone is the wrong signal for going up: a lone round trip of 1
// KiB keeps a node about 0.6 cores busy on one processor, with never more
// than one goroutine ready to run; on two, every hand-off wakes the other
// thread, the round trip doubles (2026-12-06: p50 36-42 us on one, 75-158
// us on two) and the wake-ups keep CPU use above any idle threshold, so
// the node never came back. What says that more processors would help is
// goroutines waiting to run: the share of scheduling events whose wait in
// the run queue exceeded waitLong (runtime/metrics /sched/latencies).
type procsGovernor struct {
	max int // all processors
	cur int
	// up: above this CPU use (in cores) with goroutines waiting (above
	// waitUp of scheduling events waited long) on one processor, or above
	// upRate of link traffic (bytes/s), use all. down: at least hold
	// intervals after going up, below downUse and downRate on all for
	// quietFor intervals in a row (a dip of a flood is shorter), go back
	// to one.
	up, waitUp, downUse float64
	upRate, downRate    float64
	hold, held          int
	quietFor, quiet     int
}

// next returns the processor count for the CPU use (in cores, user and
// system time over wall time), link traffic (bytes/s) and share of
// scheduling events that waited long of the last interval.
func (g *procsGovernor) next(use, rate, waiting float64) int {
	switch {
	case g.cur == 1 && (rate > g.upRate || (use > g.up && waiting > g.waitUp)):
		g.cur, g.held, g.quiet = g.max, 0, 0
	case g.cur > 1:
		g.held++
		if use < g.downUse && rate < g.downRate {
			g.quiet++
		} else {
			g.quiet = 0
		}
		if g.held >= g.hold && g.quiet >= max(g.quietFor, 1) {
			g.cur = 1
		}
	}
	return g.cur
}

// waitLong: a goroutine that waited this long in the run queue was kept
// from running by others: a second processor would have run it.
const waitLong = 100 * time.Microsecond

// schedWaits reads how many scheduling events so far waited longer than
// waitLong, and how many there were.
func schedWaits(sample []metrics.Sample) (long, all uint64) {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	h := sample[0].Value.Float64Histogram()
	for i, n := range h.Counts {
		all += n
		if h.Buckets[i] >= waitLong.Seconds() {
			long += n
		}
	}
	return long, all
}

// governProcs runs the governor every interval until stop closes, unless
// GOMAXPROCS is set or there is one processor only.
func governProcs(stop <-chan struct{}, log zerolog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" || runtime.NumCPU() < 2 {
		return
	}
	// Link traffic alone must not take a node with a lone round trip up:
	// one of 1 KiB on one node moves 40-90 MB/s (in from its client, out
	// to it), more the faster it goes, where a 1 KiB flood moves 300-600
	// MB/s and a 16 KiB one about 1 GB/s. Below downRate (and one core of
	// CPU) for two ticks in a row, one processor is enough again. (2026-12-07:
	// with upRate 64 MiB/s and downRate 16 MiB/s a fast 1 KiB round trip
	// took the node up and kept it there: on two processors every
	// hand-off wakes the other thread, p50 ~1.5-2x.) The ticks are short
	// so that the node is back on one processor within 50-100 ms of a
	// flood's end (a round trip measured right after one otherwise ran on
	// two for its first 200-400 ms).
	g := &procsGovernor{max: runtime.GOMAXPROCS(0), cur: 1, up: 0.6, waitUp: 0.05, downUse: 1.0,
		upRate: 256 << 20, downRate: 128 << 20, hold: 4, quietFor: 2}
	runtime.GOMAXPROCS(1)
	const every = 50 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	lastLong, lastAll := schedWaits(sample)
	lastCPU, lastBytes, lastAt := cpuTime(), remote.LinkBytes(), time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			c, b := cpuTime(), remote.LinkBytes()
			long, all := schedWaits(sample)
			dt := now.Sub(lastAt)
			use := float64(c-lastCPU) / float64(dt)
			rate := float64(b-lastBytes) / dt.Seconds()
			waiting := 0.0
			if all > lastAll {
				waiting = float64(long-lastLong) / float64(all-lastAll)
			}
			lastCPU, lastBytes, lastAt, lastLong, lastAll = c, b, now, long, all
			if was := g.cur; g.next(use, rate, waiting) != was {
				runtime.GOMAXPROCS(g.cur)
				log.Debug().Int("procs", g.cur).Float64("cpu", use).Float64("bytes_per_s", rate).
					Float64("waiting", waiting).Msg("processors")
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
