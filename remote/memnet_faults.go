package remote

import "time"

// The faults of a MemNetwork beyond Cut and Heal, for test kits
// (cpgtest): a cut healed one direction at a time, a slow direction, and
// a node whose links freeze, as a stopped process's would.

// Uncut ends the cut of the direction from a to b (Heal ends them all).
func (n *MemNetwork) Uncut(a, b uint32) {
	n.mu.Lock()
	delete(n.cut, [2]uint32{a, b})
	n.mu.Unlock()
}

// Delay holds every message from a to b until d after it was sent, in
// order (a message never overtakes an earlier one); 0 ends the delay. It
// applies to what is on its way too.
func (n *MemNetwork) Delay(a, b uint32, d time.Duration) {
	n.mu.Lock()
	if d <= 0 {
		delete(n.delay, [2]uint32{a, b})
	} else {
		n.delay[[2]uint32{a, b}] = d
	}
	n.mu.Unlock()
}

// Hold freezes node id's links until Release: what it sends and what is
// sent to it waits, in order, and nothing is lost, as over the TCP
// connections of a process that is stopped (SIGSTOP) or paused.
func (n *MemNetwork) Hold(id uint32) {
	n.mu.Lock()
	n.held[id] = true
	n.mu.Unlock()
}

// Release ends Hold of node id: what waited flows, in order.
func (n *MemNetwork) Release(id uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.held[id] {
		return
	}
	delete(n.held, id)
	close(n.release)
	n.release = make(chan struct{})
}

// await waits until a message sent from a to b at sent may be delivered:
// neither end held, and its delay (if any) passed. It returns false once
// the network is closed.
func (n *MemNetwork) await(a, b uint32, sent time.Time) bool {
	for {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return false
		}
		if n.held[a] || n.held[b] {
			released := n.release
			n.mu.Unlock()
			select {
			case <-released:
				continue
			case <-n.done:
				return false
			}
		}
		due := sent.Add(n.delay[[2]uint32{a, b}])
		n.mu.Unlock()
		wait := time.Until(due)
		if wait <= 0 {
			return true
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-n.done:
			timer.Stop()
			return false
		}
	}
}
