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
	if sender.direct.raw == nil {
		t.Skip("no direct writes on this platform")
	}
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
					if !sender.SendMcast(handle, uint32(i%4), iov) {
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

// A direct send the socket takes in part queues its rest ahead of what
// comes next.
func TestSendMcastDirectShortWrite(t *testing.T) {
	a, b := unixPair(t)
	sender := newSessionConn(a, clientGuard, &toClientKinds, 0)
	if sender.direct.raw == nil {
		t.Skip("no direct writes on this platform")
	}
	_ = a.SetWriteBuffer(8 << 10)
	reader := newSessionConn(b, clientGuard, &toNodeKinds, 0)
	defer sender.Close()
	defer reader.Close()
	short := directShort.Load()
	const n = 200
	go func() {
		for i := range n {
			data := directPayload(0, i)
			if i%10 == 9 {
				sender.Send(1, uint32(i), NewFrame(&api.McastRequest{Data: data}))
				continue
			}
			sender.SendMcast(1, 0, [][]byte{data[:len(data)/2], data[len(data)/2:]})
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
	if directShort.Load() == short {
		t.Error("no direct send was cut short: the test did not test that")
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
	if s.SendMcast(1, 0, [][]byte{[]byte("x")}) {
		t.Fatal("sent on a closed session")
	}
}
