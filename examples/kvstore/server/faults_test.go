package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/actorcpg/actorcpg/examples/kvstore/history"
	"github.com/actorcpg/actorcpg/examples/kvstore/replica"
	"github.com/actorcpg/actorcpg/examples/kvstore/server"
)

// progress waits until n more operations have been answered: the store
// made progress under the current fault.
func progress(c *cluster, rec *history.Recorder, n int, what string) {
	c.t.Helper()
	ok0, _, _ := rec.Counts()
	c.waitFor(what, func() bool {
		ok, _, _ := rec.Counts()
		return ok >= ok0+n
	})
}

// checkHistory runs porcupine on rec and returns its verdict; a
// visualization is kept next to the test's temporary files when asked
// (KVSTORE_VISUALIZE=DIR).
func checkHistory(t *testing.T, rec *history.Recorder, name string) porcupine.CheckResult {
	t.Helper()
	vis := ""
	if dir := os.Getenv("KVSTORE_VISUALIZE"); dir != "" {
		vis = filepath.Join(dir, name+".html")
	}
	res, err := rec.Check(20*time.Second, vis)
	if err != nil {
		t.Fatal(err)
	}
	ok, refused, unknown := rec.Counts()
	t.Logf("porcupine: %s on %d operations (answered %d, refused %d, unknown %d)",
		res, len(rec.Operations()), ok, refused, unknown)
	return res
}

// TestLinearizableUnderFaults records every client operation while the
// cluster goes through a partition, a replica killed and restarted (its
// state transferred back under load), a node stopped and restarted, and
// another partition, then checks with porcupine that the writes and
// consistent reads were linearizable, and that every replica ends with
// the same content.
func TestLinearizableUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault schedule: about 10 s")
	}
	c := newCluster(t, 3, server.Config{Timeout: 3 * time.Second, ChunkBytes: 256, Window: 2})
	fill(t, c, 300, 100) // a state of many parts: transfers take a while
	rec := history.NewRecorder()
	stop := make(chan struct{})
	wait := load(c, rec, 4, stop)
	progress(c, rec, 30, "progress with every replica up")

	// 1. Partition: node 3 alone is a minority and refuses; 1 and 2 go on.
	c.isolate(3)
	c.waitFor("replica 3 no longer primary", func() bool { st, ok := c.statusOf(3); return ok && !st.Primary })
	progress(c, rec, 30, "progress on the majority side")
	c.heal()
	c.waitFor("all primary again after the heal", c.allPrimary)
	progress(c, rec, 20, "progress after the heal")

	// 2. A replica dies (its state is lost) and a fresh one takes its
	// place: the state is transferred while the clients keep writing.
	c.stopServer(2)
	progress(c, rec, 20, "progress with two replicas")
	c.startServer(2)
	c.waitFor("the restarted replica synced", c.allPrimary)
	progress(c, rec, 20, "progress after the transfer")

	// 3. A node stops (NODEDOWN for its replica) and comes back.
	c.stopNode(1)
	c.waitFor("replicas 2 and 3 primary without node 1", c.allPrimary)
	progress(c, rec, 20, "progress without node 1")
	c.startNode(1)
	c.startServer(1)
	c.waitFor("all primary with node 1 back", c.allPrimary)
	progress(c, rec, 20, "progress with node 1 back")

	// 4. Another partition, the other way round.
	c.isolate(2)
	c.waitFor("replica 2 no longer primary", func() bool { st, ok := c.statusOf(2); return ok && !st.Primary })
	progress(c, rec, 20, "progress without node 2")
	c.heal()
	c.waitFor("all primary after the last heal", c.allPrimary)
	progress(c, rec, 20, "progress at the end")

	close(stop)
	wait()
	c.waitFor("every replica converged", c.converged)
	for id, u := range c.urls() {
		st, _ := status(u)
		t.Logf("replica %d: term %d, %d transfers seen since it started, %d operations applied after a snapshot",
			id, st.Term, st.TransfersDone, st.AppliedAfterSnapshot)
	}
	if res := checkHistory(t, rec, "faults"); res != porcupine.Ok {
		t.Fatalf("porcupine: %s: the history is not linearizable", res)
	}
}

// fill writes n keys of size bytes through replica 1 (not recorded: the
// clients' keys are others).
func fill(t *testing.T, c *cluster, n, size int) {
	t.Helper()
	u := c.urls()[1]
	v := strings.Repeat("v", size)
	for i := 0; i < n; i++ {
		if code, _ := do(t, http.MethodPut, fmt.Sprintf("%s/kv/fill%04d", u, i), v); code != http.StatusOK {
			t.Fatalf("fill: %d", code)
		}
	}
}

// TestCheckerCatchesSplitBrain: a write on each side of a partition, then
// a consistent read on each side. Correct, the minority refuses its write
// and read and porcupine accepts the history; with an injected bug that
// lets a minority side commit, both writes succeed, the reads disagree,
// and porcupine rejects it.
func TestCheckerCatchesSplitBrain(t *testing.T) {
	for _, tc := range []struct {
		bug  replica.Bug
		want porcupine.CheckResult
	}{{replica.NoBug, porcupine.Ok}, {replica.BugMinorityPrimary, porcupine.Illegal}} {
		t.Run(fmt.Sprintf("bug=%d", tc.bug), func(t *testing.T) {
			c := newCluster(t, 3, server.Config{Timeout: 3 * time.Second, Bug: tc.bug})
			rec := history.NewRecorder()
			cl := history.NewClient(0, rec, 6*time.Second)
			ctx := context.Background()
			u := c.urls()
			cl.Do(ctx, u[1], history.Input{Kind: history.Put, Key: "x", Value: "before"})
			c.isolate(3)
			c.waitFor("the sides split", func() bool {
				s1, ok1 := c.statusOf(1)
				s3, ok3 := c.statusOf(3)
				return ok1 && ok3 && s1.Primary && len(s1.Members) == 2 && len(s3.Members) == 1 && s3.Phase != "paused" && (tc.bug == replica.NoBug || s3.Primary)
			})
			cl.Do(ctx, u[1], history.Input{Kind: history.Put, Key: "x", Value: "majority"})
			minority, _ := cl.Do(ctx, u[3], history.Input{Kind: history.Put, Key: "x", Value: "minority"})
			cl.Do(ctx, u[1], history.Input{Kind: history.Get, Key: "x"})
			cl.Do(ctx, u[3], history.Input{Kind: history.Get, Key: "x"})
			if (tc.bug == replica.NoBug) != (minority == history.Refused) {
				t.Fatalf("the minority's write: outcome %d", minority)
			}
			if res := checkHistory(t, rec, "split-brain"); res != tc.want {
				t.Fatalf("porcupine: %s, want %s", res, tc.want)
			}
		})
	}
}

// TestCheckerCatchesSkippedBuffer: a replica restarts and receives the
// state from a donor held half-way; a write is committed meanwhile (the
// receiver buffers it), then read consistently at the receiver. Correct,
// the receiver applies it after the snapshot and porcupine accepts the
// history; with an injected bug that drops the buffered writes, the read
// misses it and porcupine rejects it.
func TestCheckerCatchesSkippedBuffer(t *testing.T) {
	for _, tc := range []struct {
		bug  replica.Bug
		want porcupine.CheckResult
	}{{replica.NoBug, porcupine.Ok}, {replica.BugSkipBuffer, porcupine.Illegal}} {
		t.Run(fmt.Sprintf("bug=%d", tc.bug), func(t *testing.T) {
			c := newCluster(t, 3, server.Config{Timeout: 3 * time.Second, ChunkBytes: 128, Window: 1, Bug: tc.bug})
			fill(t, c, 50, 100)
			var hold atomic.Bool
			hold.Store(true)
			for _, s := range c.snapshotServers() {
				server.HoldTransfers(s, hold.Load)
			}
			rec := history.NewRecorder()
			cl := history.NewClient(0, rec, 6*time.Second)
			ctx := context.Background()
			c.stopServer(3)
			c.startServer(3)
			c.waitFor("replica 3's transfer started", func() bool { st, ok := c.statusOf(3); return ok && st.TransferStarted })
			if o, _ := cl.Do(ctx, c.urls()[1], history.Input{Kind: history.Put, Key: "x", Value: "during"}); o != history.OK {
				t.Fatalf("write during the transfer: outcome %d", o)
			}
			c.waitFor("the write buffered at replica 3", func() bool { st, ok := c.statusOf(3); return ok && st.BufferedOps > 0 })
			hold.Store(false)
			c.waitFor("replica 3 synced", c.allPrimary)
			if o, out := cl.Do(ctx, c.urls()[3], history.Input{Kind: history.Get, Key: "x"}); o != history.OK {
				t.Fatalf("read after the transfer: outcome %d %+v", o, out)
			}
			if res := checkHistory(t, rec, "skipped-buffer"); res != tc.want {
				t.Fatalf("porcupine: %s, want %s", res, tc.want)
			}
		})
	}
}

// sequencerNode returns the node that orders the group, if exactly one
// says it does.
func sequencerNode(c *cluster) uint32 {
	var found []uint32
	for id, n := range c.snapshotNodes() {
		if _, ok := n.Sequencers()["kvstore"]; ok {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		return 0
	}
	return found[0]
}
