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
# `chaos: ...`); they run without -race (the simulator is one goroutine; the
# chaos nodes are separate processes, and the race detector would slow them
# into false failures). Longer runs: `go test ./tests/sim/ -run TestSim
# -sim.seeds=20000`, `go test ./tests/chaos/ -chaos.duration=10m`.
#
# The race-checked packages run one at a time (-p 1): the real-process
# tests start several node and client processes, and on 2 cores they
# would starve the 1000-handle stress test running beside them.
set -euo pipefail
cd "$(dirname "$0")"
go test -count=1 ./api ./api/wire ./groups/... ./sequencer/... ./cluster/... ./remote/... ./tests/checker/... ./tests/multinode/...
go test -count=1 -p 1 -v ./tests/sim/ ./tests/chaos/ | grep -E '^(sim:|chaos:|--- FAIL|FAIL|ok|panic)|caught it|violations|replay'
go test -count=1 -race -p 1 -timeout 15m ./api/cpg/... ./actors/... ./examples/... \
	$(go list ./tests/... | grep -v -e /tests/multinode -e /tests/checker -e /tests/sim -e /tests/chaos)
