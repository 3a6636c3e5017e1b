package remote

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/internal/wire"
)

// count returns how many messages c holds now.
func (c *memCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// Uncut heals one direction and leaves the others cut.
func TestMemNetworkUncutHealsOneDirection(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	var c1, c2 memCollector
	t1 := net.Join(1, c1.deliver)
	t2 := net.Join(2, c2.deliver)
	net.Cut(1, 2)
	net.Cut(2, 1)
	net.Uncut(1, 2)
	t1.Send(2, NewFrame(&wire.Ordered{High: 1}))
	t2.Send(1, NewFrame(&wire.Ordered{High: 2}))
	c2.wait(t, 1)
	time.Sleep(20 * time.Millisecond) // nothing may arrive at node 1; not an assertion on time
	c1.wait(t, 0)
}

// Delay holds a direction's messages until their delay passed, in order,
// and leaves the other direction alone.
func TestMemNetworkDelayKeepsOrder(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	var c1, c2 memCollector
	t1 := net.Join(1, c1.deliver)
	t2 := net.Join(2, c2.deliver)
	const d = 150 * time.Millisecond
	net.Delay(1, 2, d)
	start := time.Now()
	for i := range 20 {
		t1.Send(2, NewFrame(&wire.Ordered{High: uint64(i)}))
	}
	t2.Send(1, NewFrame(&wire.Ordered{High: 100}))
	c1.wait(t, 1)
	if c2.count() != 0 {
		t.Fatal("a delayed message arrived before the undelayed reply")
	}
	got := c2.wait(t, 20)
	if el := time.Since(start); el < d {
		t.Fatalf("delayed messages arrived after %v, before the delay of %v", el, d)
	}
	for i, m := range got {
		if m.High != uint64(i) {
			t.Fatalf("message %d arrived as %d: order lost", i, m.High)
		}
	}
	net.Delay(1, 2, 0)
	t1.Send(2, NewFrame(&wire.Ordered{High: 20}))
	c2.wait(t, 21)
}

// Hold freezes both directions of a node's links: nothing is lost, and
// everything flows in order after Release. Close ends a held pipe.
func TestMemNetworkHoldFreezesAndReleases(t *testing.T) {
	net := NewMemNetwork()
	var c1, c2, c3 memCollector
	t1 := net.Join(1, c1.deliver)
	t2 := net.Join(2, c2.deliver)
	t3 := net.Join(3, c3.deliver)
	net.Hold(2)
	for i := range 10 {
		t1.Send(2, NewFrame(&wire.Ordered{High: uint64(i)}))
		t2.Send(1, NewFrame(&wire.Ordered{High: uint64(i)}))
	}
	t3.Send(1, NewFrame(&wire.Ordered{High: 99}))
	c1.wait(t, 1)                     // node 3's message passes: only node 2 is held
	time.Sleep(30 * time.Millisecond) // nothing of node 2 may arrive; not an assertion on time
	if c2.count() != 0 || c1.count() != 1 {
		t.Fatalf("while held: node 2 got %d messages, node 1 %d; want 0 and 1", c2.count(), c1.count())
	}
	net.Release(2)
	for i, m := range c2.wait(t, 10) {
		if m.High != uint64(i) {
			t.Fatalf("node 2: message %d arrived as %d", i, m.High)
		}
	}
	got := c1.wait(t, 11)
	for i, m := range got[1:] {
		if m.High != uint64(i) {
			t.Fatalf("node 1: message %d from node 2 arrived as %d", i, m.High)
		}
	}
	net.Hold(3)
	t3.Send(1, NewFrame(&wire.Ordered{High: 100}))
	done := make(chan struct{})
	go func() { net.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a held pipe")
	}
}

// Close may run while nodes send: what they send then is dropped, and
// nothing panics or races.
func TestMemNetworkCloseWhileSending(t *testing.T) {
	net := NewMemNetwork()
	var c2 memCollector
	t1 := net.Join(1, func(uint32, proto.Message) {})
	net.Join(2, c2.deliver)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			t1.Send(2, NewFrame(&wire.Ordered{High: uint64(i)}))
		}
	}()
	net.Close()
	<-done
}
