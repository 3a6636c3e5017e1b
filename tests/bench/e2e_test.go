// Package bench measures actorcpg end to end with Go benchmarks:
//
//	go test -run '^$' -bench . -benchmem ./tests/bench/
package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// BenchmarkOneNodeMcast measures one sender and one other receiver on an
// embedded node: b.N messages multicast, all delivered to both (the
// sender dispatches its own copies to keep its window open).
func BenchmarkOneNodeMcast(b *testing.B) {
	for _, size := range []int{64, 1024, 16384, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchMcast(b, size, embedded) })
	}
}

// BenchmarkAttachedMcast is BenchmarkOneNodeMcast with both handles
// attached to the node on its client socket (one session: the node and
// the client share this process, so they share the cores).
func BenchmarkAttachedMcast(b *testing.B) {
	for _, size := range []int{64, 1024, 16384, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchMcast(b, size, socket) })
	}
}

// BenchmarkAttachedTCPMcast is BenchmarkAttachedMcast with the session on
// the node's remoting port over 127.0.0.1 TCP, as a client on another host
// would attach.
func BenchmarkAttachedTCPMcast(b *testing.B) {
	for _, size := range []int{64, 1024, 16384, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchMcast(b, size, tcp) })
	}
}

// How a benchmark's clients reach their node.
type attach int

const (
	embedded attach = iota // in-process
	socket                 // the node's client socket
	tcp                    // the node's remoting port
)

// clientSocket returns a client socket path in a new temporary directory.
func clientSocket(b *testing.B) string {
	dir, err := os.MkdirTemp("", "cpgbench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "cpg.sock")
}

func benchMcast(b *testing.B, size int, how attach) {
	cfg := remote.DefaultConfig()
	if how != embedded {
		cfg.Listen = "127.0.0.1:0"
		cfg.ClientSocket = clientSocket(b)
	}
	node, err := actors.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer node.Stop()
	where := cpg.WithNode(node)
	switch how {
	case socket:
		where = cpg.WithAddress(node.ClientSocket())
	case tcp:
		where = cpg.WithAddress(node.Address())
	}
	group := []byte("bench")
	received := 0
	recv, err := cpg.Initialize(&cpg.Callbacks{
		Deliver: func(*cpg.Handle, []byte, uint32, uint32, []byte) { received++ },
	}, where)
	if err != nil {
		b.Fatal(err)
	}
	send, err := cpg.Initialize(&cpg.Callbacks{}, where)
	if err != nil {
		b.Fatal(err)
	}
	if err := recv.Join(group); err != nil {
		b.Fatal(err)
	}
	if err := send.Join(group); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ready, _ := recv.FdGet()
		for received < b.N {
			<-ready
			if err := recv.Dispatch(api.DispatchAll); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	msg := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	own, _ := send.FdGet()
	for i := 0; i < b.N; {
		err := send.McastJoined(api.TypeAgreed, msg)
		switch {
		case err == nil:
			i++
			if i%64 == 0 {
				_ = send.Dispatch(api.DispatchAll)
			}
		case errors.Is(err, api.ErrTryAgain):
			// As cpgflood does: dispatch, and wait a little for
			// deliveries rather than spin.
			_ = send.Dispatch(api.DispatchAll)
			select {
			case <-own:
			case <-time.After(time.Millisecond):
			}
		default:
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	send.Finalize()
	recv.Finalize()
}

// cpuTime is the process's user and system CPU time. On a shared machine
// CPU per message measures the work better than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAttachedRoundTrip is cpgflood rtt in one process: a handle
// attached on the node's client socket multicasts one message and
// dispatches until its own delivery is back, b.N times. ns/op is the round
// trip; cpu-ns/op (node and client together) the work of one, which a
// shared machine's noise hardly moves. Run with -cpu 1 to see the path
// without the wake-ups of other threads.
func BenchmarkAttachedRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchRoundTrip(b, size) })
	}
}

func benchRoundTrip(b *testing.B, size int) {
	cfg := remote.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.ClientSocket = clientSocket(b)
	node, err := actors.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer node.Stop()
	back := false
	h, err := cpg.Initialize(&cpg.Callbacks{
		Deliver: func(*cpg.Handle, []byte, uint32, uint32, []byte) { back = true },
	}, cpg.WithAddress(node.ClientSocket()))
	if err != nil {
		b.Fatal(err)
	}
	defer h.Finalize()
	if err := h.Join([]byte("rtt")); err != nil {
		b.Fatal(err)
	}
	ready, _ := h.FdGet()
	msg := make([]byte, size)
	roundTrip := func() {
		back = false
		for {
			err := h.McastJoined(api.TypeAgreed, msg)
			if err == nil {
				break
			}
			if !errors.Is(err, api.ErrTryAgain) {
				b.Fatal(err)
			}
			_ = h.Dispatch(api.DispatchAll)
		}
		for !back {
			<-ready
			if err := h.Dispatch(api.DispatchAll); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 100 { // the join's confchg, warm-up
		roundTrip()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		roundTrip()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
