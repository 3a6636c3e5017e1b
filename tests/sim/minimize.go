package sim

import (
	"fmt"
	"strings"
	"time"
)

// Minimize looks for a smaller run of seed that still fails (keep
// reports whether a result still shows the failure; nil means any
// violation): it turns features off one at a time, then lowers the
// clients, groups, active time and nodes, keeping each change under which
// the run still fails. It returns the smallest options found and their
// result, after at most budget runs.
func Minimize(seed int64, o Options, budget int, keep func(Result) bool) (Options, Result) {
	if keep == nil {
		keep = Result.Failed
	}
	o.Trace = nil
	best := Run(seed, o)
	if !keep(best) {
		return o, best
	}
	runs := 1
	try := func(c Options) bool {
		if runs >= budget {
			return false
		}
		runs++
		if r := Run(seed, c); keep(r) {
			o, best = c, r
			return true
		}
		return false
	}
	for _, f := range featureNames {
		if best.Params.Features&f.f != 0 {
			c := o
			c.Disable |= f.f
			try(c)
		}
	}
	for progress := true; progress; {
		progress = false
		p := best.Params
		if p.Clients > 1 {
			c := o
			c.Clients = p.Clients - 1
			progress = try(c) || progress
		}
		if p.Groups > 1 {
			c := o
			c.Groups = 1
			progress = try(c) || progress
		}
		if p.Active > 200*time.Millisecond {
			c := o
			c.Active = (p.Active / 2).Round(time.Millisecond)
			progress = try(c) || progress
		}
		if p.Nodes > 3 {
			c := o
			c.Nodes = p.Nodes - 1
			progress = try(c) || progress
		}
	}
	return o, best
}

// Flags returns the test flags that replay a run with options o.
func (o Options) Flags() string {
	var s []string
	if o.Nodes > 0 {
		s = append(s, fmt.Sprintf("-sim.nodes=%d", o.Nodes))
	}
	if o.Clients > 0 {
		s = append(s, fmt.Sprintf("-sim.clients=%d", o.Clients))
	}
	if o.Groups > 0 {
		s = append(s, fmt.Sprintf("-sim.groups=%d", o.Groups))
	}
	if o.Active > 0 {
		s = append(s, fmt.Sprintf("-sim.active=%v", o.Active))
	}
	if o.Disable != 0 {
		s = append(s, "-sim.disable="+o.Disable.String())
	}
	if o.Enable != 0 {
		s = append(s, "-sim.enable="+o.Enable.String())
	}
	if o.CheckSent {
		s = append(s, "-sim.checksent")
	}
	if o.Bug != NoBug {
		s = append(s, "-sim.bug="+o.Bug.String())
	}
	return strings.Join(s, " ")
}
