package cpgtest

import "github.com/actorcpg/actorcpg/tests/checker"

// InjectRecord adds r to c's history as if a probe had seen it, so that
// the kit's own tests can show Check catching a violation. It is no part
// of the public API.
func InjectRecord(c *Cluster, r checker.Record) { c.hist.Add(r) }

// ProcOf returns the checker's name of p.
func ProcOf(p *Probe) checker.Proc { return p.proc }
