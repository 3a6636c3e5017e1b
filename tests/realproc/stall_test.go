package realproc

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/tests/checker"
	"github.com/actorcpg/actorcpg/tests/proccluster"
)

// Issue 13: a node whose process stalls (SIGSTOP for k tokens, then
// SIGCONT: a long GC pause, swap, an overloaded host) keeps its clients,
// and every side sees the same story. The others form a view without it;
// on resume it merges back. Its clients get CS_ERR_TRY_AGAIN meanwhile,
// never CS_ERR_LIBRARY, and nobody finalizes them as silent: every client
// process runs to the end, every message a process sent with CS_OK is
// delivered (to itself too), the property checker finds no violation, and
// the confchgs tell one story: the stalled node's processes see the
// others' leave (NODEDOWN) and come back (NODEUP), the others see its
// processes do the same.
func TestStall(t *testing.T) {
	for _, k := range []int{2, 4, 10} {
		t.Run(fmt.Sprintf("%dx", k), func(t *testing.T) {
			if k >= 10 && testing.Short() {
				t.Skip("a stall of 10 tokens is skipped in -short")
			}
			stallRun(t, k)
		})
	}
}

// The node the stall test stops.
const stalledNode = 3

// stallRun runs one stall of k tokens of node 3 under a flood from one
// client on each node (alpha and beta) and a second client on node 3
// (alpha only), and checks it.
func stallRun(t *testing.T, k int) {
	c := proccluster.New(t, 3, proccluster.Options{Token: time.Second})
	token := c.Options().Token
	for n := 1; n <= 3; n++ {
		c.StartClient(n, "alpha,beta", clientFlags...)
	}
	c.StartClient(stalledNode, "alpha", clientFlags...)
	c.WaitGroups()
	time.Sleep(1000 * time.Millisecond)

	before := c.WaitView(proccluster.AllNodes(3), 1, 2, 3)[1]
	paused := c.PauseNode(stalledNode)
	time.Sleep(time.Duration(k) * token)
	resumed := c.ResumeNode(stalledNode)
	t.Logf("node %d stopped for %v (%d tokens of %v)", stalledNode, resumed.Sub(paused).Round(time.Millisecond), k, token)

	// Once merged: a view of all three installed after the stall (not the
	// one before it), the same at every node, and the groups settled.
	waitNewView(t, c, before, paused)
	c.WaitView(proccluster.AllNodes(3), 1, 2, 3)
	c.WaitGroups()
	time.Sleep(1500 * time.Millisecond) // traffic in the merged view

	// 1. Every client process still runs.
	for _, cl := range c.Clients() {
		if cl.Exited() {
			t.Errorf("client %d (node %d) exited with status %d after the stall: %s", cl.Inc, cl.Node, cl.ExitCode(), clientOut(cl))
		}
	}

	// 2. The property checker: the run healed and went quiet.
	_, recs := c.Finish(checker.Options{Quiet: true})

	// 1, continued: they all ended cleanly, with no error reported.
	for _, cl := range c.Clients() {
		out := clientOut(cl)
		switch {
		case cl.Killed():
			t.Errorf("client %d (node %d) had to be killed", cl.Inc, cl.Node)
		case cl.ExitCode() != 0:
			t.Errorf("client %d (node %d) exited with status %d: %s", cl.Inc, cl.Node, cl.ExitCode(), out)
		}
		if strings.Contains(out, api.CodeLibrary.String()) || strings.Contains(out, "floodclient:") {
			t.Errorf("client %d (node %d) reported an error: %s", cl.Inc, cl.Node, out)
		}
	}

	// The nodes' own account: the stalled node noticed it was not
	// scheduled, and nobody finalized a client as silent.
	notSched := c.NodeLogLines(stalledNode, proccluster.MsgNotScheduled)
	notSched = slices.DeleteFunc(notSched, func(l proccluster.LogLine) bool { return l.Time.Before(paused) })
	if len(notSched) == 0 {
		t.Errorf("node %d did not log %q after its stall", stalledNode, proccluster.MsgNotScheduled)
	}
	for _, l := range notSched {
		t.Logf("node %d: %s: gap %v", stalledNode, proccluster.MsgNotScheduled, time.Duration(l.Gap*float64(time.Millisecond)).Round(time.Millisecond))
	}
	for n := 1; n <= 3; n++ {
		for _, l := range c.NodeLogLines(n, proccluster.MsgClientSilent) {
			t.Errorf("node %d at %s: %q (client %s)", n, l.Time.Format("15:04:05.000"), l.Message, l.Client)
		}
	}

	// 4. Self-delivery: every message a process sent with CS_OK came back
	// to it.
	selfDelivery(t, recs)

	// 5. The story each process saw.
	logConfchgs(t, recs)

	// 3. The confchgs: only where the views were the stall's own.
	formed := formedWithout(c, stalledNode, paused, resumed)
	void := spurious(c, paused, []uint32{1, 2}, []uint32{1, 2, 3})
	if void == "" && !formed {
		void = fmt.Sprintf("nodes 1 and 2 did not form a view without node %d during its stall of %v", stalledNode, resumed.Sub(paused).Round(time.Millisecond))
	}
	if attempt(t, void) {
		return
	}
	others := []uint32{1, 2}
	for _, p := range procsOn(recs, others...) {
		g := groupOf(recs, p)
		if got := nodeStory(recs, p, g, stalledNode); !slices.Equal(got, []string{"NODEDOWN", "NODEUP"}) {
			t.Errorf("%v in %s saw node %d's processes %v, want NODEDOWN then NODEUP (all of them in each)", p, g, stalledNode, got)
		}
	}
	for _, p := range procsOn(recs, stalledNode) {
		g := groupOf(recs, p)
		for _, n := range others {
			if got := nodeStory(recs, p, g, n); !slices.Equal(got, []string{"NODEDOWN", "NODEUP"}) {
				t.Errorf("%v in %s saw node %d's processes %v, want NODEDOWN then NODEUP (all of them in each)", p, g, n, got)
			}
		}
	}
}

// waitNewView waits until some node installed a view of all three nodes
// after the given time that is not the view before, so that WaitView does
// not take the view before the stall for the merged one.
func waitNewView(t *testing.T, c *proccluster.Cluster, before proccluster.LogLine, after time.Time) {
	t.Helper()
	deadline := time.Now().Add(c.Options().WaitTimeout)
	for time.Now().Before(deadline) {
		for id, members := range c.ViewsSince(after) {
			if slices.Equal(members, proccluster.AllNodes(3)) && (id.Node != before.RingNode || id.Seq != before.RingSeq) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no view of all nodes after the stall (the one before was %d/%d); views since: %v", before.RingNode, before.RingSeq, c.ViewsSince(after))
}

// formedWithout reports whether every other node installed a view without
// node between from and to.
func formedWithout(c *proccluster.Cluster, node int, from, to time.Time) bool {
	for n := 1; n <= c.N(); n++ {
		if n == node {
			continue
		}
		ok := false
		for _, l := range c.ReadNodeLog(n) {
			if l.Message == proccluster.MsgViewInstalled && l.Time.After(from) && l.Time.Before(to) && !slices.Contains(l.Members, uint32(node)) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// nodeStory returns, in order, the reasons p's confchgs in group gave
// node's processes leaving or joining after p's own join (NODEDOWN,
// NODEUP, PROCDOWN, ...). A confchg that names only some of node's
// processes then known to p counts as "partial <reason>".
func nodeStory(recs []checker.Record, p checker.Proc, group string, node uint32) []string {
	var out []string
	var members []checker.Member // p's view of the group before each confchg
	for _, r := range recs {
		if r.Proc != p || r.Kind != checker.KindConfchg || r.Group != group {
			continue
		}
		onNode := func(ms []checker.Member) (n int, reason api.Reason) {
			for _, m := range ms {
				if m.Node == node {
					n++
					reason = m.Reason
				}
			}
			return n, reason
		}
		had, _ := onNode(members)
		if n, reason := onNode(r.Left); n > 0 {
			s := reason.String()
			if n < had {
				s = "partial " + s
			}
			out = append(out, s)
		}
		if n, reason := onNode(r.Joined); n > 0 && reason != api.ReasonJoin {
			s := reason.String()
			if now, _ := onNode(r.Members); n < now {
				s = "partial " + s
			}
			out = append(out, s)
		}
		members = r.Members
	}
	return out
}

// selfDelivery checks that every message a process sent with CS_OK was
// delivered to it.
func selfDelivery(t *testing.T, recs []checker.Record) {
	t.Helper()
	sent := map[checker.Proc][]uint64{}
	got := map[checker.Proc]map[uint64]bool{}
	for _, r := range recs {
		switch {
		case r.Kind == checker.KindSent && r.OK:
			sent[r.Proc] = append(sent[r.Proc], r.Seq)
		case r.Kind == checker.KindDeliver && r.From == r.Proc:
			if got[r.Proc] == nil {
				got[r.Proc] = map[uint64]bool{}
			}
			got[r.Proc][r.Seq] = true
		}
	}
	for p, seqs := range sent {
		var missing []uint64
		for _, s := range seqs {
			if !got[p][s] {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%v sent %d messages with CS_OK and did not deliver %d of them to itself: %v", p, len(seqs), len(missing), missing[:min(len(missing), 20)])
		}
	}
}

// logConfchgs logs, per process, its confchgs and totem confchgs in order,
// with the number of messages it delivered between them. Processes are
// named c<client><handle> (c3b: client 3's beta handle).
func logConfchgs(t *testing.T, recs []checker.Record) {
	t.Helper()
	type key struct{ node, pid uint32 }
	name := map[key]string{}
	var procs []checker.Proc
	for _, r := range recs {
		k := key{r.Proc.Node, r.Proc.Pid}
		if _, ok := name[k]; !ok {
			name[k] = fmt.Sprintf("c%d%c", r.Proc.Inc/16, 'a'+byte(r.Proc.Inc%16))
			procs = append(procs, r.Proc)
		}
	}
	names := func(ms []checker.Member) string {
		var s []string
		for _, m := range ms {
			if n, ok := name[key{m.Node, m.Pid}]; ok {
				s = append(s, n)
			} else {
				s = append(s, fmt.Sprintf("%d/%d", m.Node, m.Pid))
			}
		}
		return strings.Join(s, " ")
	}
	slices.SortFunc(procs, func(a, b checker.Proc) int { return int(a.Inc) - int(b.Inc) })
	var b strings.Builder
	for _, p := range procs {
		var events []string
		delivered := 0
		flush := func() {
			if delivered > 0 {
				events = append(events, fmt.Sprintf("%d msgs", delivered))
				delivered = 0
			}
		}
		group := ""
		for _, r := range recs {
			if r.Proc != p {
				continue
			}
			switch r.Kind {
			case checker.KindDeliver:
				delivered++
			case checker.KindConfchg:
				flush()
				group = r.Group
				var e []string
				if len(r.Left) > 0 {
					e = append(e, fmt.Sprintf("-%s %s", names(r.Left), reasonOf(r.Left)))
				}
				if len(r.Joined) > 0 {
					e = append(e, fmt.Sprintf("+%s %s", names(r.Joined), reasonOf(r.Joined)))
				}
				events = append(events, fmt.Sprintf("%s {%s}", strings.Join(e, " "), names(r.Members)))
			case checker.KindTotem:
				flush()
				events = append(events, fmt.Sprintf("totem %d/%d %v", r.Ring.Node, r.Ring.Seq, r.Nodes))
			case checker.KindEnd:
				flush()
				if r.Killed {
					events = append(events, "KILLED")
				} else {
					events = append(events, "end")
				}
			}
		}
		fmt.Fprintf(&b, "\n%s (node %d, %s): %s", name[key{p.Node, p.Pid}], p.Node, group, strings.Join(events, " | "))
	}
	t.Logf("confchgs and totem confchgs at each process:%s", b.String())
}

// reasonOf returns the reasons of a confchg list, one if they all agree.
func reasonOf(ms []checker.Member) string {
	var rs []string
	for _, m := range ms {
		if s := m.Reason.String(); !slices.Contains(rs, s) {
			rs = append(rs, s)
		}
	}
	return strings.Join(rs, ",")
}

// clientOut returns a client's stdout and stderr, trimmed.
func clientOut(cl *proccluster.Client) string {
	b, _ := os.ReadFile(cl.Log + ".out")
	return strings.TrimSpace(string(b))
}
