// Package testport picks loopback ports for tests that must know a node's
// address before the node listens (a cluster's node list).
//
// A port the kernel picks for a listener on ":0" comes from its ephemeral
// range, and so do the local ports of outgoing connections: between the
// pick and the node's bind, a connection another node opens may take it
// ("bind: address already in use"). Free picks below that range, where
// only listeners compete, and never hands out a port twice in a process.
package testport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// span is how many ports below the ephemeral range Free picks from.
const span = 12000

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Free returns "127.0.0.1:PORT" with a port below the kernel's ephemeral
// range that nobody listened on a moment ago and that this process has not
// handed out before. If none is found it falls back to a port the kernel
// picks.
func Free() (string, error) {
	low := ephemeralLow()
	first := max(1024, low-span)
	mu.Lock()
	defer mu.Unlock()
	start := rand.IntN(low - first)
	for i := 0; i < 500; i++ {
		port := first + (start+i*7919)%(low-first) // a prime stride: spread, no repeats for a while
		if handed[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		handed[port] = true
		return addr, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ephemeralLow returns the first port of the kernel's ephemeral range
// (Linux: /proc/sys/net/ipv4/ip_local_port_range), else 32768.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				return n
			}
		}
	}
	return 32768
}
