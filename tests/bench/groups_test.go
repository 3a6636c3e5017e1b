package bench

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// BenchmarkGroups measures how ordering and delivery scale with the
// number of groups: three nodes in this process over 127.0.0.1, and for
// each of groups=1, 2, 4, 8 groups one sender (on node 1, 2, 3, 1, ... in
// turn, so that the groups' sequencers spread over the nodes) and one
// receiver on each other node, all embedded handles. Every group carries
// b.N messages of 1 KiB; msg/s is the messages delivered to all their
// receivers per second, summed over the groups. Senders wait for their
// own deliveries when refused with TRY_AGAIN and receivers wait for
// readiness: nobody spins, so that `-cpu 1` is an honest figure.
//
//	go test -run XXX -bench Groups -cpu 1,2 -count 5 ./tests/bench/
func BenchmarkGroups(b *testing.B) {
	nodes := startThree(b)
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	for _, g := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("groups=%d", g), func(b *testing.B) { benchGroups(b, nodes, g, 1024) })
	}
}

// BenchmarkGroupsOneNode is BenchmarkGroups on one node: each group's
// sender and its two receivers are handles of the same node, so that the
// node's own actors (its group and sequencer actors, its handle actors)
// are all there is to spread over the cores. Three nodes in one process
// are three node actors already (three goroutines even when each node
// runs every group on one): this is where one node's groups-as-actors
// show.
//
//	go test -run XXX -bench GroupsOneNode -cpu 1,2 -count 5 ./tests/bench/
func BenchmarkGroupsOneNode(b *testing.B) {
	n, err := actors.Start(remote.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	for _, g := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("groups=%d", g), func(b *testing.B) { benchGroups(b, []*actors.Node{n}, g, 1024) })
	}
}

// groupLoad is one group of BenchmarkGroups: its sender and receivers.
type groupLoad struct {
	name  []byte
	send  *cpg.Handle
	recvs []*cpg.Handle
	got   []int // per receiver, written by its Deliver callback only
}

func benchGroups(b *testing.B, nodes []*actors.Node, groups, size int) {
	var loads []*groupLoad
	for g := range groups {
		l := &groupLoad{name: []byte(fmt.Sprintf("groups-%d-%d", groupSeq.Add(1), g))}
		from := g % len(nodes)
		recvNodes := nodes
		if len(nodes) == 1 {
			recvNodes = []*actors.Node{nodes[0], nodes[0]} // two receivers beside the sender
		}
		for k, n := range recvNodes {
			if k == from && len(nodes) > 1 {
				continue
			}
			i := len(l.recvs)
			l.got = append(l.got, 0)
			h, err := cpg.Initialize(&cpg.Callbacks{
				Deliver: func(*cpg.Handle, []byte, uint32, uint32, []byte) { l.got[i]++ },
			}, cpg.WithNode(n))
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Join(l.name); err != nil {
				b.Fatal(err)
			}
			l.recvs = append(l.recvs, h)
		}
		send, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithNode(nodes[from]))
		if err != nil {
			b.Fatal(err)
		}
		if err := send.Join(l.name); err != nil {
			b.Fatal(err)
		}
		l.send = send
		for deadline := time.Now().Add(10 * time.Second); ; {
			m, err := send.MembershipGet(l.name)
			if err == nil && len(m) == len(l.recvs)+1 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("members did not join")
			}
			time.Sleep(10 * time.Millisecond)
		}
		loads = append(loads, l)
	}
	msg := make([]byte, size)
	b.SetBytes(int64(size * groups))
	b.ResetTimer()
	cpu0 := cpuTime()
	errs := make(chan error, groups*len(nodes))
	var wg sync.WaitGroup
	for _, l := range loads {
		for i, h := range l.recvs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready, _ := h.FdGet()
				for l.got[i] < b.N {
					select {
					case <-ready:
					case <-time.After(30 * time.Second):
						errs <- fmt.Errorf("%s: receiver stuck at %d of %d", l.name, l.got[i], b.N)
						return
					}
					if err := h.Dispatch(api.DispatchAll); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			own, _ := l.send.FdGet()
			for i := 0; i < b.N; {
				err := l.send.McastJoined(api.TypeAgreed, msg)
				switch {
				case err == nil:
					i++
					if i%64 == 0 {
						_ = l.send.Dispatch(api.DispatchAll)
					}
				case errors.Is(err, api.ErrTryAgain):
					_ = l.send.Dispatch(api.DispatchAll)
					select {
					case <-own:
					case <-time.After(time.Millisecond):
					}
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*groups)/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*groups), "cpu-ns/msg")
	for _, l := range loads {
		l.send.Finalize()
		for _, h := range l.recvs {
			h.Finalize()
		}
	}
}
