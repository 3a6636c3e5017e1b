package cpg_test

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// The receiver of an actor-face handle that multicasts gets
// *api.FlowControl{Enabled: true} when its sends start being refused with
// TRY_AGAIN and {Enabled: false} when they stop, in order with its
// events: the on before the off, the off before the deliveries of what
// was sent once TRY_AGAIN ended.
func TestActorFaceFlowControlMessagesInOrder(t *testing.T) {
	const window = 4
	node := startNode(t, func(c *remote.Config) {
		c.SendWindow = window
		c.CreditEvents = 2
	})
	gate := make(chan struct{})
	var gateOnce sync.Once
	open := func() { gateOnce.Do(func() { close(gate) }) }
	defer open()
	recv, rec := spawnRecorder(t, node.System(), func() { <-gate })
	h := initActor(t, recv, 0, cpg.WithNode(node))
	join(t, h, "fc")
	rec.waitSeen(t, fmt.Sprintf("confchg members=[%s] joined=[%s JOIN]", addrOf(h), addrOf(h)))

	// The receiver is stuck on the first delivery: the handle's own
	// messages stop coming back and its send window fills.
	sent := 0
	for ; ; sent++ {
		err := h.McastJoined(api.TypeAgreed, []byte(fmt.Sprintf("before %d", sent)))
		if errors.Is(err, api.ErrTryAgain) {
			break
		}
		if err != nil {
			t.Fatalf("McastJoined: %v", err)
		}
		if sent > 100*window {
			t.Fatalf("no TRY_AGAIN after %d sends with a stuck receiver", sent)
		}
	}
	if st, _ := h.FlowControlStateGet(); st != api.FlowControlEnabled {
		t.Errorf("FlowControlStateGet after TRY_AGAIN = %v", st)
	}
	open()
	deadline := time.Now().Add(patience)
	for {
		err := h.McastJoined(api.TypeAgreed, []byte("after 0"))
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrTryAgain) || time.Now().After(deadline) {
			t.Fatalf("McastJoined after the receiver resumed: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := h.McastJoined(api.TypeAgreed, []byte("after 1")); err != nil {
		t.Fatalf("McastJoined: %v", err)
	}
	me := addrOf(h)
	got := rec.waitSeen(t, fmt.Sprintf("deliver %s %q", me, "after 1"))

	var fcs []string
	for _, g := range got {
		if strings.HasPrefix(g, "flowcontrol") {
			fcs = append(fcs, g)
		}
	}
	if len(fcs) < 2 || fcs[0] != "flowcontrol true" {
		t.Fatalf("flow control messages %q, want on then off", fcs)
	}
	for i, f := range fcs {
		if want := fmt.Sprint("flowcontrol ", i%2 == 0); f != want {
			t.Errorf("flow control message %d is %q, want %q (they alternate)", i, f, want)
		}
	}
	lastOff := -1
	for i, g := range got {
		if g == "flowcontrol false" {
			lastOff = i
		}
	}
	firstAfter := index(got, fmt.Sprintf("deliver %s %q", me, "after 0"))
	if lastOff < 0 || lastOff > firstAfter {
		t.Errorf("the deliveries sent after TRY_AGAIN ended came before the flow control off:\n  %s", strings.Join(got, "\n  "))
	}
	// No loss, in order.
	var delivered []string
	for _, g := range got {
		if strings.HasPrefix(g, "deliver") {
			delivered = append(delivered, g)
		}
	}
	var want []string
	for i := range sent {
		want = append(want, fmt.Sprintf("deliver %s %q", me, fmt.Sprintf("before %d", i)))
	}
	want = append(want, fmt.Sprintf("deliver %s %q", me, "after 0"), fmt.Sprintf("deliver %s %q", me, "after 1"))
	if strings.Join(delivered, "\n") != strings.Join(want, "\n") {
		t.Errorf("deliveries\n  %s\nwant\n  %s", strings.Join(delivered, "\n  "), strings.Join(want, "\n  "))
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A flood to an actor-face receiver that takes one message per 10 ms
// cannot grow the node: the sender gets TRY_AGAIN, the heap stays within
// a few QueueLimitBytes, and the receiver loses nothing; a receiver that
// stalls is evicted with PROCDOWN after StallTimeout, like a handle that
// stops dispatching.
func TestActorFaceSlowReceiverUnderFlood(t *testing.T) {
	const (
		queueHigh  = 256 << 10
		queueLimit = 4 << 20
		sendWindow = 1 << 20
		msgSize    = 16 << 10
		flood      = 1500 * time.Millisecond
	)
	for _, stalled := range []bool{false, true} {
		t.Run(fmt.Sprintf("stalled=%v", stalled), func(t *testing.T) {
			node := startNode(t, func(c *remote.Config) {
				c.QueueHighBytes = queueHigh
				c.QueueLimitBytes = queueLimit
				// What a sender has in flight when flow control comes
				// lands in the queue: the window keeps it below the limit.
				c.SendWindowBytes = sendWindow
				c.StallTimeout = time.Second
			})
			gate := make(chan struct{})
			defer close(gate)
			slow := func() { time.Sleep(10 * time.Millisecond) }
			if stalled {
				slow = func() { <-gate }
			}
			recv, rec := spawnRecorder(t, node.System(), slow)
			h := initActor(t, recv, 0, cpg.WithNode(node))
			join(t, h, "flood")
			sender := newDispatcher(t, cpg.WithNode(node))
			join(t, sender.h, "flood")
			me, from := addrOf(h), addrOf(sender.h)
			sender.rec.waitSeen(t, fmt.Sprintf("confchg members=[%s %s] joined=[%s JOIN]", me, from, from))

			before := heapInUse()
			var peak uint64
			payload := bytes.Repeat([]byte("f"), msgSize)
			sent, tryAgain := 0, 0
			end := time.Now().Add(flood)
			lastSample := time.Now()
			for time.Now().Before(end) {
				msg := append([]byte(fmt.Sprintf("%06d:", sent)), payload...)
				err := sender.h.McastJoined(api.TypeAgreed, msg)
				switch {
				case err == nil:
					sent++
				case errors.Is(err, api.ErrTryAgain):
					tryAgain++
					time.Sleep(time.Millisecond)
				case stalled && errors.Is(err, api.ErrNotExist):
				default:
					t.Fatalf("McastJoined: %v", err)
				}
				if time.Since(lastSample) > 100*time.Millisecond {
					lastSample = time.Now()
					peak = max(peak, heapInUse())
				}
			}
			peak = max(peak, heapInUse())
			grew := int64(peak) - int64(before)
			t.Logf("sent %d messages of %d KiB in %v, %d TRY_AGAIN, heap grew by %d KiB at most", sent, msgSize>>10, flood, tryAgain, grew>>10)
			if tryAgain == 0 {
				t.Errorf("the sender never got TRY_AGAIN flooding a slow receiver")
			}
			if limit := int64(8 * queueLimit); grew > limit {
				t.Errorf("the heap grew by %d MiB under the flood, more than %d MiB (8 x QueueLimitBytes)", grew>>20, limit>>20)
			}
			if stalled {
				sender.rec.waitSeen(t, fmt.Sprintf("confchg members=[%s] left=[%s PROCDOWN]", from, me))
				return
			}
			got := rec.waitFor(t, "every message", func(got []string) bool { return countDeliveries(got) >= sent })
			n := 0
			for _, g := range got {
				if !strings.HasPrefix(g, "deliver") {
					continue
				}
				if want := fmt.Sprintf("deliver %s \"%06d:", from, n); !strings.HasPrefix(g, want) {
					t.Fatalf("delivery %d is %.40s..., want %s...", n, g, want)
				}
				n++
			}
			if n != sent {
				t.Errorf("the receiver got %d messages, want %d", n, sent)
			}
			if strings.Contains(strings.Join(got, "\n"), "PROCDOWN") {
				t.Errorf("a receiver that keeps taking messages was evicted")
			}
		})
	}
}

func countDeliveries(got []string) int {
	n := 0
	for _, g := range got {
		if strings.HasPrefix(g, "deliver") {
			n++
		}
	}
	return n
}
