package cpgtest

import (
	"testing"

	"github.com/actorcpg/actorcpg/tests/checker"
)

// Check runs the property checker (tests/checker) over everything every
// probe of c saw so far, with the properties that hold at any moment
// (agreed order, integrity, FIFO, virtual synchrony, confchg agreement,
// gaps, NODEDOWN, membership, ring ids), and fails t with the checker's
// report if it found a violation. It returns the report.
func Check(t testing.TB, c *Cluster) checker.Report {
	t.Helper()
	return c.CheckWith(t, checker.Options{})
}

// Check is Check(t, c).
func (c *Cluster) Check(t testing.TB) checker.Report {
	t.Helper()
	return c.CheckWith(t, checker.Options{})
}

// CheckWith runs the property checker with opts: Quiet adds liveness,
// ghosts and SAFE delivery, for a run that ended healed and quiet (every
// message that will be delivered was: the test waited for it);
// FaultFree adds no-loss, for a run without a fault.
func (c *Cluster) CheckWith(t testing.TB, opts checker.Options) checker.Report {
	t.Helper()
	rep := checker.Check(c.hist, opts)
	if rep.OK() {
		t.Logf("cpgtest: %s", rep)
	} else {
		t.Errorf("cpgtest: the property checker found violations in what the probes saw:\n%s", rep)
	}
	return rep
}
