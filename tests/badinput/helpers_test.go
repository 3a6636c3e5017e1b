// Package badinput feeds actorcpg bad input through both faces: the handle
// API (bad handles, flags, models, names, sizes, guarantees, misuse of
// finalize, iteration and zero-copy buffers) and the actor face (malformed
// requests sent straight to a handle actor or the node actor). Each bad
// call must get its CS code and change nothing else: no panic, the same
// membership, other handles unaffected.
package badinput

import (
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// patience bounds every wait for an event that must come.
const patience = 10 * time.Second

// startNode starts a private node; edit changes its config first.
func startNode(t *testing.T, edit func(*remote.Config)) *actors.Node {
	t.Helper()
	cfg := remote.DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	node, err := actors.Start(cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(node.Stop)
	return node
}

// peer is a handle whose callbacks record described events; they run on
// the test goroutine, inside Dispatch.
type peer struct {
	t     *testing.T
	name  string
	h     *cpg.Handle
	ready <-chan struct{}
	got   []string
	data  [][]byte // delivered payloads, in order
}

func newPeer(t *testing.T, node *actors.Node, name string) *peer {
	t.Helper()
	p := &peer{t: t, name: name}
	var err error
	p.h, err = cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
		Deliver: func(_ *cpg.Handle, _ []byte, nodeid, pid uint32, msg []byte) {
			p.got = append(p.got, describeDeliver(nodeid, pid, msg))
			p.data = append(p.data, slices.Clone(msg))
		},
		Confchg: func(_ *cpg.Handle, _ []byte, members, left, joined []*api.Address) {
			p.got = append(p.got, describeConfchg(members, left, joined))
		},
	}, nil, cpg.WithNode(node))
	if err != nil {
		t.Fatalf("%s: ModelInitialize: %v", name, err)
	}
	if p.ready, err = p.h.FdGet(); err != nil {
		t.Fatalf("%s: FdGet: %v", name, err)
	}
	t.Cleanup(func() { _ = p.h.Finalize() })
	return p
}

// addr is the peer's member address as events show it.
func (p *peer) addr() string { return fmt.Sprintf("%d/%d", p.h.NodeID(), p.h.Pid()) }

// next dispatches until n events arrived and returns them.
func (p *peer) next(n int) []string {
	p.t.Helper()
	timeout := time.After(patience)
	for len(p.got) < n {
		if err := p.h.Dispatch(api.DispatchAll); err != nil {
			p.t.Fatalf("%s: Dispatch: %v", p.name, err)
		}
		if len(p.got) >= n {
			break
		}
		select {
		case <-p.ready:
		case <-timeout:
			p.t.Fatalf("%s: got %d events in %v, want %d: %q", p.name, len(p.got), patience, n, p.got)
		}
	}
	out := p.got[:n]
	p.got = p.got[n:]
	return out
}

// expect dispatches until the given events arrived and checks them.
func (p *peer) expect(want ...string) {
	p.t.Helper()
	if got := p.next(len(want)); !slices.Equal(got, want) {
		p.t.Fatalf("%s got:\n\t%s\nwant:\n\t%s", p.name, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// join joins the group and waits for the peer's own JOIN confchg.
func (p *peer) join(group []byte) string {
	p.t.Helper()
	if err := p.h.Join(group); err != nil {
		p.t.Fatalf("%s: Join(%q): %v", p.name, group, err)
	}
	got := p.next(1)[0]
	if !strings.Contains(got, "joined=["+p.addr()+" JOIN]") {
		p.t.Fatalf("%s: first event after Join is %q, not its own JOIN confchg", p.name, got)
	}
	return got
}

// send multicasts msg, retrying TRY_AGAIN while dispatching.
func (p *peer) send(msg ...[]byte) {
	p.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := p.h.McastJoined(api.TypeAgreed, msg...)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrTryAgain) || time.Now().After(deadline) {
			p.t.Fatalf("%s: McastJoined: %v", p.name, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func describeDeliver(nodeid, pid uint32, msg []byte) string {
	if len(msg) > 64 {
		return fmt.Sprintf("deliver %d/%d %d bytes crc %08x", nodeid, pid, len(msg), crc32.ChecksumIEEE(msg))
	}
	return fmt.Sprintf("deliver %d/%d %q", nodeid, pid, msg)
}

func describeConfchg(members, left, joined []*api.Address) string {
	s := "confchg members=" + addrs(members)
	if len(left) > 0 {
		s += " left=" + addrs(left)
	}
	if len(joined) > 0 {
		s += " joined=" + addrs(joined)
	}
	return s
}

func addrs(as []*api.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%d/%d", a.Nodeid, a.Pid)
		if a.Reason != 0 {
			parts[i] += " " + api.Reason(a.Reason).String()
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fixture is a group with two members: the subject of the bad calls and
// a bystander that must not notice them.
type fixture struct {
	t      *testing.T
	node   *actors.Node
	group  []byte
	by     *peer
	sub    *peer
	probes int
}

func newFixture(t *testing.T, edit func(*remote.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, node: startNode(t, edit), group: []byte("bad-input")}
	f.by = newPeer(t, f.node, "bystander")
	f.sub = newPeer(t, f.node, "subject")
	f.by.join(f.group)
	cc := f.sub.join(f.group)
	f.by.expect(cc)
	return f
}

// members is the expected member list, sorted.
func (f *fixture) members(ps ...*peer) string {
	as := make([]*api.Address, len(ps))
	for i, p := range ps {
		as[i] = &api.Address{Nodeid: p.h.NodeID(), Pid: p.h.Pid()}
	}
	slices.SortFunc(as, api.CompareAddresses)
	return addrs(as)
}

// unchanged checks that the group still has exactly members and that a
// probe from the bystander reaches each of them as its very next event:
// the bad calls left nothing behind in the group's order.
func (f *fixture) unchanged(members ...*peer) {
	f.t.Helper()
	ms, err := f.by.h.MembershipGet(f.group)
	if err != nil {
		f.t.Fatalf("MembershipGet: %v", err)
	}
	if got, want := addrs(ms), f.members(members...); got != want {
		f.t.Fatalf("members after bad input = %s, want %s", got, want)
	}
	f.probes++
	probe := fmt.Sprintf("probe-%d", f.probes)
	f.by.send([]byte(probe))
	want := describeDeliver(f.by.h.NodeID(), f.by.h.Pid(), []byte(probe))
	for _, p := range members {
		p.expect(want)
	}
}

// is checks that err carries code.
func is(t *testing.T, what string, err error, code api.Code) {
	t.Helper()
	if got := api.CodeOf(err); got != code {
		t.Errorf("%s = %v (%v), want %v", what, got, err, code)
	}
}
