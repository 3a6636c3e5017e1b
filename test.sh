#!/usr/bin/env bash
# Runs every test of actorcpg: the pure state machines and types as they
# are, everything where actors share state under the race detector.
set -euo pipefail
cd "$(dirname "$0")"
go test -count=1 ./api ./api/wire ./groups/... ./sequencer/... ./cluster/... ./remote/...
go test -count=1 -race -timeout 15m ./api/cpg/... ./actors/... ./tests/... ./examples/...
