package remote

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// The client policy admits root and the node's own user (unless the test
// hook turns that off), and the listed users and groups; peers that are
// not local are not its to judge.
func TestAuthClientPolicy(t *testing.T) {
	p := ClientPolicy{UIDs: []uint32{1000}, GIDs: []uint32{50}}
	for _, c := range []struct {
		id   Identity
		want bool
	}{
		{Identity{Local: true, UID: 0}, true},
		{Identity{Local: true, UID: uint32(os.Getuid())}, true},
		{Identity{Local: true, UID: 1000, GID: 7}, true},
		{Identity{Local: true, UID: 4242, GID: 50}, true},
		{Identity{Local: true, UID: 4242, GID: 7}, false},
		{Identity{Node: 3}, true},
	} {
		if c.id.UID == 4242 && uint32(os.Getuid()) == 4242 {
			continue
		}
		if got := p.Admits(c.id); got != c.want {
			t.Errorf("%+v: admitted %v, want %v", c.id, got, c.want)
		}
	}
	trustRootAndSelf.Store(false)
	defer trustRootAndSelf.Store(true)
	if p.Admits(Identity{Local: true, UID: 0, GID: 0}) {
		t.Error("root admitted with the hook off and no list naming it")
	}
}

// The client socket is created with mode 0660 (a stale socket replaced,
// anything else refused); a peer the policy refuses is closed before its
// session is served; an admitted one is served with its kernel
// credentials. (It fails without the SO_PEERCRED check: the refused peer
// would be served.)
func TestAuthClientSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cpg.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	if _, err := ListenClientSocket(sys, path, ClientPolicy{}, zerolog.Nop()); err == nil {
		t.Fatal("a client socket replaced a regular file")
	}
	os.Remove(path)
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // leaves the socket file behind
	served := make(chan Identity, 4)
	ServeClients(sys, func(c net.Conn, id Identity) { served <- id; c.Close() })
	defer ServeClients(sys, nil)
	ln, err := ListenClientSocket(sys, path, ClientPolicy{}, zerolog.Nop())
	if err != nil {
		t.Fatal("stale socket not replaced: ", err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("client socket mode %v, want socket 0660", fi.Mode())
	}

	// Refused: nobody is listed and the hook ignores root and self.
	trustRootAndSelf.Store(false)
	// The node may close the refused connection before the magic is
	// written (EPIPE) or read (a reset): either way it is refused.
	if conn, err := DialSession("unix:"+path, nil, 2*time.Second); err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatal(err) // closed by the node: EOF, or reset (the magic unread)
		}
		conn.Close()
	} else if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
	trustRootAndSelf.Store(true)
	select {
	case id := <-served:
		t.Fatalf("a refused peer was served: %+v", id)
	case <-time.After(100 * time.Millisecond):
	}

	// Admitted: this process's own user.
	dialSocket(t, path)
	select {
	case id := <-served:
		if !id.Local || !id.Authenticated || id.UID != uint32(os.Getuid()) || id.GID != uint32(os.Getgid()) {
			t.Errorf("served as %+v", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an admitted peer was not served")
	}
}

func dialSocket(t *testing.T, path string) net.Conn {
	t.Helper()
	conn, err := DialSession("unix:"+path, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return conn
}
