#!/usr/bin/env bash
# Installs what the tests need (when missing), builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# golang-go: the pprof tests read exports with `go tool pprof`; chromium renders the HTML report.
scripts/setup.sh golang-go chromium fonts-dejavu-core
scripts/build.sh debug >/dev/null
swift test "$@"
