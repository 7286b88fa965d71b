#!/usr/bin/env bash
# Profiles the bundled leaky example for about 20 seconds and prints memdrift's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/build.sh release)"
session="$(mktemp -d /tmp/memdrift-demo.XXXXXX)"
echo "memdrift demo: recording $bin/leaky-server for 20s into $session" >&2
"$bin/memdrift" run --duration 20s --interval 2s --output "$session" -- "$bin/leaky-server" 0
