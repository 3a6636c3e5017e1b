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

// The expectations, of a Probe and of a SimProc. Each takes the next
// event of its kind that no expectation took yet (deliveries, confchgs,
// totem confchgs and flow control notices are four queues: an
// expectation of one kind skips the others), waiting for it up to the
// process's timeout, and fails t when it does not come or does not
// match, listing everything the process received ([x]: taken by an
// expectation, [ ]: not). Nothing sleeps: a wait ends as soon as the
// event arrives (a SimProc's waits run simulated time).

// expectee is a process that expectations wait on.
type expectee interface {
	label() string                                // names it in failures
	events() *eventLog                            // what it received
	await(cond func() bool, d time.Duration) bool // waits until cond or d
	patience() time.Duration                      // how long an expectation waits
}

func expectConfchg(t testing.TB, p expectee, group string, match []ConfchgMatch) *api.Confchg {
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
		fail(t, p, what, fmt.Sprintf("got %s: %s", e, strings.Join(diffs, "; ")))
	}
	return cc
}

func expectDeliver(t testing.TB, p expectee, from Process, data []byte) *api.Deliver {
	t.Helper()
	what := fmt.Sprintf("ExpectDeliver(from %s, %s)", from.Address(), shortBytes(data))
	e := expectNext(t, p, what, kindDeliver)
	d := e.Deliver
	if (Addr{d.Nodeid, d.Pid}) != from.Address() || !bytes.Equal(d.Data, data) {
		fail(t, p, what, "got "+e.String())
	}
	return d
}

func expectTotem(t testing.TB, p expectee, members []uint32) *api.TotemConfchg {
	t.Helper()
	what := fmt.Sprintf("ExpectTotem(%v)", members)
	e := expectNext(t, p, what, kindTotem)
	if len(members) > 0 && !slices.Equal(e.Totem.Members, slices.Sorted(slices.Values(members))) {
		fail(t, p, what, "got "+e.String())
	}
	return e.Totem
}

func expectNoMessage(t testing.TB, p expectee, d time.Duration) {
	t.Helper()
	l := p.events()
	if p.await(func() bool { return len(l.untaken()) > 0 }, d) {
		fail(t, p, fmt.Sprintf("ExpectNoMessage(%v)", d), fmt.Sprintf("got %s", l.untaken()[0]))
	}
}

// expectNext waits for the next event of kind k and takes it; it fails t
// when none comes in time.
func expectNext(t testing.TB, p expectee, what string, k kind) Event {
	t.Helper()
	l := p.events()
	if !p.await(func() bool { return l.hasNext(k) }, p.patience()) {
		fail(t, p, what, fmt.Sprintf("no %s within %v", k, p.patience()))
	}
	e, _ := l.take(k)
	return e
}

// fail fails t with what the process was asked, why it failed, and what
// it received.
func fail(t testing.TB, p expectee, what, why string) {
	t.Helper()
	t.Fatalf("cpgtest: %s: %s: %s; it received:%s", p.label(), what, why, p.events().describe())
}

// ExpectConfchg takes the next confchg, which must be of group and
// satisfy every match (Members, Joined, Left, or the test's own), and
// returns it.
func (p *Probe) ExpectConfchg(t testing.TB, group string, match ...ConfchgMatch) *api.Confchg {
	t.Helper()
	return expectConfchg(t, p, group, match)
}

// ExpectDeliver takes the next delivery, which must come from from and
// carry data, and returns it.
func (p *Probe) ExpectDeliver(t testing.TB, from Process, data []byte) *api.Deliver {
	t.Helper()
	return expectDeliver(t, p, from, data)
}

// ExpectTotem takes the next totem confchg, which must list exactly the
// node ids members (any list when none is given), and returns it.
func (p *Probe) ExpectTotem(t testing.TB, members ...uint32) *api.TotemConfchg {
	t.Helper()
	return expectTotem(t, p, members)
}

// ExpectFlowControl takes the next flow control notice, which must say
// enabled (multicasts refused with api.ErrTryAgain) or not.
func (p *Probe) ExpectFlowControl(t testing.TB, enabled bool) {
	t.Helper()
	what := fmt.Sprintf("ExpectFlowControl(%v)", enabled)
	if e := expectNext(t, p, what, kindFlow); e.Flow.Enabled != enabled {
		fail(t, p, what, "got "+e.String())
	}
}

// ExpectNoMessage waits d and fails t as soon as a delivery, confchg or
// totem confchg arrives that no expectation took, or if one is already
// waiting. Flow control notices do not count: every view change brings
// two (the node refuses multicasts while it syncs). It waits its whole
// duration when nothing comes: that is what it checks.
func (p *Probe) ExpectNoMessage(t testing.TB, d time.Duration) {
	t.Helper()
	expectNoMessage(t, p, d)
}

func (p *Probe) label() string                                { return p.name }
func (p *Probe) events() *eventLog                            { return p.log }
func (p *Probe) await(cond func() bool, d time.Duration) bool { return p.log.wait(cond, d) }
func (p *Probe) patience() time.Duration                      { return p.timeout }
