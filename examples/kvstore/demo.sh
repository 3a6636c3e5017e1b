#!/bin/bash
# demo.sh - the kvstore's story on real processes, checked: three cpgnode
# processes (examples/cluster/cluster.sh up 3), one kvstore per node;
# writes; kvstore 3 and its node killed with SIGKILL; more writes; node 3
# and kvstore 3 restarted while a writer keeps writing, and waited for until
# the state transfer is done; then every replica's content hash and
# position, and exit 1 if they differ.
#
#   examples/kvstore/demo.sh
#
# The cluster's state, logs and binaries go to $ACTORCPG_CLUSTER_DIR
# (default /tmp/kvstore-demo, not cluster.sh's default, so that a cluster
# of someone else's keeps running); nodes listen on
# 127.0.0.1:$((ACTORCPG_BASE_PORT + K)) (base 7300) and kvstore K on
# 127.0.0.1:$((KVSTORE_HTTP_BASE + K)) (base 7350). KVSTORE_DEMO_KEYS
# sets the number of first writes (300).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export ACTORCPG_CLUSTER_DIR=${ACTORCPG_CLUSTER_DIR:-/tmp/kvstore-demo}
export ACTORCPG_BASE_PORT=${ACTORCPG_BASE_PORT:-7300}
HTTP_BASE=${KVSTORE_HTTP_BASE:-7350}
KEYS=${KVSTORE_DEMO_KEYS:-300}
CLUSTER=$REPO/examples/cluster/cluster.sh
DIR=$ACTORCPG_CLUSTER_DIR
BIN=$DIR/bin/kvstore
N=3

say() { echo "demo: $*"; }
url() { echo "http://127.0.0.1:$((HTTP_BASE + $1))"; }

cleanup() {
	local f
	[ -f "$DIR/writer.stop" ] || touch "$DIR/writer.stop" 2>/dev/null || true
	for f in "$DIR"/kv*.pid; do
		[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	"$CLUSTER" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

# until SECONDS WHAT CMD...: run CMD every 0.1 s until it succeeds.
until_ok() {
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	say "FAILED: $what within ${secs}s"
	dump
	exit 1
}

dump() { # every replica's status, for a failure's diagnosis
	local k
	for ((k = 1; k <= N; k++)); do
		echo "demo: kvstore $k status: $(curl -s -m 2 "$(url $k)/status" || echo unreachable)"
	done
}

primary() { curl -sf "$(url "$1")/status" | grep -q '"Primary":true'; }

start_kv() { # $1=K: kvstore K attached to node K's client socket
	"$CLUSTER" exec "$1" "$BIN" -http "127.0.0.1:$((HTTP_BASE + $1))" -n $N -chunk 2048 -window 1 \
		>>"$DIR/kv$1.log" 2>&1 &
	echo $! >"$DIR/kv$1.pid"
	disown $! # no job notice when it is killed
}

put() { curl -sf -o /dev/null -X PUT --data "$3" "$(url "$1")/kv/$2"; }

# writer: writes through replicas 1 and 2 until writer.stop exists, one
# line in writer.ok per committed write.
writer() {
	local i=0
	while [ ! -f "$DIR/writer.stop" ]; do
		i=$((i + 1))
		put $((i % 2 + 1)) "load$((i % 64))" "w$i" && echo "$i" >>"$DIR/writer.ok"
	done
}

mkdir -p "$DIR/bin"
(cd "$REPO" && go build -o "$BIN" ./examples/kvstore)
"$CLUSTER" up $N 2>&1 | sed 's/^/demo: /'
rm -f "$DIR"/kv*.log "$DIR/writer.ok" "$DIR/writer.stop"
for ((k = 1; k <= N; k++)); do start_kv $k; done
for ((k = 1; k <= N; k++)); do until_ok 60 "kvstore $k primary" primary $k; done
say "kvstore 1..$N serving on 127.0.0.1:$((HTTP_BASE + 1))..$((HTTP_BASE + N)), every replica primary"

PAD=$(printf '%01000d' 0) # 1 KB values: the state takes a few hundred parts
for ((i = 1; i <= KEYS; i++)); do
	put $((i % N + 1)) "key$i" "value-$i-$PAD" || { say "FAILED: write $i"; exit 1; }
done
say "$KEYS writes through replicas 1..$N"

pid=$(cat "$DIR/kv3.pid")
kill -KILL "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
until_ok 10 "kvstore 3 gone" gone
say "SIGKILL kvstore 3 (pid $pid)"
"$CLUSTER" kill 3 2>&1 | sed 's/^/demo: SIGKILL: /'
# The other two see node 3 leave; their replicas are a majority of 3 and
# stay primary once their new view's round is done.
for k in 1 2; do until_ok 60 "kvstore $k primary without node 3" primary $k; done

for ((i = 1; i <= 100; i++)); do
	put $((i % 2 + 1)) "more$i" "more-$i" || { say "FAILED: write more$i with two of three replicas"; exit 1; }
done
say "100 more writes through replicas 1 and 2"

writer &
writer_pid=$!
until_ok 60 "the writer's first write" test -s "$DIR/writer.ok"
before=$(wc -l <"$DIR/writer.ok")
"$CLUSTER" start 3 2>&1 | sed 's/^/demo: /'
start_kv 3
say "restarted node 3 and kvstore 3 (pid $(cat "$DIR/kv3.pid")) while the writer writes"
until_ok 60 "kvstore 3 synced" primary 3
after=$(wc -l <"$DIR/writer.ok")
st=$(curl -sf "$(url 3)/status")
field() { echo "$st" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
say "kvstore 3 synced: state transfers done: $(field TransfersDone), $((after - before)) writes committed while it joined, $(field AppliedAfterSnapshot) of them delivered during its transfer and applied after the snapshot"
writes_since() { [ "$(wc -l <"$DIR/writer.ok")" -ge $(($1 + 20)) ]; }
until_ok 60 "20 more writes with kvstore 3 back" writes_since "$after"
touch "$DIR/writer.stop"
wait "$writer_pid"
say "writer stopped after $(wc -l <"$DIR/writer.ok") writes"

positions() { # every replica's position, one line
	local k
	for ((k = 1; k <= N; k++)); do curl -sf "$(url $k)/hash" | grep -o '"term":[0-9]*,"index":[0-9]*' || echo none; done | sort -u | wc -l
}
one_position() { [ "$(positions)" = 1 ]; }
until_ok 60 "every replica at one position" one_position

hashes=()
for ((k = 1; k <= N; k++)); do
	h=$(curl -sf "$(url $k)/hash")
	hash=$(echo "$h" | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
	at=$(echo "$h" | sed 's/.*"term":\([0-9]*\),"index":\([0-9]*\),"keys":\([0-9]*\).*/term \1 index \2, \3 keys/')
	say "replica $k: $hash ($at)"
	hashes+=("$hash")
done
if [ "$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)" != 1 ]; then
	say "FAILED: the replicas differ"
	exit 1
fi
say "OK: all $N replicas identical"
