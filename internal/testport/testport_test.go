package testport

import (
	"net"
	"strconv"
	"testing"
)

// Free hands out distinct ports below the ephemeral range, each free to
// listen on.
func TestFreeGivesDistinctListenablePortsBelowTheEphemeralRange(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		addr, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		if port, _ := strconv.Atoi(p); port >= ephemeralLow() {
			t.Errorf("%s is in the ephemeral range (from %d)", addr, ephemeralLow())
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		l.Close()
	}
}
