package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/actors"
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// waitTimeout bounds every wait for an event. It is generous: it only ends
// a test that would otherwise hang.
const waitTimeout = 10 * time.Second

// kind is the kind of a recorded event.
type kind int

const (
	kDeliver kind = iota + 1
	kConfchg
	kTotem
)

func (k kind) String() string {
	switch k {
	case kDeliver:
		return "DELIVER"
	case kConfchg:
		return "CONFCHG"
	case kTotem:
		return "TOTEM"
	}
	return "?"
}

// addr is a comparable copy of api.Address.
type addr struct {
	Nodeid, Pid, Reason uint32
}

func (a addr) String() string { return fmt.Sprintf("%d/%d(r%d)", a.Nodeid, a.Pid, a.Reason) }

func addrs(in []*api.Address) []addr {
	out := make([]addr, 0, len(in))
	for _, a := range in {
		out = append(out, addr{a.GetNodeid(), a.GetPid(), a.GetReason()})
	}
	return out
}

// event is one recorded callback, copied out of the library's buffers.
type event struct {
	Kind  kind
	Group string // raw bytes of the group name
	// Deliver
	Nodeid, Pid uint32
	Data        string
	// Confchg
	Members, Left, Joined []addr
	// Totem confchg
	Ring      addr // Nodeid = ring representative, Pid unused, Reason unused
	RingSeq   uint64
	TotemMemb []uint32
}

func (e event) String() string {
	switch e.Kind {
	case kDeliver:
		return fmt.Sprintf("DELIVER %q from %d/%d: %q", e.Group, e.Nodeid, e.Pid, short(e.Data))
	case kConfchg:
		return fmt.Sprintf("CONFCHG %q members=%v left=%v joined=%v", e.Group, e.Members, e.Left, e.Joined)
	case kTotem:
		return fmt.Sprintf("TOTEM ring=%d.%d members=%v", e.Ring.Nodeid, e.RingSeq, e.TotemMemb)
	}
	return "?"
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

func deliverEvent(group []byte, nodeid, pid uint32, msg []byte) event {
	return event{Kind: kDeliver, Group: string(group), Nodeid: nodeid, Pid: pid, Data: string(msg)}
}

func confchgEvent(group []byte, members, left, joined []*api.Address) event {
	return event{Kind: kConfchg, Group: string(group), Members: addrs(members), Left: addrs(left), Joined: addrs(joined)}
}

func totemEvent(ring *api.RingId, members []uint32) event {
	return event{Kind: kTotem, Ring: addr{Nodeid: ring.GetNodeid()}, RingSeq: ring.GetSeq(), TotemMemb: slices.Clone(members)}
}

// recorder keeps the events of one handle (or of one receiver actor that
// serves several handles) in arrival order.
type recorder struct {
	mu     sync.Mutex
	events []event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// client is one handle and what it has received. For a dispatch-style
// handle the callbacks run in waitFor, on the test goroutine.
type client struct {
	name  string
	h     *cpg.Handle
	rec   *recorder
	ready <-chan struct{} // nil for the actor face
	actor bool
	// onDeliver, if set, runs inside the deliver callback.
	onDeliver func(c *client, e event)
}

func (c *client) String() string { return c.name }

func (c *client) events() []event { return c.rec.snapshot() }

// self returns the handle's member address with the given reason.
func (c *client) self(reason api.Reason) addr {
	return addr{c.h.NodeID(), c.h.Pid(), uint32(reason)}
}

// startNode starts a private in-process node for one test and stops it at
// the end. mutate may change the configuration first.
func startNode(t *testing.T, mutate func(*remote.Config)) *actors.Node {
	t.Helper()
	cfg := remote.DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	node, err := actors.Start(cfg)
	if err != nil {
		t.Fatalf("actors.Start: %v", err)
	}
	t.Cleanup(func() { stopNode(node) })
	return node
}

var stopped sync.Map // *actors.Node -> *sync.Once

// stopNode stops node once: Node.Stop panics when called twice.
func stopNode(node *actors.Node) {
	once, _ := stopped.LoadOrStore(node, new(sync.Once))
	once.(*sync.Once).Do(node.Stop)
}

// newClient creates a handle with ModelInitialize whose callbacks record
// into the client. flags are the model V1 flags.
func newClient(t *testing.T, name string, flags uint32, opts ...cpg.Option) *client {
	t.Helper()
	c := &client{name: name, rec: newRecorder()}
	data := &cpg.ModelV1Data{
		Deliver: func(h *cpg.Handle, group []byte, nodeid, pid uint32, msg []byte) {
			e := deliverEvent(group, nodeid, pid, msg)
			c.rec.add(e)
			if c.onDeliver != nil {
				c.onDeliver(c, e)
			}
		},
		Confchg: func(h *cpg.Handle, group []byte, members, left, joined []*api.Address) {
			c.rec.add(confchgEvent(group, members, left, joined))
		},
		TotemConfchg: func(h *cpg.Handle, ring *api.RingId, members []uint32) {
			c.rec.add(totemEvent(ring, members))
		},
		Flags: flags,
	}
	h, err := cpg.ModelInitialize(api.ModelV1, data, nil, opts...)
	if err != nil {
		t.Fatalf("%s: ModelInitialize: %v", name, err)
	}
	c.h = h
	ready, err := h.FdGet()
	if err != nil {
		t.Fatalf("%s: FdGet: %v", name, err)
	}
	c.ready = ready
	t.Cleanup(func() { _ = h.Finalize() })
	return c
}

// receiverActor records the events the actor face sends it.
type receiverActor struct{ rec *recorder }

func (a *receiverActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *api.Deliver:
		a.rec.add(deliverEvent(m.Group, m.Nodeid, m.Pid, m.Data))
	case *api.Confchg:
		a.rec.add(confchgEvent(m.Group, m.Members, m.Left, m.Joined))
	case *api.TotemConfchg:
		a.rec.add(totemEvent(m.RingId, m.Members))
	}
}

// spawnReceiver spawns a recording actor on system.
func spawnReceiver(t *testing.T, system *actor.ActorSystem) (*actor.PID, *recorder) {
	t.Helper()
	rec := newRecorder()
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &receiverActor{rec: rec} }))
	t.Cleanup(func() { system.Root.Stop(pid) })
	return pid, rec
}

// newActorClient creates a handle of the actor face whose events go to a
// recording actor (rec, or a new one when rec is nil).
func newActorClient(t *testing.T, name string, node *actors.Node, receiver *actor.PID, rec *recorder, flags uint32, opts ...cpg.Option) *client {
	t.Helper()
	if receiver == nil {
		receiver, rec = spawnReceiver(t, node.System())
	}
	h, err := cpg.InitializeActor(receiver, flags, append([]cpg.Option{cpg.WithNode(node)}, opts...)...)
	if err != nil {
		t.Fatalf("%s: InitializeActor: %v", name, err)
	}
	t.Cleanup(func() { _ = h.Finalize() })
	return &client{name: name, h: h, rec: rec, actor: true}
}

// pump runs the callbacks of what is queued on c.
func pump(t *testing.T, c *client) {
	t.Helper()
	if c.actor {
		return
	}
	if err := c.h.Dispatch(api.DispatchAll); err != nil {
		t.Fatalf("%s: Dispatch(ALL): %v", c.name, err)
	}
}

// waitAll dispatches every client until cond holds, or fails the test after
// waitTimeout with every client's events.
func waitAll(t *testing.T, what string, cond func() bool, cs ...*client) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	// The tick re-checks cond for state that no event announces (flow
	// control); it is a poll interval, not an assertion.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline.C)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(tick.C)},
	}
	for _, c := range cs {
		if c.ready != nil {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.ready)})
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.rec.notify)})
	}
	for {
		for _, c := range cs {
			pump(t, c)
		}
		if cond() {
			return
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			var b strings.Builder
			for _, c := range cs {
				fmt.Fprintf(&b, "\n--- events of %s:", c.name)
				for _, e := range c.events() {
					fmt.Fprintf(&b, "\n    %v", e)
				}
			}
			t.Fatalf("timed out after %v waiting for %s%s", waitTimeout, what, b.String())
		}
	}
}

// waitFor dispatches c until pred holds on its events.
func waitFor(t *testing.T, c *client, what string, pred func([]event) bool) []event {
	t.Helper()
	var evs []event
	waitAll(t, c.name+": "+what, func() bool {
		evs = c.events()
		return pred(evs)
	}, c)
	return evs
}

// isConfchg reports whether e is a confchg of group whose joined or left
// list is exactly one entry equal to a.
func joinedIs(e event, group string, a addr) bool {
	return e.Kind == kConfchg && e.Group == group && len(e.Joined) == 1 && e.Joined[0] == a && len(e.Left) == 0
}

func leftIs(e event, group string, a addr) bool {
	return e.Kind == kConfchg && e.Group == group && len(e.Left) == 1 && e.Left[0] == a && len(e.Joined) == 0
}

// indexOf returns the index of the first event matching f, or -1.
func indexOf(evs []event, f func(event) bool) int {
	return slices.IndexFunc(evs, f)
}

func has(f func(event) bool) func([]event) bool {
	return func(evs []event) bool { return indexOf(evs, f) >= 0 }
}

// join joins c to group and waits for its own JOIN confchg; it returns
// that confchg.
func join(t *testing.T, c *client, group string) event {
	t.Helper()
	if err := c.h.Join([]byte(group)); err != nil {
		t.Fatalf("%s: Join(%q): %v", c.name, group, err)
	}
	return waitJoined(t, c, group)
}

// waitJoined waits for c's own JOIN confchg in group that follows its last
// own leave (LEAVE or PROCDOWN) confchg there, and returns it.
func waitJoined(t *testing.T, c *client, group string) event {
	t.Helper()
	self := c.self(api.ReasonJoin)
	var found event
	waitFor(t, c, fmt.Sprintf("own JOIN confchg in %q", group), func(evs []event) bool {
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			if joinedIs(e, group, self) {
				found = e
				return true
			}
			if e.Kind == kConfchg && e.Group == group && len(e.Left) == 1 && e.Left[0].Nodeid == self.Nodeid && e.Left[0].Pid == self.Pid {
				return false
			}
		}
		return false
	})
	return found
}

// waitSeen waits until every client has a confchg of group matching f.
func waitSeen(t *testing.T, what string, f func(event) bool, cs ...*client) {
	t.Helper()
	waitAll(t, what, func() bool {
		for _, c := range cs {
			if indexOf(c.events(), f) < 0 {
				return false
			}
		}
		return true
	}, cs...)
}

// mcast multicasts msg from c, retrying while flow control says TRY_AGAIN.
func mcast(t *testing.T, c *client, msg string) {
	t.Helper()
	for {
		err := c.h.McastJoined(api.TypeAgreed, []byte(msg))
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrTryAgain) {
			t.Fatalf("%s: McastJoined(%q): %v", c.name, short(msg), err)
		}
		pump(t, c)
		time.Sleep(time.Millisecond) // back off before retrying; not an assertion
	}
}

// delivered returns the deliveries of group in evs, as "nodeid/pid:data".
func delivered(evs []event, group string) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == kDeliver && e.Group == group {
			out = append(out, fmt.Sprintf("%d/%d:%s", e.Nodeid, e.Pid, e.Data))
		}
	}
	return out
}

func hasDeliver(group, data string) func([]event) bool {
	return has(func(e event) bool { return e.Kind == kDeliver && e.Group == group && e.Data == data })
}

// after returns the events after index i.
func after(evs []event, i int) []event {
	if i+1 >= len(evs) {
		return nil
	}
	return evs[i+1:]
}

// wantCode checks that err is the CS error want (by errors.Is and by code).
func wantCode(t *testing.T, what string, err error, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: got %v (code %d), want CS_OK", what, err, api.CodeOf(err))
		}
		return
	}
	if !errors.Is(err, want) || api.CodeOf(err) != api.CodeOf(want) {
		t.Errorf("%s: got %v (code %d), want %v (code %d)", what, err, api.CodeOf(err), want, api.CodeOf(want))
	}
}

// membership returns MembershipGet of group as addrs.
func membership(t *testing.T, c *client, group string) []addr {
	t.Helper()
	m, err := c.h.MembershipGet([]byte(group))
	if err != nil {
		t.Fatalf("%s: MembershipGet(%q): %v", c.name, group, err)
	}
	return addrs(m)
}

// sortedAddrs returns a copy sorted by (nodeid, pid).
func sortedAddrs(in ...addr) []addr {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b addr) int {
		return api.CompareAddresses(&api.Address{Nodeid: a.Nodeid, Pid: a.Pid}, &api.Address{Nodeid: b.Nodeid, Pid: b.Pid})
	})
	return out
}

// noReason returns the list with reason 0, as member lists carry it.
func noReason(in ...addr) []addr {
	out := make([]addr, len(in))
	for i, a := range in {
		out[i] = addr{a.Nodeid, a.Pid, 0}
	}
	return out
}

func groupEvents(evs []event, group string) []event {
	var out []event
	for _, e := range evs {
		if e.Group == group && e.Kind != kTotem {
			out = append(out, e)
		}
	}
	return out
}

// nameOf makes a group name of n bytes.
func nameOf(n int) string { return string(bytes.Repeat([]byte{'g'}, n)) }

func itoa(v uint64) string { return fmt.Sprint(v) }

func hexs(v uint32) string { return fmt.Sprintf("%#x", v) }

// newDeadline returns a timer of waitTimeout.
func newDeadline() *time.Timer { return time.NewTimer(waitTimeout) }
