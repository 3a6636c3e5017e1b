//go:build !race

package multinode

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/internal/wire"
	"github.com/actorcpg/actorcpg/remote"
)

// A three-node cluster with mutual TLS forms and delivers; then rogues
// hammer node 1 for a second with heartbeats claiming node 2 is alone
// in a view of a far higher ring (which, believed, starts a view
// change): one plain, one with a certificate of the cluster CA for node
// 4 (not in the node list), one with node 3's certificate speaking as
// node 2. Node 1 refuses each ("not TLS", "not authenticated", "forged
// sender"), the view stays the same ring, and the members still deliver.
func TestTLSClusterDeliversAndIgnoresRogues(t *testing.T) {
	pki, err := remote.NewTestPKI(t.TempDir(), []uint32{1, 2, 3, 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 3, func(cfg *remote.Config) {
		cfg.CryptoCA, cfg.CryptoCert, cfg.CryptoKey = pki.Node(cfg.NodeID)
	})
	for _, id := range c.ids {
		if cfg := c.node(id).Config(); cfg.Security() == nil {
			t.Fatalf("node %d runs without TLS", id)
		}
	}
	const group = "tls"
	ms := oneEach(t, c, group, []uint32{1, 2, 3}, 1, 2, 3)
	everyoneDelivers(t, group, ms...)
	ring := c.node(1).Ring()

	n1 := c.node(1)
	addr := n1.Address()
	lie := func() []byte {
		hb := &wire.PeerHeartbeat{From: 2, Ring: &api.RingId{Nodeid: 2, Seq: ring.Seq + 1000}, Members: []uint32{2},
			MaxSeq: ring.Seq + 1000, Incarnation: uint64(time.Now().UnixNano()) << 1, Seq: 1 << 40}
		b, err := proto.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		f := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
		return append(append(f, remote.LinkKind(hb)), b...)
	}
	hello := binary.LittleEndian.AppendUint32(nil, 3)
	hello = append(hello, "cpg"...)
	rogueTLS := func(id uint32) *tls.Config {
		_, cert, key := pki.Node(id)
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{remote.ALPNLink}, InsecureSkipVerify: true}
	}
	before := remote.LinkDrops(n1.System())
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		for _, cfg := range []*tls.Config{nil, rogueTLS(4), rogueTLS(3)} {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			var conn net.Conn = raw
			opening := []byte("CPGLINK1")
			if cfg != nil {
				conn, opening = tls.Client(raw, cfg), nil
			}
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			msg := append(append(opening, hello...), lie()...)
			for i := 0; i < 10; i++ {
				msg = append(msg, lie()...)
			}
			conn.Write(msg)
			var b [1]byte
			conn.Read(b[:]) // until the node closes it
			conn.Close()
		}
	}
	after := remote.LinkDrops(n1.System())
	for _, reason := range []string{"not TLS", "not authenticated", "forged sender"} {
		if after[reason] == before[reason] {
			t.Errorf("node 1 counted no %q: %v", reason, after)
		}
	}
	time.Sleep(3 * token) // a believed lie would have started a view change by now
	if got := c.waitView(1, 2, 3); !sameRing(got, ring) {
		t.Fatalf("the rogues moved the view from ring %s to %s", ringString(ring), ringString(got))
	}
	everyoneDelivers(t, group, ms...)
	checkStreams(t, ms...)
}
