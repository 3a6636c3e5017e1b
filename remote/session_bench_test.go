package remote

import (
	"fmt"
	"testing"

	"github.com/actorcpg/actorcpg/api"
)

// BenchmarkSessionRead moves b.N payloads of each size over a session on a
// Unix socket, as multicasts (one a frame) and as event batches (1 MiB a
// frame), with the read buffer growing or not: the CPU time of both ends
// per payload (cpu-ns/op) is what counts on a shared machine.
func BenchmarkSessionRead(b *testing.B) {
	for _, size := range []int{1024, 16384, 65536} {
		for _, kind := range []string{"mcast", "batch"} {
			for _, grow := range []bool{false, true} {
				b.Run(fmt.Sprintf("size=%d/%s/grow=%v", size, kind, grow), func(b *testing.B) { benchSession(b, size, kind, grow) })
			}
		}
	}
}

func benchSession(b *testing.B, size int, kind string, grow bool) {
	noGrow = !grow
	defer func() { noGrow = false }()
	x, y := unixPair(&testing.T{})
	sender := newSessionConn(x, clientGuard, &toClientKinds, 0)
	reader := newSessionConn(y, clientGuard, &kindsAll, 0)
	defer sender.Close()
	defer reader.Close()
	data := make([]byte, size)
	per := 1
	if kind == "batch" {
		per = max(1, (1<<20)/size)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	window := make(chan struct{}, max(2, (8<<20)/(size*per))) // frames in flight, as credits allow
	done := make(chan struct{})
	go func() {
		defer close(done)
		for got := 0; got < b.N; {
			f, err := reader.Read()
			if err != nil {
				b.Error(err)
				return
			}
			<-window
			switch m := f.Msg.(type) {
			case *api.McastRequest:
				got++
			case *api.EventBatch:
				got += len(m.Events)
			}
		}
	}()
	for sent := 0; sent < b.N; {
		window <- struct{}{}
		if kind == "mcast" {
			sender.SendMcast(1, 0, [][]byte{data}, false)
			sent++
			continue
		}
		n := min(per, b.N-sent)
		batch := &api.EventBatch{Handle: 1}
		for range n {
			batch.Events = append(batch.Events, &api.Event{Deliver: &api.Deliver{Group: []byte("g"), Nodeid: 1, Pid: 2, Data: data}})
		}
		sender.Send(1, 0, NewFrame(batch))
		sent += n
	}
	<-done
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

var kindsAll = func() (s [128]bool) {
	for k := range s {
		s[k] = true
	}
	return s
}()
