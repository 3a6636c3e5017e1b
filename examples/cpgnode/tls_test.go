package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/actorcpg/actorcpg/remote"
)

// -tls DIR gives the node its cpgkeygen files; a directory without this
// node's certificate, or a certificate naming another node, is an error
// naming -tls.
func TestTLSFlag(t *testing.T) {
	dir := t.TempDir()
	if _, err := remote.NewTestPKI(dir, []uint32{1, 2}, nil); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := configure([]string{"-id", "2", "-listen", "127.0.0.1:7102", "-peers", "1=127.0.0.1:7101", "-tls", dir})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Security(); s == nil || s.Self().Node != 2 {
		t.Fatalf("security %v, want node 2's", s)
	}
	_, _, err = configure([]string{"-id", "3", "-listen", "127.0.0.1:7103", "-tls", dir})
	if err == nil || !strings.HasPrefix(err.Error(), "-tls: ") || !strings.Contains(err.Error(), "node-3.pem") {
		t.Fatalf("node 3 without its files: %v, want an error about -tls and node-3.pem", err)
	}
}

// The file's crypto keys: all three load; one missing is named with the
// file and line of those given; a certificate of another node is refused.
func TestTLSConfigFileKeys(t *testing.T) {
	dir := t.TempDir()
	p, err := remote.NewTestPKI(dir, []uint32{1, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key := p.Node(1)
	good := writeConf(t, fmt.Sprintf("totem {\n crypto_ca: %s\n crypto_cert: %s\n crypto_key: %s\n}\nlocal {\n nodeid: 1\n}\n", ca, cert, key))
	cfg, _, err := configure([]string{"-c", good})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Security() == nil {
		t.Fatal("no TLS from the file's crypto keys")
	}
	missing := writeConf(t, fmt.Sprintf("totem {\n crypto_ca: %s\n crypto_cert: %s\n}\nlocal {\n nodeid: 1\n}\n", ca, cert))
	_, _, err = configure([]string{"-c", missing})
	if err == nil || !strings.Contains(err.Error(), "node.conf:2: totem.crypto_ca: needs crypto_key too") {
		t.Fatalf("missing crypto_key: %v", err)
	}
	_, cert2, key2 := p.Node(2)
	other := writeConf(t, fmt.Sprintf("totem {\n crypto_ca: %s\n crypto_cert: %s\n crypto_key: %s\n}\nlocal {\n nodeid: 1\n}\n", ca, cert2, key2))
	_, _, err = configure([]string{"-c", other})
	if err == nil || !strings.Contains(err.Error(), "node.conf:3: totem.crypto_cert: ") || !strings.Contains(err.Error(), "names node 2, not this node (nodeid 1)") {
		t.Fatalf("node 2's certificate on node 1: %v", err)
	}
	cipher := writeConf(t, "totem {\n crypto_cipher: aes256\n}\n")
	_, _, err = configure([]string{"-c", cipher})
	if err == nil || !strings.Contains(err.Error(), "node.conf:2: totem.crypto_cipher: not supported") || !strings.Contains(err.Error(), "crypto_ca") {
		t.Fatalf("crypto_cipher: %v", err)
	}
}
