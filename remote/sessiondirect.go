package remote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync/atomic"
	"syscall"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/actorcpg/actorcpg/api"
)

// A client's multicast goes out on its session from the caller's buffers
// when it can: SendMcast writes the frame with one writev, from the
// caller's goroutine, if nothing else is queued or being written. That
// saves the copy of the payload (the caller may reuse its buffers once the
// call returns, so a queued multicast is copied first) and the hand-off
// to the writing goroutine (a wake-up per message when they come one at a
// time). The write never blocks: it is one non-blocking writev, and what
// the socket does not take is copied and queued for the writing goroutine,
// ahead of anything queued meanwhile. Connections without a file
// descriptor of their own (TLS) always queue.

// directWriter is the state of SessionConn's direct sends; only the
// holder of SessionConn.writing uses it.
type directWriter struct {
	raw     syscall.RawConn // nil: no direct sends
	hdr     []byte
	bufs    net.Buffers
	scratch []byte
	spare   []sessionOut
}

func (d *directWriter) init(conn net.Conn) {
	switch c := conn.(type) {
	case *net.UnixConn, *net.TCPConn:
		if rc, err := c.(syscall.Conn).SyscallConn(); err == nil && writevSupported {
			d.raw = rc
		}
	}
}

// SendMcast sends McastRequest{Guarantee: guarantee, Data: the
// concatenation of iov} about handle, one-way, in order with Send. The
// pieces stay the caller's: SendMcast writes them or copies them before it
// returns. It returns false if the session is closed.
func (s *SessionConn) SendMcast(handle uint64, guarantee uint32, iov [][]byte) bool {
	if s.direct.raw != nil {
		if ok, done := s.sendDirect(handle, guarantee, iov); done {
			return ok
		}
	}
	data := bytes.Join(iov, nil) // a copy of its own, not zeroed first
	return s.Send(handle, 0, NewFrame(&api.McastRequest{Guarantee: guarantee, Data: data}))
}

// sendDirect writes what is queued and the multicast, if no writer is
// writing (the writing goroutine may have been woken for what is queued
// and not run yet: one writev then carries both); done is false if one
// is (the caller queues the multicast).
func (s *SessionConn) sendDirect(handle uint64, guarantee uint32, iov [][]byte) (ok, done bool) {
	d := &s.direct
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, true
	}
	if s.writing {
		s.mu.Unlock()
		return false, false
	}
	q := s.q
	s.q = d.spare[:0]
	s.writing = true
	s.mu.Unlock()

	bufs, scratch, size := encodeSessionFrames(q, d.bufs[:0], d.scratch[:0])
	want := int(size)
	total := 0
	for _, b := range iov {
		total += len(b)
	}
	body := sizeVarint(1, uint64(guarantee)) + sizeBytes(2, total)
	h := d.hdr[:0]
	h = binary.LittleEndian.AppendUint32(h, uint32(body))
	h = append(h, 12) // McastRequest, plain protobuf (LinkKind)
	h = binary.LittleEndian.AppendUint64(h, handle)
	h = binary.LittleEndian.AppendUint32(h, 0)
	if guarantee != 0 {
		h = protowire.AppendTag(h, 1, protowire.VarintType)
		h = protowire.AppendVarint(h, uint64(guarantee))
	}
	if total > 0 {
		h = protowire.AppendTag(h, 2, protowire.BytesType)
		h = protowire.AppendVarint(h, uint64(total))
	}
	d.hdr = h
	bufs = append(bufs, h)
	for _, b := range iov {
		if len(b) > 0 {
			bufs = append(bufs, b)
		}
	}
	want += len(h) + total
	n, err := writevOnce(d.raw, bufs)
	if n > 0 {
		linkBytes.Add(uint64(n))
	}
	var rest []byte
	if err == nil && n < want {
		// The socket is full: the rest (in part the caller's, in part
		// scratch) is copied and queued ahead of what came meanwhile.
		directShort.Add(1)
		rest = make([]byte, 0, want-n)
		skip := n
		for _, b := range bufs {
			if skip >= len(b) {
				skip -= len(b)
				continue
			}
			rest = append(rest, b[skip:]...)
			skip = 0
		}
	}
	clear(q) // do not hold what was written, nor the caller's buffers
	clear(bufs)
	d.spare, d.bufs = q[:0], bufs[:0]
	if cap(scratch) > 4<<20 {
		scratch = nil
	}
	d.scratch = scratch[:0]
	s.mu.Lock()
	s.writing = false
	s.queued -= min(s.queued, size)
	if err != nil || s.closed {
		s.mu.Unlock()
		s.Close()
		return false, true
	}
	if rest != nil {
		s.q = append(s.q, sessionOut{})
		copy(s.q[1:], s.q)
		s.q[0] = sessionOut{raw: rest}
		s.queued += uint64(len(rest))
	}
	wake := len(s.q) > 0
	s.mu.Unlock()
	if wake {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true, true
}

// directShort counts direct sends the socket took in part (tests).
var directShort atomic.Uint64

// writevOnce makes one non-blocking writev of iovs on raw: the bytes
// written, and an error other than the socket being full.
func writevOnce(raw syscall.RawConn, iovs [][]byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for len(iovs) > 0 {
			k := min(len(iovs), 1024) // IOV_MAX
			m, err := writev(fd, iovs[:k])
			if m > 0 {
				n += m
			}
			if err != nil {
				if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
					werr = err
				}
				return true
			}
			// Past what this call took; a short write means a full socket.
			full := 0
			for _, b := range iovs[:k] {
				full += len(b)
			}
			if m < full {
				return true
			}
			iovs = iovs[k:]
		}
		return true
	})
	if werr == nil {
		werr = err
	}
	return n, werr
}
