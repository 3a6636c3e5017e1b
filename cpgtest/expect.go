package cpgtest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
)

// The expectations. Each takes the next event of its kind that no
// expectation took yet (deliveries, confchgs, totem confchgs and flow
// control notices are four queues: an expectation of one kind skips the
// others), waiting for it up to the probe's timeout, and fails t when it
// does not come or does not match, listing everything the probe received
// ([x]: taken by an expectation, [ ]: not). Nothing sleeps: a wait ends
// as soon as the event arrives.

// ExpectConfchg takes the next confchg, which must be of group and
// satisfy every match (Members, Joined, Left, or the test's own), and
// returns it.
func (p *Probe) ExpectConfchg(t testing.TB, group string, match ...ConfchgMatch) *api.Confchg {
	t.Helper()
	what := fmt.Sprintf("ExpectConfchg(%q)", group)
	e := expectNext(t, p, what, kindConfchg)
	cc := e.Confchg
	var diffs []string
	if string(cc.Group) != group {
		diffs = append(diffs, fmt.Sprintf("group %q", cc.Group))
	}
	for _, m := range match {
		if d := m(cc); d != "" {
			diffs = append(diffs, d)
		}
	}
	if len(diffs) > 0 {
		p.fail(t, what, fmt.Sprintf("got %s: %s", e, strings.Join(diffs, "; ")))
	}
	return cc
}

// ExpectDeliver takes the next delivery, which must come from from and
// carry data, and returns it.
func (p *Probe) ExpectDeliver(t testing.TB, from Process, data []byte) *api.Deliver {
	t.Helper()
	what := fmt.Sprintf("ExpectDeliver(from %s, %s)", from.Address(), shortBytes(data))
	e := expectNext(t, p, what, kindDeliver)
	d := e.Deliver
	if (Addr{d.Nodeid, d.Pid}) != from.Address() || !bytes.Equal(d.Data, data) {
		p.fail(t, what, "got "+e.String())
	}
	return d
}

// ExpectTotem takes the next totem confchg, which must list exactly the
// node ids members (any list when none is given), and returns it.
func (p *Probe) ExpectTotem(t testing.TB, members ...uint32) *api.TotemConfchg {
	t.Helper()
	what := fmt.Sprintf("ExpectTotem(%v)", members)
	e := expectNext(t, p, what, kindTotem)
	if len(members) > 0 && !slices.Equal(e.Totem.Members, slices.Sorted(slices.Values(members))) {
		p.fail(t, what, "got "+e.String())
	}
	return e.Totem
}

// ExpectFlowControl takes the next flow control notice, which must say
// enabled (multicasts refused with api.ErrTryAgain) or not.
func (p *Probe) ExpectFlowControl(t testing.TB, enabled bool) {
	t.Helper()
	what := fmt.Sprintf("ExpectFlowControl(%v)", enabled)
	if e := expectNext(t, p, what, kindFlow); e.Flow.Enabled != enabled {
		p.fail(t, what, "got "+e.String())
	}
}

// ExpectNoMessage waits d and fails t as soon as a delivery, confchg or
// totem confchg arrives that no expectation took, or if one is already
// waiting. Flow control notices do not count: every view change brings
// two (the node refuses multicasts while it syncs). It waits its whole
// duration when nothing comes: that is what it checks.
func (p *Probe) ExpectNoMessage(t testing.TB, d time.Duration) {
	t.Helper()
	if p.log.wait(func() bool { return len(p.log.untaken()) > 0 }, d) {
		p.fail(t, fmt.Sprintf("ExpectNoMessage(%v)", d), fmt.Sprintf("got %s", p.log.untaken()[0]))
	}
}

// expectNext waits for the next event of kind k and takes it; it fails t
// when none comes within the probe's timeout.
func expectNext(t testing.TB, p *Probe, what string, k kind) Event {
	t.Helper()
	if !p.log.wait(func() bool { return p.log.hasNext(k) }, p.timeout) {
		p.fail(t, what, fmt.Sprintf("no %s within %v", k, p.timeout))
	}
	e, _ := p.log.take(k)
	return e
}

// fail fails t with what the probe was asked, why it failed, and what it
// received.
func (p *Probe) fail(t testing.TB, what, why string) {
	t.Helper()
	t.Fatalf("cpgtest: %s: %s: %s; the probe received:%s", p.name, what, why, p.log.describe())
}
