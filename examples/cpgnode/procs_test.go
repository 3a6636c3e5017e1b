package main

import "testing"

// The governor goes to all processors under load and back to one when the
// node is idle again, with a dead band between, so that it does not flap.
func TestProcsGovernorFollowsLoadWithHysteresis(t *testing.T) {
	g := &procsGovernor{max: 4, cur: 1, up: 0.6, down: 0.25}
	for i, step := range []struct {
		use  float64
		want int
	}{
		{0.1, 1}, {0.5, 1}, {0.7, 4}, {0.4, 4}, {0.3, 4}, {0.2, 1}, {0.5, 1}, {0.9, 4},
	} {
		if got := g.next(step.use); got != step.want {
			t.Fatalf("step %d: cpu %.2f gives %d processors, want %d", i, step.use, got, step.want)
		}
	}
}
