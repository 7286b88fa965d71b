#!/usr/bin/env bash
# Benchmarks memdrift: symbolization speed and tracing overhead against the untraced run and
# against heaptrack (when installed). Runs are interleaved and the median of $RUNS is reported.
# Usage: scripts/bench.sh [runs=5] [node|native]   (node: only the Node.js workloads; native: only
# the table of tracing overhead against heaptrack)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
ONLY="${2:-}"
scripts/setup.sh sqlite3 python3 nodejs
bin="$(scripts/build.sh release)"
here="$PWD/scripts/bench"
work="$(mktemp -d /tmp/memdrift-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo
if [ -z "$ONLY" ]; then
"$bin/memdrift-bench" symbolize 100000
"$bin/memdrift-bench" report 10000 360
echo
fi

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

if [ "$ONLY" != node ]; then
printf '%-26s %8s %8s %7s %8s %7s %8s %7s %7s\n' workload untraced exact ratio sampled ratio heaptrack ratio excess
run_workload "alloc-storm 5M, 1 thread" "$bin/alloc-storm" 5000000 1
run_workload "alloc-storm 5M, 2 threads" "$bin/alloc-storm" 5000000 2
PYTHONMALLOC=malloc run_workload "CPython (PYTHONMALLOC=malloc)" /usr/bin/python3 "$here/alloc_heavy.py" 8
# The same without Python frames: native stacks only, what heaptrack records.
PYTHONMALLOC=malloc MEMDRIFT_PYTHON=0 run_workload "CPython, native frames only" /usr/bin/python3 "$here/alloc_heavy.py" 8
run_workload "C++ STL churn" "$bin/stl-churn" 40
run_workload "sqlite3 bulk insert" /usr/bin/sqlite3 :memory: ".read $here/bulk_insert.sql"
run_workload "mmap-storm 200k pairs" "$bin/mmap-storm" 200000
echo
echo "seconds, median of $RUNS interleaved runs; ratio = to the untraced run; sampled = --sample-rate 512KiB;"
echo "excess = memdrift exact's extra time as a fraction of heaptrack's extra time"
fi

# Node.js: V8's sampling heap profiler through the probe memdrift run loads, alone (no tracker) at the
# default 10 s interval and at 1 s, and all of memdrift run (tracker sampling at 512 KiB, probe, 10 s).
# Reports wall time and CPU time (user + system of the whole tree), which a busy machine disturbs less.
timed() {
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>&1 || true
    awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$work/time"
}

node_workload() {
    local name="$1"; shift
    local configs=(untraced probe-10s probe-1s run-10s) c i r
    declare -A wall cpu
    for ((i = 0; i < RUNS; i++)); do
        for c in "${configs[@]}"; do
            rm -rf "$work/js"; mkdir -m 700 "$work/js"
            case "$c" in
            untraced) r=$(timed "$@") ;;
            probe-10s | probe-1s)
                local ms=10000
                [ "$c" = probe-1s ] && ms=1000
                r=$(MEMDRIFT_OUTPUT="$work/js" MEMDRIFT_INTERVAL_MS=$ms NODE_OPTIONS="--require \"$probe\"" timed "$@") ;;
            run-10s) rm -rf "$work/session"; r=$(timed "$bin/memdrift" run -q --sample-rate 512KiB -o "$work/session" -- "$@") ;;
            esac
            wall[$c]+="${r% *} "; cpu[$c]+="${r#* } "
        done
    done
    local line p q
    line=$(printf '%-26s' "$name")
    p=$(printf '%s\n' ${wall[untraced]} | median); q=$(printf '%s\n' ${cpu[untraced]} | median)
    for c in "${configs[@]}"; do
        local w u
        w=$(printf '%s\n' ${wall[$c]} | median); u=$(printf '%s\n' ${cpu[$c]} | median)
        line+=$(awk -v w="$w" -v u="$u" -v p="$p" -v q="$q" 'BEGIN {printf " %7.2f %5.2fx %7.2f %5.2fx", w, w / p, u, u / q}')
    done
    echo "$line"
}

if [ "$ONLY" != native ] && command -v node >/dev/null; then
    echo
    # The probe as memdrift run writes it, taken from a session of a command that does nothing.
    "$bin/memdrift" run -q -o "$work/probe" -- /bin/true
    probe="$work/probe/.probes/memdrift-node.js"
    printf '%-26s' "node $(node --version)"
    for c in untraced probe-10s probe-1s run-10s; do printf ' %22s' "$c (wall, cpu)"; done
    echo
    node_workload "node JSON/object churn" node "$here/node_churn.js" 60
    node_workload "node http service" node "$here/node_http.js" 60000
    echo
    echo "seconds, median of $RUNS interleaved runs; ratio = to the untraced run; probe-* = NODE_OPTIONS with"
    echo "the probe only, 10 s / 1 s between heap samples; run-10s = memdrift run --sample-rate 512KiB"
fi
