#!/usr/bin/env bash
# Runs every test of actorcpg: the pure state machines and types as they
# are, everything where actors share state under the race detector.
#
# tests/multinode runs several nodes (several protoactor remotes) in one
# process. protoactor's remote.Start sets gRPC's global logger each time,
# which races the gRPC goroutines of the nodes already running: a data race
# in the dependency, not in actorcpg, so that package runs without -race.
# The same scenarios run race-checked across processes in tests/realproc.
#
# tests/sim (the deterministic simulator: 500 seeds, the injected-bug
# check and the regression seeds) and tests/chaos (random faults on five
# cpgnode processes, 20 s) print their summary lines (`sim: ...`,
# `sim-bugs: ...`, `chaos: seed=...`, `chaos: ...`); they run without -race
# (the simulator is one goroutine; the chaos nodes are separate processes,
# and the race detector would slow them into false failures). Their whole
# `go test -json` output is kept in $ACTORCPG_TEST_LOG_DIR (default: a new
# temporary directory) as sim-chaos.json, whose path the script prints at
# the end; the console gets the summary lines. A chaos run replays with
# its seed: `go test -v -run 'TestChaos$' ./tests/chaos/ -chaos.seed=N`.
# Longer runs: `go test ./tests/sim/ -run TestSim -sim.seeds=20000`,
# `go test ./tests/chaos/ -chaos.duration=10m`.
#
# tests/multinode prints `multinode: attempts=N void=M` (with -v): the
# scenario attempts a spurious view change spoiled; it fails when more than
# one in three is void. tests/realproc prints `realproc: ...` the same way.
#
# examples/kvstore/server also runs without -race: its test that shows
# the checker catching a write answered on local delivery needs a timing
# the race detector's slowdown misses (faults_norace_test.go says why).
#
# The race-checked packages run one at a time (-p 1): the real-process
# tests start several node and client processes, and on 2 cores they
# would starve the 1000-handle stress test running beside them.
set -euo pipefail
cd "$(dirname "$0")"
go test -count=1 ./api ./internal/... ./groups/... ./sequencer/... ./cluster/... ./remote/... ./tests/checker/... ./tests/multinode/... ./examples/kvstore/server/

logdir=${ACTORCPG_TEST_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/actorcpg-test.XXXXXX")}
mkdir -p "$logdir"
log=$logdir/sim-chaos.json
trap 'echo "test.sh: the go test -json output of tests/sim and tests/chaos is in $log"' EXIT

# output prints the Output of the test2json events of a go test -json file:
# the test's own text.
output() {
	if command -v jq >/dev/null; then
		jq -Rrj 'fromjson? | select(.Output != null) | .Output' "$1"
	else
		sed -nE 's/.*"Output":"(([^"\\]|\\.)*)".*/\1/p' "$1" |
			sed -e 's/\\n$//' -e 's/\\t/\t/g' -e 's/\\"/"/g' \
				-e 's/\\u003c/</g' -e 's/\\u003e/>/g' -e 's/\\u0026/\&/g' -e 's/\\\\/\\/g'
	fi
}

status=0
go test -count=1 -p 1 -json ./tests/sim/ ./tests/chaos/ >"$log" || status=$?
# The summary lines; grep finding none is no failure, go test failing is.
output "$log" | grep -E '^(sim:|sim-bugs:|chaos:|--- FAIL|FAIL|ok|panic)|caught it|violations|replay' || true
if [ "$status" -ne 0 ]; then
	echo "test.sh: tests/sim or tests/chaos failed (go test exit status $status)"
	exit "$status"
fi

# Every fuzz target runs briefly on top of its seed corpus (which the
# plain runs above and below already replay): ACTORCPG_FUZZTIME each
# (default 10s; 0 skips). Longer runs: go test -run '^$' -fuzz '^FuzzX$'
# -fuzztime 10m ./pkg. A finding is written under the package's
# testdata/fuzz and fails the run.
fuzztime=${ACTORCPG_FUZZTIME:-10s}
if [ "$fuzztime" != 0 ]; then
	go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
			echo "fuzz: $target ($pkg, $fuzztime)"
			go test -count=1 -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "$pkg" >"$logdir/fuzz-$target.log" 2>&1 ||
				{ cat "$logdir/fuzz-$target.log"; echo "test.sh: fuzz target $target failed"; exit 1; }
		done
	done
fi

go test -count=1 -race -p 1 -timeout 15m ./api/cpg/... ./actors/... ./cpgtest/... ./examples/... \
	$(go list ./tests/... | grep -v -e /tests/multinode -e /tests/checker -e /tests/sim -e /tests/chaos)
