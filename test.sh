#!/usr/bin/env bash
# Runs every test of actorcpg: the packages where actors share state under
# the race detector, the pure state machines without it.
set -euo pipefail
cd "$(dirname "$0")"
go test -count=1 ./api/... ./groups/... ./sequencer/... ./remote/...
go test -count=1 -race -timeout 15m ./actors/... ./tests/... ./examples/...
