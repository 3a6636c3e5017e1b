package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actorcpg/actorcpg/remote"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// cpgkeygen writes the CA, node and client files with keys 0600,
// certificates 0644 and the directory 0700; the certificates load and
// name their holder; a second run reuses the CA (new nodes are of the
// same cluster); an existing key is not replaced without -force.
func TestKeygenFilesModesReuseAndForce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	var out bytes.Buffer
	if err := run([]string{"-dir", dir, "-nodes", "1,2", "-clients", "bench"}, &out); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("dir mode %o, want 700", m)
	}
	want := map[string]os.FileMode{
		"ca.pem": 0o644, "ca-key.pem": 0o600, "node-1.pem": 0o644, "node-1-key.pem": 0o600,
		"node-2.pem": 0o644, "node-2-key.pem": 0o600, "client-bench.pem": 0o644, "client-bench-key.pem": 0o600,
	}
	for f, m := range want {
		if got := mode(t, filepath.Join(dir, f)); got != m {
			t.Errorf("%s: mode %o, want %o", f, got, m)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d files in %s, want %d (no temporary files left)", len(entries), dir, len(want))
	}
	sec, err := remote.LoadSecurity(remote.NodeTLSFiles(dir, 2))
	if err != nil {
		t.Fatal(err)
	}
	if sec.Self().Node != 2 {
		t.Fatalf("node-2.pem names %v", sec.Self())
	}
	if _, err := remote.LoadClientTLS(dir, "bench"); err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	key1, _ := os.ReadFile(filepath.Join(dir, "node-1-key.pem"))

	// Adding node 3 reuses the CA: node 3's certificate verifies with the
	// CA the first run made.
	if err := run([]string{"-dir", dir, "-nodes", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	if ca2, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); !bytes.Equal(ca1, ca2) {
		t.Fatal("the CA was replaced")
	}
	if !strings.Contains(out.String(), "reused CA") {
		t.Errorf("output %q does not say the CA was reused", out.String())
	}
	if _, err := remote.LoadSecurity(remote.NodeTLSFiles(dir, 3)); err != nil {
		t.Fatalf("node 3 does not verify with the first CA: %v", err)
	}

	// An existing key stays unless -force.
	err = run([]string{"-dir", dir, "-nodes", "1"}, &out)
	if err == nil || !strings.Contains(err.Error(), "node-1-key.pem exists") {
		t.Fatalf("second key for node 1: %v, want an error", err)
	}
	if k, _ := os.ReadFile(filepath.Join(dir, "node-1-key.pem")); !bytes.Equal(k, key1) {
		t.Fatal("node 1's key changed without -force")
	}
	if err := run([]string{"-dir", dir, "-nodes", "1", "-force"}, &out); err != nil {
		t.Fatal(err)
	}
	if k, _ := os.ReadFile(filepath.Join(dir, "node-1-key.pem")); bytes.Equal(k, key1) {
		t.Fatal("-force did not replace node 1's key")
	}
	if m := mode(t, filepath.Join(dir, "node-1-key.pem")); m != 0o600 {
		t.Errorf("replaced key mode %o, want 600", m)
	}
}

// Bad arguments are refused before anything is written.
func TestKeygenRefusesBadArguments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	for _, args := range [][]string{
		{"-nodes", "1"},
		{"-dir", dir, "-nodes", "0"},
		{"-dir", dir, "-nodes", "x"},
		{"-dir", dir, "-clients", "a/b"},
		{"-dir", dir},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("a refused run created the directory")
	}
}
