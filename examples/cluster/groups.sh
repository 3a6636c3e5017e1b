#!/bin/bash
# groups.sh - throughput with many groups on a running cluster (cluster.sh up N).
#
#   groups.sh G [SIZE] [SECS]
#
# Group g (1..G) gets one sender on node ((g-1) mod N)+1 and one receiver on
# the next node, both cpgflood; prints each group's receiver line and the
# sum of the receivers' msg/s. Every message is checked (CRC32C, sequence).
set -uo pipefail
G=${1:?usage: groups.sh G [SIZE] [SECS]}
SIZE=${2:-1024}
SECS=${3:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
CL=$HERE/cluster.sh
BIN=$("$CL" bin)
N=$(ls -d "${ACTORCPG_CLUSTER_DIR:-/tmp/actorcpg-cluster}"/n* 2>/dev/null | wc -l)
[ "$N" -ge 1 ] || { echo "groups.sh: no cluster running (cluster.sh up N)" >&2; exit 1; }
out=$(mktemp -d)
pids=()
for ((g = 1; g <= G; g++)); do
	s=$(((g - 1) % N + 1)); r=$((g % N + 1))
	"$CL" exec "$r" "$BIN/cpgflood" recv -g "grp$g-$$" -t $((SECS + 60)) -n 1 >"$out/recv$g" 2>&1 &
	pids+=($!)
done
sleep 0.5
for ((g = 1; g <= G; g++)); do
	s=$(((g - 1) % N + 1))
	"$CL" exec "$s" "$BIN/cpgflood" send -g "grp$g-$$" -s "$SIZE" -t "$SECS" -m 2 >"$out/send$g" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
total=0
for ((g = 1; g <= G; g++)); do
	line=$(grep '^recv ' "$out/recv$g" | tail -1)
	echo "group $g: $line"
	r=$(echo "$line" | grep -o 'msgs_per_s=[0-9.]*' | cut -d= -f2)
	total=$(awk -v a="$total" -v b="${r:-0}" 'BEGIN{printf "%.0f", a+b}')
done
echo "groups=$G size=$SIZE total_msgs_per_s=$total"
rm -rf "$out"
