package remote

import (
	"encoding/binary"
	"net"

	"google.golang.org/protobuf/encoding/protowire"
)

// A client's multicast goes out on its session from the caller's buffers:
// SendMcast writes the frame itself, with one writev behind whatever is
// queued, instead of queuing a copy for the writing goroutine. That saves
// the copy of the payload (the caller may reuse its buffers once the call
// returns) and, when multicasts come one at a time, the hand-off to the
// writing goroutine (a wake-up per message). The price: SendMcast waits
// while the socket is full, as a write to a socket does, until the node
// reads (it always does: its session reader hands what it reads to
// mailboxes and never waits on anything else) or the session closes.
// Under a flood that wait is the backpressure that otherwise was a queue
// of copies in the client.

// directWriter is SendMcast's scratch; the holder of SessionConn.wmu uses
// it.
type directWriter struct {
	hdr     []byte
	bufs    net.Buffers
	scratch []byte
	spare   []sessionOut
}

// SendMcast sends McastRequest{Guarantee: guarantee, Data: the
// concatenation of iov} about handle, one-way, in order with Send. It
// writes the frame, behind what is queued, before it returns (waiting for
// room in the socket): the pieces stay the caller's. await says the
// caller has nothing else in flight and waits for the multicast's
// delivery (a round trip: kindAwait). It returns false if the session is
// closed.
func (s *SessionConn) SendMcast(handle uint64, guarantee uint32, iov [][]byte, await bool) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	d := &s.direct
	q := s.take(d.spare)
	if s.isClosed() {
		return false
	}
	bufs, scratch, size := encodeSessionFrames(q, d.bufs[:0], d.scratch[:0])
	total := 0
	for _, b := range iov {
		total += len(b)
	}
	h := d.hdr[:0]
	h = binary.LittleEndian.AppendUint32(h, uint32(sizeVarint(1, uint64(guarantee))+sizeBytes(2, total)))
	kind := byte(12) // McastRequest, plain protobuf (LinkKind)
	if await && s.client {
		kind |= kindAwait
		s.awaiting()
	}
	h = append(h, kind)
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
	n, err := s.writeBufs(bufs)
	linkBytes.Add(uint64(n))
	clear(bufs) // do not hold what was written, nor the caller's buffers
	d.bufs = bufs[:0]
	if q != nil {
		clear(q)
		d.spare = q[:0]
	}
	if cap(scratch) > 4<<20 {
		scratch = nil
	}
	d.scratch = scratch[:0]
	s.mu.Lock()
	s.queued -= min(s.queued, size)
	s.mu.Unlock()
	if err != nil {
		s.Close()
		return false
	}
	return true
}

func (s *SessionConn) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
