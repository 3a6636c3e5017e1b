#!/bin/bash
# overload.sh - memory under overload on a running 3-node cluster (cluster.sh up 3).
#
#   overload.sh [SECS] [SIZE] [DELAY]
#
# One cpgflood sender on node 1 floods a group with SIZE-byte messages (16
# KiB) for SECS seconds (30); receivers on nodes 1 and 2 keep up, the one
# on node 3 sleeps DELAY (2ms) per message, so it is about 7-10x slower
# than the sender. Prints every node's resident memory each 3 s, then the
# sender's and receivers' lines (try_again counts the sender's
# ErrTryAgain).
set -uo pipefail
SECS=${1:-30}
SIZE=${2:-16384}
DELAY=${3:-2ms}
HERE=$(cd "$(dirname "$0")" && pwd)
CL=$HERE/cluster.sh
BIN=$("$CL" bin)
DIR=${ACTORCPG_CLUSTER_DIR:-/tmp/actorcpg-cluster}
out=$(mktemp -d)
g=overload-$$
for k in 1 2; do
	"$CL" exec $k "$BIN/cpgflood" recv -g $g -t $((SECS + 120)) -n 1 >"$out/recv$k" 2>&1 &
done
ACTORCPG_FLOOD_RECV_DELAY=$DELAY "$CL" exec 3 "$BIN/cpgflood" recv -g $g -t $((SECS + 120)) -n 1 >"$out/recv3" 2>&1 &
sleep 0.5
"$CL" exec 1 "$BIN/cpgflood" send -g $g -s "$SIZE" -t "$SECS" -m 4 >"$out/send1" 2>&1 &
sender=$!
for ((t = 0; t <= SECS; t += 3)); do
	line="t=${t}s"
	for k in 1 2 3; do
		rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$(cat "$DIR/n$k/pid")/status" 2>/dev/null)
		line="$line node$k=${rss:-?}MiB"
	done
	echo "$line"
	sleep 3
done
wait $sender
wait
grep -h '^send ' "$out/send1"
grep -h '^recv ' "$out"/recv*
grep -h 'evict' "$DIR"/n*/log | head -3
rm -rf "$out"
