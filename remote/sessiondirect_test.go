package remote

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
)

// unixPair is a connected pair of Unix stream sockets.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *net.UnixConn, 1)
	go func() {
		c, _ := ln.AcceptUnix()
		got <- c
	}()
	a, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	b := <-got
	if b == nil {
		t.Fatal("accept failed")
	}
	return a, b
}

// Multicasts sent directly and frames queued by other goroutines at the
// same time arrive whole and, per sender, in order, with a socket small
// enough that direct writes are cut short (their rest is queued) and a
// reader slower than the writers.
func TestSendMcastDirectKeepsOrderAndBytes(t *testing.T) {
	a, b := unixPair(t)
	sender := newSessionConn(a, clientGuard, &toClientKinds, 0)
	_ = a.SetWriteBuffer(8 << 10) // after newSessionConn's 4 MiB
	reader := newSessionConn(b, clientGuard, &toNodeKinds, 0)
	defer sender.Close()
	defer reader.Close()

	const senders, each = 4, 300
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// 0..40 KiB in three pieces; every other one as a queued frame.
				data := directPayload(g, i)
				n := len(data)
				handle := uint64(g + 1)
				if i%2 == 0 {
					iov := [][]byte{data[:n/3], data[n/3 : n/2], data[n/2:]}
					if !sender.SendMcast(handle, uint32(i%4), iov, i%3 == 0) {
						t.Errorf("sender %d: session closed", g)
						return
					}
					for _, p := range iov { // the caller may reuse its buffers at once
						clear(p)
					}
				} else if !sender.Send(handle, uint32(i+1), NewFrame(&api.McastRequest{Guarantee: uint32(i % 4), Data: data})) {
					t.Errorf("sender %d: session closed", g)
					return
				}
			}
		}()
	}
	next := make([]int, senders)
	for got := 0; got < senders*each; got++ {
		_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := reader.Read()
		if err != nil {
			t.Fatalf("frame %d: %v", got, err)
		}
		if got%50 == 0 {
			time.Sleep(time.Millisecond) // let the socket fill
		}
		g := int(f.Handle) - 1
		m, ok := f.Msg.(*api.McastRequest)
		if !ok || g < 0 || g >= senders {
			t.Fatalf("frame %d: handle %d, %T", got, f.Handle, f.Msg)
		}
		i := next[g]
		next[g]++
		want := directPayload(g, i)
		n := len(want)
		if !bytes.Equal(m.Data, want) || m.Guarantee != uint32(i%4) {
			t.Fatalf("sender %d message %d: %d bytes, guarantee %d: %s", g, i, len(m.Data), m.Guarantee,
				fmt.Sprintf("want %d bytes, guarantee %d", n, i%4))
		}
		if wantCorr := uint32(0); i%2 == 1 {
			wantCorr = uint32(i + 1)
			if f.Corr != wantCorr {
				t.Fatalf("sender %d message %d: corr %d", g, i, f.Corr)
			}
		}
	}
	wg.Wait()
	if q := sender.Queued(); q != 0 {
		t.Fatalf("%d bytes still counted as queued", q)
	}
}

// SendMcast waits while the socket is full; queued frames go out ahead of
// it, and nothing is lost or reordered.
func TestSendMcastWaitsForAFullSocket(t *testing.T) {
	a, b := unixPair(t)
	sender := newSessionConn(a, clientGuard, &toClientKinds, 0)
	_ = a.SetWriteBuffer(8 << 10)
	reader := newSessionConn(b, clientGuard, &toNodeKinds, 0)
	defer sender.Close()
	defer reader.Close()
	const n = 200
	go func() {
		for i := range n {
			data := directPayload(0, i)
			if i%10 == 9 {
				sender.Send(1, uint32(i), NewFrame(&api.McastRequest{Data: data}))
				continue
			}
			sender.SendMcast(1, 0, [][]byte{data[:len(data)/2], data[len(data)/2:]}, false)
			clear(data)
		}
	}()
	for i := range n {
		if i < 20 {
			time.Sleep(2 * time.Millisecond) // the socket fills meanwhile
		}
		_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := reader.Read()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if m := f.Msg.(*api.McastRequest); !bytes.Equal(m.Data, directPayload(0, i)) {
			t.Fatalf("message %d differs (%d bytes)", i, len(m.Data))
		}
	}
}

// directPayload is message i of sender g: 0..40 KiB, marked with both.
func directPayload(g, i int) []byte {
	n := (i * 7919) % (40 << 10)
	data := bytes.Repeat([]byte{byte(g*31 + i)}, n)
	if n >= 8 {
		binary.LittleEndian.PutUint32(data[n-4:], uint32(i))
	}
	return data
}

// A direct send on a closed session reports it.
func TestSendMcastOnClosedSession(t *testing.T) {
	a, b := unixPair(t)
	defer b.Close()
	s := newSessionConn(a, clientGuard, &toClientKinds, 0)
	s.Close()
	if s.SendMcast(1, 0, [][]byte{[]byte("x")}, false) {
		t.Fatal("sent on a closed session")
	}
}

// A session's read buffer grows once the other end has sent a body larger
// than it in full (never on an announcement alone), up to
// maxSessionBuffer, and frames read across the change arrive whole.
func TestSessionReadBufferGrowsAfterLargeFrames(t *testing.T) {
	a, b := unixPair(t)
	sender := newSessionConn(a, clientGuard, &toClientKinds, 0)
	reader := newSessionConn(b, clientGuard, &toNodeKinds, 0)
	defer sender.Close()
	defer reader.Close()
	sizes := []int{10, 100 << 10, 50, 100 << 10, 300 << 10, 7, 3 << 20, 3 << 20, 64 << 10, 1}
	go func() {
		for i, n := range sizes {
			sender.SendMcast(uint64(i+1), 0, [][]byte{directPayload(i, n)[:0], bytes.Repeat([]byte{byte(i)}, n)}, false)
		}
	}()
	start := reader.r.Size()
	for i, n := range sizes {
		_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := reader.Read()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if m := f.Msg.(*api.McastRequest); f.Handle != uint64(i+1) || !bytes.Equal(m.Data, bytes.Repeat([]byte{byte(i)}, n)) {
			t.Fatalf("frame %d differs", i)
		}
		switch size := reader.r.Size(); {
		case i == 0 && size != start:
			t.Fatalf("the buffer grew to %d on small frames", size)
		case i == 1 && size != start:
			t.Fatalf("the buffer grew to %d before a large body arrived in full", size)
		case i == 3 && size < 100<<10:
			t.Fatalf("the buffer is %d after two bodies of 100 KiB", size)
		case size > maxSessionBuffer:
			t.Fatalf("the buffer is %d", size)
		}
	}
}
