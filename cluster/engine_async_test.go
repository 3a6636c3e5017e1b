package cluster

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/groups"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// newAsyncTestNet is newTestNet with NewAsync's engines, whose local
// messages run in an order drawn from seed.
func newAsyncTestNet(t testing.TB, n int, seed int64) *testNet {
	tn := newTestNet(t, n)
	tn.async = rand.New(rand.NewSource(seed))
	for _, id := range tn.ids() {
		tn.nodes[id] = NewAsync(testConfig(id, tn.ids()))
	}
	return tn
}

// msgs returns the messages node id's handle 1 delivered, in order.
func (tn *testNet) msgs(id uint32) []string {
	var out []string
	for _, ev := range tn.events[id][1] {
		if strings.HasPrefix(ev, "msg ") {
			out = append(out, ev)
		}
	}
	return out
}

// The asynchronous engine, its local messages run in many orders between
// the network's: one view, one order of every message at every node, and
// a node cut off and back is a NODEDOWN then a NODEUP.
func TestAsyncEngineAgreedOrderAndPartition(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		tn := newAsyncTestNet(t, 3, seed)
		tn.run(500 * time.Millisecond)
		for _, id := range tn.ids() {
			e := tn.nodes[id]
			if !slices.Equal(e.Members(), []uint32{1, 2, 3}) || e.Syncing() {
				t.Fatalf("seed %d: node %d: members %v syncing %v totems %v", seed, id, e.Members(), e.Syncing(), tn.totems[id])
			}
			if c := e.Join([]byte("g"), 1, 100+id); c != api.CodeOK {
				t.Fatalf("seed %d: join on %d: %v", seed, id, c)
			}
			tn.take(id)
		}
		tn.run(100 * time.Millisecond)
		for i := range 20 {
			for _, id := range tn.ids() {
				tn.mcast(id, 1, fmt.Sprintf("%d-%d", id, i))
			}
			tn.step()
		}
		tn.run(200 * time.Millisecond)
		ref := tn.msgs(1)
		if len(ref) != 60 {
			t.Fatalf("seed %d: node 1 delivered %d of 60: %v", seed, len(ref), tn.events[1][1])
		}
		for _, id := range tn.ids()[1:] {
			if got := tn.msgs(id); !slices.Equal(got, ref) {
				t.Fatalf("seed %d: node %d's order differs:\n%v\n%v", seed, id, got, ref)
			}
		}
		tn.isolate(3, true)
		tn.run(600 * time.Millisecond)
		want := "confchg m=[1/101 2/102] l=[3/103(3)] j=[]"
		for _, id := range []uint32{1, 2} {
			if ev := tn.events[id][1]; ev[len(ev)-1] != want {
				t.Fatalf("seed %d: node %d after node 3 was cut off: %v", seed, id, ev)
			}
		}
		tn.mcast(1, 1, "a-side")
		tn.mcast(3, 1, "c-side")
		tn.run(100 * time.Millisecond)
		tn.isolate(3, false)
		tn.run(600 * time.Millisecond)
		for _, id := range tn.ids() {
			e := tn.nodes[id]
			if !slices.Equal(e.Members(), []uint32{1, 2, 3}) || e.Syncing() {
				t.Fatalf("seed %d: node %d after the heal: members %v syncing %v", seed, id, e.Members(), e.Syncing())
			}
			got := tn.events[id][1]
			if last := got[len(got)-1]; !strings.HasPrefix(last, "confchg m=[1/101 2/102 3/103]") || !strings.Contains(last, "(4)") {
				t.Fatalf("seed %d: node %d last %q", seed, id, last)
			}
		}
	}
}

// Lost submissions, ordered events and acks are recovered with the local
// messages in many orders: every node delivers every message once, in one
// order, in one view.
func TestAsyncEngineLossIsRepaired(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		tn := newAsyncTestNet(t, 3, seed)
		tn.run(500 * time.Millisecond)
		tn.joinAll("g")
		rng := rand.New(rand.NewSource(seed))
		tn.lose = func(_ uint32, m proto.Message) bool {
			switch m.(type) {
			case *wire.Submit, *wire.Ordered, *wire.Ack, *wire.Nack:
				return rng.Intn(10) == 0
			}
			return false
		}
		for i := range 200 {
			tn.mcast(uint32(1+i%3), 1, fmt.Sprintf("m%d", i))
			if i%7 == 0 {
				tn.step()
			}
		}
		tn.run(300 * time.Millisecond)
		tn.lose = nil
		tn.run(500 * time.Millisecond)
		ref := tn.msgs(1)
		if len(ref) != 200 {
			t.Fatalf("seed %d: node 1 delivered %d of 200", seed, len(ref))
		}
		for _, id := range tn.ids() {
			if got := tn.msgs(id); !slices.Equal(got, ref) {
				t.Fatalf("seed %d: node %d's order differs", seed, id)
			}
			if tn.nodes[id].Ring().Seq != tn.nodes[1].Ring().Seq || len(tn.totems[id]) != 1 {
				t.Fatalf("seed %d: loss of data caused a view change: %v", seed, tn.totems[id])
			}
		}
	}
}

// A view change with messages in flight, local messages in many orders:
// the survivors deliver the same messages and end the change (no group
// left waiting), and a group emptied by leaves is dropped at the next view
// change and used again.
func TestAsyncEngineViewChangeAndGroupUsedAgain(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		tn := newAsyncTestNet(t, 3, seed)
		tn.run(500 * time.Millisecond)
		tn.joinAll("g")
		for i := range 10 {
			tn.mcast(uint32(1+i%3), 1, fmt.Sprintf("old%d", i))
		}
		tn.isolate(3, true)
		for i := range 10 {
			tn.mcast(uint32(1+i%2), 1, fmt.Sprintf("new%d", i))
			tn.step()
		}
		tn.run(600 * time.Millisecond)
		// Nodes 1 and 2 deliver the same messages: all of theirs (node
		// 3's were still in its group's mailbox when it was cut off).
		ref := tn.msgs(1)
		if got := tn.msgs(2); !slices.Equal(got, ref) {
			t.Fatalf("seed %d: nodes 1 and 2 differ:\n%v\n%v", seed, ref, got)
		}
		if len(ref) != 17 {
			t.Fatalf("seed %d: node 1 delivered %v", seed, ref)
		}
		for _, id := range []uint32{1, 2} {
			if n := len(tn.totems[id]); n != 2 || !strings.HasSuffix(tn.totems[id][1], "[1 2]") {
				t.Fatalf("seed %d: node %d totems %v", seed, id, tn.totems[id])
			}
			if e := tn.nodes[id]; e.Syncing() || e.Installing() || e.Pending() > 16 {
				t.Fatalf("seed %d: node %d syncing %v installing %v pending %d", seed, id, e.Syncing(), e.Installing(), e.Pending())
			}
		}
		// Every node leaves g: its machine goes at the next view change
		// (the heal), and a join starts a new one whose ids go on.
		for _, id := range tn.ids() {
			if c := tn.nodes[id].Leave(1, api.ReasonLeave); c != api.CodeOK {
				t.Fatalf("seed %d: leave on %d: %v", seed, id, c)
			}
			tn.take(id)
		}
		tn.run(200 * time.Millisecond)
		tn.isolate(3, false)
		tn.run(600 * time.Millisecond)
		for _, id := range tn.ids() {
			e := tn.nodes[id]
			if !slices.Equal(e.Members(), []uint32{1, 2, 3}) || len(e.GroupNames()) != 0 {
				t.Fatalf("seed %d: node %d members %v groups %q", seed, id, e.Members(), e.GroupNames())
			}
			if c := e.Join([]byte("g"), 2, 200+id); c != api.CodeOK {
				t.Fatalf("seed %d: join again on %d: %v", seed, id, c)
			}
			tn.take(id)
		}
		tn.run(200 * time.Millisecond)
		tn.nodes[1].Mcast(2, []*api.McastRequest{{Guarantee: uint32(api.TypeAgreed), Data: []byte("again")}})
		tn.take(1)
		tn.run(200 * time.Millisecond)
		for _, id := range tn.ids() {
			evs := tn.events[id][groups.HandleID(2)]
			if len(evs) == 0 || evs[len(evs)-1] != "msg 1/201 again" {
				t.Fatalf("seed %d: node %d's new handle got %v", seed, id, evs)
			}
		}
	}
}

// runAll runs e's mailboxes until none has a message.
func runAll(e *Engine) {
	for {
		w := e.Wakeups()
		if len(w) == 0 {
			return
		}
		for _, mb := range w {
			e.RunLocal(mb)
		}
	}
}

// A Ready gathers several steps of a group (the steps a Leave and a Join
// of NewAsync's engine run from the group's mailbox before they answer;
// New's calls until the caller advances), and is carried out in field
// order, Left before Flow. A handle's flow change from a
// step before the one where it left must not come out after its Left:
// the handle, out of the group, would stay flow-controlled (the simulator
// saw a client retry a multicast in its next group forever).
func TestReadyHasNoFlowChangeOfAHandleThatLeftAfterIt(t *testing.T) {
	for _, async := range []bool{false, true} {
		cfg := testConfig(1, []uint32{1})
		var e *Engine
		if async {
			e = NewAsync(cfg)
		} else {
			e = New(cfg)
		}
		settle := func() {
			for range 10 {
				runAll(e)
				e.Tick(0)
				runAll(e)
				if e.NeedsFlush() {
					e.Flush()
				}
			}
		}
		settle()
		for h := groups.HandleID(1); h <= 2; h++ {
			if c := e.Join([]byte("g"), h, 100+uint32(h)); c != api.CodeOK {
				t.Fatalf("async %v: join %d: %v", async, h, c)
			}
		}
		settle()
		e.Advance()
		// Handle 1 congested: the group is flow-controlled for 1 and 2;
		// then 2 leaves, and its LEAVE is delivered in a later step.
		e.Congestion(1, true)
		if c := e.Leave(2, api.ReasonLeave); c != api.CodeOK {
			t.Fatalf("async %v: leave: %v", async, c)
		}
		if async {
			if c := e.Join([]byte("g"), 3, 103); c != api.CodeOK {
				t.Fatalf("async %v: join 3: %v", async, c)
			}
			runAll(e) // the sequencer's mailbox: the LEAVE is ordered and delivered
		} else {
			e.Flush()
		}
		rd := e.Ready()
		if !slices.ContainsFunc(rd.Left, func(l groups.Left) bool { return l.Handle == 2 }) {
			t.Fatalf("async %v: handle 2 did not leave in this Ready: %+v", async, rd)
		}
		for _, f := range rd.Flow {
			if f.Handle == 2 {
				t.Fatalf("async %v: flow change of handle 2 in the Ready where it left: %+v", async, rd.Flow)
			}
		}
		if !slices.Contains(rd.Flow, FlowChange{Handle: 1, Enabled: true}) {
			t.Fatalf("async %v: no flow change for handle 1: %+v", async, rd.Flow)
		}
	}
}
