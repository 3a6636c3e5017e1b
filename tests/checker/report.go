package checker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Property names one checked property; see the package doc.
type Property string

// The properties, in the order a Report lists them.
const (
	PropOrder            Property = "agreed-order"      // 1
	PropIntegrity        Property = "integrity"         // 2: duplicates, corruption, wrong sender
	PropFIFO             Property = "fifo"              // 3
	PropVirtualSynchrony Property = "virtual-synchrony" // 4
	PropConfchg          Property = "confchg"           // 5
	PropLiveness         Property = "liveness"          // 6 (Options.Quiet)
	PropNoLoss           Property = "no-loss"           // 7 (Options.FaultFree)
	PropGhost            Property = "ghost"             // 8 (Options.Quiet)
	PropGap              Property = "gap"               // no hole in one sender's messages within a view
	PropSafe             Property = "safe"              // SAFE: delivered by one member of a view, by all (Options.Quiet)
	PropNodeDown         Property = "nodedown"          // no message from a node after its NODEDOWN
	PropMembership       Property = "membership"        // no message outside the receiver's membership
	PropTotem            Property = "totem"             // ring ids
)

// Properties lists every property in report order.
var Properties = []Property{PropOrder, PropIntegrity, PropFIFO, PropVirtualSynchrony, PropConfchg,
	PropLiveness, PropNoLoss, PropGhost, PropGap, PropSafe, PropNodeDown, PropMembership, PropTotem}

// DefaultMaxPerProperty is how many violations of one property a Report
// keeps when Options.MaxPerProperty is 0.
const DefaultMaxPerProperty = 20

// Options selects the checks that depend on how the run ended.
type Options struct {
	// Quiet says the run ended healed (one partition) and quiet (every
	// message that was going to be delivered was): check liveness (6),
	// ghosts (8), SAFE delivery, and virtual synchrony after each
	// process's last confchg.
	Quiet bool
	// FaultFree says the run had no crash, kill or partition and no node
	// stalled long enough to be cut off (message loss, duplication,
	// reordering and delays are allowed: the protocol masks them): check
	// no loss (7).
	FaultFree bool
	// MaxPerProperty caps the violations kept per property (all are
	// counted); 0 means DefaultMaxPerProperty.
	MaxPerProperty int
}

// Violation is one breach of a property, seen at one process.
type Violation struct {
	Property Property
	Group    string // empty for totem violations
	Proc     Proc   // where it was seen; zero when no single process is to blame
	Detail   string
}

// String returns "property: group "g" at node/pid: detail".
func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(string(v.Property))
	b.WriteString(":")
	if v.Group != "" {
		fmt.Fprintf(&b, " group %q", v.Group)
	}
	if v.Proc != (Proc{}) {
		fmt.Fprintf(&b, " at %s", v.Proc)
	}
	b.WriteString(": ")
	b.WriteString(v.Detail)
	return b.String()
}

// Counts sums up what a History holds.
type Counts struct {
	Records    int // records added
	Procs      int // processes with at least one record
	Groups     int
	Messages   int // distinct messages (delivered or sent ok)
	Deliveries int
	Confchgs   int
	Totems     int
	Sent       int // sent records (ok or not)
	Ends       int
	Killed     int // end records with Killed
	Finalized  int // end records with Finalized (and not Killed)
}

// Report is the result of Check.
type Report struct {
	// Violations holds at most Options.MaxPerProperty violations of each
	// property, by property (in Properties order), then as found.
	Violations []Violation
	// Total counts every violation found, kept or not, by property.
	Total  map[Property]int
	Counts Counts
}

// OK reports whether no violation was found.
func (r Report) OK() bool { return r.Count() == 0 }

// Count returns the number of violations of the given properties, or of
// all properties when none is given.
func (r Report) Count(props ...Property) int {
	n := 0
	for p, c := range r.Total {
		if len(props) == 0 || slices.Contains(props, p) {
			n += c
		}
	}
	return n
}

// Err returns nil when the report is OK, else an error whose text is
// String().
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	return errors.New(r.String())
}

// String returns a one-line summary, followed by one line per kept
// violation.
func (r Report) String() string {
	c := r.Counts
	var b strings.Builder
	fmt.Fprintf(&b, "checker: %d records, %d processes, %d groups, %d messages, %d deliveries, %d confchgs, %d totem confchgs, %d sent, %d ends (%d killed, %d finalized): ",
		c.Records, c.Procs, c.Groups, c.Messages, c.Deliveries, c.Confchgs, c.Totems, c.Sent, c.Ends, c.Killed, c.Finalized)
	if r.OK() {
		b.WriteString("OK")
		return b.String()
	}
	fmt.Fprintf(&b, "%d violations (", r.Count())
	sep := ""
	for _, p := range Properties {
		if n := r.Total[p]; n > 0 {
			fmt.Fprintf(&b, "%s%s %d", sep, p, n)
			sep = ", "
		}
	}
	b.WriteString(")")
	kept := map[Property]int{}
	for _, v := range r.Violations {
		kept[v.Property]++
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	for _, p := range Properties {
		if n := r.Total[p] - kept[p]; n > 0 {
			fmt.Fprintf(&b, "\n  (%d more %s violations not shown)", n, p)
		}
	}
	return b.String()
}
