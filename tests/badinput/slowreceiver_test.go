package badinput

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// README "Flow control and slow members": a member that never dispatches
// makes its group flow-controlled (senders get TRY_AGAIN and
// FlowControlStateGet says ENABLED); after StallTimeout without a dispatch
// it is evicted with reason PROCDOWN, the others carry on, and the evicted
// handle still receives what was queued, then that confchg, then nothing
// more of the group.
func TestSlowReceiverIsFlowControlledThenEvicted(t *testing.T) {
	f := newFixture(t, func(c *remote.Config) {
		c.QueueHighBytes = 64 << 10
		c.QueueLimitBytes = 1 << 20
		c.CreditEvents = 8
		c.CreditBytes = 16 << 10
		c.StallTimeout = 500 * time.Millisecond
	})
	sender, slow := f.by, f.sub
	watcher := newPeer(t, f.node, "watcher")
	cc := watcher.join(f.group)
	sender.expect(cc)
	slow.expect(cc) // from now on the slow member never dispatches

	// Send 4 KiB messages one at a time, each seen back by the sender and
	// the watcher, until the slow member's queue passes QueueHighBytes.
	var sent []string
	var fc api.FlowControlState
	payload := bytes.Repeat([]byte("s"), 4<<10)
	for len(sent) < 1000 {
		msg := append([]byte(fmt.Sprintf("%04d:", len(sent))), payload...)
		err := sender.h.McastJoined(api.TypeAgreed, msg)
		if errors.Is(err, api.ErrTryAgain) {
			fc, err = sender.h.FlowControlStateGet()
			if err != nil {
				t.Fatalf("FlowControlStateGet: %v", err)
			}
			break
		}
		if err != nil {
			t.Fatalf("McastJoined #%d: %v", len(sent), err)
		}
		d := describeDeliver(sender.h.NodeID(), sender.h.Pid(), msg)
		sent = append(sent, d)
		sender.expect(d)
		watcher.expect(d)
	}
	if fc != api.FlowControlEnabled {
		t.Fatalf("after %d messages: no TRY_AGAIN with FlowControlStateGet ENABLED (state %v)", len(sent), fc)
	}
	if want := int(64<<10) / (4 << 10); len(sent) < want {
		t.Errorf("flow control came after %d messages, before the slow queue could reach QueueHighBytes (%d messages)", len(sent), want)
	}

	// The stall timeout evicts the slow member.
	evicted := fmt.Sprintf("confchg members=%s left=[%s PROCDOWN]", f.members(sender, watcher), slow.addr())
	sender.expect(evicted)
	watcher.expect(evicted)
	ms, err := sender.h.MembershipGet(f.group)
	if err != nil || addrs(ms) != f.members(sender, watcher) {
		t.Errorf("MembershipGet after the eviction = %s, %v; want %s", addrs(ms), err, f.members(sender, watcher))
	}

	// The sender can send again once the group's flow control is off.
	after := []byte("after the eviction")
	deadline := time.Now().Add(patience)
	for {
		err := sender.h.McastJoined(api.TypeAgreed, after)
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrTryAgain) || time.Now().After(deadline) {
			t.Fatalf("McastJoined after the eviction: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	d := describeDeliver(sender.h.NodeID(), sender.h.Pid(), after)
	sender.expect(d)
	watcher.expect(d)
	if fc, err := sender.h.FlowControlStateGet(); err != nil || fc != api.FlowControlDisabled {
		t.Errorf("FlowControlStateGet after the eviction = %v, %v; want DISABLED", fc, err)
	}

	// The evicted handle gets everything queued, then its own PROCDOWN
	// confchg, and nothing after it.
	slow.expect(append(sent, evicted)...)
	is(t, "Dispatch(ONE_NONBLOCKING) on the evicted handle", slow.h.Dispatch(api.DispatchOneNonblocking), api.CodeTryAgain)
	// Its membership ended: it may join again.
	deadline = time.Now().Add(patience)
	for {
		err := slow.h.Join(f.group)
		if err == nil {
			break
		}
		if !errors.Is(err, api.ErrTryAgain) || time.Now().After(deadline) {
			t.Fatalf("Join after the eviction: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	rejoin := slow.next(1)[0]
	if want := fmt.Sprintf("confchg members=%s joined=[%s JOIN]", f.members(sender, watcher, slow), slow.addr()); rejoin != want {
		t.Errorf("after rejoining the evicted handle got %q, want %q", rejoin, want)
	}
	sender.expect(rejoin)
	watcher.expect(rejoin)
	f.unchanged(sender, slow, watcher)
}
