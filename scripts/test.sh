#!/usr/bin/env bash
# Installs what the tests need (when missing), builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh debug >/dev/null
swift test "$@"
