// Package api holds the types every part of actorcpg shares: group names,
// process addresses, the CS error codes, and the protobuf messages that a
// handle receives (Deliver, Confchg, TotemConfchg) and that an application or
// the handle library sends to a node.
//
// It imports nothing of actorcpg. The calls that reach a node (the cpg_*
// functions in Go form) are in package api/cpg.
package api

//go:generate protoc -I .. --go_out=.. --go_opt=paths=source_relative api/cpg.proto internal/wire/wire.proto
