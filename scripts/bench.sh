#!/usr/bin/env bash
# Benchmarks memdrift: symbolization speed and tracing overhead against the untraced run and
# against heaptrack (when installed). Runs are interleaved and the median of $RUNS is reported.
# Usage: scripts/bench.sh [runs=5]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
scripts/setup.sh sqlite3 python3
bin="$(scripts/build.sh release)"
here="$PWD/scripts/bench"
work="$(mktemp -d /tmp/memdrift-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo
"$bin/memdrift-bench" symbolize 100000
"$bin/memdrift-bench" report 10000 360
echo

# Wall time of one command in seconds.
seconds() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    awk -v a="$start" -v b="$end" 'BEGIN {printf "%.4f", (b - a) / 1e9}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

run_workload() {
    local name="$1"; shift
    local plain=() exact=() sampled=() peer=()
    for ((i = 0; i < RUNS; i++)); do
        plain+=("$(seconds "$@")")
        rm -rf "$work/session"
        exact+=("$(seconds "$bin/memdrift" run -q -o "$work/session" -- "$@")")
        rm -rf "$work/session"
        sampled+=("$(seconds "$bin/memdrift" run -q --sample-rate 512KiB -o "$work/session" -- "$@")")
        if command -v heaptrack >/dev/null; then
            peer+=("$(cd "$work" && seconds heaptrack -o "$work/heaptrack.$i" "$@")")
            rm -f "$work"/heaptrack.*
        fi
    done
    local p t s h
    p=$(printf '%s\n' "${plain[@]}" | median)
    t=$(printf '%s\n' "${exact[@]}" | median)
    s=$(printf '%s\n' "${sampled[@]}" | median)
    h=$( ((${#peer[@]})) && printf '%s\n' "${peer[@]}" | median || echo 0)
    awk -v n="$name" -v p="$p" -v t="$t" -v s="$s" -v h="$h" 'BEGIN {
        if (h > 0) printf "%-26s %8.3f %8.3f %6.2fx %8.3f %6.2fx %8.3f %6.2fx %7.2f\n", n, p, t, t / p, s, s / p, h, h / p, (t - p) / (h - p)
        else printf "%-26s %8.3f %8.3f %6.2fx %8.3f %6.2fx %8s %7s %7s\n", n, p, t, t / p, s, s / p, "-", "-", "-"
    }'
}

printf '%-26s %8s %8s %7s %8s %7s %8s %7s %7s\n' workload untraced exact ratio sampled ratio heaptrack ratio excess
run_workload "alloc-storm 5M, 1 thread" "$bin/alloc-storm" 5000000 1
run_workload "alloc-storm 5M, 2 threads" "$bin/alloc-storm" 5000000 2
PYTHONMALLOC=malloc run_workload "CPython (PYTHONMALLOC=malloc)" /usr/bin/python3 "$here/alloc_heavy.py" 8
run_workload "C++ STL churn" "$bin/stl-churn" 40
run_workload "sqlite3 bulk insert" /usr/bin/sqlite3 :memory: ".read $here/bulk_insert.sql"
run_workload "mmap-storm 200k pairs" "$bin/mmap-storm" 200000
echo
echo "seconds, median of $RUNS interleaved runs; ratio = to the untraced run; sampled = --sample-rate 512KiB;"
echo "excess = memdrift exact's extra time as a fraction of heaptrack's extra time"
