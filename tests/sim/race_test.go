//go:build race

package sim

// raceEnabled: under the race detector TestSim and TestInjectedBugIsCaught
// run 100 seeds unless -sim.seeds is given (the simulator is one goroutine
// per run; the race detector only slows it down).
const raceEnabled = true
