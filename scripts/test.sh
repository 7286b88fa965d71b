#!/usr/bin/env bash
# Installs what the tests need (when missing), builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# golang-go: the pprof tests read exports with `go tool pprof`; chromium renders the HTML report.
# libjemalloc2 and libtcmalloc-minimal4: FaultTests run targets under another allocator.
# nodejs, erlang-base, python3, golang-go: RuntimeTests and NodeHeapTests run real runtimes (Go is
# built static from Examples/go-service). "Quick loop": swift test --skip-build --skip RuntimeTests ...
scripts/setup.sh golang-go chromium fonts-dejavu-core libjemalloc2 libtcmalloc-minimal4 nodejs erlang-base python3
scripts/build.sh debug >/dev/null
# A short fuzz run of the snapshot reader and unit parsers; scripts/fuzz.sh 600 for a long one.
scripts/fuzz.sh 20
swift test "$@"
