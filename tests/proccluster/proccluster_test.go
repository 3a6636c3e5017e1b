package proccluster

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/tests/checker"
)

func TestLastView(t *testing.T) {
	dir := t.TempDir()
	c := &Cluster{dir: dir, addrs: []string{"a"}}
	if _, ok := c.lastView(1); ok {
		t.Fatal("a missing log has a view")
	}
	lines := `{"level":"info","node":1,"ring_node":1,"ring_seq":2,"members":[1,2],"message":"view installed"}
cpgnode: node 1 listening
{"level":"info","node":1,"message":"view change started"}
{"level":"info","node":1,"ring_node":1,"ring_seq":4,"members":[1,2,3],"message":"view installed"}
{"level":"debug","node":1,"from":2,"type":"ViewState","message":"view message in"}
`
	os.WriteFile(c.NodeLog(1), []byte(lines), 0o644)
	l, ok := c.lastView(1)
	if !ok || l.RingSeq != 4 || len(l.Members) != 3 {
		t.Fatalf("last view %+v %v, want ring 1/4 of 3", l, ok)
	}
	f, _ := os.OpenFile(c.NodeLog(1), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"level":"info","node":1,"message":"view change started"}` + "\n")
	f.Close()
	if _, ok := c.lastView(1); ok {
		t.Fatal("a view change in progress is a settled view")
	}
	if v := c.Views(); len(v) != 2 {
		t.Fatalf("views %v, want 2", v)
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	p := checker.Proc{Node: 1, Pid: 7, Inc: 16}
	q := checker.Proc{Node: 2, Pid: 9, Inc: 32}
	f, _ := os.Create(path)
	w := checker.NewLogWriter(f)
	w.Confchg(p, &api.Confchg{Group: []byte("g"), Members: []*api.Address{{Nodeid: 1, Pid: 7}},
		Joined: []*api.Address{{Nodeid: 1, Pid: 7, Reason: uint32(api.ReasonJoin)}}})
	w.Sent(p, []byte("g"), 1, true)
	w.DeliverData(p, []byte("g"), 1, 7, checker.EncodeMsg(p, 1, 100))
	w.Sent(p, []byte("g"), 2, true)
	w.DeliverData(p, []byte("g"), 2, 9, checker.EncodeMsg(q, 5, 100))
	f.WriteString(`{"proc":{"node":1,"pid":7,"inc":16},"kind":"deli`) // cut short
	f.Close()

	var tl tail
	if err := tl.read(path); err != nil {
		t.Fatal(err)
	}
	ps := tl.procs[p]
	if ps == nil || !ps.joined || ps.group != "g" || ps.sent != 2 || ps.from[p] != 1 || ps.last != (msgID{q, 5}) {
		t.Fatalf("state %+v", ps)
	}
	if !tl.changed {
		t.Fatal("the first read found nothing new")
	}
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`ver","node":1,"pid":7,"from":{"node":1,"pid":7,"inc":16},"seq":2,"ok":true,"len":100,"group":"g"}` + "\n")
	f.Close()
	if err := tl.read(path); err != nil {
		t.Fatal(err)
	}
	if ps.from[p] != 2 || ps.last != (msgID{p, 2}) {
		t.Fatalf("after the rest of the line: %+v", ps)
	}
	if err := tl.read(path); err != nil || tl.changed {
		t.Fatalf("a read with nothing new: changed %v, %v", tl.changed, err)
	}
}

func TestParseHead(t *testing.T) {
	for _, line := range []string{
		`{"proc":{"node":3,"pid":4194307,"inc":112},"kind":"totem","ring":{"node":1,"seq":4},"nodes":[1,3,4,5]}`,
		`{"proc":{"node":3,"pid":4194309,"inc":113},"kind":"sent","seq":1,"ok":true,"group":"g1"}`,
		`{"proc":{"node":3,"pid":4194309,"inc":113},"kind":"sent","seq":7,"group":"g1"}`,
		`{"proc":{"node":5,"pid":4194312,"inc":194},"kind":"deliver","node":3,"pid":4194306,"from":{"node":3,"pid":4194306,"inc":129},"seq":400,"ok":true,"len":1100000,"group":"g2"}`,
		`{"proc":{"node":3,"pid":4194307,"inc":112},"kind":"end"}`,
		`{"proc":{"node":1,"pid":7,"inc":16},"kind":"confchg","members":[{"node":1,"pid":7}],"joined":[{"node":1,"pid":7,"reason":1}],"group":"g"}`,
	} {
		got, ok := parseHead([]byte(line))
		var want lineHead
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatal(err)
		}
		if want.Kind != checker.KindDeliver && want.Kind != checker.KindSent {
			got.Seq, want.Seq = 0, 0 // only read for deliveries and sends
		}
		if !ok || got != want {
			t.Errorf("%s:\n got %+v %v\nwant %+v", line, got, ok, want)
		}
	}
	if _, ok := parseHead([]byte(`{"kind":"end","proc":{"node":1,"pid":2,"inc":3}}`)); ok {
		t.Error("another field order parsed")
	}
}

func TestProcessStopped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if processStopped(cmd.Process.Pid) {
		t.Fatal("a running process is stopped")
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for !processStopped(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("SIGSTOP did not stop it")
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	for processStopped(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("SIGCONT did not continue it")
		}
		time.Sleep(time.Millisecond)
	}
}
