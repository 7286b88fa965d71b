#!/usr/bin/env bash
# Benchmarks memdrift: symbolization speed and tracing overhead against the untraced run and
# against heaptrack (when installed). Runs are interleaved and the median of $RUNS is reported.
# Usage: scripts/bench.sh [runs=5]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
bin="$(scripts/build.sh release)"
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
    local plain=() traced=() peer=()
    for ((i = 0; i < RUNS; i++)); do
        plain+=("$(seconds "$@")")
        rm -rf "$work/session"
        traced+=("$(seconds "$bin/memdrift" run -q -o "$work/session" -- "$@")")
        if command -v heaptrack >/dev/null; then
            peer+=("$(cd "$work" && seconds heaptrack -o "$work/heaptrack.$i" "$@")")
        fi
    done
    local p t h
    p=$(printf '%s\n' "${plain[@]}" | median)
    t=$(printf '%s\n' "${traced[@]}" | median)
    if [ ${#peer[@]} -gt 0 ]; then
        h=$(printf '%s\n' "${peer[@]}" | median)
        awk -v n="$name" -v p="$p" -v t="$t" -v h="$h" \
            'BEGIN {printf "%-28s %9.3f %9.3f %7.2fx %9.3f %7.2fx %8.2f\n", n, p, t, t / p, h, h / p, (t - p) / (h - p)}'
    else
        awk -v n="$name" -v p="$p" -v t="$t" 'BEGIN {printf "%-28s %9.3f %9.3f %7.2fx %9s %8s %8s\n", n, p, t, t / p, "-", "-", "-"}'
    fi
}

printf '%-28s %9s %9s %8s %9s %8s %8s\n' workload untraced memdrift ratio heaptrack ratio excess
run_workload "alloc-storm 5M, 1 thread" "$bin/alloc-storm" 5000000 1
run_workload "alloc-storm 5M, 2 threads" "$bin/alloc-storm" 5000000 2
echo
echo "times in seconds (median of $RUNS); ratio = traced / untraced;"
echo "excess = memdrift's extra time as a fraction of heaptrack's extra time"
