package cpg

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/actorcpg/actorcpg/api"
)

// Join joins the handle to group (cpg_join). CS_OK means the join is
// queued; the handle becomes a member when its own JOIN confchg arrives,
// which every member (the joiner too) receives. A handle is in one group
// at a time: joining again gives ErrExist, as does joining a group in which
// another handle with the same pid is a member. Names longer than 128 bytes
// give ErrNameTooLong; an empty name gives ErrInvalidParam.
func (h *Handle) Join(group []byte) error {
	if err := h.check(); err != nil {
		return err
	}
	if err := api.CheckName(group); err != nil {
		return err
	}
	st, err := h.call(&api.JoinRequest{Group: group})
	if err != nil {
		return err
	}
	h.leaving.Store(false)
	h.joinEpoch.Store(st.Epoch)
	if st.GroupActor != nil {
		h.groupPID.Store(pidOf(st.GroupActor))
	}
	return nil
}

// Leave leaves group (cpg_leave). group must be the handle's group
// (ErrNotExist otherwise, where Corosync trusts the name). Every member,
// the leaver too, receives a confchg with the leaver in left (LEAVE); after
// it the handle receives nothing more of the group and may join again.
func (h *Handle) Leave(group []byte) error {
	if err := h.check(); err != nil {
		return err
	}
	if len(group) > api.MaxNameLength {
		return api.ErrNameTooLong
	}
	if _, err := h.call(&api.LeaveRequest{Group: group}); err != nil {
		return err
	}
	h.leaving.Store(true)
	return nil
}

// McastJoined multicasts the concatenation of iov to the handle's group
// (cpg_mcast_joined); the pieces are gathered like an iovec and any number
// of them may be given. Every member, the sender too, receives it once, in
// agreed order. A message above MaxAtomicMsgsizeGet travels in parts, like
// libcpg's fragmented send: the call returns once every part is in the
// agreed order, or ErrInterrupt if a view change cut it (then no member
// delivers any of it; send it again). It returns:
//   - ErrNotExist when the handle is not joined (Corosync drops it silently);
//   - ErrTryAgain while flow control is on: the send window is full or a
//     member of the group is too far behind. Keep dispatching and retry;
//   - ErrTooBig above the node's maximum message size (64 MiB by default);
//   - ErrInvalidParam for an unknown guarantee.
//
// Attached to a node process, a multicast of 8 KiB or more, or one sent
// with none of the handle's others in flight, is written to the session
// from iov before the call returns (no copy); while the socket to the node
// is full the call waits for it, as a socket write does. Others are copied
// and queued.
func (h *Handle) McastJoined(guarantee api.Guarantee, iov ...[]byte) error {
	if err := h.check(); err != nil {
		return err
	}
	if !guarantee.Valid() {
		return api.ErrInvalidParam
	}
	var total int
	for _, b := range iov {
		total += len(b)
	}
	if uint64(total) > h.maxMessage {
		return api.ErrTooBig
	}
	if h.joinEpoch.Load() == 0 || h.leaving.Load() {
		return api.ErrNotExist
	}
	if h.flowControlled() {
		h.noteFlow()
		return api.ErrTryAgain
	}
	h.sendMu.Lock()
	defer h.sendMu.Unlock()
	alone := h.inflight.Add(1) == 1
	h.inflightBytes.Add(int64(total))
	h.noteFlow()
	if total > int(h.maxAtomic) {
		data := bytes.Join(iov, nil) // a copy of its own, not zeroed first
		return h.sendLarge(guarantee, data)
	}
	h.conn.sendMcast(h, uint32(guarantee), iov, alone || total >= directMin, alone)
	return nil
}

// directMin: an attached handle's multicasts from this size on are
// written from the caller's buffers (remote.SessionConn.SendMcast), as is
// one with none of the handle's others in flight (a request-reply or a
// round trip: no hand-off to the session's writing goroutine). Smaller
// ones in a stream are copied and queued: the writing goroutine then
// writes many with one writev, and the node reads many with one read.
const directMin = 8 << 10

// sendLarge sends a message above the atomic size and waits until it is
// ordered or interrupted. sendMu is held: one large message at a time.
func (h *Handle) sendLarge(guarantee api.Guarantee, data []byte) error {
	select { // a stale outcome of an earlier message that gave up waiting
	case <-h.large:
	default:
	}
	h.largeWaiting.Store(true)
	defer h.largeWaiting.Store(false)
	h.conn.send(h, &api.McastRequest{Guarantee: uint32(guarantee), Data: data})
	select {
	case err := <-h.large:
		if err != nil && err != api.ErrNotExist {
			h.unsend(1, int64(len(data)))
		}
		return err
	case <-h.done:
		return h.check()
	}
}

// zcb tracks the buffers of ZcbAlloc, so that ZcbFree can refuse others.
var zcb = struct {
	sync.Mutex
	bufs map[*byte]bool
}{bufs: map[*byte]bool{}}

// ZcbAlloc returns a buffer of size bytes for ZcbMcastJoined
// (cpg_zcb_alloc). Like Corosync since zero-copy CPG was removed, it is a
// plain allocation.
func (h *Handle) ZcbAlloc(size int) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	if size <= 0 || uint64(size) > h.maxMessage {
		return nil, fmt.Errorf("cpg: zcb size %d: %w", size, api.ErrInvalidParam)
	}
	b := make([]byte, size)
	zcb.Lock()
	zcb.bufs[&b[0]] = true
	zcb.Unlock()
	return b, nil
}

// ZcbFree releases a buffer from ZcbAlloc (cpg_zcb_free). Other buffers,
// or one freed twice, give ErrInvalidParam.
func (h *Handle) ZcbFree(buf []byte) error {
	if err := h.check(); err != nil {
		return err
	}
	if len(buf) == 0 {
		return api.ErrInvalidParam
	}
	zcb.Lock()
	defer zcb.Unlock()
	if !zcb.bufs[&buf[0]] {
		return api.ErrInvalidParam
	}
	delete(zcb.bufs, &buf[0])
	return nil
}

// ZcbMcastJoined multicasts buf (cpg_zcb_mcast_joined): McastJoined with
// one piece.
func (h *Handle) ZcbMcastJoined(guarantee api.Guarantee, buf []byte) error {
	return h.McastJoined(guarantee, buf)
}
