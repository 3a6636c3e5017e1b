package cpgtest

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/actorcpg/actorcpg/api"
)

// Event is one event a process received, as its actor got it: exactly one
// field is set. A Deliver's Data is what the sender gave Mcast, without
// the kit's header.
type Event struct {
	Deliver *api.Deliver
	Confchg *api.Confchg
	Totem   *api.TotemConfchg
	Flow    *api.FlowControl
}

// kind is which field of an Event is set.
type kind int

const (
	kindDeliver kind = iota
	kindConfchg
	kindTotem
	kindFlow
	numKinds
)

func (k kind) String() string {
	return [...]string{"deliver", "confchg", "totem confchg", "flow control notice"}[k]
}

func (e Event) kind() kind {
	switch {
	case e.Deliver != nil:
		return kindDeliver
	case e.Confchg != nil:
		return kindConfchg
	case e.Totem != nil:
		return kindTotem
	}
	return kindFlow
}

// String describes the event on one line, as the kit's failures list it:
//
//	DELIVER "g" from 1/1001: "hello"
//	CONFCHG "g" members=[1/1001 2/1002] left=[3/1003(NODEDOWN)]
//	TOTEM ring 1.4 members=[1 2]
//	FLOWCONTROL enabled=true
func (e Event) String() string {
	switch e.kind() {
	case kindDeliver:
		d := e.Deliver
		return fmt.Sprintf("DELIVER %q from %d/%d: %s", d.Group, d.Nodeid, d.Pid, shortBytes(d.Data))
	case kindConfchg:
		cc := e.Confchg
		s := fmt.Sprintf("CONFCHG %q members=%s", cc.Group, addrList(cc.Members))
		if len(cc.Left) > 0 {
			s += " left=" + addrList(cc.Left)
		}
		if len(cc.Joined) > 0 {
			s += " joined=" + addrList(cc.Joined)
		}
		return s
	case kindTotem:
		return fmt.Sprintf("TOTEM ring %s members=%v", RingString(e.Totem.RingId), e.Totem.Members)
	}
	return fmt.Sprintf("FLOWCONTROL enabled=%v", e.Flow.Enabled)
}

// shortBytes quotes b, cut after 64 bytes.
func shortBytes(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
}

// addrList formats a confchg list as [node/pid(REASON) ...].
func addrList(as []*api.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%d/%d", a.GetNodeid(), a.GetPid())
		if a.GetReason() != 0 {
			parts[i] += "(" + api.Reason(a.GetReason()).String() + ")"
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// eventLog holds what a process received, in order, and which events
// expectations have taken: each expectation takes the next event of its
// kind (the kinds have a cursor each).
type eventLog struct {
	mu      sync.Mutex
	events  []Event
	taken   []bool
	cursor  [numKinds]int
	changed chan struct{} // closed and replaced at each new event
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.taken = append(l.taken, false)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// hasNext reports whether an event of kind k is waiting to be taken.
func (l *eventLog) hasNext(k kind) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextIndex(k) >= 0
}

// nextIndex is the index of the next event of kind k not taken, or -1.
// l.mu is held.
func (l *eventLog) nextIndex(k kind) int {
	for i := l.cursor[k]; i < len(l.events); i++ {
		if l.events[i].kind() == k {
			return i
		}
	}
	return -1
}

// take takes the next event of kind k.
func (l *eventLog) take(k kind) (Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.nextIndex(k)
	if i < 0 {
		return Event{}, false
	}
	l.taken[i] = true
	l.cursor[k] = i + 1
	return l.events[i], true
}

// untaken returns the deliveries, confchgs and totem confchgs no
// expectation took, in order (flow control notices are left out).
func (l *eventLog) untaken() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for i, e := range l.events {
		if !l.taken[i] && e.kind() != kindFlow {
			out = append(out, e)
		}
	}
	return out
}

// all returns every event received so far.
func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// wait waits until cond holds or d passes, and reports whether it held.
// cond may use l's methods.
func (l *eventLog) wait(cond func() bool, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return cond()
		}
	}
}

// maxListed bounds the events a failure lists (the last ones).
const maxListed = 60

// describe lists what was received, marking what expectations took
// ([x]) and what they did not ([ ]).
func (l *eventLog) describe() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return "\n  (nothing received)"
	}
	var b strings.Builder
	from := max(0, len(l.events)-maxListed)
	if from > 0 {
		fmt.Fprintf(&b, "\n  ... %d earlier events", from)
	}
	for i := from; i < len(l.events); i++ {
		mark := "[ ]"
		if l.taken[i] {
			mark = "[x]"
		}
		fmt.Fprintf(&b, "\n  %s #%d %s", mark, i+1, l.events[i])
	}
	return b.String()
}
