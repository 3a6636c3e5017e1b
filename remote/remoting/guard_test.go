package remoting

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	premote "github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
)

// victim records the api.Heartbeat messages it gets and answers any
// api.LocalGetRequest, so a test can tell it is alive.
type victim struct{ got chan *api.Heartbeat }

func (v *victim) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *api.Heartbeat:
		v.got <- m
	case *api.LocalGetRequest:
		ctx.Respond(&api.LocalGetReply{Nodeid: 7})
	}
}

// rogue is an unauthenticated gRPC client of a node's remoting port.
func rogue(t *testing.T) (addr string, sys *actor.ActorSystem, pid *actor.PID, got chan *api.Heartbeat, cli premote.RemotingClient) {
	t.Helper()
	sys = actor.NewActorSystem()
	r, addr, err := Start(sys, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Shutdown(r); sys.Shutdown() })
	got = make(chan *api.Heartbeat, 16)
	pid, err = sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &victim{got: got} }), "victim")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return addr, sys, pid, got, premote.NewRemotingClient(conn)
}

func envelope(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alive checks that the victim still answers.
func alive(t *testing.T, sys *actor.ActorSystem, pid *actor.PID) {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, &api.LocalGetRequest{}, 5*time.Second).Result()
	if r, ok := res.(*api.LocalGetReply); err != nil || !ok || r.Nodeid != 7 {
		t.Fatalf("the victim does not answer: %v %v", res, err)
	}
}

func TestRogueUnimplementedRemotingMethodsAreRefused(t *testing.T) {
	_, sys, pid, _, cli := rogue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	before := GuardDropped()
	_, err := cli.ListProcesses(ctx, &premote.ListProcessesRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("ListProcesses: %v, want Unimplemented", err)
	}
	_, err = cli.GetProcessDiagnostics(ctx, &premote.GetProcessDiagnosticsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("GetProcessDiagnostics: %v, want Unimplemented", err)
	}
	if GuardDropped()-before != 2 {
		t.Errorf("dropped %d, want 2", GuardDropped()-before)
	}
	alive(t, sys, pid)
}

// A batch with out-of-range target, sender and type indexes, and with a
// Stop, a PoisonPill and a forged Terminated for the victim, followed by a
// good envelope: the good one arrives (so the others were read and passed
// over first), the process and the victim live on.
func TestRogueBatchIsFiltered(t *testing.T) {
	addr, sys, pid, got, cli := rogue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := cli.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := &actor.PID{Address: addr, Id: pid.Id}
	batch := &premote.MessageBatch{
		TypeNames: []string{"actor.Stop", "actor.PoisonPill", "actor.Terminated", "actorcpg.api.Heartbeat"},
		Targets:   []*actor.PID{target},
		Envelopes: []*premote.MessageEnvelope{
			{TypeId: 3, Target: 9, MessageData: envelope(t, &api.Heartbeat{})}, // target out of range
			{TypeId: 3, Target: 0, Sender: 4, MessageData: envelope(t, &api.Heartbeat{})},
			{TypeId: 40, Target: 0, MessageData: envelope(t, &api.Heartbeat{})},
			{TypeId: -1, Target: 0, MessageData: envelope(t, &api.Heartbeat{})},
			{TypeId: 0, Target: 0, MessageData: envelope(t, &actor.Stop{})},
			{TypeId: 1, Target: 0, MessageData: envelope(t, &actor.PoisonPill{})},
			{TypeId: 2, Target: 0, MessageData: envelope(t, &actor.Terminated{Who: target})},
			{TypeId: 3, Target: 0, MessageData: envelope(t, &api.Heartbeat{Client: &api.Pid{Id: "good"}})},
		},
	}
	before := GuardDropped()
	if err := stream.Send(&premote.RemoteMessage{MessageType: &premote.RemoteMessage_MessageBatch{MessageBatch: batch}}); err != nil {
		t.Fatal(err)
	}
	select {
	case hb := <-got:
		if hb.GetClient().GetId() != "good" {
			t.Fatalf("the victim got %v, want only the good envelope", hb)
		}
	case <-ctx.Done():
		t.Fatal("the good envelope never arrived")
	}
	if d := GuardDropped() - before; d != 7 {
		t.Errorf("dropped %d envelopes, want 7", d)
	}
	alive(t, sys, pid)
}

// Messages that only a node's own actors send each other, and the peer
// protocol (links only), are dropped from a remoting batch, as are Watch
// and Unwatch; a permitted envelope behind them arrives.
func TestRogueRemotingTypeFilterDropsInternalAndPeerMessages(t *testing.T) {
	addr, sys, pid, got, cli := rogue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := cli.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := &actor.PID{Address: addr, Id: pid.Id}
	denied := []proto.Message{
		&wire.JoinGroup{Group: []byte("g")}, &wire.Ordered{From: 2}, &wire.PeerHeartbeat{From: 2},
		&wire.Tick{}, &wire.LeaveGroup{}, &wire.HandleMcast{}, &wire.ViewInstall{From: 2},
		&actor.Watch{Watcher: target}, &actor.Unwatch{Watcher: target},
	}
	batch := &premote.MessageBatch{Targets: []*actor.PID{target}}
	for i, m := range append(denied, &api.Heartbeat{Client: &api.Pid{Id: "good"}}) {
		batch.TypeNames = append(batch.TypeNames, string(proto.MessageName(m)))
		batch.Envelopes = append(batch.Envelopes, &premote.MessageEnvelope{TypeId: int32(i), Target: 0, MessageData: envelope(t, m)})
	}
	before := GuardDropped()
	if err := stream.Send(&premote.RemoteMessage{MessageType: &premote.RemoteMessage_MessageBatch{MessageBatch: batch}}); err != nil {
		t.Fatal(err)
	}
	select {
	case hb := <-got:
		if hb.GetClient().GetId() != "good" {
			t.Fatalf("the victim got %v", hb)
		}
	case <-ctx.Done():
		t.Fatal("the good envelope never arrived")
	}
	if d := GuardDropped() - before; d != uint64(len(denied)) {
		t.Errorf("dropped %d envelopes, want %d", d, len(denied))
	}
	alive(t, sys, pid)
}
