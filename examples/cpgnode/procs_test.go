package main

import "testing"

// The governor goes to all processors under load (CPU or link traffic) and
// back to one when the node is idle again, with a dead band between, so
// that it does not flap.
func TestProcsGovernorFollowsLoadWithHysteresis(t *testing.T) {
	g := &procsGovernor{max: 4, cur: 1, up: 0.6, down: 0.25, upRate: 16e6, downRate: 4e6}
	for i, step := range []struct {
		use, rate float64
		want      int
	}{
		{0.1, 0, 1}, {0.5, 1e6, 1}, {0.7, 0, 4}, {0.4, 0, 4}, {0.3, 0, 4}, {0.2, 0, 1}, {0.5, 0, 1}, {0.9, 0, 4},
		{0.2, 0, 1}, {0.3, 20e6, 4}, {0.2, 8e6, 4}, {0.2, 3e6, 1},
	} {
		if got := g.next(step.use, step.rate); got != step.want {
			t.Fatalf("step %d: cpu %.2f, %.0f B/s give %d processors, want %d", i, step.use, step.rate, got, step.want)
		}
	}
}
