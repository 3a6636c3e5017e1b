package actors

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorcpg/actorcpg/cluster"
)

// A group actor reports drained at every tick while it is; a report
// still on its way when the actor was stopped and a new one started for
// the group (by a join) must not stop the new one, even when the new one
// has taken as many of the node actor's messages as the old one had
// (regression seed 6114: the join the new actor held was lost).
func TestStaleDrainedNewsDoesNotStopALaterGroupActor(t *testing.T) {
	old := actor.NewPID("nonhost", "g-1")
	cur := actor.NewPID("nonhost", "g-2")
	a := &nodeActor{groups: map[string]*groupRef{"g": {pid: cur, sent: 1}}}
	a.drained(nil, &groupDrained{d: cluster.Drained{Group: []byte("g")}, got: 1, from: old})
	if g := a.groups["g"]; g == nil || g.pid != cur {
		t.Fatal("the current group actor was stopped on its predecessor's drained news")
	}
}
