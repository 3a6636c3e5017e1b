package actors

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
)

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func typeName(m any) string { return fmt.Sprintf("%T", m) }

// nilMessage reports whether m is a typed nil protobuf message, which an
// in-process sender can post; actors drop them instead of crashing.
func nilMessage(m any) bool {
	pm, ok := m.(interface{ ProtoReflect() protoreflect.Message })
	return ok && !pm.ProtoReflect().IsValid()
}

// isLocalAddr reports whether a remoting address ("host:port") is on this
// host: a loopback address or one of this host's interface addresses.
func isLocalAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range ifs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// randomName returns 128 random bits in hex, for actor names that must
// not be guessed.
func randomName() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("actors: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
