#!/bin/bash
# cluster.sh - start/stop local actorcpg nodes (cpgnode processes on 127.0.0.1),
# with the interface of the Corosync harness's cluster.sh, so that
# ../shared/bench/corosync-anchor/run.sh can measure both in one run.
#
#   cluster.sh up N        build, start N nodes and wait until they accept clients
#   cluster.sh down        stop every node this script started
#   cluster.sh exec K CMD  run CMD as a client attached to node K (ACTORCPG_NODE:
#                          its client socket; ACTORCPG_CLIENT_TCP=1: TCP, with TLS)
#   cluster.sh kill K      SIGKILL node K (a crash: no goodbye to the others)
#   cluster.sh start K     start node K again, as `up` did (its state dir keeps
#                          its ring sequence), and wait until it accepts clients
#   cluster.sh status      show what is running
#   cluster.sh bin         print the directory holding the built cpgnode and cpgflood
#
# Node K listens on 127.0.0.1:$((ACTORCPG_BASE_PORT + K)) (base 7100) and keeps
# its state (ring sequence) and log in $ACTORCPG_CLUSTER_DIR/nK
# (default /tmp/actorcpg-cluster). The nodes form one cluster: each knows
# the others (-peers) and `up` returns once every node has installed the
# view of all N. ACTORCPG_TOKEN sets the failure-detection timeout (default
# 1s, the Corosync harness's token). With ACTORCPG_PPROF_BASE=P set, node K
# serves net/http/pprof on 127.0.0.1:$((P + K)). ACTORCPG_NODE_CONF=FILE gives
# every node a config file (-c; e.g. totem/limits settings) under the flags.
#
# Nodes speak mutual TLS 1.3: `up` makes the cluster's keys with cpgkeygen
# in $ACTORCPG_CLUSTER_DIR/pki once (later runs reuse them, adding nodes)
# and starts every node with -tls; ACTORCPG_INSECURE=1 runs them plain.
# `exec` exports ACTORCPG_TLS_DIR (that directory) and ACTORCPG_CLIENT_NAME
# (bench, whose client certificate `up` makes) for the client.
set -uo pipefail

BASE=${ACTORCPG_CLUSTER_DIR:-/tmp/actorcpg-cluster}
PORT0=${ACTORCPG_BASE_PORT:-7100}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=$BASE/bin
PKI=$BASE/pki

log() { echo "cluster.sh: $*" >&2; }

build() {
	mkdir -p "$BIN"
	(cd "$REPO" && go build -o "$BIN/cpgnode" ./examples/cpgnode && go build -o "$BIN/cpgflood" ./examples/cpgflood &&
		go build -o "$BIN/cpgkeygen" ./examples/cpgkeygen) ||
		{ log "build failed"; exit 1; }
}

port_of() { echo $((PORT0 + $1)); }

wait_listening() { # $1=port
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

cmd_up() {
	local n=${1:-}
	[[ "$n" =~ ^[1-9]$ ]] || { log "usage: cluster.sh up N (1..9)"; exit 64; }
	cmd_down >/dev/null 2>&1
	build
	local k j members="" tls=()
	for ((k = 1; k <= n; k++)); do
		members+="${members:+,}$k"
	done
	if [ "${ACTORCPG_INSECURE:-}" != 1 ]; then
		keys "$members" || { log "cpgkeygen failed"; exit 1; }
		tls=(-tls "$PKI")
	fi
	for ((k = 1; k <= n; k++)); do
		mkdir -p "$BASE/n$k"
		: >"$BASE/n$k/log" # a new cluster, a new log (start appends to it)
		start_node "$k" "$n" "${tls[@]}"
	done
	for ((k = 1; k <= n; k++)); do
		wait_listening "$(port_of "$k")" || { log "node $k did not start; see $BASE/n$k/log"; cmd_down; exit 1; }
	done
	# Every node logs each view it installs; wait for the view of all n.
	local i ok
	for ((i = 0; i < 300; i++)); do
		ok=1
		for ((k = 1; k <= n; k++)); do
			[ "$n" -eq 1 ] && break
			grep '"view installed"' "$BASE/n$k/log" 2>/dev/null | tail -1 | grep -q "\"members\":\[$members\]" || ok=0
		done
		[ "$ok" = 1 ] && break
		sleep 0.1
	done
	[ "$ok" = 1 ] || { log "the $n nodes did not form one view; see $BASE/n*/log"; cmd_down; exit 1; }
	echo "$n" >"$BASE/size"
	log "up: $n node(s) on 127.0.0.1:$(port_of 1).."
}

start_node() { # $1=K $2=N [tls flags...]: start node K of a cluster of N
	local k=$1 n=$2 j d=$BASE/n$1 peers=""
	shift 2
	for ((j = 1; j <= n; j++)); do
		[ "$j" -ne "$k" ] && peers+="${peers:+,}$j=127.0.0.1:$(port_of "$j")"
	done
	mkdir -p "$d/state"
	GOMAXPROCS=${ACTORCPG_NODE_PROCS:-${GOMAXPROCS:-}} ACTORCPG_PPROF=${ACTORCPG_PPROF_BASE:+127.0.0.1:$((ACTORCPG_PPROF_BASE + k))} "$BIN/cpgnode" ${ACTORCPG_NODE_CONF:+-c "$ACTORCPG_NODE_CONF"} -id "$k" -listen "127.0.0.1:$(port_of "$k")" ${peers:+-peers "$peers"} \
		"$@" -token "${ACTORCPG_TOKEN:-1s}" -state "$d/state" -log ${ACTORCPG_LOG:-info} >>"$d/log" 2>&1 &
	echo $! >"$d/pid"
}

cmd_kill() { # SIGKILL node K
	local k=${1:-} p
	[[ "$k" =~ ^[1-9]$ ]] && [ -f "$BASE/n$k/pid" ] || { log "usage: cluster.sh kill K (a node of the cluster)"; exit 64; }
	p=$(cat "$BASE/n$k/pid")
	if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = cpgnode ]; then
		kill -KILL "$p" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	fi
	log "killed node $k (pid $p)"
}

cmd_start() { # start node K again, as up did
	local k=${1:-} n tls=()
	n=$(cat "$BASE/size" 2>/dev/null) || { log "cluster.sh start: no cluster is up"; exit 64; }
	[[ "$k" =~ ^[1-9]$ ]] && [ "$k" -le "$n" ] || { log "usage: cluster.sh start K (1..$n)"; exit 64; }
	local p
	p=$(cat "$BASE/n$k/pid" 2>/dev/null)
	if [ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = cpgnode ]; then
		log "node $k is running (pid $p)"
		exit 1
	fi
	[ "${ACTORCPG_INSECURE:-}" != 1 ] && tls=(-tls "$PKI")
	start_node "$k" "$n" "${tls[@]}"
	wait_listening "$(port_of "$k")" || { log "node $k did not start; see $BASE/n$k/log"; exit 1; }
	log "started node $k (pid $(cat "$BASE/n$k/pid"))"
}

keys() { # $1=node ids, comma-separated: make the keys not made yet in $PKI
	local ids="" id
	for id in ${1//,/ }; do
		[ -f "$PKI/node-$id-key.pem" ] || ids+="${ids:+,}$id"
	done
	local args=()
	[ -n "$ids" ] && args+=(-nodes "$ids")
	[ -f "$PKI/client-bench-key.pem" ] || args+=(-clients bench)
	[ ${#args[@]} -eq 0 ] && return 0
	"$BIN/cpgkeygen" -dir "$PKI" "${args[@]}" >/dev/null
}

cmd_down() {
	local f p
	for f in "$BASE"/n*/pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = cpgnode ]; then
			kill -TERM "$p" 2>/dev/null
			for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null
		fi
		rm -f "$f"
	done
	rm -f "$BASE/size"
}

cmd_exec() {
	local k=${1:-}
	shift || true
	[[ "$k" =~ ^[1-9]$ ]] && [ $# -gt 0 ] || { log "usage: cluster.sh exec K CMD..."; exit 64; }
	# A client on the node's host comes in on its client socket (like
	# Corosync's local IPC: the kernel says who it is); with
	# ACTORCPG_CLIENT_TCP=1 it attaches over TCP instead, with the client
	# certificate "bench" unless the cluster runs insecure.
	if [ "${ACTORCPG_CLIENT_TCP:-}" = 1 ]; then
		if [ "${ACTORCPG_INSECURE:-}" != 1 ]; then
			export ACTORCPG_TLS_DIR=$PKI ACTORCPG_CLIENT_NAME=bench
		fi
		ACTORCPG_NODE=127.0.0.1:$(port_of "$k") exec "$@"
	fi
	ACTORCPG_NODE=unix:$BASE/n$k/state/cpg.sock exec "$@"
}

cmd_status() {
	local f p k
	for f in "$BASE"/n*/pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		k=${f%/pid}
		k=${k##*/n}
		if kill -0 "$p" 2>/dev/null; then
			echo "node $k: pid $p, 127.0.0.1:$(port_of "$k")"
		else
			echo "node $k: not running (pid $p)"
		fi
	done
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
exec) shift; cmd_exec "$@" ;;
kill) shift; cmd_kill "$@" ;;
start) shift; cmd_start "$@" ;;
status) cmd_status ;;
bin) echo "$BIN" ;;
*) echo "usage: cluster.sh up N | down | exec K CMD... | kill K | start K | status | bin" >&2; exit 64 ;;
esac
