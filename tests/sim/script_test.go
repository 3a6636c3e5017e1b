package sim

import (
	"testing"
	"time"
)

// A scripted run: three processes join, send, are split by a partition
// and merged by its heal; the run checks clean, and the same seed and
// script replay it event for event.
func TestScriptReplays(t *testing.T) {
	run := func() (Result, int) {
		s := NewScript(7, 3, Options{})
		s.Run(500 * time.Millisecond)
		var ps []*ScriptProc
		for id := uint32(1); id <= 3; id++ {
			p, err := s.NewProc(id)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Join("g"); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		s.Run(100 * time.Millisecond)
		if err := ps[0].Mcast([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		s.Partition([]uint32{1, 2}, []uint32{3})
		s.Run(time.Second)
		if _, m, _ := s.View(3); len(m) != 1 {
			t.Errorf("node 3's view during the partition: %v", m)
		}
		if err := ps[2].Mcast(make([]byte, 2000)); err != nil { // large: in parts
			t.Fatal(err)
		}
		s.Heal()
		s.Run(time.Second)
		seen := 0
		for _, p := range ps {
			seen += len(p.Seen(0))
		}
		return s.Finish(), seen
	}
	r1, seen1 := run()
	if r1.Failed() {
		t.Fatalf("scripted run failed: %s", r1)
	}
	r2, seen2 := run()
	if r1.Events != r2.Events || seen1 != seen2 || r1.SimTime != r2.SimTime {
		t.Fatalf("the same seed and script ran differently: %d events, %d seen, %v; then %d, %d, %v",
			r1.Events, seen1, r1.SimTime, r2.Events, seen2, r2.SimTime)
	}
	t.Logf("%s", r1)
}
