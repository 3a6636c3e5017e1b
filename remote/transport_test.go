package remote

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
)

// memCollector records what a node of a MemNetwork receives.
type memCollector struct {
	mu  sync.Mutex
	got []*wire.Ordered
}

func (c *memCollector) deliver(from uint32, m proto.Message) {
	c.mu.Lock()
	c.got = append(c.got, m.(*wire.Ordered))
	c.mu.Unlock()
}

func (c *memCollector) wait(t *testing.T, n int) []*wire.Ordered {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		got := len(c.got)
		c.mu.Unlock()
		if got >= n {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != n {
		t.Fatalf("received %d messages, want %d", len(c.got), n)
	}
	return append([]*wire.Ordered(nil), c.got...)
}

// A MemNetwork delivers what one node sends another in order, as copies
// decoded from the frame (large payloads detached included), loses what
// is sent on a cut direction, and delivers again after Heal.
func TestMemNetworkDeliversInOrderCopiesAndCuts(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	var c2 memCollector
	t1 := net.Join(1, func(uint32, proto.Message) {})
	net.Join(2, c2.deliver)
	big := bytes.Repeat([]byte("x"), 256<<10)
	var sent []*wire.Ordered
	for i := range 200 {
		m := &wire.Ordered{Group: []byte("g"), From: 1, High: uint64(i)}
		if i%50 == 0 {
			m.Events = []*wire.GroupEvent{{Seq: uint64(i), Kind: wire.Kind_KIND_MCAST, Nodeid: 1, Data: big}}
		}
		sent = append(sent, m)
		t1.Send(2, NewFrame(m))
	}
	got := c2.wait(t, 200)
	for i, m := range got {
		if m == sent[i] {
			t.Fatal("the receiver got the sender's message itself, not a copy")
		}
		if !proto.Equal(m, sent[i]) {
			t.Fatalf("message %d: got %v", i, m)
		}
	}
	net.Cut(1, 2)
	t1.Send(2, NewFrame(&wire.Ordered{High: 1000}))
	net.Heal()
	t1.Send(2, NewFrame(&wire.Ordered{High: 1001}))
	got = c2.wait(t, 201)
	if got[200].High != 1001 {
		t.Fatalf("after the cut and heal, got %v", got[200])
	}
	t1.Close()
	t1.Send(2, NewFrame(&wire.Ordered{High: 1002}))
	time.Sleep(20 * time.Millisecond) // nothing may arrive; not an assertion on time
	c2.wait(t, 201)
}
