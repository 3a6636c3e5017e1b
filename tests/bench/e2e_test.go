// Package bench measures actorcpg end to end with Go benchmarks:
//
//	go test -run '^$' -bench . -benchmem ./tests/bench/
package bench

import (
	"errors"
	"fmt"
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
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchMcast(b, size, false) })
	}
}

// BenchmarkAttachedMcast is BenchmarkOneNodeMcast with both handles
// attached to the node over protoactor remoting on 127.0.0.1 (the node and
// the client share this process, so its two actor systems share the cores).
func BenchmarkAttachedMcast(b *testing.B) {
	for _, size := range []int{64, 1024, 16384, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchMcast(b, size, true) })
	}
}

func benchMcast(b *testing.B, size int, attached bool) {
	cfg := remote.DefaultConfig()
	if attached {
		cfg.Listen = "127.0.0.1:0"
	}
	node, err := actors.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer node.Stop()
	where := cpg.WithNode(node)
	if attached {
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
