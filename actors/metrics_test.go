package actors_test

import (
	"testing"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/remote"
)

// TestMetricsCountMulticastsDeliveriesAndViews: a node's Metrics count the
// multicasts its handles passed on and the messages it delivered (once per
// receiving handle), its views and handles, and its receive queues drain
// back to zero.
func TestMetricsCountMulticastsDeliveriesAndViews(t *testing.T) {
	n := oneNode(t)
	a := join(t, n, "metrics")
	b := join(t, n, "metrics")
	before := n.Metrics()
	for i := 0; i < 10; i++ {
		if err := a.h.McastJoined(api.TypeAgreed, []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "20 deliveries counted", func() bool {
		m := n.Metrics()
		return m.DeliveredMessages-before.DeliveredMessages >= 20
	})
	m := n.Metrics()
	if got := m.McastMessages - before.McastMessages; got != 10 {
		t.Errorf("multicasts counted %d, want 10", got)
	}
	if got := m.McastBytes - before.McastBytes; got != 100 {
		t.Errorf("multicast bytes %d, want 100", got)
	}
	if got := m.DeliveredMessages - before.DeliveredMessages; got != 20 {
		t.Errorf("deliveries counted %d, want 20 (10 messages, 2 receivers)", got)
	}
	if got := m.DeliveredBytes - before.DeliveredBytes; got != 200 {
		t.Errorf("delivered bytes %d, want 200", got)
	}
	if m.ViewsInstalled < 1 || m.Handles != 2 || m.GroupActors != 1 || m.SequencerActors != 1 {
		t.Errorf("views %d, handles %d, group actors %d, sequencer actors %d: want >=1, 2, 1, 1",
			m.ViewsInstalled, m.Handles, m.GroupActors, m.SequencerActors)
	}
	for _, x := range []*member{a, b} {
		if err := x.h.Finalize(); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the handles gone and the queues empty", func() bool {
		m := n.Metrics()
		return m.Handles == 0 && m.QueueBytes == 0
	})
}

// TestGroupMetricsAreBoundedAndCountPerGroup: with WithGroupMetrics(2),
// the first two groups get counters of their own (deliveries once per
// receiving handle, members, which node orders them), a third is summed
// into Other, and a node without the option keeps none.
func TestGroupMetricsAreBoundedAndCountPerGroup(t *testing.T) {
	if oneNode(t).GroupMetrics() != nil {
		t.Fatal("per-group metrics kept without WithGroupMetrics")
	}
	n, err := actors.Start(remote.DefaultConfig(), actors.WithGroupMetrics(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	var ms []*member
	for i, g := range []string{"b", "a", "c"} {
		for k := 0; k <= i; k++ { // b: 1 member, a: 2, c: 3
			ms = append(ms, join(t, n, g))
		}
	}
	for _, m := range ms {
		if err := m.h.McastJoined(api.TypeAgreed, []byte("0123")); err != nil {
			t.Fatal(err)
		}
	}
	// b: 1 message x 1 receiver; a: 2 x 2; c: 3 x 3.
	want := map[string]uint64{"a": 4, "b": 1, "": 9}
	waitUntil(t, "every group's deliveries counted", func() bool {
		got := n.GroupMetrics()
		if len(got) != 3 {
			return false
		}
		for _, g := range got {
			if g.DeliveredMessages < want[string(g.Group)] {
				return false
			}
		}
		return true
	})
	got := n.GroupMetrics()
	if string(got[0].Group) != "a" || string(got[1].Group) != "b" || !got[2].Other {
		t.Fatalf("groups %q %q other=%v, want a, b, Other", got[0].Group, got[1].Group, got[2].Other)
	}
	for _, g := range got {
		w := want[string(g.Group)]
		if g.DeliveredMessages != w || g.DeliveredBytes != 4*w {
			t.Errorf("group %q: %d messages, %d bytes, want %d and %d", g.Group, g.DeliveredMessages, g.DeliveredBytes, w, 4*w)
		}
	}
	if got[0].Members != 2 || got[1].Members != 1 || !got[0].Orders || !got[1].Orders {
		t.Errorf("members %d and %d (want 2 and 1), orders %v %v (want true)", got[0].Members, got[1].Members, got[0].Orders, got[1].Orders)
	}
}
