//go:build !race

package multinode

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// Processes join, send, leave or finalize on every node while a sender on
// every node floods the group. Afterwards every node lists the same
// members (the stable ones), the stable members saw the same stream of
// events, every message sent with CS_OK reached each of them once, and
// every receiver's stream, the churners' too, is FIFO per sender without
// duplicates.
func TestChurnDuringFlood(t *testing.T) {
	// Nothing fails here: a longer token only keeps a starved machine
	// (the flood and the churn use every core) from a false failure
	// detection.
	c := startCluster(t, 3, func(cfg *remote.Config) {
		cfg.Token, cfg.Heartbeat = 3*time.Second, 250*time.Millisecond
	})
	const group = "churn"
	g := newFloodGroup(t, c, group, 1, 2, 3)
	stable := g.on(1, 2, 3)
	marks := make(map[*member]int)
	waitFor(t, "every stable member saw the 6 of them", func() bool {
		for _, m := range stable {
			evs := m.snapshot()
			i := lastIndex(evs, func(e event) bool { return e.Kind == kConfchg })
			if i < 0 || len(evs[i].Members) != len(stable) {
				return false
			}
			marks[m] = len(evs)
		}
		return true
	}, func() string { return dumpEvents(stable...) })

	senders := []*member{g.senders[1], g.senders[2], g.senders[3]}
	fl := startFloods(300, 0, senders...)

	const perChurner = 6
	var mu sync.Mutex
	var churners []*member
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for _, id := range []uint32{1, 2, 3} {
		for k := 0; k < 2; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perChurner; i++ {
					m, err := openMember(c, c.node(id), fmt.Sprintf("C%d.%d.%d", id, k, i))
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					churners = append(churners, m)
					mu.Unlock()
					if err := churnOnce(m, group, i%2 == 0); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	mu.Lock()
	for _, m := range churners {
		t.Cleanup(m.close)
	}
	mu.Unlock()
	for err := range errs {
		t.Error(err)
	}
	for s, err := range fl.wait() {
		t.Errorf("%s: McastJoined: %v", s.name, err)
	}
	if t.Failed() {
		t.FailNow()
	}

	waitMembers(t, group, addrsOf(0, stable...), stable...)
	waitAllDelivered(t, group, senders, stable)
	const wantConfchgs = 2 * 6 * perChurner // a join and a leave per churner
	waitFor(t, "every churner's confchgs at every stable member", func() bool {
		for _, m := range stable {
			n := 0
			for _, e := range eventsAfter(m, marks[m]) {
				if e.Kind == kConfchg {
					n++
				}
			}
			if n < wantConfchgs {
				return false
			}
		}
		return true
	}, func() string { return dumpEvents(stable...) })
	// The stable members saw the same stream since the mark: the same
	// confchgs and messages in the same order (rule 11).
	var ref []event
	for i, m := range stable {
		evs := eventsAfter(m, marks[m])
		// Compare up to the last event every member surely has: the
		// streams end at different points while the last messages land.
		if i == 0 {
			ref = evs
			continue
		}
		n := min(len(ref), len(evs))
		if d := firstDiffIndex(ref[:n], evs[:n]); d >= 0 {
			t.Errorf("%s and %s saw different streams: %s", stable[0].name, m.name, firstDiff(ref[:n], evs[:n]))
		}
	}
	for _, m := range stable {
		if i := slices.IndexFunc(eventsAfter(m, marks[m]), isTotem); i >= 0 {
			t.Errorf("%s: a view change without any failure:%s", m.name, dumpEvents(m))
		}
	}
	confchgs := 0
	for _, e := range ref {
		if e.Kind == kConfchg {
			confchgs++
			if len(e.Left) == 1 && e.Left[0].Reason != uint32(api.ReasonLeave) && e.Left[0].Reason != uint32(api.ReasonProcDown) {
				t.Errorf("unexpected reason in %v", e)
			}
		}
	}
	if confchgs != wantConfchgs {
		t.Errorf("%s saw %d confchgs, want %d (a join and a leave per churner)", stable[0].name, confchgs, wantConfchgs)
	}
	checkExactlyOnce(t, group, senders, stable)
	mu.Lock()
	all := append(slices.Clone(stable), churners...)
	mu.Unlock()
	checkStreams(t, all...)
	t.Logf("%d churners; %d confchgs; %d, %d and %d messages sent", len(churners), confchgs,
		len(senders[0].sentOK()), len(senders[1].sentOK()), len(senders[2].sentOK()))
}

// churnOnce joins m to group, sends a few messages, then leaves (or
// finalizes when leave is false), waiting for its own confchgs.
func churnOnce(m *member, group string, leave bool) error {
	from := m.count()
	if err := retry(nil, func() error { return m.joinGroup(group) }); err != nil {
		return fmt.Errorf("%s: Join: %w", m.name, err)
	}
	if !waitOwn(m, from, group, m.addr(api.ReasonJoin), true) {
		return fmt.Errorf("%s: no own JOIN confchg:%s", m.name, dumpEvents(m))
	}
	for i := 0; i < 5; i++ {
		if _, err := m.sendRetry(100); err != nil {
			return fmt.Errorf("%s: McastJoined: %w", m.name, err)
		}
	}
	if !leave {
		err := m.h.Finalize()
		m.finalized()
		if err != nil && !errors.Is(err, api.ErrBadHandle) {
			return fmt.Errorf("%s: Finalize: %w", m.name, err)
		}
		return nil
	}
	from = m.count()
	if err := retry(nil, func() error { return m.h.Leave([]byte(group)) }); err != nil {
		return fmt.Errorf("%s: Leave: %w", m.name, err)
	}
	if !waitOwn(m, from, group, m.addr(api.ReasonLeave), false) {
		return fmt.Errorf("%s: no own LEAVE confchg:%s", m.name, dumpEvents(m))
	}
	err := m.h.Finalize()
	m.finalized()
	return err
}
