package remote

import (
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
)

// Round trips over a Unix socket: the client's requests are awaited
// (kindAwait), so the node's reader polls for the client's next frame
// and the client's reader for the answer. Every answer arrives, whole
// and in order, whether it comes while the reader polls or after it
// parked (every hundredth round trip waits past the spin), and a
// connection closed while the node's reader polls ends its Read.
func TestSessionSpinRoundTrips(t *testing.T) {
	a, b := unixPair(t)
	client := newSessionConn(a, clientGuard, &toClientKinds, 0)
	node := newSessionConn(b, clientGuard, &toNodeKinds, 0)
	defer client.Close()
	defer node.Close()
	client.SetSpin(2 * time.Millisecond)
	node.SetSpin(2 * time.Millisecond)
	served := make(chan error, 1)
	go func() { // the node answers every request
		for {
			f, err := node.Read()
			if err != nil {
				served <- err
				return
			}
			if f.Corr != 0 {
				node.Send(f.Handle, f.Corr, NewFrame(&api.LocalGetReply{Nodeid: f.Corr}))
			}
		}
	}()
	for i := uint32(1); i <= 500; i++ {
		if i%100 == 0 {
			time.Sleep(5 * time.Millisecond) // past the spin: both readers park
		}
		if !client.Send(7, i, NewFrame(&api.LocalGetRequest{})) {
			t.Fatal("the session closed")
		}
		f, err := client.Read()
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := f.Msg.(*api.LocalGetReply); !ok || f.Corr != i || f.Handle != 7 || r.Nodeid != i {
			t.Fatalf("round trip %d: got %+v", i, f)
		}
	}
	if node.polled.Load() == 0 || client.polled.Load() == 0 {
		t.Errorf("reads that found their frame while polling: node %d, client %d; want some on both", node.polled.Load(), client.polled.Load())
	}
	client.Send(7, 1000, NewFrame(&api.LocalGetRequest{}))
	if _, err := client.Read(); err != nil {
		t.Fatal(err)
	}
	client.Close() // the node's reader polls for the next frame now
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the node's Read did not end when the client closed")
	}
}

// With the spin off, no reader polls: the same round trips still work.
func TestSessionSpinOff(t *testing.T) {
	a, b := unixPair(t)
	client := newSessionConn(a, clientGuard, &toClientKinds, 0)
	node := newSessionConn(b, clientGuard, &toNodeKinds, 0)
	defer client.Close()
	defer node.Close()
	client.SetSpin(0)
	node.SetSpin(0)
	for i := uint32(1); i <= 50; i++ {
		client.Send(1, i, NewFrame(&api.LocalGetRequest{}))
		f, err := node.Read()
		if err != nil || f.Corr != i {
			t.Fatalf("node read %+v %v", f, err)
		}
		node.Send(1, i, NewFrame(&api.LocalGetReply{}))
		if f, err := client.Read(); err != nil || f.Corr != i {
			t.Fatalf("client read %+v %v", f, err)
		}
	}
	if client.spinUntil.Load() != 0 || node.spinUntil.Load() != 0 {
		t.Error("a reader was asked to poll with the spin off")
	}
}
