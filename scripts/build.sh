#!/usr/bin/env bash
# Builds memdrift, its tracker and the examples. Usage: scripts/build.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-release}"
scripts/setup.sh
swift build -c "$config" >&2
bin="$(swift build -c "$config" --show-bin-path)"
# SwiftPM cannot give a library product the executable's name, so the tracker is built as
# libmemdrift-preload.so; libmemdrift.so is the conventional name users preload by hand.
ln -sf libmemdrift-preload.so "$bin/libmemdrift.so"
echo "$bin"
