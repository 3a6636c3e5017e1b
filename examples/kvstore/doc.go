// Command kvstore is a replicated key-value store on CPG: each kvstore
// process holds a replica and is a member of one CPG group; writes are
// multicast and applied by every replica in the group's agreed order,
// and answered once a majority of the replicas has applied them.
//
//	examples/cluster/cluster.sh up 3
//	examples/cluster/cluster.sh exec 1 go run ./examples/kvstore -http 127.0.0.1:7401 -n 3 &
//	... (one per node) ...
//	curl -X PUT --data hello http://127.0.0.1:7401/kv/greeting
//	curl 'http://127.0.0.1:7402/kv/greeting?consistent=1'
//	examples/kvstore/demo.sh          # the whole story, checked
//
// A kvstore attaches to the node named by ACTORCPG_NODE (cluster.sh exec
// sets it to the node's client socket) or, with -embedded, starts its own
// single node. Its HTTP API listens on 127.0.0.1 only (-http):
//
//	GET    /kv/{key}               the local replica's value (200, 404): fast, possibly stale
//	GET    /kv/{key}?consistent=1  a read marker goes through the order: the value there (200, 404)
//	PUT    /kv/{key}               the body is the value; 200 once committed
//	DELETE /kv/{key}               200 once committed
//	GET    /hash                   {"hash","term","index","keys"}: content hash and position
//	GET    /status                 the replica's state (phase, term, members, transfer, ...)
//
// A write or consistent read is refused with 503 when the replica is not
// in the primary component or is still receiving the state (nothing was
// sent: it did not happen), and answered 504 when it was not committed
// within -timeout (its outcome is unknown: it may still be applied).
//
// # Consistency and partitions
//
// Writes and consistent reads are linearizable. The policy is primary
// component: a side of a partition takes writes and consistent reads
// only while its replicas holding the state are a majority of the
// configured replicas (-n, one per node; a replica is known by its node
// id); a minority side refuses them, and when the sides merge its
// replicas receive the majority's state. Local reads are served
// everywhere, stale on a minority side.
//
// The replicas start serving once all -n of them are up (the empty
// store); after that a replica that restarts gets the state from the
// others. There is no persistence: if a majority of the replicas lose
// their memory at once, the rest cannot tell whether they hold every
// committed write, and the store refuses writes (it does not guess).
//
// The protocol (formation rounds, quorum-acknowledged commit, state
// transfer) is the replica package's, a deterministic state machine; the
// server package is the process around it.
package main
