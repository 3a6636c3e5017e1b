package bench

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/internal/testport"
	"github.com/actorcpg/actorcpg/remote"
)

// BenchmarkThreeNodeMcast measures three nodes in this process, linked
// over 127.0.0.1: one sender attached to node 1 and one receiver attached
// to each of nodes 2 and 3 (on their client sockets); b.N messages are delivered to every receiver.
// Everything shares this process's cores, so compare runs by cpu-ns/op.
func BenchmarkThreeNodeMcast(b *testing.B) {
	nodes := startThree(b)
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	for _, size := range []int{64, 1024, 16384, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchThree(b, nodes, size) })
	}
}

func freeAddr(b *testing.B) string {
	addr, err := testport.Free()
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

func startThree(b *testing.B) []*actors.Node {
	var list []remote.NodeAddr
	for id := uint32(1); id <= 3; id++ {
		list = append(list, remote.NodeAddr{NodeID: id, Addr: freeAddr(b)})
	}
	var nodes []*actors.Node
	for _, na := range list {
		cfg := remote.DefaultConfig()
		cfg.NodeID, cfg.Listen, cfg.Nodes, cfg.Token = na.NodeID, na.Addr, list, time.Second
		cfg.ClientSocket = clientSocket(b)
		n, err := actors.Start(cfg)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for len(n.View().Members) != 3 {
			if time.Now().After(deadline) {
				b.Fatalf("node %d: no view of 3", n.NodeID())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nodes
}

var groupSeq atomic.Int64

func benchThree(b *testing.B, nodes []*actors.Node, size int) {
	group := []byte(fmt.Sprintf("bench3-%d", groupSeq.Add(1)))
	type recv struct {
		h   *cpg.Handle
		got int
	}
	var rs []*recv
	for _, n := range nodes[1:] {
		r := &recv{}
		h, err := cpg.Initialize(&cpg.Callbacks{
			Deliver: func(*cpg.Handle, []byte, uint32, uint32, []byte) { r.got++ },
		}, cpg.WithAddress(n.ClientSocket()))
		if err != nil {
			b.Fatal(err)
		}
		r.h = h
		if err := h.Join(group); err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	send, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithAddress(nodes[0].ClientSocket()))
	if err != nil {
		b.Fatal(err)
	}
	if err := send.Join(group); err != nil {
		b.Fatal(err)
	}
	// Wait until node 1 sees all three members.
	for deadline := time.Now().Add(10 * time.Second); ; {
		m, err := send.MembershipGet(group)
		if err == nil && len(m) == 3 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("members did not join")
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan error, len(rs))
	for _, r := range rs {
		go func() {
			ready, _ := r.h.FdGet()
			for r.got < b.N {
				select {
				case <-ready:
				case <-time.After(30 * time.Second):
					done <- fmt.Errorf("receiver stuck at %d of %d", r.got, b.N)
					return
				}
				if err := r.h.Dispatch(api.DispatchAll); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	msg := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; {
		err := send.McastJoined(api.TypeAgreed, msg)
		switch {
		case err == nil:
			i++
		case errors.Is(err, api.ErrTryAgain):
			_ = send.Dispatch(api.DispatchAll)
			time.Sleep(50 * time.Microsecond)
		default:
			b.Fatal(err)
		}
		if i%64 == 0 {
			_ = send.Dispatch(api.DispatchAll)
		}
	}
	for range rs {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	send.Finalize()
	for _, r := range rs {
		r.h.Finalize()
	}
}
