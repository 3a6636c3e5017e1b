package remote

import "testing"

// ClientSocketPath: the state dir's cpg.sock by default, the given path,
// or none with NoClientSocket, also with a state dir.
func TestClientSocketPathNone(t *testing.T) {
	for _, c := range []struct {
		state, socket, want string
	}{
		{"", "", ""},
		{"/var/lib/cpg", "", "/var/lib/cpg/cpg.sock"},
		{"/var/lib/cpg", "/run/cpg.sock", "/run/cpg.sock"},
		{"/var/lib/cpg", NoClientSocket, ""},
		{"", NoClientSocket, ""},
	} {
		cfg := Config{StateDir: c.state, ClientSocket: c.socket}
		if got := cfg.ClientSocketPath(); got != c.want {
			t.Errorf("state %q socket %q: ClientSocketPath() = %q, want %q", c.state, c.socket, got, c.want)
		}
	}
}
