// Package multinode holds actorcpg's multi-node conformance tests: three
// or more in-process nodes, each a protoactor ActorSystem with its own
// remoting listener on 127.0.0.1, linked over real loopback gRPC. The
// tests are named after the rules of CPG-SPEC section 14 that need more
// than one node (TestRuleNN_<What>: node failure and isolation, heal,
// virtual synchrony across a view change, TRY_AGAIN during a sync, large
// messages cut by a view change, ghosts, ring ids), plus whole-cluster
// scenarios: a node joining late, a node restarting, churn under a flood.
// Every message carries its sender's (nodeid, pid), a per-sender sequence
// number and a CRC32C (Castagnoli) of its bytes; every receiver checks
// them.
//
// The nodes run with a 1 s token (the load test with Corosync's 3 s),
// every wait polls with a generous deadline, and nothing asserts on
// time: other tests may load the machine's cores.
//
// Every handle records what it sees (confchgs, deliveries, totem
// confchgs, its sends, its end) into its cluster's checker.History, and
// the property checker (tests/checker) reads it when the test, or the
// scenario attempt, ends: a violation fails the test. A scenario that
// checks an exact sequence of confchgs skips those assertions when a view
// change it did not make split nodes that it keeps together (a spurious
// view change), logs it loudly ("SPURIOUS VIEW CHANGE") and runs again on
// a new cluster (attempts, at most three); the checker runs on the void
// attempt all the same. TestMain prints "multinode: attempts=N void=M" and
// fails the package run when more than one attempt in three was void.
//
// The package does not run under the race detector, and its test files
// carry the build constraint !race, so that `go test -race ./tests/...`
// finds no tests here instead of failing. The reason is a dependency, not
// actorcpg: protoactor-go's remote.Start sets gRPC's process-global logger
// (grpclog.SetLoggerV2) every time a node starts its remoting, while the
// gRPC goroutines of the nodes already running read that logger. With
// several nodes in one process, and nodes restarted in the middle of a
// test, the race detector reports that write, which no test can avoid.
// Run it without -race:
//
//	go test -count=1 ./tests/multinode/
//
// MULTINODE_LOG=debug (or info, warn, ...) sends the nodes' logs to stderr.
package multinode
