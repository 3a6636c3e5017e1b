package server

import "github.com/actorcpg/actorcpg/examples/kvstore/replica"

// HoldTransfers makes s keep the state transfer parts it would send
// while hold() is true (a donor stalled half-way).
func HoldTransfers(s *Server, hold func() bool) {
	s.do(func() {
		s.out.hold = func(msg []byte) bool { return replica.IsTransferPart(msg) && hold() }
	})
}
