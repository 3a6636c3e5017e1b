package actors_test

import (
	"testing"

	"github.com/actorcpg/actorcpg/api"
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
