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
// on resume it merges back. Its clients' calls wait or return
// CS_ERR_TRY_AGAIN meanwhile, never CS_ERR_LIBRARY, and nobody finalizes
// them as silent: every client process runs to the end, every message a
// process sent with CS_OK is delivered to itself, the property checker
// finds no violation, and the confchgs tell one story: the stalled node's
// processes see the others' leave (NODEDOWN) and come back (NODEUP), the
// others see its processes do the same.
//
// A run whose views were not the stall's own (a spurious view change on
// a loaded host, or a stall the others did not notice) is void for the
// NODEDOWN and NODEUP counts (attempt); the rest is checked on every run.
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
	finish := time.Now()
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

	// 5. The story each process saw, and which messages only the
	// sender's side delivered (behind a NODEDOWN and NODEUP at the others:
	// no violation, but worth seeing).
	logConfchgs(t, recs)
	logSideOnly(t, recs)
	logNodeTimeline(t, c, paused, finish)

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
	procs, name := procNames(recs)
	names := func(ms []checker.Member) string {
		var s []string
		for _, m := range ms {
			s = append(s, name(m.Node, m.Pid))
		}
		return strings.Join(s, " ")
	}
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
		fmt.Fprintf(&b, "\n%s (node %d, %s): %s", name(p.Node, p.Pid), p.Node, group, strings.Join(events, " | "))
	}
	t.Logf("confchgs and totem confchgs at each process:%s", b.String())
}

// logNodeTimeline logs, per node, its view changes, warnings, errors and
// client ends between since and until (when the clients began to stop),
// with the time since since.
func logNodeTimeline(t *testing.T, c *proccluster.Cluster, since, until time.Time) {
	t.Helper()
	var b strings.Builder
	for n := 1; n <= c.N(); n++ {
		var events []string
		for _, l := range c.ReadNodeLog(n) {
			if l.Time.Before(since) || l.Time.After(until) {
				continue
			}
			at := l.Time.Sub(since).Round(time.Millisecond)
			switch {
			case l.Message == proccluster.MsgViewChangeStarted:
				events = append(events, fmt.Sprintf("%v change", at))
			case l.Message == proccluster.MsgViewInstalled:
				events = append(events, fmt.Sprintf("%v view %d/%d %v", at, l.RingNode, l.RingSeq, l.Members))
			case strings.HasPrefix(l.Message, proccluster.MsgNotScheduled):
				events = append(events, fmt.Sprintf("%v not scheduled for %v", at, time.Duration(l.Gap*float64(time.Millisecond)).Round(time.Millisecond)))
			case l.Level == "warn" || l.Level == "error" || strings.HasPrefix(l.Message, "client"):
				events = append(events, fmt.Sprintf("%v %s %q", at, l.Level, l.Message))
			}
		}
		fmt.Fprintf(&b, "\nnode %d: %s", n, strings.Join(events, " | "))
	}
	t.Logf("the nodes since the stall began:%s", b.String())
}

// procNames returns the processes of recs, in client order, and their
// short names: c<client><handle> (c3b: client 3's second handle).
func procNames(recs []checker.Record) ([]checker.Proc, func(node, pid uint32) string) {
	type key struct{ node, pid uint32 }
	names := map[key]string{}
	var procs []checker.Proc
	for _, r := range recs {
		k := key{r.Proc.Node, r.Proc.Pid}
		if _, ok := names[k]; !ok {
			names[k] = fmt.Sprintf("c%d%c", r.Proc.Inc/16, 'a'+byte(r.Proc.Inc%16))
			procs = append(procs, r.Proc)
		}
	}
	slices.SortFunc(procs, func(a, b checker.Proc) int { return int(a.Inc) - int(b.Inc) })
	return procs, func(node, pid uint32) string {
		if n, ok := names[key{node, pid}]; ok {
			return n
		}
		return fmt.Sprintf("%d/%d", node, pid)
	}
}

// logSideOnly logs, per sender, the messages it delivered to itself that
// another process of its group skipped while delivering the sender's
// messages before and after them: what only the sender's side of a view
// change delivered.
func logSideOnly(t *testing.T, recs []checker.Record) {
	t.Helper()
	procs, name := procNames(recs)
	got := map[checker.Proc]map[checker.Proc][]uint64{} // receiver: origin: seqs
	for _, r := range recs {
		if r.Kind == checker.KindDeliver {
			if got[r.Proc] == nil {
				got[r.Proc] = map[checker.Proc][]uint64{}
			}
			got[r.Proc][r.From] = append(got[r.Proc][r.From], r.Seq)
		}
	}
	var lines []string
	for _, p := range procs {
		own := got[p][p]
		for _, q := range procs {
			theirs := got[q][p]
			if q == p || len(theirs) == 0 {
				continue
			}
			lo, hi := slices.Min(theirs), slices.Max(theirs)
			var missing []uint64
			for _, s := range own {
				if s > lo && s < hi && !slices.Contains(theirs, s) {
					missing = append(missing, s)
				}
			}
			if len(missing) > 0 {
				lines = append(lines, fmt.Sprintf("%s's %s (%d) not at %s", name(p.Node, p.Pid), seqRanges(missing), len(missing), name(q.Node, q.Pid)))
			}
		}
	}
	if len(lines) > 0 {
		t.Logf("delivered by the sender's side only: %s", strings.Join(lines, "; "))
	}
}

// seqRanges writes sorted seqs as ranges: 3-7,9.
func seqRanges(seqs []uint64) string {
	var out []string
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if j > i {
			out = append(out, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
		} else {
			out = append(out, fmt.Sprint(seqs[i]))
		}
		i = j + 1
	}
	return strings.Join(out, ",")
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
