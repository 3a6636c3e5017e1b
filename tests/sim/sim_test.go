package sim

import (
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/tests/checker"
)

var (
	flagSeed     = flag.Int64("sim.seed", 0, "run only this `seed` (0: the budget of -sim.seeds seeds from -sim.first)")
	flagSeeds    = flag.Int("sim.seeds", 500, "how many seeds TestSim and TestInjectedBugIsCaught run")
	flagFirst    = flag.Int64("sim.first", 1, "the first `seed` of the budget")
	flagTrace    = flag.Bool("sim.trace", false, "print the event trace of -sim.seed to stdout")
	flagTraceAll = flag.Bool("sim.traceall", false, "with -sim.trace, also ticks without output and heartbeats")
	flagMinimize = flag.Bool("sim.minimize", true, "on failure, look for a smaller failing run of the first failing seed")
	flagNodes    = flag.Int("sim.nodes", 0, "override the seed's node count (3-7)")
	flagClients  = flag.Int("sim.clients", 0, "override the seed's clients per node")
	flagGroups   = flag.Int("sim.groups", 0, "override the seed's group count")
	flagActive   = flag.Duration("sim.active", 0, "override the seed's active (faulty) time")
	flagDisable  = flag.String("sim.disable", "", "features to turn off, comma-separated (loss,dup,all,reorder,spikes,crash,partition,slow,large,churn,congest,safe)")
	flagEnable   = flag.String("sim.enable", "", "features to turn on, comma-separated (reuse, or any of -sim.disable)")
	flagBug      = flag.String("sim.bug", "", "inject a bug: "+strings.Join(BugNames(), ", "))
	flagBugSeeds = flag.Int("sim.bugseeds", 0, "seeds per bug in TestInjectedBugIsCaught (0: each bug's own budget)")
	flagShow     = flag.Int("sim.show", 10, "how many failing seeds TestSim prints")
	flagSent     = flag.Bool("sim.checksent", false, "check that no message changes after its engine hands it out (Options.CheckSent, KeepSent)")
)

// options builds Options from the override flags.
func options(t *testing.T) Options {
	t.Helper()
	dis, err := ParseFeatures(*flagDisable)
	if err != nil {
		t.Fatal(err)
	}
	en, err := ParseFeatures(*flagEnable)
	if err != nil {
		t.Fatal(err)
	}
	bug, err := ParseBug(*flagBug)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Nodes: *flagNodes, Clients: *flagClients, Groups: *flagGroups, Active: *flagActive,
		Disable: dis, Enable: en, Bug: bug, CheckSent: *flagSent, KeepSent: *flagSent}
}

func replay(seed int64, o Options) string {
	s := fmt.Sprintf("go test ./tests/sim -run TestSim -sim.seed=%d", seed)
	if f := o.Flags(); f != "" {
		s += " " + f
	}
	return s + " -sim.trace"
}

// results caches runs by seed and replay flags, so that
// TestInjectedBugIsCaught compares with TestSim's runs without redoing
// them.
var results = struct {
	sync.Mutex
	m map[string]Result
}{m: map[string]Result{}}

// runSeeds runs seeds first..first+n-1 on every CPU and returns their
// results in seed order.
func runSeeds(first int64, n int, o Options) []Result {
	out := make([]Result, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				seed := first + i
				key := fmt.Sprintf("%d %s", seed, o.Flags())
				results.Lock()
				r, ok := results.m[key]
				results.Unlock()
				if !ok {
					r = Run(seed, o)
					results.Lock()
					results.m[key] = r
					results.Unlock()
				}
				out[i] = r
			}
		}()
	}
	wg.Wait()
	return out
}

// budget is the number of seeds TestSim and TestInjectedBugIsCaught run.
func budget() int {
	n := *flagSeeds
	if testing.Short() || raceEnabled && !flagSet("sim.seeds") {
		n = min(n, 100)
	}
	return n
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// TestSim runs the seed budget (or -sim.seed) against the real engine and
// checks every run; a failure prints its seed and the command that
// replays it. It prints one summary line to stdout.
func TestSim(t *testing.T) {
	o := options(t)
	var res []Result
	if *flagSeed != 0 {
		if *flagTrace {
			o.Trace, o.TraceAll = os.Stdout, *flagTraceAll
		}
		res = []Result{Run(*flagSeed, o)}
		o.Trace = nil
	} else {
		res = runSeeds(*flagFirst, budget(), o)
	}
	var violations int
	var events int64
	var handoffs int
	var failed []Result
	for _, r := range res {
		violations += r.Violations()
		events += r.Events
		handoffs += r.Handoffs
		if r.Failed() {
			failed = append(failed, r)
		}
	}
	fmt.Printf("sim: seeds=%d violations=%d events=%d handoffs=%d\n", len(res), violations, events, handoffs)
	for i, r := range failed {
		if i == *flagShow {
			t.Errorf("... and %d more failing seeds", len(failed)-i)
			break
		}
		t.Errorf("%s\nreplay: %s", r, replay(r.Seed, o))
	}
	if len(failed) > 0 && *flagMinimize {
		mo, mr := Minimize(failed[0].Seed, o, 40, nil)
		t.Logf("minimized seed %d to %s (%d violations)\nreplay: %s", mr.Seed, mr.Params, mr.Violations(), replay(mr.Seed, mo))
	}
}

// bugCase is one injected bug of TestInjectedBugIsCaught: the property
// that must catch it, and the seeds and features it runs with.
type bugCase struct {
	bug   Bug
	props []checker.Property // a catch: more violations of these than without the bug
	// problem, if set: a catch is also more simulator problems with this
	// text than without the bug (a check the simulator makes from outside
	// the engines).
	problem string
	seeds   int // the budget: seeds -sim.first .. -sim.first+seeds-1
	// enable turns on the features the bug needs to show (crashes or
	// partitions for the ones a view change reveals).
	enable Feature
	why    string // why this budget and these features
}

// bugCases are the injected bugs, one of every class. The budgets are
// small and fixed (CI runs them): about 40 seeds where the seed's own
// features exercise the bug in most runs (the clean runs are TestSim's,
// cached), more with extra features where the bug needs a rarer
// interleaving. The counts in why are of this version of the simulator
// (the first with Interleave) and engine, with the checker of the time.
var bugCases = []bugCase{
	{bug: BugSkipFlush, props: []checker.Property{checker.PropVirtualSynchrony}, seeds: 40,
		why: "any view change with messages in flight: 9 of the first 40 seeds"},
	{bug: BugNoOriginHeld, props: []checker.Property{checker.PropOrder}, seeds: 60, enable: Slow,
		why: "a sequencer cut off (stalled) with events its origin does not hold yet: rare, 9 of the first 60 seeds with stalls"},
	{bug: BugNoDedup, props: []checker.Property{checker.PropIntegrity}, seeds: 40,
		why: "a view change whose cut holds events some node delivered already: 23 of the first 40 seeds"},
	{bug: BugGhost, props: []checker.Property{checker.PropGhost}, seeds: 40,
		why: "a crash or partition with members on the node that goes: 26 of the first 40 seeds"},
	{bug: BugSafeEarly, props: []checker.Property{checker.PropSafe}, problem: "delivered at node", seeds: 40, enable: Safe,
		why: "any SAFE message delivered before every node of the ring holds it (the simulator's SAFE oracle, safe.go); the checker's safe property sees it only when the early node is then cut off"},
	{bug: BugDrop, props: []checker.Property{checker.PropNoLoss, checker.PropVirtualSynchrony, checker.PropLiveness}, seeds: 40,
		why: "any run that delivers enough: 32 of the first 40 seeds (no-loss in fault-free runs, else virtual synchrony or liveness)"},
	{bug: BugDup, props: []checker.Property{checker.PropIntegrity}, seeds: 40,
		why: "any run that delivers enough: 34 of the first 40 seeds"},
	{bug: BugSwap, props: []checker.Property{checker.PropFIFO, checker.PropOrder}, seeds: 40,
		why: "two adjacent deliveries of one sender: 34 of the first 40 seeds"},
	{bug: BugCorrupt, props: []checker.Property{checker.PropIntegrity}, seeds: 40,
		why: "any run that delivers enough: 34 of the first 40 seeds"},
	{bug: BugWrongPid, props: []checker.Property{checker.PropIntegrity}, seeds: 40,
		why: "any run that delivers enough: 34 of the first 40 seeds"},
	{bug: BugSkipConfchg, props: []checker.Property{checker.PropConfchg}, seeds: 40,
		why: "a confchg about others with a later one at the same member (the arithmetic check): 28 of the first 40 seeds"},
}

// TestInjectedBugIsCaught injects each bug of bugCases (Options.Bug) in
// its seed budget and expects the checks to find it: some seed shows more
// violations of the property the bug breaks than the same seed without the
// bug (so that a protocol bug still open does not count as a catch). It prints
// one line to stdout: sim-bugs: injected=N caught=M.
func TestInjectedBugIsCaught(t *testing.T) {
	injected, caught := 0, 0
	for _, tc := range bugCases {
		t.Run(tc.bug.String(), func(t *testing.T) {
			injected++
			n := tc.seeds
			if *flagBugSeeds > 0 {
				n = *flagBugSeeds
			}
			o := options(t)
			o.Enable |= tc.enable
			o.Bug = NoBug
			clean := runSeeds(*flagFirst, n, o)
			o.Bug = tc.bug
			var seeds []int64
			violations := 0
			more := map[checker.Property]int{} // every property, for the log
			for i, r := range runSeeds(*flagFirst, n, o) {
				for p, k := range r.Report.Total {
					if d := k - clean[i].Report.Total[p]; d != 0 {
						more[p] += d
					}
				}
				extra := r.Report.Count(tc.props...) - clean[i].Report.Count(tc.props...)
				if tc.problem != "" {
					extra += countProblems(r, tc.problem) - countProblems(clean[i], tc.problem)
				}
				if extra <= 0 {
					continue
				}
				seeds = append(seeds, r.Seed)
				violations += extra
				if len(seeds) == 1 && testing.Verbose() {
					t.Logf("first seed that catches it: %s\nreplay: %s", r, replay(r.Seed, o))
				}
			}
			t.Logf("%s: %d of %d seeds caught it (%d more %v violations than without the bug): seeds %v; all properties, with the bug minus without: %v",
				tc.bug, len(seeds), n, violations, tc.props, seeds, more)
			if len(seeds) == 0 {
				t.Fatalf("%s: no seed of %d shows more %v violations than without the bug", tc.bug, n, tc.props)
			}
			caught++
		})
	}
	fmt.Printf("sim-bugs: injected=%d caught=%d\n", injected, caught)
}

func countProblems(r Result, text string) int {
	n := 0
	for _, p := range r.Problems {
		if strings.Contains(p, text) {
			n++
		}
	}
	return n
}

// TestDeterministic replays seeds and compares their traces.
func TestDeterministic(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 7, 11} {
		var sums [2]uint64
		var events [2]int64
		for i := range sums {
			h := fnv.New64a()
			r := Run(seed, Options{Trace: h, TraceAll: true})
			sums[i], events[i] = h.Sum64(), r.Events
		}
		if sums[0] != sums[1] || events[0] != events[1] {
			t.Fatalf("seed %d: two runs differ: trace hash %x/%x, events %d/%d", seed, sums[0], sums[1], events[0], events[1])
		}
	}
}

// TestFaultFreeRunsSeeNoViewChange checks the simulator itself: a run
// with every fault off forms one view and keeps it.
func TestFaultFreeRunsSeeNoViewChange(t *testing.T) {
	o := Options{Disable: faults, Active: 500 * time.Millisecond}
	for seed := int64(1); seed <= 5; seed++ {
		r := Run(seed, o)
		if r.Failed() {
			t.Fatalf("%s\nreplay: %s", r, replay(seed, o))
		}
		if r.Report.Counts.Deliveries == 0 {
			t.Fatalf("seed %d delivered nothing: %s", seed, r)
		}
	}
}
