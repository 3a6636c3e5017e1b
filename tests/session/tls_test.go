package session

import (
	"crypto/tls"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
	"github.com/actorcpg/actorcpg/remote"
)

// tlsNode starts a node with the TLS material of a fresh cluster PKI
// (node 1, clients "alice" and "mallory") and returns it with the PKI.
func tlsNode(t *testing.T) (addr string, pki *remote.PKIFiles) {
	t.Helper()
	dir := t.TempDir()
	pki, err := remote.NewTestPKI(dir, []uint32{1}, []string{"alice", "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, func(c *remote.Config) {
		c.CryptoCA, c.CryptoCert, c.CryptoKey = pki.Node(1)
	})
	return n.Address(), pki
}

// TestTLSClientSession: over TCP, a node with TLS serves a client whose
// certificate its cluster's CA signed (cpg.WithTLS, or ACTORCPG_TLS_DIR and
// ACTORCPG_CLIENT_NAME), and refuses one without a certificate, one with
// another cluster's, and a plain session: CS_ERR_LIBRARY at Initialize,
// nothing served.
func TestTLSClientSession(t *testing.T) {
	addr, pki := tlsNode(t)
	cfg, err := remote.LoadClientTLS(pki.Dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a := watch(t, "tls-g", cpg.WithAddress(addr), cpg.WithTLS(cfg))
	if err := a.h.McastJoined(api.TypeAgreed, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	a.waitFor("over tls")

	// The environment's TLS material, on a node of its own (one process
	// has one session per node, whatever its options).
	addr2, pki2 := tlsNode(t)
	t.Setenv(cpg.EnvTLSDir, pki2.Dir)
	t.Setenv(cpg.EnvClientName, "mallory")
	b := watch(t, "tls-g", cpg.WithAddress(addr2))
	if err := b.h.McastJoined(api.TypeAgreed, []byte("env tls")); err != nil {
		t.Fatal(err)
	}
	b.waitFor("env tls")
	t.Setenv(cpg.EnvClientName, "nobody")
	if _, err := cpg.Initialize(&cpg.Callbacks{}, cpg.WithAddress("127.0.0.1:1")); !errors.Is(err, api.ErrLibrary) || !strings.Contains(err.Error(), cpg.EnvTLSDir) {
		t.Errorf("a client name with no certificate: %v, want ErrLibrary naming %s", err, cpg.EnvTLSDir)
	}

	other, err := remote.NewTestPKI(t.TempDir(), []uint32{1}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := remote.LoadClientTLS(other.Dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	noCert := cfg.Clone()
	noCert.Certificates = nil
	noCert.GetClientCertificate = nil
	for name, c := range map[string]*tls.Config{"another cluster's certificate": foreign, "no certificate": noCert} {
		conn, err := remote.DialSession(addr, c, 2*time.Second)
		if err == nil {
			// TLS 1.3: the server's verdict on the client certificate
			// arrives with the first read.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: session not refused at the handshake: %v", name, err)
		}
	}
	// A plain session on a TLS node: closed before anything is served.
	conn, err := remote.DialSession(addr, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 64)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("plain session on a TLS node: read %d bytes, %v; want the connection closed", n, err)
	}
}
