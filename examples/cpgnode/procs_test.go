package main

import "testing"

// The governor goes to all processors when goroutines wait to run on a
// busy node, or under link traffic, and back to one when the node uses
// less than one processor's worth again after a hold; a busy node with
// nothing waiting (a lone round trip) stays on one.
func TestProcsGovernorFollowsLoadWithHysteresis(t *testing.T) {
	g := &procsGovernor{max: 4, cur: 1, up: 0.6, waitUp: 0.05, downUse: 0.8, upRate: 16e6, downRate: 4e6, hold: 3}
	for i, step := range []struct {
		use, rate, waiting float64
		want               int
	}{
		{0.1, 0, 0, 1}, {0.5, 1e6, 0.5, 1}, // idle, or little CPU
		{0.7, 0, 0.01, 1}, {0.9, 0, 0.02, 1}, // busy, nothing waiting: a round trip
		{0.7, 0, 0.2, 4},               // busy with goroutines waiting
		{0.3, 0, 0, 4}, {0.3, 0, 0, 4}, // held
		{0.3, 0, 0, 1},                                                          // then down
		{0.3, 20e6, 0, 4}, {0.2, 8e6, 0, 4}, {0.2, 8e6, 0, 4}, {0.2, 8e6, 0, 4}, // traffic keeps it up
		{0.2, 3e6, 0, 1},
		{0.95, 0, 0.3, 4}, {1.5, 0, 0, 4}, {1.5, 0, 0, 4}, {1.2, 0, 0, 4}, // a flood using both stays
		{0.7, 0, 0, 1}, // below one processor's worth after the hold
	} {
		if got := g.next(step.use, step.rate, step.waiting); got != step.want {
			t.Fatalf("step %d: cpu %.2f, %.0f B/s, %.2f waiting give %d processors, want %d", i, step.use, step.rate, step.waiting, got, step.want)
		}
	}
}

// With quietFor, a dip of a flood shorter than quietFor intervals keeps
// the processors; a quiet spell that long after the hold gives them back
// at once, however long the flood was.
func TestProcsGovernorWaitsOutDips(t *testing.T) {
	g := &procsGovernor{max: 2, cur: 1, up: 0.6, waitUp: 0.05, downUse: 1.0, upRate: 256e6, downRate: 128e6, hold: 4, quietFor: 2}
	for i, step := range []struct {
		use, rate, waiting float64
		want               int
	}{
		{0.7, 80e6, 0, 1},                     // a fast round trip: traffic below upRate, nothing waiting
		{0.5, 300e6, 0.1, 2},                  // a flood
		{0.2, 10e6, 0, 2}, {0.4, 900e6, 0, 2}, // a one-tick dip
		{0.2, 10e6, 0, 2}, {0.2, 10e6, 0, 1}, // its end: two quiet ticks
		{0.3, 300e6, 0, 2}, {0.1, 0, 0, 2}, {0.1, 0, 0, 2}, // a short burst: held
		{0.1, 0, 0, 2}, {0.1, 0, 0, 1},
		{0.9, 100e6, 0, 1}, {0.9, 100e6, 0.01, 1}, // a 1 KiB round trip stays on one
	} {
		if got := g.next(step.use, step.rate, step.waiting); got != step.want {
			t.Fatalf("step %d: cpu %.2f, %.0f B/s, %.2f waiting give %d processors, want %d", i, step.use, step.rate, step.waiting, got, step.want)
		}
	}
}
