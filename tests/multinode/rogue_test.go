//go:build !race

package multinode

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote"
)

// TestRogueTrafficLeavesTheHistoryClean: three members of a TLS cluster
// flood a group for three seconds while, at node 1, a rogue peer (plain;
// node 4's certificate, not in the node list; node 3's certificate
// speaking as node 2) sends Ordered frames for the group and heartbeats
// that claim a higher ring, and a rogue client with the cluster's client
// certificate names handles it does not own in multicasts, joins,
// leaves and finalizes, with forged reply_to PIDs, and opens sessions
// that send garbage. The property checker (run over every member's
// history when the test ends) must find no violation, every member's
// stream must be whole and in order, and the view must not move.
func TestRogueTrafficLeavesTheHistoryClean(t *testing.T) {
	pki, err := remote.NewTestPKI(t.TempDir(), []uint32{1, 2, 3, 4}, []string{"mallory"})
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 3, func(cfg *remote.Config) {
		cfg.CryptoCA, cfg.CryptoCert, cfg.CryptoKey = pki.Node(cfg.NodeID)
	})
	const group = "rogue"
	ms := oneEach(t, c, group, []uint32{1, 2, 3}, 1, 2, 3)
	everyoneDelivers(t, group, ms...)
	ring := c.node(1).Ring()
	addr := c.node(1).Address()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, len(ms))
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- m.flood(stop, 200, 0)
		}()
	}
	wg.Add(2)
	// The rogue peer forges the next seqs of the group, as far as a
	// member's deliveries tell, in the name of node 2's member: believed,
	// they would take the place of the real events at node 1.
	next := func() uint64 { return uint64(ms[0].count()) }
	victim := ms[1].h.Pid()
	go func() { defer wg.Done(); roguePeer(t, addr, pki, ring, victim, next, stop) }()
	go func() { defer wg.Done(); rogueClient(t, addr, pki, stop) }()
	time.Sleep(3 * time.Second) // the length of the run, not an assertion
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("flood: %v", err)
		}
	}
	before := remote.LinkDrops(c.node(1).System())
	for _, reason := range []string{"not TLS", "not authenticated", "forged sender", "bad body"} {
		if before[reason] == 0 {
			t.Errorf("node 1 counted no %q: the rogues did not run (%v)", reason, before)
		}
	}
	if got := c.waitView(1, 2, 3); !sameRing(got, ring) {
		t.Fatalf("the rogues moved the view from ring %s to %s", ringString(ring), ringString(got))
	}
	everyoneDelivers(t, group, ms...)
	checkStreams(t, ms...)
}

// roguePeer opens links to addr until stop, each sending an Ordered
// frame of the next 1000 seqs of group "rogue" (from next) as
// multicasts of node 2's member pid, and a heartbeat of a higher ring:
// plain, as node 4 (not listed) and as node 3 claiming node 2.
func roguePeer(t *testing.T, addr string, pki *remote.PKIFiles, ring *api.RingId, pid uint32, next func() uint64, stop <-chan struct{}) {
	frame := func(m proto.Message) []byte {
		b, _ := proto.Marshal(m)
		f := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
		return append(append(f, remote.LinkKind(m)), b...)
	}
	hello := append(binary.LittleEndian.AppendUint32(nil, 3), "cpg"...)
	as := func(id uint32) *tls.Config {
		_, cert, key := pki.Node(id)
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Error(err)
			return nil
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{remote.ALPNLink}, InsecureSkipVerify: true}
	}
	cfgs := []*tls.Config{nil, as(4), as(3)}
	for {
		select {
		case <-stop:
			return
		default:
		}
		for _, cfg := range cfgs {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			var conn net.Conn = raw
			msg := []byte("CPGLINK1")
			if cfg != nil {
				conn, msg = tls.Client(raw, cfg), nil
			}
			conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
			msg = append(msg, hello...)
			forged := &wire.Ordered{Group: []byte("rogue"), Ring: ring, From: 2}
			for seq := next(); len(forged.Events) < 1000; seq++ {
				forged.Events = append(forged.Events, &wire.GroupEvent{Seq: seq, Kind: wire.Kind_KIND_MCAST, Nodeid: 2, Pid: pid, Data: []byte("forged")})
			}
			msg = append(msg, frame(forged)...)
			msg = append(msg, frame(&wire.PeerHeartbeat{From: 2, Ring: &api.RingId{Nodeid: 2, Seq: ring.Seq + 1000},
				Members: []uint32{2}, MaxSeq: ring.Seq + 1000, Seq: 1 << 40})...)
			conn.Write(msg)
			conn.Read(make([]byte, 1)) // until the node closes it
			conn.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rogueClient holds a TLS session on addr as client "mallory" until stop:
// it names handles it does not own (ids 2..9; its own is 1) in every
// request and multicast, with reply_to PIDs of other actors, and opens
// sessions that send a frame of garbage.
func rogueClient(t *testing.T, addr string, pki *remote.PKIFiles, stop <-chan struct{}) {
	cfg, err := remote.LoadClientTLS(pki.Dir, "mallory")
	if err != nil {
		t.Error(err)
		return
	}
	raw, err := remote.DialSession(addr, cfg, 2*time.Second)
	if err != nil {
		t.Error(err)
		return
	}
	sc := remote.NewClientSession(raw)
	defer sc.Close()
	go func() { // replies and events: read and dropped
		for {
			if _, err := sc.Read(); err != nil {
				return
			}
		}
	}()
	sc.Send(1, 1, remote.NewFrame(&api.InitRequest{Handle: 1}))
	forged := &api.Pid{Address: addr, Id: "cpg"}
	corr := uint32(1)
	for {
		select {
		case <-stop:
			return
		default:
		}
		for h := uint64(2); h < 10; h++ {
			for _, m := range []proto.Message{
				&api.McastRequest{Guarantee: uint32(api.TypeAgreed), Data: []byte("in another's name")},
				&api.JoinRequest{Group: []byte("rogue"), ReplyTo: forged},
				&api.LeaveRequest{Group: []byte("rogue"), ReplyTo: forged},
				&api.FinalizeRequest{ReplyTo: forged},
			} {
				corr++
				sc.Send(h, corr, remote.NewFrame(m))
			}
		}
		if g, err := remote.DialSession(addr, cfg, 2*time.Second); err == nil {
			// [len 16][kind JoinRequest][handle 1][corr 1][16 bytes that do not decode]
			garbage := binary.LittleEndian.AppendUint32(nil, 16)
			garbage = append(garbage, remote.LinkKind(&api.JoinRequest{}))
			garbage = binary.LittleEndian.AppendUint64(garbage, 1)
			garbage = binary.LittleEndian.AppendUint32(garbage, 1)
			for range 16 {
				garbage = append(garbage, 0xff)
			}
			g.Write(garbage)
			g.SetReadDeadline(time.Now().Add(2 * time.Second))
			g.Read(make([]byte, 1))
			g.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
}
