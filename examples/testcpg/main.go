// Command testcpg is an interactive port of Corosync's test/testcpg.c: it
// joins a group, prints every confchg and every delivered message, and
// multicasts each line typed on stdin. EXIT (or end of input) leaves the
// group and quits.
//
// With no configuration it runs on an embedded single node; with
// ACTORCPG_NODE=127.0.0.1:PORT (or -node) it attaches to a cpgnode process.
//
//	printf 'hello\nEXIT\n' | go run ./examples/testcpg
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/actorcpg/actorcpg/actors" // the embedded default node (cpg.DefaultNode)
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

func main() {
	group := flag.String("g", "GROUP", "group `name` to join")
	node := flag.String("node", "", "attach to the node at `host:port` (default: $ACTORCPG_NODE, else an embedded node)")
	ipv4 := flag.Bool("i", false, "show node ids as IPv4 addresses")
	flag.Parse()
	if flag.NArg() > 0 { // testcpg [groupname]
		*group = flag.Arg(0)
	}
	os.Exit(run([]byte(*group), *node, *ipv4))
}

type session struct {
	name  []byte
	ipv4  bool
	quit  bool
	local uint32
}

func (s *session) nodeStr(id uint32) string {
	if s.ipv4 {
		return fmt.Sprintf("%d.%d.%d.%d", byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	return fmt.Sprint(id)
}

func (s *session) deliver(h *cpg.Handle, group []byte, nodeid, pid uint32, msg []byte) {
	text := strings.TrimRight(string(msg), "\x00")
	fmt.Printf("DeliverCallback: message (len=%d)from node/pid %s/%d: '%s'\n", len(msg), s.nodeStr(nodeid), pid, strings.TrimRight(text, "\n"))
}

func (s *session) confchg(h *cpg.Handle, group []byte, members, left, joined []*api.Address) {
	fmt.Printf("\nConfchgCallback: group '%s'\n", printable(group))
	fmt.Printf("Local node id is %s/%d result 1\n", s.nodeStr(s.local), h.Pid())
	for _, a := range joined {
		fmt.Printf("joined node/pid %s/%d reason: %d\n", s.nodeStr(a.Nodeid), a.Pid, a.Reason)
	}
	for _, a := range left {
		fmt.Printf("left node/pid %s/%d reason: %d\n", s.nodeStr(a.Nodeid), a.Pid, a.Reason)
	}
	fmt.Printf("nodes in group now %d\n", len(members))
	for _, a := range members {
		fmt.Printf("node/pid %s/%d\n", s.nodeStr(a.Nodeid), a.Pid)
	}
	for _, a := range left {
		if a.Nodeid == s.local && a.Pid == h.Pid() {
			fmt.Println("We have left the building")
			s.quit = true
		}
	}
}

func (s *session) totem(h *cpg.Handle, ring *api.RingId, members []uint32) {
	fmt.Printf("\nTotemConfchgCallback: ringid (%s.%d)\n", s.nodeStr(ring.GetNodeid()), ring.GetSeq())
	fmt.Printf("active processors %d:", len(members))
	for _, m := range members {
		fmt.Printf(" %s", s.nodeStr(m))
	}
	fmt.Println()
}

// printable escapes a binary group name the way corosync-cpgtool does.
func printable(name []byte) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// retry runs f while it returns ErrTryAgain (testcpg's cs_repeat), up to 30
// times with a growing pause, dispatching in between.
func retry(h *cpg.Handle, f func() error) error {
	var err error
	for i := 1; i <= 30; i++ {
		if err = f(); !errors.Is(err, api.ErrTryAgain) {
			return err
		}
		if h != nil {
			_ = h.Dispatch(api.DispatchAll)
		}
		time.Sleep(time.Duration(i) * 10 * time.Millisecond)
	}
	return err
}

func run(name []byte, node string, ipv4 bool) int {
	s := &session{name: name, ipv4: ipv4}
	opts := []cpg.Option{cpg.WithPid(uint32(os.Getpid()))}
	if node != "" {
		opts = append(opts, cpg.WithAddress(node))
	}
	var h *cpg.Handle
	err := retry(nil, func() error {
		var err error
		h, err = cpg.ModelInitialize(api.ModelV1, &cpg.ModelV1Data{
			Deliver: s.deliver, Confchg: s.confchg, TotemConfchg: s.totem,
			Flags: api.ModelV1DeliverInitialTotemConf,
		}, nil, opts...)
		return err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Could not initialize Cluster Process Group API instance error %d\n", api.CodeOf(err))
		return 1
	}
	fmt.Println("Type EXIT to finish")
	if s.local, err = h.LocalGet(); err != nil {
		fmt.Fprintf(os.Stderr, "Could not get local node id: %v\n", err)
		return 1
	}
	fmt.Printf("Local node id is %s\n", s.nodeStr(s.local))
	if err := retry(h, func() error { return h.Join(name) }); err != nil {
		fmt.Fprintf(os.Stderr, "Could not join process group, error %d\n", api.CodeOf(err))
		return 1
	}
	members, _ := h.MembershipGet(name)
	fmt.Println("membership list")
	for _, a := range members {
		fmt.Printf("node/pid %s/%d\n", s.nodeStr(a.Nodeid), a.Pid)
	}

	input := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			input <- sc.Text()
		}
		close(input)
	}()
	lines := input
	ready, _ := h.FdGet()
	leaving := false
	for !s.quit {
		select {
		case line, ok := <-lines:
			if !ok || line == "EXIT" {
				lines = nil
				if !leaving {
					leaving = true
					if err := retry(h, func() error { return h.Leave(name) }); err != nil {
						fmt.Fprintf(os.Stderr, "Leave error %d\n", api.CodeOf(err))
						return 1
					}
				}
				continue
			}
			msg := bytes.Join([][]byte{[]byte(line), []byte("\n\x00")}, nil)
			if err := retry(h, func() error { return h.McastJoined(api.TypeAgreed, msg) }); err != nil {
				fmt.Fprintf(os.Stderr, "Mcast error %d\n", api.CodeOf(err))
			}
		case <-ready:
			if err := h.Dispatch(api.DispatchAll); err != nil {
				fmt.Fprintf(os.Stderr, "Dispatch error %d\n", api.CodeOf(err))
				return 1
			}
		}
	}
	err = h.Finalize()
	fmt.Printf("Finalize  result is %d (should be 1)\n", api.CodeOf(err))
	return 0
}
