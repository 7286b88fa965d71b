#!/usr/bin/env bash
# Fuzzes the snapshot reader, the pprof decoder and the unit parsers with libFuzzer +
# AddressSanitizer, starting from real snapshots and profiles. Exits non-zero on any crash; the crashing input is kept in .build/fuzz.
# Usage: scripts/fuzz.sh [seconds=600]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
out=.build/fuzz
mkdir -p "$out/corpus"
bin="$(scripts/build.sh debug)"

if [ ! -x "$out/fuzz-snapshots" ] ||
    [ -n "$(find Sources/MemdriftCore Sources/MemdriftPprof Tests/Fuzz -newer "$out/fuzz-snapshots" -name '*.swift')" ]; then
    # One module named MemdriftCore, so MemdriftPprof's `import MemdriftCore` is its own module (a warning).
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name MemdriftCore -I Sources/CZlib -lz \
        Tests/Fuzz/harness.swift $(find Sources/MemdriftCore Sources/MemdriftPprof -name '*.swift' | sort) \
        -o "$out/fuzz-snapshots" 2>"$out/build.log" || { cat "$out/build.log" >&2; exit 1; }  # gold warns about every ASan helper
fi

# Seeds: snapshots of a forking and an exec'ing example, and a few unit strings.
if [ -z "$(ls -A "$out/corpus")" ]; then
    seeds="$(mktemp -d)"
    "$bin/memdrift" run -q -o "$seeds/a" -- "$bin/fault-fork-storm" 4 >/dev/null
    "$bin/memdrift" run -q -o "$seeds/b" --interval 100ms -- "$bin/leaky-server" 1 >/dev/null
    find "$seeds" -name 'snap-*.mds' | head -20 | while read -r f; do cp "$f" "$out/corpus/$(sha1sum "$f" | cut -c1-16).mds"; done
    n=0
    for u in 90s 1.5h 10MiB 4k 1GiB/h 100ms 0; do printf '%s' "$u" >"$out/corpus/unit-$((n += 1))"; done
    rm -rf "$seeds"
fi
# pprof seeds (added to corpora made before the pprof decoder was fuzzed): a heap profile of a
# recorded session, gzipped as the CLI writes it and as raw protobuf.
if [ ! -e "$out/corpus/pprof.pb.gz" ]; then
    seeds="$(mktemp -d)"
    "$bin/memdrift" run -q -o "$seeds/s" --interval 100ms -- "$bin/leaky-server" 1 >/dev/null
    "$bin/memdrift" pprof "$seeds/s" -o "$out/corpus/pprof.pb.gz"
    gzip -dc "$out/corpus/pprof.pb.gz" >"$out/corpus/pprof.pb"
    rm -rf "$seeds"
fi

cd "$out"
./fuzz-snapshots -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=./crash- corpus 2>fuzz.log || {
    tail -40 fuzz.log >&2
    echo "fuzz: crash found; input kept as $(ls -t ./crash-* 2>/dev/null | head -1)" >&2
    exit 1
}
grep -E "stat::number_of_executed_units|cov:" fuzz.log | tail -2 >&2
echo "fuzz: no crash in ${seconds}s" >&2
